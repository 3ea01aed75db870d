import { Worker } from 'node:worker_threads';
import { ListenerError } from '../core/errors.js';
import type { ArchiveFormat } from './archive-format.js';
import type { LossyValue } from './parquet-encode.js';
import type { EncodeReply, EncodeRequest } from './parquet-worker.js';

export interface ParquetFormat extends ArchiveFormat {
  /** Ends the encoder thread (it is started again by the next encode). */
  close(): Promise<void>;
}

/**
 * `exec_reports_parquet/…/{first}-{last}-{count}.parquet`: the same records as the JSONL, typed
 * (DESIGN.md §3), encoded on a worker thread. A value the typed table cannot hold exactly is null
 * there and reported through `onLossy` (the JSONL and `raw` keep it).
 */
export interface ParquetFormatOptions {
  onLossy?: (value: LossyValue) => void;
  /**
   * How long the encoder thread stays after its last object (default 5 s). Objects are an hour
   * apart in a steady state, and a thread kept that long holds the 100–200 MB its heap and ZSTD
   * grew to; through a backlog or a flood they come seconds apart, and a new thread for each cost
   * about 240 ms of CPU (module load, ZSTD's WebAssembly, a heap faulted in again).
   */
  idleMs?: number;
}

export function parquetFormat(options: ParquetFormatOptions = {}): ParquetFormat {
  const idleMs = options.idleMs ?? 5000;
  let worker: EncoderThread | undefined;
  let nextId = 0;

  const start = (): EncoderThread => {
    // Under the test runner the sources are TypeScript: the thread registers the same loader first.
    const url = new URL(
      import.meta.url.endsWith('.ts') ? './parquet-worker.ts' : './parquet-worker.js',
      import.meta.url,
    );
    const thread = url.pathname.endsWith('.ts')
      ? new Worker(
          `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); });`,
          { eval: true },
        )
      : new Worker(url);
    const jobs = new Map<number, Job>();
    const created: EncoderThread = { thread, jobs };
    const failAll = (error: ListenerError) => {
      for (const job of jobs.values()) job.reject(error);
      jobs.clear();
    };
    thread.on('message', (reply: EncodeReply) => {
      const job = jobs.get(reply.id);
      if (job === undefined) return;
      jobs.delete(reply.id);
      if (jobs.size === 0 && worker === created) {
        // Idle for idleMs: the thread goes, and the memory its heap and ZSTD grew to goes back to
        // the system with it.
        created.idle = setTimeout(() => {
          if (worker === created) worker = undefined;
          void thread.terminate();
        }, idleMs).unref();
      }
      if (!reply.ok) {
        job.reject(new ListenerError('ERR_ARCHIVE_ENCODE', `Parquet encoding failed: ${reply.message}`));
        return;
      }
      for (const value of reply.lossy) options.onLossy?.(value);
      job.resolve(Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength));
    });
    thread.on('error', (cause) =>
      failAll(new ListenerError('ERR_ARCHIVE_ENCODE', 'the Parquet encoder thread failed', { cause })),
    );
    thread.on('exit', (code) => {
      if (worker === created) worker = undefined;
      failAll(new ListenerError('ERR_ARCHIVE_ENCODE', `the Parquet encoder thread exited (${code})`));
    });
    return created;
  };

  return {
    sink: 'parquet',
    table: 'exec_reports_parquet',
    extension: '.parquet',
    contentType: 'application/vnd.apache.parquet',
    encode(lines) {
      const current = (worker ??= start());
      clearTimeout(current.idle);
      const { thread, jobs } = current;
      const id = nextId++;
      return new Promise<Buffer>((resolve, reject) => {
        jobs.set(id, { resolve, reject });
        const request: EncodeRequest = { id, pieces: lines.pieces() };
        thread.postMessage(request);
      });
    },
    async close() {
      const current = worker;
      worker = undefined;
      clearTimeout(current?.idle);
      await current?.thread.terminate();
    },
  };
}

interface EncoderThread {
  thread: Worker;
  jobs: Map<number, Job>;
  /** Set while no job is waiting: ends the thread when it fires. */
  idle?: NodeJS.Timeout;
}

interface Job {
  resolve: (bytes: Buffer) => void;
  reject: (error: Error) => void;
}

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
export function parquetFormat(options: { onLossy?: (value: LossyValue) => void } = {}): ParquetFormat {
  let worker: { thread: Worker; jobs: Map<number, Job> } | undefined;
  let nextId = 0;

  const start = (): { thread: Worker; jobs: Map<number, Job> } => {
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
    const created = { thread, jobs };
    const failAll = (error: ListenerError) => {
      for (const job of jobs.values()) job.reject(error);
      jobs.clear();
    };
    thread.on('message', (reply: EncodeReply) => {
      const job = jobs.get(reply.id);
      if (job === undefined) return;
      jobs.delete(reply.id);
      if (jobs.size === 0 && worker === created) {
        // Idle: the thread goes, and the 100–200 MB its heap and the ZSTD memory grew to encode an
        // object go back to the system with it (a new thread costs a few ms at the next object).
        worker = undefined;
        void thread.terminate();
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
      const { thread, jobs } = (worker ??= start());
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
      await current?.thread.terminate();
    },
  };
}

interface Job {
  resolve: (bytes: Buffer) => void;
  reject: (error: Error) => void;
}

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
  let worker: Worker | undefined;
  let nextId = 0;
  const pending = new Map<number, { resolve: (bytes: Buffer) => void; reject: (error: Error) => void }>();

  const failAll = (error: ListenerError) => {
    for (const job of pending.values()) job.reject(error);
    pending.clear();
  };
  const start = (): Worker => {
    // Under the test runner the sources are TypeScript: the thread registers the same loader first.
    const url = new URL(
      import.meta.url.endsWith('.ts') ? './parquet-worker.ts' : './parquet-worker.js',
      import.meta.url,
    );
    const created = url.pathname.endsWith('.ts')
      ? new Worker(
          `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); });`,
          { eval: true },
        )
      : new Worker(url);
    created.on('message', (reply: EncodeReply) => {
      const job = pending.get(reply.id);
      if (job === undefined) return;
      pending.delete(reply.id);
      if (pending.size === 0) created.unref();
      if (!reply.ok) {
        job.reject(new ListenerError('ERR_ARCHIVE_ENCODE', `Parquet encoding failed: ${reply.message}`));
        return;
      }
      for (const value of reply.lossy) options.onLossy?.(value);
      job.resolve(Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength));
    });
    created.on('error', (cause) =>
      failAll(new ListenerError('ERR_ARCHIVE_ENCODE', 'the Parquet encoder thread failed', { cause })),
    );
    created.on('exit', (code) => {
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
      const thread = (worker ??= start());
      thread.ref();
      const id = nextId++;
      return new Promise<Buffer>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        const request: EncodeRequest = { id, pieces: lines.pieces() };
        thread.postMessage(request);
      });
    },
    async close() {
      const thread = worker;
      worker = undefined;
      await thread?.terminate();
    },
  };
}

/**
 * The Parquet encoder's thread: JSON lines in, Parquet bytes out. Encoding an hour is CPU-bound
 * (about 50 µs a record) and synchronous; here it never delays a socket read of the FIX thread.
 */
import { compress, init } from '@bokuweb/zstd-wasm';
import { parentPort } from 'node:worker_threads';
import type { ExecutionReportRecord } from '../core/record.js';
import { LineBuffer } from '../core/line-buffer.js';
import { encodeParquet, ZSTD_LEVEL, type LossyValue } from './parquet-encode.js';

export interface EncodeRequest {
  id: number;
  /** The JSONL, as LineBuffer pieces on shared memory (read here where they are, not copied). */
  pieces: readonly Uint8Array[];
}

export type EncodeReply =
  { id: number; ok: true; bytes: Uint8Array; lossy: LossyValue[] } | { id: number; ok: false; message: string };

await init();
parentPort!.on('message', ({ id, pieces }: EncodeRequest) => {
  let reply: EncodeReply;
  try {
    const lossy: LossyValue[] = [];
    const records = LineBuffer.linesOf(pieces).map((line) => JSON.parse(line) as ExecutionReportRecord);
    const bytes = encodeParquet(records, {
      compress: (input) => compress(input, ZSTD_LEVEL),
      onLossy: (value) => lossy.push(value),
    });
    reply = { id, ok: true, bytes, lossy };
  } catch (error) {
    reply = { id, ok: false, message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  parentPort!.postMessage(reply, reply.ok ? [reply.bytes.buffer as ArrayBuffer] : []);
});

import { once } from 'node:events';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import type { LineBuffer } from '../core/line-buffer.js';

/**
 * How an archive writes its objects: the table folder, the name's extension, and the bytes from
 * the JSON lines of one bucket. JSONL is the source of truth; Parquet is built from the same lines.
 */
export interface ArchiveFormat {
  /** The journal cursor and the /status sink of the writer using it. */
  readonly sink: string;
  /** The folder under the prefix: one Athena table. */
  readonly table: string;
  /** After `{first}-{last}-{count}`. */
  readonly extension: string;
  readonly contentType: string;
  readonly contentEncoding?: string;
  encode(lines: LineBuffer): Promise<Buffer>;
}

/** `exec_reports/…/{first}-{last}-{count}.jsonl.gz`, one JSON object per line. */
export function jsonlFormat(gzip = true): ArchiveFormat {
  return {
    sink: 'archive',
    table: 'exec_reports',
    extension: gzip ? '.jsonl.gz' : '.jsonl',
    contentType: 'application/x-ndjson',
    ...(gzip ? { contentEncoding: 'gzip' } : {}),
    encode: (lines) => encodeJsonl(lines, gzip),
  };
}

/**
 * The lines as JSONL, gzipped unless turned off: the buffer already holds the JSONL bytes, so
 * this only compresses them, on the thread pool, a piece at a time, yielding to the event loop
 * between pieces (one synchronous gzip of 64 MiB stalled socket reads for hundreds of ms).
 */
async function encodeJsonl(lines: LineBuffer, gzip: boolean): Promise<Buffer> {
  if (!gzip) return lines.toBuffer();
  const zip = createGzip();
  const collected = collect(zip);
  for (const piece of lines.pieces()) {
    if (!zip.write(piece)) await once(zip, 'drain');
    await yieldToLoop();
  }
  zip.end();
  return collected;
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

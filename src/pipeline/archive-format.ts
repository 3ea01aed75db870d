import { once } from 'node:events';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createGzip } from 'node:zlib';

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
  encode(lines: readonly string[]): Promise<Buffer>;
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

const PIECE_BYTES = 1024 * 1024;

/**
 * The lines as JSONL, gzipped unless turned off. Built a piece at a time, yielding to the event
 * loop between pieces and compressing on the thread pool: one 64 MiB join plus a synchronous gzip
 * stalled socket reads (and so fill latency) for hundreds of milliseconds.
 */
async function encodeJsonl(lines: readonly string[], gzip: boolean): Promise<Buffer> {
  const pieces: Buffer[] = [];
  const zip = gzip ? createGzip() : undefined;
  const collected = zip === undefined ? undefined : collect(zip);
  let text = '';
  for (let i = 0; i < lines.length; i++) {
    text += `${lines[i]}\n`;
    if (text.length < PIECE_BYTES && i < lines.length - 1) continue;
    const piece = Buffer.from(text, 'utf8');
    text = '';
    if (zip === undefined) pieces.push(piece);
    else if (!zip.write(piece)) await once(zip, 'drain');
    if (i < lines.length - 1) await yieldToLoop();
  }
  if (zip === undefined) return Buffer.concat(pieces);
  zip.end();
  return collected!;
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

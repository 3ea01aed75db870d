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
const NEWLINE = 10;

/**
 * The lines as JSONL, gzipped unless turned off. Built a piece at a time, yielding to the event
 * loop between pieces and compressing on the thread pool: one 64 MiB join plus a synchronous gzip
 * stalled socket reads (and so fill latency) for hundreds of milliseconds. Each line is encoded
 * straight into the piece: joining strings first cost a flatten and a second copy per line.
 */
async function encodeJsonl(lines: readonly string[], gzip: boolean): Promise<Buffer> {
  const pieces: Buffer[] = [];
  const zip = gzip ? createGzip() : undefined;
  const collected = zip === undefined ? undefined : collect(zip);
  let piece = Buffer.allocUnsafe(PIECE_BYTES);
  let used = 0;
  const emit = async (last: boolean) => {
    const full = piece.subarray(0, used);
    piece = Buffer.allocUnsafe(PIECE_BYTES);
    used = 0;
    if (zip === undefined) pieces.push(full);
    else if (!zip.write(full)) await once(zip, 'drain');
    if (!last) await yieldToLoop();
  };
  for (const line of lines) {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: a line that might not fit starts a new piece.
    const worst = line.length * 3 + 1;
    if (used + worst > piece.length) {
      if (used > 0) await emit(false);
      if (worst > piece.length) piece = Buffer.allocUnsafe(worst);
    }
    used += piece.write(line, used, 'utf8');
    piece[used++] = NEWLINE;
  }
  if (used > 0) await emit(true);
  if (zip === undefined) return Buffer.concat(pieces);
  zip.end();
  return collected!;
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

import { crc32 } from 'node:zlib';
import { checksum } from '../core/slot-pair.js';
import { addRange, type LsnRange } from './lsn-ranges.js';

/*
 * The journal's on-disk formats, as pure functions over bytes: the segment file (its records, the
 * scan that finds the good ones after damage, the encoding of a rewritten segment) and lsn-base.
 * No I/O here: segment-log.ts reads and writes the files, and tests can take these apart alone.
 */

// Format 2: a file starts with MAGIC; each record is u32 length, u32 crc32 of everything after
// it, the LSN as a float64 (exact to 2^53), then the JSON line. The LSN inside each record is what
// lets recovery resynchronise after damaged bytes and know exactly which records they held.
export const MAGIC = Buffer.from('KFLJSEG2', 'latin1');
export const HEADER_BYTES = 16;
// lsn-base: where numbering stands, the last LSN deleted, and the runs known to hold no record.
export const LSN_BASE_TAG = 'kfl-lsn-base 2';
/** Every this many records a segment's offset index notes one, so a reader far behind seeks. */
export const INDEX_EVERY = 256;

/** The parts of [a, b] that no run of `known` (sorted, disjoint) covers. */
export function uncovered(a: number, b: number, known: readonly LsnRange[]): LsnRange[] {
  const out: LsnRange[] = [];
  let from = a;
  for (const [x, y] of known) {
    if (from > b) break;
    if (y < from) continue;
    if (x > from) out.push([from, Math.min(b, x - 1)]);
    from = Math.max(from, y + 1);
  }
  if (from <= b) out.push([from, b]);
  return out;
}

/** lsn-base as written (its tag, its checksum), else undefined: damaged, or not lsn-base at all. */
export function parseLsnBase(text: string): { lsn: number; deletedThrough: number; vacant: LsnRange[] } | undefined {
  if (!text.startsWith(`${LSN_BASE_TAG} `)) return undefined;
  const crc = text.slice(LSN_BASE_TAG.length + 1, LSN_BASE_TAG.length + 9);
  const body = text.slice(LSN_BASE_TAG.length + 10, text.endsWith('\n') ? -1 : undefined);
  if (!text.endsWith('\n') || checksum(body) !== crc) return undefined;
  try {
    const parsed = JSON.parse(body) as { lsn?: unknown; deletedThrough?: unknown; vacant?: unknown };
    const ok = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
    if (!ok(parsed.lsn) || !ok(parsed.deletedThrough) || !Array.isArray(parsed.vacant)) return undefined;
    const vacant: LsnRange[] = [];
    for (const run of parsed.vacant as unknown[]) {
      if (!Array.isArray(run) || !ok(run[0]) || !ok(run[1]) || run[1] < run[0]) return undefined;
      addRange(vacant, [run[0], run[1]]);
    }
    return { lsn: parsed.lsn, deletedThrough: parsed.deletedThrough, vacant };
  } catch {
    return undefined;
  }
}

export function segmentName(firstLsn: number): string {
  return `seg-${String(firstLsn).padStart(16, '0')}.log`;
}

export function writeRecord(data: Buffer, at: number, lsn: number, line: string, size: number): void {
  data.writeUInt32LE(size - HEADER_BYTES, at);
  data.writeDoubleLE(lsn, at + 8);
  data.write(line, at + HEADER_BYTES, 'utf8');
  data.writeUInt32LE(crc32(data.subarray(at + 8, at + size)), at + 4);
}

/** The record at `offset` if its header and checksum hold, else undefined (torn or corrupt). */
export function recordAt(data: Buffer, offset: number): { lsn: number; start: number; next: number } | undefined {
  if (offset + HEADER_BYTES > data.length) return undefined;
  const length = data.readUInt32LE(offset);
  const end = offset + HEADER_BYTES + length;
  if (length === 0 || end > data.length) return undefined;
  if (crc32(data.subarray(offset + 8, end)) !== data.readUInt32LE(offset + 4)) return undefined;
  const lsn = data.readDoubleLE(offset + 8);
  if (!Number.isSafeInteger(lsn) || lsn < 1) return undefined;
  return { lsn, start: offset + HEADER_BYTES, next: end };
}

export interface ScannedRecord {
  lsn: number;
  offset: number;
  line: string;
}

export interface SegmentScan {
  /** The good records, in order. */
  records: ScannedRecord[];
  /** Byte ranges holding no good record: damage, or a torn tail at the very end. */
  bad: Array<{ offset: number; end: number }>;
  magic: boolean;
}

/**
 * Every good record of a segment, and the ranges between them that are not: after damaged bytes
 * the scan resynchronises on the next offset holding a record whose checksum holds and whose LSN
 * follows the last good one.
 */
export function scanSegment(data: Buffer, firstLsn: number): SegmentScan {
  const records: ScannedRecord[] = [];
  const bad: SegmentScan['bad'] = [];
  const magic = data.length >= MAGIC.length && data.subarray(0, MAGIC.length).equals(MAGIC);
  // A damaged or cut file header is bad bytes like any other: the records start after it. So is a
  // file in any other format (no release wrote one): nothing in it reads as a record.
  let at = magic ? MAGIC.length : 0;
  let last = firstLsn - 1;
  while (at < data.length) {
    const record = recordAt(data, at);
    if (record !== undefined && record.lsn > last) {
      records.push({ lsn: record.lsn, offset: at, line: data.toString('utf8', record.start, record.next) });
      last = record.lsn;
      at = record.next;
      continue;
    }
    let next = at + 1;
    for (; next + HEADER_BYTES < data.length; next++) {
      const candidate = recordAt(data, next);
      if (candidate !== undefined && candidate.lsn > last) break;
    }
    if (next + HEADER_BYTES >= data.length) next = data.length;
    bad.push({ offset: at, end: next });
    at = next;
  }
  return { records, bad, magic };
}

/** A format-2 segment holding `records` (a recovered segment, rewritten whole). */
export function encodeSegment(records: readonly ScannedRecord[]): Buffer {
  let bytes = MAGIC.length;
  for (const r of records) bytes += HEADER_BYTES + Buffer.byteLength(r.line, 'utf8');
  const data = Buffer.allocUnsafe(bytes);
  let at = MAGIC.copy(data, 0);
  for (const r of records) {
    const size = HEADER_BYTES + Buffer.byteLength(r.line, 'utf8');
    writeRecord(data, at, r.lsn, r.line, size);
    at += size;
  }
  return data;
}

/**
 * True for a record cut short by a crash mid-write: its header or its declared body runs past the
 * end of the file (a flipped length would look the same, but then good records come after it,
 * and the caller only asks about a bad range with none after it).
 */
export function isIncompleteTail(data: Buffer, offset: number): boolean {
  return offset + HEADER_BYTES > data.length || offset + HEADER_BYTES + data.readUInt32LE(offset) > data.length;
}

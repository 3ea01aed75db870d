import { compress, init } from '@bokuweb/zstd-wasm';
import type { ExecutionReportRecord } from '../core/record.js';
import { encodeParquet, ZSTD_LEVEL, type LossyValue } from '../pipeline/parquet-encode.js';
import { decode, deleteObject, listObjects, readObject, type ArchiveSource } from '../reconcile/archive-reader.js';
import type { ObjectStore } from '../sinks/types.js';

/** `{first}-{last}-{count}` of an archive object's name: the journal range it holds and its records. */
const OBJECT_NAME = /\/(\d{12})-(\d{12})-(\d+)\.(jsonl(?:\.gz)?|parquet)$/;

/**
 * Records a Parquet object holds at most (default): the encoder holds them all in memory, about
 * 2.5 KB a record with its columns, so an hour at 100 reports/s (360,000) is built in pieces of
 * about 60 MB rather than one of 900 MB beside the listener in its task.
 */
export const PARQUET_OBJECT_RECORDS = 25_000;

export interface ArchiveObject {
  key: string;
  first: number;
  last: number;
  count: number;
}

export interface HourParquetResult {
  /** `YYYY-MM-DDTHH`. */
  hour: string;
  /** Objects written (or found already written: `exists`), in journal order. */
  written: Array<{ key: string; records: number; bytes: number; result: 'created' | 'exists' }>;
  /** Parquet objects removed because a rebuilt one holds their records (see `planHour`). */
  removed: string[];
  /** JSONL objects the hour's Parquet objects held already. */
  covered: number;
  lossy: LossyValue[];
}

/** What one hour needs: Parquet objects to build (each from these JSONL objects) and ones to remove after. */
export interface HourPlan {
  build: ArchiveObject[][];
  remove: string[];
  covered: number;
}

export function parseObjectKey(key: string): ArchiveObject | undefined {
  const match = OBJECT_NAME.exec(key);
  if (match === null) return undefined;
  return { key, first: Number(match[1]), last: Number(match[2]), count: Number(match[3]) };
}

/**
 * Which JSONL objects still need a Parquet copy. A Parquet object is named for the journal range
 * and the record count of the JSONL objects it was built from, so it vouches for exactly the JSONL
 * objects inside its range whose counts add up to its own. Objects no Parquet object holds are
 * built, in journal order, in pieces of at most `maxRecords`. When a Parquet object's count does
 * not match what lies inside its range (a JSONL object landed there after it was built), or a new
 * piece would span a held object, the hour is rebuilt whole and the old objects are removed once
 * the new ones are in place: a row is never missing, and counted twice only between the two steps.
 */
export function planHour(jsonl: ArchiveObject[], parquet: ArchiveObject[], maxRecords: number): HourPlan {
  const sorted = [...jsonl].sort((a, b) => a.first - b.first);
  const held = new Set<ArchiveObject>();
  let sound = true;
  for (const p of parquet) {
    const inside = sorted.filter((j) => j.first >= p.first && j.last <= p.last);
    if (inside.reduce((sum, j) => sum + j.count, 0) !== p.count || inside.some((j) => held.has(j))) sound = false;
    for (const j of inside) held.add(j);
  }
  const unheld = sorted.filter((j) => !held.has(j));
  const pieces = sound ? piecesOf(unheld, maxRecords) : piecesOf(sorted, maxRecords);
  if (sound && pieces.some((piece) => sorted.some((j) => held.has(j) && spans(piece, j)))) {
    return { build: piecesOf(sorted, maxRecords), remove: parquet.map((p) => p.key), covered: 0 };
  }
  if (!sound) return { build: pieces, remove: parquet.map((p) => p.key), covered: 0 };
  return { build: pieces, remove: [], covered: held.size };
}

function spans(piece: ArchiveObject[], object: ArchiveObject): boolean {
  return object.first >= piece[0]!.first && object.last <= piece.at(-1)!.last;
}

function piecesOf(objects: ArchiveObject[], maxRecords: number): ArchiveObject[][] {
  const pieces: ArchiveObject[][] = [];
  let piece: ArchiveObject[] = [];
  let records = 0;
  for (const object of objects) {
    if (piece.length > 0 && records + object.count > maxRecords) {
      pieces.push(piece);
      piece = [];
      records = 0;
    }
    piece.push(object);
    records += object.count;
  }
  if (piece.length > 0) pieces.push(piece);
  return pieces;
}

/** The hour's partition folder: `listener=NAME/dt=…/hour=…/`, or without `listener=` when unnamed. */
export function hourPartition(listener: string | undefined, hour: string): string {
  return `${listener === undefined ? '' : `listener=${listener}/`}dt=${hour.slice(0, 10)}/hour=${hour.slice(11, 13)}/`;
}

/**
 * Builds the Parquet copy of one closed hour from its JSONL objects (the source of truth): only
 * what no Parquet object holds yet, so running it again, or after a crash at any step, writes
 * nothing twice (object keys are deterministic and written if absent).
 */
export async function buildHourParquet(input: {
  source: ArchiveSource;
  store: ObjectStore;
  listener: string | undefined;
  /** `YYYY-MM-DDTHH`. */
  hour: string;
  maxRecords?: number;
}): Promise<HourParquetResult> {
  const partition = hourPartition(input.listener, input.hour);
  const objects = async (table: string) =>
    (await listObjects(input.source, `${table}/${partition}`))
      .map(parseObjectKey)
      .filter((o): o is ArchiveObject => o !== undefined);
  const jsonl = (await objects('exec_reports')).filter((o) => !o.key.endsWith('.parquet'));
  const parquet = (await objects('exec_reports_parquet')).filter((o) => o.key.endsWith('.parquet'));
  const plan = planHour(jsonl, parquet, input.maxRecords ?? PARQUET_OBJECT_RECORDS);
  const result: HourParquetResult = { hour: input.hour, written: [], removed: [], covered: plan.covered, lossy: [] };
  if (plan.build.length > 0) await zstdReady();
  for (const piece of plan.build) {
    const records: ExecutionReportRecord[] = [];
    for (const object of piece)
      for (const line of decode(object.key, await readObject(input.source, object.key)).split('\n'))
        if (line.length > 0) records.push(JSON.parse(line) as ExecutionReportRecord);
    const name = `${pad(piece[0]!.first)}-${pad(piece.at(-1)!.last)}-${records.length}`;
    const key = `exec_reports_parquet/${partition}${name}.parquet`;
    const bytes = encodeParquet(records, {
      compress: (b) => compress(b, ZSTD_LEVEL),
      onLossy: (v) => result.lossy.push(v),
    });
    const outcome = await input.store.putIfAbsent(key, Buffer.from(bytes), {
      contentType: 'application/vnd.apache.parquet',
    });
    result.written.push({ key, records: records.length, bytes: bytes.length, result: outcome });
  }
  const kept = new Set(result.written.map((w) => w.key));
  for (const key of plan.remove)
    if (!kept.has(key)) {
      await deleteObject(input.source, key);
      result.removed.push(key);
    }
  return result;
}

const pad = (n: number) => String(n).padStart(12, '0');

let zstd: Promise<void> | undefined;
/** The ZSTD module, instantiated once: a second `init()` left the first instance's output garbled. */
function zstdReady(): Promise<void> {
  return (zstd ??= init());
}

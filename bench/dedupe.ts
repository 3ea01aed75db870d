/**
 * Section — deduplication memory: the ExecID index filled with `ids` ExecIDs as the journal feeds
 * it (has, then add, a persist per group commit), on a clock advanced 1/`idsPerSecond` s per id,
 * so the default (25.92 M at 100/s) is 72 h of an account's reports: the whole window remembered.
 * Measured after forced GCs: the live JS heap and RSS the index adds per remembered id, the bytes
 * on disk, the hot path (has + add of a new id) and lookups of old ids (sealed in chunk files),
 * present and absent: every one must answer right or the section fails.
 *
 * Then the listener itself on that spool: the real service (local sinks) opens the journal with
 * the whole window remembered and takes `listenerRate` reports/s from the peers process for
 * `listenerSeconds`; its RSS, sampled every 250 ms, is what a deployed task holding 72 h needs.
 */
import { SegmentLog } from '../src/pipeline/segment-log.js';
import { mkdirSync, readdirSync, rmSync, statSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ExecIdIndex } from '../src/pipeline/exec-id-index.js';
import { startListener } from './listener.js';
import { Peers } from './peers-client.js';
import { MB, round, sleep } from './timing.js';

export interface DedupeOptions {
  ids: number;
  idsPerSecond: number;
  /** Ids per persist (a group commit at a high rate). */
  batch: number;
  lookups: number;
  /** The listener run on the filled spool: reports/s and seconds measured (after a warm-up); 0 skips it. */
  listenerRate: number;
  listenerSeconds: number;
}

export const DEFAULT_DEDUPE_OPTIONS: DedupeOptions = {
  ids: 25_920_000,
  idsPerSecond: 100,
  batch: 10_000,
  lookups: 2000,
  listenerRate: 1000,
  listenerSeconds: 30,
};

/** The listener holding the whole window (undefined when the run skipped it). */
export interface ListenerWithWindow {
  /** ExecIDs the listener's journal remembered when it had started. */
  remembered: number;
  reportsPerSecond: number;
  reports: number;
  rssMedianMb: number;
  rssPeakMb: number;
  /** After a forced GC at the end of the run. */
  rssEndMb: number;
  liveHeapEndMb: number;
}

export interface DedupeResult {
  ids: number;
  windowHours: number;
  remembered: number;
  inMemory: number;
  chunkFiles: number;
  liveHeapBytesPerId: number;
  rssBytesPerId: number;
  rssEndMb: number;
  diskBytesPerId: number;
  fillSeconds: number;
  /** has() + add() of a new id (above every sealed one), mean, ns. */
  newIdNs: number;
  /** has() of an old id sealed in a chunk file: one per file (each read from disk), and more in the file just read, µs. */
  oldIdColdUs: number;
  oldIdWarmUs: number;
  /** has() of an id inside that file's range that was never added (must be false), µs. */
  absentIdUs: number;
  listener: ListenerWithWindow | undefined;
}

const gc = (globalThis as { gc?: () => void }).gc;

function settle(): { heap: number; rss: number } {
  gc?.();
  gc?.();
  return { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
}

/** Kalshi-like `clock;event`: a millisecond clock and an exchange-wide event counter (ours every 7th). */
const idOf = (n: number, perSecond: number) => `${1_764_500_000_000 + Math.floor((n * 1000) / perSecond)};${n * 7}`;

export async function runDedupe(options: DedupeOptions = DEFAULT_DEDUPE_OPTIONS): Promise<DedupeResult> {
  if (gc === undefined) throw new Error('run with --expose-gc');
  const root = mkdtempSync(join(tmpdir(), 'kfl-dedupe-'));
  // Where the listener's journal lives in its spool, so the listener run opens this index.
  const dir = join(root, 'spool', 'journal');
  mkdirSync(dir, { recursive: true });
  try {
    // The window ends now: the listener started next remembers every id.
    const t0 = Date.now() - (options.ids / options.idsPerSecond) * 1000;
    let now = t0;
    const index = await ExecIdIndex.open({ dir, now: () => now, windowMs: 72 * 3600 * 1000 });
    await index.restore(new Map(), 0, []);
    const before = settle();
    const started = performance.now();
    let hotMs = 0;
    const batch: string[] = new Array<string>(options.batch);
    for (let first = 1; first <= options.ids; first += options.batch) {
      const size = Math.min(options.batch, options.ids - first + 1);
      for (let k = 0; k < size; k++) batch[k] = idOf(first + k, options.idsPerSecond);
      now = t0 + Math.floor(((first + size) * 1000) / options.idsPerSecond);
      // What the journal does per report: ask, then remember (timed apart from building the ids).
      const h = performance.now();
      for (let k = 0; k < size; k++) {
        if (index.has(batch[k]!)) throw new Error(`new id ${batch[k]} taken for a duplicate`);
        index.add(batch[k]!, first + k);
      }
      hotMs += performance.now() - h;
      await index.persist(first + size - 1);
    }
    const fillSeconds = (performance.now() - started) / 1000;
    const after = settle();

    // Cold: one id per chunk file, so every lookup reads its file. Warm: ids of the file just read.
    const chunkIds = Math.ceil(options.ids / Math.max(1, index.chunkCount + 1));
    const cold = Array.from({ length: index.chunkCount }, (_, k) => 1 + k * chunkIds);
    let t = performance.now();
    let found = 0;
    for (const n of cold) if (index.has(idOf(n, options.idsPerSecond))) found++;
    const coldUs = ((performance.now() - t) * 1000) / Math.max(1, cold.length);
    const last = cold.at(-1) ?? 1;
    const warm = Array.from({ length: options.lookups }, (_, k) => last + 1 + (k % 1000));
    t = performance.now();
    for (const n of warm) if (index.has(idOf(n, options.idsPerSecond))) found++;
    const warmUs = ((performance.now() - t) * 1000) / warm.length;
    t = performance.now();
    let absent = 0;
    // Event n*7+1: inside the file's range, never added.
    for (const n of warm)
      if (index.has(`${1_764_500_000_000 + Math.floor((n * 1000) / options.idsPerSecond)};${n * 7 + 1}`)) absent++;
    const absentUs = ((performance.now() - t) * 1000) / warm.length;
    if (found !== cold.length + warm.length || absent !== 0)
      throw new Error(
        `lookups wrong: ${found} of ${cold.length + warm.length} old ids found, ${absent} absent ids found`,
      );

    const result: DedupeResult = {
      ids: options.ids,
      windowHours: round(options.ids / options.idsPerSecond / 3600, 1),
      remembered: index.size,
      inMemory: index.inMemory,
      chunkFiles: index.chunkCount,
      liveHeapBytesPerId: round((after.heap - before.heap) / options.ids, 2),
      rssBytesPerId: round((after.rss - before.rss) / options.ids, 2),
      rssEndMb: Math.round(after.rss / MB),
      diskBytesPerId: round(diskBytes(dir) / options.ids, 1),
      fillSeconds: round(fillSeconds, 1),
      newIdNs: Math.round((hotMs * 1e6) / options.ids),
      oldIdColdUs: round(coldUs, 1),
      oldIdWarmUs: round(warmUs, 2),
      absentIdUs: round(absentUs, 2),
      listener: undefined,
    };
    await index.close(options.ids);
    // As a listener's spool stands after the window: every record delivered and its segment
    // deleted (lsn-base says so), so the next open finds nothing missing.
    await (await SegmentLog.open({ dir, floor: options.ids, keptAbove: options.ids, checkEveryMs: 0 })).close();
    if (options.listenerSeconds > 0) result.listener = await listenerWithWindow(root, options);
    return result;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function listenerWithWindow(root: string, options: DedupeOptions): Promise<ListenerWithWindow> {
  settle();
  const peers = await Peers.start();
  try {
    const listener = await startListener(peers, { archive: 'local', fills: 'local', dir: root });
    const { journal } = listener.service;
    const remembered = journal.stats().dedupeEntries;
    await peers.setRate(options.listenerRate);
    await sleep(3000);
    const lsn0 = journal.durableLsn;
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(process.memoryUsage().rss), 250);
    await sleep(options.listenerSeconds * 1000);
    clearInterval(sampler);
    const reports = journal.durableLsn - lsn0;
    const end = settle();
    await peers.setRate(0);
    await listener.stop();
    samples.sort((a, b) => a - b);
    return {
      remembered,
      reportsPerSecond: Math.round(reports / options.listenerSeconds),
      reports,
      rssMedianMb: Math.round(samples[samples.length >> 1]! / MB),
      rssPeakMb: Math.round(samples.at(-1)! / MB),
      rssEndMb: Math.round(end.rss / MB),
      liveHeapEndMb: round(end.heap / MB, 1),
    };
  } finally {
    await peers.stop();
  }
}

function diskBytes(dir: string): number {
  let sum = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) sum += statSync(join(entry.parentPath, entry.name)).size;
  return sum;
}

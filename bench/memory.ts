/**
 * Section 4a — memory while S3 is down. Reports flow at a steady rate while every archive write
 * fails (a store that always throws, as S3 answering 503 would); fills keep going to fauxqs SQS.
 * The service should push the backlog to disk and keep memory flat: once S3 refuses an object the
 * archive keeps only that object's gzip body and reads nothing more until it lands.
 *
 * Time is compressed: the issue asks for 10 minutes of outage; this runs `outageMs` at
 * `reportsPerSecond`, i.e. as many reports as 10 minutes at reportsPerSecond × outageMs / 600 s.
 * Every `sampleMs` the section forces a full GC (run.ts starts it with --expose-gc) and samples RSS
 * and the live JS heap: without that, the samples ride V8's sawtooth (garbage accumulates for tens of
 * seconds between major GCs) and a fitted slope says more about GC timing than about retention.
 * Slopes are fitted over the second half of the outage, after the first failed write; the peak RSS
 * comes from an unforced 250 ms sampler.
 */
import { performance } from 'node:perf_hooks';
import type { ObjectStore } from '../src/sinks/types.js';
import { startListener } from './listener.js';
import { Peers } from './peers-client.js';
import { MB, round, sleep, slope } from './timing.js';

export interface MemoryOptions {
  reportsPerSecond: number;
  outageMs: number;
  sampleMs: number;
}

export const DEFAULT_MEMORY_OPTIONS: MemoryOptions = { reportsPerSecond: 2350, outageMs: 120_000, sampleMs: 2500 };

export interface MemoryResult {
  reportsPerSecond: number;
  outageSeconds: number;
  reports: number;
  /** The same number of reports spread over 10 minutes: the realistic rate this stands for. */
  equivalentRateOver10Min: number;
  rssStartMb: number;
  rssPeakMb: number;
  rssEndMb: number;
  /** Least-squares slopes over the second half of the outage (after forced GCs), MB per minute of run time. */
  rssSlopeSecondHalfMbPerMin: number;
  /** Lowest and highest RSS sample of the second half: the slope is only meaningful next to this spread. */
  rssRangeSecondHalfMb: [number, number];
  liveHeapSlopeSecondHalfMbPerMin: number;
  liveHeapRangeSecondHalfMb: [number, number];
  /** Live heap growth per report over the second half, bytes (what each report leaves behind). */
  liveHeapBytesPerReport: number;
  liveHeapEndMb: number;
  /** V8's reserved heap (heapTotal) at the end: RSS minus this minus Buffers is native memory (malloc, zlib). */
  heapReservedEndMb: number;
  archiveBufferedMb: number;
  archiveFailedWrites: number;
  journalBacklogRecords: number;
  journalBacklogMb: number;
  fillsSent: number;
  /** Graceful stop while S3 is still down, ms; null when it exceeded the 20 s shutdown bound. */
  stopDuringOutageMs: number | null;
  /** After each forced GC: run time (s), RSS, live JS heap, JS heap reserved, off-heap (Buffers) — MB. */
  samples: Array<[seconds: number, rssMb: number, liveHeapMb: number, heapTotalMb: number, externalMb: number]>;
}

const STOP_BOUND_MS = 20_000;

/** S3 during an outage: every write fails. */
class FailingStore implements ObjectStore {
  readonly location = 's3://bench-outage/';

  putIfAbsent(): Promise<'created' | 'exists'> {
    return Promise.reject(
      Object.assign(new Error('ServiceUnavailable: simulated S3 outage'), { name: 'ServiceUnavailable' }),
    );
  }
}

export async function runMemory(options: MemoryOptions = DEFAULT_MEMORY_OPTIONS): Promise<MemoryResult> {
  const peers = await Peers.start();
  try {
    const listener = await startListener(peers, { archive: new FailingStore(), fills: 'sqs' });
    const samples: MemoryResult['samples'] = [];
    const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
    gc();
    const start = performance.now();
    const rssStart = process.memoryUsage().rss;
    let peak = rssStart;
    const peakSampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 250);
    const sampler = setInterval(() => {
      gc();
      const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
      samples.push([
        round((performance.now() - start) / 1000, 1),
        round(rss / MB, 1),
        round(heapUsed / MB, 1),
        round(heapTotal / MB, 1),
        round(external / MB, 1),
      ]);
    }, options.sampleMs);
    await peers.setRate(options.reportsPerSecond);
    await sleep(options.outageMs);
    await peers.setRate(0);
    clearInterval(sampler);
    clearInterval(peakSampler);
    const stats = await peers.stats();

    const half = options.outageMs / 2000;
    const late = samples.filter(([t]) => t >= half);
    // MB per second of run time; the rate is steady, so per report is this ÷ reports per second.
    const heapSlope = slope(late.map(([t, , heap]) => [t, heap] as const));
    const status = listener.service.status();
    const backlog = listener.service.journal.backlog('archive');
    const result: MemoryResult = {
      reportsPerSecond: options.reportsPerSecond,
      outageSeconds: options.outageMs / 1000,
      reports: stats.generated,
      equivalentRateOver10Min: Math.round(stats.generated / 600),
      rssStartMb: Math.round(rssStart / MB),
      rssPeakMb: Math.round(peak / MB),
      rssEndMb: Math.round(process.memoryUsage().rss / MB),
      rssSlopeSecondHalfMbPerMin: round(slope(late.map(([t, rss]) => [t, rss] as const)) * 60, 1),
      rssRangeSecondHalfMb: [
        Math.round(Math.min(...late.map(([, rss]) => rss))),
        Math.round(Math.max(...late.map(([, rss]) => rss))),
      ],
      liveHeapSlopeSecondHalfMbPerMin: round(heapSlope * 60, 1),
      liveHeapRangeSecondHalfMb: [
        Math.round(Math.min(...late.map(([, , heap]) => heap))),
        Math.round(Math.max(...late.map(([, , heap]) => heap))),
      ],
      liveHeapBytesPerReport: Math.round((heapSlope * MB) / (stats.generated / (options.outageMs / 1000))),
      liveHeapEndMb: samples.at(-1)?.[2] ?? 0,
      heapReservedEndMb: samples.at(-1)?.[3] ?? 0,
      archiveBufferedMb: round(listener.service.archive.bufferedBytes / MB, 1),
      archiveFailedWrites: listener.archiveUploads().failures,
      journalBacklogRecords: backlog.records,
      journalBacklogMb: round(backlog.bytes / MB, 1),
      fillsSent: status.counters.fillsPublished,
      stopDuringOutageMs: null,
      samples,
    };
    // SIGTERM during the outage: the flush at stop cannot succeed; a real task gets
    // SHUTDOWN_TIMEOUT_S (20 s) before it is killed. Past that the section stops waiting.
    const stopStart = performance.now();
    const stopped = await Promise.race([listener.stop().then(() => true), sleep(STOP_BOUND_MS).then(() => false)]);
    result.stopDuringOutageMs = stopped ? Math.round(performance.now() - stopStart) : null;
    return result;
  } finally {
    await peers.stop();
  }
}

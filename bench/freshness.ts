/**
 * Section — archive freshness: a report received → the archive object holding it visible in S3
 * (fauxqs), at a steady rate with ARCHIVE_FLUSH_S set.
 *
 * Start: the record's `received_at` (the listener's clock when it read the report). End: the
 * moment the store's PutObject for the object holding it returned, seen through a decorator around
 * the real S3Store. Only reports received inside the window count; after the window the rate drops
 * to zero and the section waits for their objects. Objects per hour are extrapolated from the
 * window: at a steady rate an hour is about 3600 / ARCHIVE_FLUSH_S objects.
 */
import { gunzipSync } from 'node:zlib';
import hdr from 'hdr-histogram-js';
import type { ObjectStore } from '../src/sinks/types.js';
import { s3Store, startListener } from './listener.js';
import { Peers } from './peers-client.js';
import { round, sleep, waitUntil } from './timing.js';

export interface FreshnessOptions {
  reportsPerSecond: number;
  flushSeconds: number;
  warmupMs: number;
  measureMs: number;
}

export const DEFAULT_FRESHNESS_OPTIONS: FreshnessOptions = {
  reportsPerSecond: 1000,
  // The service's default is 60 s; 10 s shows the same behaviour in a section a sixth as long.
  flushSeconds: 10,
  warmupMs: 2000,
  measureMs: 40_000,
};

export interface FreshnessResult {
  reportsPerSecond: number;
  flushSeconds: number;
  /** Received → object visible, seconds. */
  receiveToVisible: { count: number; p50: number; p99: number; max: number };
  objectsInWindow: number;
  objectsPerHour: number;
  meanRecordsPerObject: number;
}

export async function runFreshness(options: FreshnessOptions = DEFAULT_FRESHNESS_OPTIONS): Promise<FreshnessResult> {
  const ages = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000,
    numberOfSignificantValueDigits: 3,
  });
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let objects = 0;
  let records = 0;
  let measured = 0;
  const writes: Array<{ at: number; records: number }> = [];
  const peers = await Peers.start();
  try {
    const inner = s3Store(peers);
    const store: ObjectStore = {
      location: inner.location,
      async putIfAbsent(key, body, putOptions) {
        const result = await inner.putIfAbsent(key, body, putOptions);
        const visibleAt = Date.now();
        let inWindow = 0;
        let total = 0;
        for (const line of gunzipSync(body).toString('utf8').split('\n')) {
          if (line === '') continue;
          total++;
          const receivedAt = Date.parse((JSON.parse(line) as { received_at: string }).received_at);
          if (receivedAt < windowStart || receivedAt >= windowEnd) continue;
          ages.recordValue(Math.max(1, visibleAt - receivedAt));
          inWindow++;
        }
        if (inWindow > 0) {
          objects++;
          records += inWindow;
          measured += inWindow;
          writes.push({ at: visibleAt, records: total });
        }
        return result;
      },
    };
    const listener = await startListener(peers, {
      archive: store,
      fills: 'local',
      archiveOptions: { flushMs: options.flushSeconds * 1000 },
    });
    await peers.setRate(options.reportsPerSecond);
    await sleep(options.warmupMs);
    const before = await peers.stats();
    windowStart = Date.now();
    await sleep(options.measureMs);
    windowEnd = Date.now();
    const after = await peers.stats();
    await peers.setRate(0);
    const inWindow = after.generated - before.generated;
    // Every report of the window is in an object within the flush time (plus a tick and a margin).
    await waitUntil(() => measured >= inWindow, (options.flushSeconds + 15) * 1000, 'the window’s objects').catch(
      () => undefined,
    );
    await listener.stop();
    const s = (ms: number) => round(ms / 1000, 2);
    // Steady state: the objects between the first and the last of the window (the edges hold part
    // of a flush interval each), so the interval between writes and the records per object.
    const steady = writes.slice(1);
    const meanGapMs = steady.length === 0 ? 0 : (writes.at(-1)!.at - writes[0]!.at) / steady.length;
    const meanRecords = steady.length === 0 ? 0 : steady.reduce((sum, w) => sum + w.records, 0) / steady.length;
    return {
      reportsPerSecond: Math.round(inWindow / ((windowEnd - windowStart) / 1000)),
      flushSeconds: options.flushSeconds,
      receiveToVisible: {
        count: ages.totalCount,
        p50: s(ages.getValueAtPercentile(50)),
        p99: s(ages.getValueAtPercentile(99)),
        max: s(ages.maxValue),
      },
      objectsInWindow: objects,
      objectsPerHour: meanGapMs === 0 ? 0 : Math.round(3_600_000 / meanGapMs),
      meanRecordsPerObject: Math.round(meanRecords || (objects === 0 ? 0 : records / objects)),
    };
  } finally {
    await peers.stop();
  }
}

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HourParquetResult } from '../../src/app/parquet-build.js';
import {
  childParquetRunner,
  ParquetBuilds,
  type HourOutcome,
  type ParquetBuildEvent,
  type ParquetRunner,
} from '../../src/app/parquet-builds.js';
import { makeRecord, tempDir } from '../helpers/records.js';

const MIN = 60_000;
const built = (hour: string): HourParquetResult => ({ hour, written: [], removed: [], covered: 1, lossy: [] });

/** A runner that answers from a script and remembers what it was asked. */
function scriptedRunner(answer: (hours: string[]) => HourOutcome[] | Promise<HourOutcome[]>) {
  const calls: string[][] = [];
  return {
    calls,
    run: async (hours: string[]) => {
      calls.push(hours);
      return answer(hours);
    },
  };
}

/** Builds owing the hour before the start at once (no grace, no settle), with their events. */
function owingOneHour(run: ParquetRunner) {
  const events: ParquetBuildEvent[] = [];
  const builds = new ParquetBuilds({
    run,
    location: 'x',
    graceMs: 0,
    settleMs: 0,
    lookbackHours: 1,
    onEvent: (e) => events.push(e),
  });
  return { builds, events };
}

describe('ParquetBuilds', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse('2026-11-23T10:30:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('noteObject', () => {
    it('builds an hour once it has closed, plus the grace and the settle time, and not before', async () => {
      // Prepare
      const runner = scriptedRunner((hours) => hours.map(built));
      const builds = new ParquetBuilds({
        run: runner.run,
        location: 'file:///a/',
        graceMs: 5 * MIN,
        settleMs: MIN,
        lookbackHours: 0,
      });
      builds.start();
      // Act: an object of hour 10 is written at 10:30; the hour closes at 11:00, due 11:06.
      builds.noteObject('exec_reports/listener=default/dt=2026-11-23/hour=10/000000000001-000000000009-9.jsonl.gz');
      await vi.advanceTimersByTimeAsync(35 * MIN);
      const before = [...runner.calls];
      await vi.advanceTimersByTimeAsync(2 * MIN);
      await builds.idle();
      // Assess
      expect(before).toEqual([]);
      expect(runner.calls).toEqual([['2026-11-23T10']]);
      // The clock reached hour 11 meanwhile: that one is owed next.
      expect(builds.pendingHours).toEqual(['2026-11-23T11']);
      expect(builds.status()).toMatchObject({
        name: 'parquet',
        consecutiveFailures: 0,
        pendingReason: 'waiting for hour 11:00 UTC to close + 5 min grace (built from its JSONL at 12:06:00 UTC)',
        nextWriteAt: Date.parse('2026-11-23T12:06:00Z'),
      });
      await builds.stop();
    });

    it('builds a late object of an hour long closed a settle time after it lands', async () => {
      // Prepare
      const runner = scriptedRunner((hours) => hours.map(built));
      const builds = new ParquetBuilds({ run: runner.run, location: 'x', graceMs: 0, settleMs: MIN, lookbackHours: 0 });
      builds.start();
      // Act
      builds.noteObject('exec_reports/dt=2026-11-22/hour=03/000000000001-000000000001-1.jsonl.gz');
      await vi.advanceTimersByTimeAsync(2 * MIN);
      await builds.idle();
      // Assess
      expect(runner.calls).toEqual([['2026-11-22T03']]);
      await builds.stop();
    });
    it('owes an hour again when its JSONL writer lands an object while the hour is being built', async () => {
      // Prepare: a build of hour 09 that waits until the test lets it finish.
      let finish!: () => void;
      const runner = scriptedRunner(async (hours) => {
        if (runner.calls.length === 1) await new Promise<void>((resolve) => (finish = resolve));
        return hours.map(built);
      });
      const builds = new ParquetBuilds({ run: runner.run, location: 'x', graceMs: 0, settleMs: MIN, lookbackHours: 1 });
      builds.start();
      await vi.advanceTimersByTimeAsync(MIN);
      // Act: an object of hour 09 lands while it builds (the builder may have listed before it).
      builds.noteObject('exec_reports/dt=2026-11-23/hour=09/000000000050-000000000050-1.jsonl.gz');
      finish();
      await builds.idle();
      const afterFirst = builds.pendingHours;
      await vi.advanceTimersByTimeAsync(MIN);
      await builds.idle();
      // Assess: built a second time, for that object.
      expect(afterFirst).toEqual(['2026-11-23T09', '2026-11-23T10']);
      expect(runner.calls).toEqual([['2026-11-23T09'], ['2026-11-23T09']]);
      await builds.stop();
    });
  });

  describe('start', () => {
    it('checks the hours before the start once, a settle time after it', async () => {
      // Prepare
      const runner = scriptedRunner((hours) => hours.map(built));
      const builds = new ParquetBuilds({ run: runner.run, location: 'x', graceMs: 0, settleMs: MIN, lookbackHours: 3 });
      // Act
      builds.start();
      const atStart = builds.pendingHours;
      await vi.advanceTimersByTimeAsync(MIN);
      await builds.idle();
      // Assess
      expect(atStart).toEqual(['2026-11-23T07', '2026-11-23T08', '2026-11-23T09', '2026-11-23T10']);
      expect(runner.calls).toEqual([['2026-11-23T07', '2026-11-23T08', '2026-11-23T09']]);
      await builds.stop();
    });
  });

  describe('when a build fails', () => {
    it('keeps the hour owed, reports ERR_PARQUET_BUILD with its retry, and builds it after the wait', async () => {
      // Prepare: the first run fails for one hour of two.
      let fail = true;
      const runner = scriptedRunner((hours) =>
        hours.map((hour) =>
          fail && hour === '2026-11-23T08'
            ? { hour, error: { code: 'ERR_S3_PUT', message: 'S3 said 500' } }
            : built(hour),
        ),
      );
      const events: ParquetBuildEvent[] = [];
      const builds = new ParquetBuilds({
        run: runner.run,
        location: 'x',
        graceMs: 0,
        settleMs: 0,
        lookbackHours: 2,
        retry: { initialMs: 5 * MIN, maxMs: 5 * MIN, floorMs: 5 * MIN },
        onEvent: (e) => events.push(e),
      });
      // Act
      builds.start();
      await builds.idle();
      const afterFailure = builds.status();
      fail = false;
      await vi.advanceTimersByTimeAsync(5 * MIN);
      await builds.idle();
      // Assess
      expect(events[1]).toMatchObject({
        kind: 'parquet_build_failed',
        hours: ['2026-11-23T08'],
        error: { code: 'ERR_PARQUET_BUILD', details: { hour: '2026-11-23T08', cause: 'ERR_S3_PUT: S3 said 500' } },
        retryInMs: 5 * MIN,
      });
      expect(afterFailure).toMatchObject({ consecutiveFailures: 1, lastError: { code: 'ERR_PARQUET_BUILD' } });
      expect(runner.calls).toEqual([['2026-11-23T08', '2026-11-23T09'], ['2026-11-23T08']]);
      expect(builds.status()).toMatchObject({ consecutiveFailures: 0, lagSeconds: 0 });
      expect(builds.pendingHours).toEqual(['2026-11-23T10']);
      await builds.stop();
    });

    it('counts an hour the runner never answered for as failed (a killed builder)', async () => {
      // Prepare
      const { builds, events } = owingOneHour(() => Promise.reject(new Error('the Parquet builder exited SIGKILL')));
      // Act
      builds.start();
      await builds.idle();
      // Assess
      expect(events).toEqual([expect.objectContaining({ kind: 'parquet_build_failed', hours: ['2026-11-23T09'] })]);
      expect(builds.pendingHours).toEqual(['2026-11-23T09', '2026-11-23T10']);
      expect(builds.status().pendingReason).toMatch(
        /^the last build failed: retrying at \d\d:\d\d:\d\d UTC; 1 earlier hour/,
      );
      await builds.stop();
    });
  });

  describe('stop', () => {
    it('aborts a build under way and reports no failure for it', async () => {
      // Prepare: a runner that runs until aborted.
      const { builds, events } = owingOneHour(
        (_hours, signal) =>
          new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))),
      );
      builds.start();
      // Act
      await builds.stop();
      // Assess
      expect(events).toEqual([]);
      expect(builds.pendingHours).toEqual(['2026-11-23T09', '2026-11-23T10']);
    });
  });
});

describe('childParquetRunner', () => {
  it('builds the hours in a child process and answers one outcome an hour', { timeout: 30_000 }, async () => {
    // Prepare: one JSONL object of hour 09 for listener `a`.
    const root = tempDir('parquet-child-');
    const folder = join(root, 'exec_reports/listener=a/dt=2026-11-23/hour=09');
    mkdirSync(folder, { recursive: true });
    const lines = [1, 2, 3].map((n) => JSON.stringify(makeRecord(n))).join('\n');
    writeFileSync(join(folder, '000000000001-000000000003-3.jsonl.gz'), gzipSync(`${lines}\n`));
    const run = childParquetRunner({ archiveUrl: `file://${root}/`, listener: 'a' });
    // Act
    const outcomes = await run(['2026-11-23T09', '2026-11-23T10'], new AbortController().signal);
    // Assess
    expect(outcomes).toEqual([
      expect.objectContaining({
        hour: '2026-11-23T09',
        written: [expect.objectContaining({ records: 3, result: 'created' })],
      }),
      expect.objectContaining({ hour: '2026-11-23T10', written: [] }),
    ]);
    expect(readdirSync(join(root, 'exec_reports_parquet/listener=a/dt=2026-11-23/hour=09'))).toEqual([
      '000000000001-000000000003-3.parquet',
    ]);
  });

  it('answers an hour it could not build with its error, and the others', { timeout: 30_000 }, async () => {
    // Prepare: a JSONL object that is not gzip although its name says so.
    const root = tempDir('parquet-child-');
    const folder = join(root, 'exec_reports/listener=a/dt=2026-11-23/hour=09');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, '000000000001-000000000003-3.jsonl.gz'), 'not gzip');
    const run = childParquetRunner({ archiveUrl: `file://${root}/`, listener: 'a' });
    // Act
    const outcomes = await run(['2026-11-23T09', '2026-11-23T10'], new AbortController().signal);
    // Assess
    expect(outcomes).toEqual([
      { hour: '2026-11-23T09', error: expect.objectContaining({ code: 'Z_DATA_ERROR' }) as unknown },
      expect.objectContaining({ hour: '2026-11-23T10', written: [] }),
    ]);
  });
});

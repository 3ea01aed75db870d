import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { ArchiveWriter, type ArchiveEvent } from '../../src/pipeline/archive-writer.js';
import { Journal } from '../../src/pipeline/journal.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { makeRecord, tempDir } from '../helpers/records.js';

const HOUR = '2026-11-23T22';
const T0 = Date.parse(`${HOUR}:05:00.000Z`);

function objects(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((p) => p.endsWith('.jsonl.gz') && statSync(join(dir, p)).isFile())
    .sort();
}

function execIds(dir: string, key: string): string[] {
  return gunzipSync(readFileSync(join(dir, key)))
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { exec_id: string }).exec_id);
}

/**
 * A journal, a local archive and a writer whose clock the test moves (`clock.now`; `clock.reads`
 * counts the writer's readings of it). What is due is decided by that reading alone; the loop's
 * safety-net tick comes every 20 ms of real time instead of every second, so a test waits for
 * rounds of the writer, not for seconds.
 */
async function setUp(options: { flushMs: number; graceMs?: number }) {
  const clock = { now: T0, reads: 0 };
  const journal = await Journal.open({ dir: tempDir() });
  const dir = tempDir();
  const events: ArchiveEvent[] = [];
  const writer = new ArchiveWriter({
    journal,
    store: new LocalFolderStore(dir),
    flushMs: options.flushMs,
    graceMs: options.graceMs ?? 300_000,
    clock: {
      ...systemClock,
      now: () => {
        clock.reads++;
        return clock.now;
      },
      setInterval: (fn, ms, timer) => systemClock.setInterval(fn, Math.min(ms, 20), timer),
    },
    onEvent: (e) => events.push(e),
  });
  const append = async (from: number, count: number, receivedAt: number) => {
    for (let n = from; n < from + count; n++)
      journal.append(
        makeRecord(n, {
          transact_time: new Date(receivedAt).toISOString(),
          received_at: new Date(receivedAt).toISOString(),
        }),
      );
    await journal.flush();
  };
  return { clock, journal, dir, events, writer, append };
}

describe('ArchiveWriter', () => {
  describe('flushMs (ARCHIVE_FLUSH_S)', () => {
    it('writes an object once its first record is flushMs old, without waiting for the hour to close', async () => {
      // Prepare
      const { clock, journal, dir, writer, append } = await setUp({ flushMs: 5000 });
      await append(0, 3, T0);
      await writer.start();

      // Act: 4 s after the first record, nothing; at 5 s, the object.
      clock.now = T0 + 4000;
      await expect.poll(() => writer.status().pendingRecords).toBe(3);
      // The writer reads the clock once a round, to see what is due, and again after a write: two
      // readings once it says 4 s mean a round at 4 s has run to its end (or has written).
      const reads = clock.reads;
      await expect.poll(() => clock.reads).toBeGreaterThan(reads + 1);
      const before = objects(dir);
      const oldest = writer.status().oldestPendingAgeSeconds;
      clock.now = T0 + 5000;
      await expect.poll(() => objects(dir).length, { timeout: 5000 }).toBe(1);

      // Assess
      expect(before).toEqual([]);
      expect(oldest).toBe(4);
      expect(objects(dir)[0]).toMatch(/^exec_reports\/dt=2026-11-23\/hour=22\/000000000001-000000000003-3\.jsonl\.gz$/);
      // The object's file appears before the writer has recorded it as written.
      await expect
        .poll(() => writer.status())
        .toMatchObject({ pendingRecords: 0, oldestPendingAgeSeconds: 0, lagSeconds: 0 });
      await writer.stop({ flush: false });
      await journal.close();
    });

    it('starts a new object for the same hour after a flush, named for its own journal range', async () => {
      // Prepare
      const { clock, journal, dir, writer, append } = await setUp({ flushMs: 5000 });
      await append(0, 2, T0);
      await writer.start();
      clock.now = T0 + 5000;
      await expect.poll(() => objects(dir).length, { timeout: 5000 }).toBe(1);

      // Act
      await append(2, 2, T0 + 6000);
      clock.now = T0 + 11_000;
      await expect.poll(() => objects(dir).length, { timeout: 5000 }).toBe(2);

      // Assess: two objects, each record in exactly one.
      const [first, second] = objects(dir) as [string, string];
      expect(first).toContain('000000000001-000000000002-2');
      expect(second).toContain('000000000003-000000000004-2');
      expect([...execIds(dir, first), ...execIds(dir, second)]).toEqual([0, 1, 2, 3].map((n) => makeRecord(n).exec_id));
      await writer.stop({ flush: false });
      await journal.close();
    });

    it('writes an hour that closes before flushMs at its close plus grace', async () => {
      // Prepare: a record at 22:59:58, flush 60 s, grace 1 s.
      const late = Date.parse(`${HOUR}:59:58.000Z`);
      const { clock, journal, dir, writer, append } = await setUp({ flushMs: 60_000, graceMs: 1000 });
      clock.now = late;
      await append(0, 1, late);
      await writer.start();

      // Act
      clock.now = Date.parse('2026-11-23T23:00:01.000Z');
      await expect.poll(() => objects(dir).length, { timeout: 5000 }).toBe(1);

      // Assess
      expect(objects(dir)[0]).toContain('hour=22/');
      await writer.stop({ flush: false });
      await journal.close();
    });

    it('turns a backlog into big objects, not one per read batch', async () => {
      // Prepare: 9,000 records of one hour, all long past their flush time (a restart after a stop).
      const { clock, journal, dir, writer, append } = await setUp({ flushMs: 5000 });
      await append(0, 9000, T0);
      clock.now = T0 + 600_000;

      // Act
      await writer.start();
      await expect.poll(() => journal.backlog('archive').records, { timeout: 10_000 }).toBe(0);

      // Assess
      expect(objects(dir)).toEqual(['exec_reports/dt=2026-11-23/hour=22/000000000001-000000009000-9000.jsonl.gz']);
      await writer.stop({ flush: false });
      await journal.close();
    });

    it('counts a bucket past its flush time as lag, and the age of its first record, while the store fails', async () => {
      // Prepare: a store that refuses every write.
      const { clock, journal, append, events } = await setUp({ flushMs: 5000 });
      await append(0, 1, T0);
      const failing = new ArchiveWriter({
        journal,
        store: {
          location: 'test://failing',
          putIfAbsent: () => Promise.reject(Object.assign(new Error('503 Slow Down'), { code: 'SlowDown' })),
        },
        flushMs: 5000,
        now: () => clock.now,
        retry: { initialMs: 50, maxMs: 50 },
        onEvent: (e) => events.push(e),
      });

      // Act
      await failing.start();
      clock.now = T0 + 65_000;
      await expect
        .poll(() => events.filter((e) => e.kind === 'upload_failed').length, { timeout: 5000 })
        .toBeGreaterThan(0);
      const status = failing.status();

      // Assess
      expect(status.lagSeconds).toBe(60); // due at 5 s, now 65 s
      expect(status.oldestPendingAgeSeconds).toBe(65);
      expect(status.consecutiveFailures).toBeGreaterThan(0);
      await failing.stop({ flush: false });
      await journal.close();
    });
  });
});

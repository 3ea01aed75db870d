import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ExecutionReportRecord } from '../../src/core/record.js';
import { ArchiveWriter, type ArchiveEvent } from '../../src/pipeline/archive-writer.js';
import { Journal } from '../../src/pipeline/journal.js';
import { buildHourParquet } from '../../src/app/parquet-build.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { makeRecord, tempDir } from '../helpers/records.js';

const T0 = Date.parse('2026-11-23T22:05:00.000Z');
/** Hour 22 closes at 23:00 plus the grace used here (1 min). */
const GRACE = 60_000;
const CLOSED = Date.parse('2026-11-23T23:00:00.000Z') + GRACE;

function files(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((p) => p.endsWith(suffix) && statSync(join(dir, p)).isFile())
    .sort();
}

function jsonlRecords(dir: string): ExecutionReportRecord[] {
  return files(dir, '.jsonl.gz').flatMap((key) =>
    gunzipSync(readFileSync(join(dir, key)))
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ExecutionReportRecord),
  );
}

const at = (ms: number) => new Date(ms).toISOString();

describe('ArchiveWriter time outliers', () => {
  it('files a TransactTime of 2099 and of 2019 under the receive hour, keeps the value, warns and counts', async () => {
    // Prepare: three reports received at 22:05; two carry times decades away (one as SendingTime).
    const journal = await Journal.open({ dir: tempDir() });
    const dir = tempDir();
    const clock = { now: T0 };
    const events: ArchiveEvent[] = [];
    const writer = new ArchiveWriter({
      journal,
      store: new LocalFolderStore(dir),
      flushMs: 5000,
      now: () => clock.now,
      onEvent: (e) => events.push(e),
    });
    journal.append(makeRecord(0, { transact_time: at(T0), received_at: at(T0) }));
    journal.append(makeRecord(1, { transact_time: '2099-11-23T22:05:00.000Z', received_at: at(T0) }));
    journal.append(
      makeRecord(2, { transact_time: null, sending_time: '2019-11-23T22:05:00.000Z', received_at: at(T0 + 1) }),
    );
    await journal.flush();

    // Act
    await writer.start();
    await expect.poll(() => writer.readLsn).toBe(3);
    clock.now = T0 + 5000;
    await expect.poll(() => journal.backlog('archive').records, { timeout: 10_000 }).toBe(0);
    await writer.stop({ flush: false });

    // Assess: one object of hour 22 holding all three, each with its own value.
    expect(files(dir, '.jsonl.gz')).toEqual([
      'exec_reports/dt=2026-11-23/hour=22/000000000001-000000000003-3.jsonl.gz',
    ]);
    expect(jsonlRecords(dir).map((r) => [r.transact_time, r.sending_time])).toEqual([
      [at(T0), '2026-11-23T22:05:07.412Z'],
      ['2099-11-23T22:05:00.000Z', '2026-11-23T22:05:07.412Z'],
      [null, '2019-11-23T22:05:00.000Z'],
    ]);
    expect(events.filter((e) => e.kind === 'time_outlier')).toEqual([
      {
        kind: 'time_outlier',
        code: 'ERR_ARCHIVE_TIME_OUTLIER',
        sink: 'archive',
        lsn: 2,
        execId: makeRecord(1).exec_id,
        field: 'transact_time',
        value: '2099-11-23T22:05:00.000Z',
        receivedAt: at(T0),
        partition: 'dt=2026-11-23/hour=22',
        count: 1,
      },
      expect.objectContaining({ lsn: 3, field: 'sending_time', value: '2019-11-23T22:05:00.000Z', count: 2 }),
    ]);
    expect(writer.status().timeOutliers).toBe(2);
    await journal.close();
  });

  it(
    'batches 300 late reports of a closed hour by the flush interval, in the JSONL, and its Parquet copy holds them once',
    { timeout: 60_000 },
    async () => {
      // Prepare: both copies of one journal, as the service runs them; hour 22 already closed.
      const journal = await Journal.open({ dir: tempDir() });
      const dir = tempDir();
      const store = new LocalFolderStore(dir);
      const clock = { now: CLOSED + 1000 };
      const now = () => clock.now;
      const jsonl = new ArchiveWriter({ journal, store, flushMs: 5000, graceMs: GRACE, now });
      await jsonl.start();

      // Act: 300 reports of 22:59, one every 100 ms over 30 s, each read by both before the next.
      for (let n = 1; n <= 300; n++) {
        clock.now += 100;
        journal.append(makeRecord(n, { transact_time: '2026-11-23T22:59:00.000Z', received_at: at(clock.now) }));
        await journal.flush();
        await expect.poll(() => jsonl.readLsn).toBe(n);
      }
      clock.now += 60_000;
      await expect.poll(() => journal.backlog('archive').records, { timeout: 10_000 }).toBe(0);
      await jsonl.stop({ flush: false });
      // The hour's Parquet copy is built from those objects once they are all written.
      await buildHourParquet({ source: { kind: 'file', dir }, store, listener: undefined, hour: '2026-11-23T22' });

      // Assess: 30 s of late reports in JSONL objects of at most 5 s each and one Parquet object,
      // every report once.
      const jsonlObjects = files(dir, '.jsonl.gz');
      expect(jsonlObjects.length).toBeGreaterThanOrEqual(5);
      expect(jsonlObjects.length).toBeLessThanOrEqual(7);
      expect(jsonlObjects.every((k) => k.startsWith('exec_reports/dt=2026-11-23/hour=22/'))).toBe(true);
      expect(jsonlRecords(dir).map((r) => r.exec_id)).toEqual(
        Array.from({ length: 300 }, (_, i) => makeRecord(i + 1).exec_id),
      );
      expect(files(dir, '.parquet')).toEqual([
        'exec_reports_parquet/dt=2026-11-23/hour=22/000000000001-000000000300-300.parquet',
      ]);
      await journal.close();
    },
  );
});

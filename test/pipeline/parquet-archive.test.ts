import { DuckDBInstance } from '@duckdb/node-api';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArchiveWriter, type ArchiveEvent } from '../../src/pipeline/archive-writer.js';
import { DeadLetterBox } from '../../src/pipeline/dead-letters.js';
import { Journal } from '../../src/pipeline/journal.js';
import { parquetFormat } from '../../src/pipeline/parquet-format.js';
import type { ArchiveFormat } from '../../src/pipeline/archive-format.js';
import { LineBuffer } from '../../src/core/line-buffer.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { makeRecord, tempDir } from '../helpers/records.js';

function files(root: string, suffix: string): string[] {
  return readdirSync(root, { recursive: true })
    .map(String)
    .filter((p) => p.endsWith(suffix) && statSync(join(root, p)).isFile())
    .sort();
}

/** 300 reports in hour 09 and 200 in hour 10 of a day long past: both hours are closed. */
async function journalOfTwoHours(): Promise<Journal> {
  const journal = await Journal.open({ dir: tempDir() });
  for (let n = 0; n < 500; n++)
    journal.append(
      makeRecord(n, {
        transact_time:
          n < 300 ? `2026-11-23T09:${String(n % 60).padStart(2, '0')}:00.123456Z` : '2026-11-23T10:30:00.5Z',
        price: `${n % 90}.${String(n).padStart(4, '0').slice(-4)}`,
        fee_total: n % 2 === 0 ? '0.02' : null,
      }),
    );
  await journal.flush();
  return journal;
}

describe('parquetFormat', () => {
  describe('encode', () => {
    it('runs each object on an encoder thread that is gone once idle for idleMs, and starts one for the next', async () => {
      // Prepare: the process's threads, before and while encoding (Linux lists them in /proc).
      const threads = () => readdirSync('/proc/self/task').length;
      const format = parquetFormat({ idleMs: 300 });
      const lines = LineBuffer.of(Array.from({ length: 50 }, (_, n) => JSON.stringify(makeRecord(n))));
      // A first object warms the process (the thread pool starts with the first file read).
      await format.encode(lines);
      await new Promise((resolve) => setTimeout(resolve, 800));
      const before = threads();
      // Act
      const first = format.encode(lines);
      const during = threads();
      const bytes = await first;
      await expect.poll(threads, { timeout: 5000 }).toBe(before);
      const again = await format.encode(lines);
      // Assess: a thread came and went; the second object, on a new thread, is the same bytes.
      expect(during).toBeGreaterThan(before);
      expect(again.equals(bytes)).toBe(true);
      await expect.poll(threads, { timeout: 5000 }).toBe(before);
      await format.close();
    });

    it('keeps the thread for objects that come within idleMs of each other', async () => {
      // Prepare
      const threads = () => readdirSync('/proc/self/task').length;
      const format = parquetFormat({ idleMs: 60_000 });
      const lines = LineBuffer.of(Array.from({ length: 50 }, (_, n) => JSON.stringify(makeRecord(n))));
      const first = await format.encode(lines);
      const withThread = threads();
      // Act: a pause well past the time a new thread takes to start, then the next object.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const between = threads();
      const second = await format.encode(lines);
      const after = threads();
      await format.close();
      // Assess: the same thread served both (none left, none came); close ends it.
      expect(between).toBe(withThread);
      expect(after).toBe(withThread);
      expect(second.equals(first)).toBe(true);
      await expect.poll(threads, { timeout: 5000 }).toBeLessThan(withThread);
    });
  });
});

describe('ArchiveWriter with the Parquet format', () => {
  it('writes one typed object per closed hour, row for row the JSONL of that hour', async () => {
    // Prepare: the JSONL archive and the Parquet copy, each on its own cursor of one journal.
    const journal = await journalOfTwoHours();
    const root = tempDir('archive-');
    const store = new LocalFolderStore(root);
    const now = () => Date.parse('2026-11-24T00:00:00Z');
    const format = parquetFormat();
    const events: ArchiveEvent[] = [];
    const jsonl = new ArchiveWriter({ journal, store, graceMs: 0, now });
    const parquet = new ArchiveWriter({
      journal,
      store,
      format,
      graceMs: 0,
      flushMs: Number.POSITIVE_INFINITY,
      now,
      onEvent: (e) => events.push(e),
    });

    // Act
    await jsonl.start();
    await parquet.start();
    await expect.poll(() => journal.backlog('parquet').records, { timeout: 20_000 }).toBe(0);
    await expect.poll(() => journal.backlog('archive').records, { timeout: 20_000 }).toBe(0);
    await jsonl.stop();
    await parquet.stop();
    await format.close();

    // Assess: one object per hour, named for its journal range.
    expect(files(root, '.parquet')).toEqual([
      'exec_reports_parquet/dt=2026-11-23/hour=09/000000000001-000000000300-300.parquet',
      'exec_reports_parquet/dt=2026-11-23/hour=10/000000000301-000000000500-200.parquet',
    ]);
    expect(events.filter((e) => e.kind === 'uploaded')).toHaveLength(2);
    // DuckDB reads both tables with their Hive partitions: the same rows, typed in one.
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    const fromJsonl = (
      await connection.runAndReadAll(
        `SELECT exec_id, dt, hour, price, fee_total,
                strftime(CAST(transact_time AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ') AS transact_time,
                msg_seq_num, raw
         FROM read_json('${root}/exec_reports/*/*/*.jsonl.gz', format = 'newline_delimited', hive_partitioning = true)
         ORDER BY exec_id`,
      )
    ).getRowObjectsJS();
    const fromParquet = (
      await connection.runAndReadAll(
        `SELECT exec_id, dt, hour, CAST(price AS VARCHAR) AS price, CAST(fee_total AS VARCHAR) AS fee_total,
                strftime(transact_time AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ') AS transact_time,
                msg_seq_num, raw
         FROM read_parquet('${root}/exec_reports_parquet/*/*/*.parquet', hive_partitioning = true)
         ORDER BY exec_id`,
      )
    ).getRowObjectsJS();
    connection.closeSync();
    expect(fromParquet).toHaveLength(500);
    const scale4 = (v: string | null) => {
      if (v === null) return null;
      const [whole, fraction = ''] = v.split('.');
      return `${whole}.${fraction.padEnd(4, '0')}`;
    };
    expect(fromParquet).toEqual(
      fromJsonl.map((row) => ({
        ...row,
        price: scale4(row['price'] as string | null),
        fee_total: scale4(row['fee_total'] as string | null),
      })),
    );
    await journal.close();
  });

  it('parks the records of an object it cannot encode, as JSONL in the dead letters, and goes on', async () => {
    // Prepare: an encoder that refuses everything.
    const journal = await journalOfTwoHours();
    const spool = tempDir();
    const box = await DeadLetterBox.open({ dir: spool });
    const events: ArchiveEvent[] = [];
    const refusing: ArchiveFormat = {
      ...parquetFormat(),
      encode: () => Promise.reject(new Error('unsupported value')),
    };
    const writer = new ArchiveWriter({
      journal,
      store: new LocalFolderStore(tempDir()),
      format: refusing,
      deadLetters: box,
      graceMs: 0,
      flushMs: Number.POSITIVE_INFINITY,
      now: () => Date.parse('2026-11-24T00:00:00Z'),
      onEvent: (e) => events.push(e),
    });

    // Act
    await writer.start();
    await expect.poll(() => journal.backlog('parquet').records, { timeout: 10_000 }).toBe(0);
    await writer.stop();

    // Assess: both hours parked whole, coded, and the sink caught up.
    const parked = events.filter((e) => e.kind === 'dead_lettered');
    expect(parked).toEqual([
      expect.objectContaining({ code: 'ERR_ARCHIVE_ENCODE', records: 300, lsns: [[1, 300]] }),
      expect.objectContaining({ code: 'ERR_ARCHIVE_ENCODE', records: 200, lsns: [[301, 500]] }),
    ]);
    expect(writer.status()).toMatchObject({ deadLetters: 2, lastError: { code: 'ERR_ARCHIVE_ENCODE' } });
    await box.close();
    await journal.close();
  });
});

import { DuckDBInstance } from '@duckdb/node-api';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArchiveWriter, type ArchiveEvent } from '../../src/pipeline/archive-writer.js';
import { DeadLetterBox } from '../../src/pipeline/dead-letters.js';
import { Journal } from '../../src/pipeline/journal.js';
import { jsonlFormat, type ArchiveFormat } from '../../src/pipeline/archive-format.js';
import { buildHourParquet } from '../../src/app/parquet-build.js';
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

describe('buildHourParquet', () => {
  it('writes one typed object per closed hour from its JSONL objects, row for row the JSONL of that hour', async () => {
    // Prepare: the JSONL archive of two closed hours.
    const journal = await journalOfTwoHours();
    const root = tempDir('archive-');
    const store = new LocalFolderStore(root);
    const now = () => Date.parse('2026-11-24T00:00:00Z');
    const jsonl = new ArchiveWriter({ journal, store, graceMs: 0, flushMs: 50, now });
    await jsonl.start();
    await expect.poll(() => journal.backlog('archive').records, { timeout: 20_000 }).toBe(0);
    await jsonl.stop();

    // Act
    const built = [];
    for (const hour of ['2026-11-23T09', '2026-11-23T10'])
      built.push(await buildHourParquet({ source: { kind: 'file', dir: root }, store, listener: undefined, hour }));

    // Assess: one object per hour, named for its journal range.
    expect(files(root, '.parquet')).toEqual([
      'exec_reports_parquet/dt=2026-11-23/hour=09/000000000001-000000000300-300.parquet',
      'exec_reports_parquet/dt=2026-11-23/hour=10/000000000301-000000000500-200.parquet',
    ]);
    expect(built.map((b) => b.written.map((w) => w.result))).toEqual([['created'], ['created']]);
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
});

describe('ArchiveWriter with a format that refuses', () => {
  it('parks the records of an object it cannot encode, as JSONL in the dead letters, and goes on', async () => {
    // Prepare: an encoder that refuses everything.
    const journal = await journalOfTwoHours();
    const spool = tempDir();
    const box = await DeadLetterBox.open({ dir: spool });
    const events: ArchiveEvent[] = [];
    const refusing: ArchiveFormat = {
      ...jsonlFormat(),
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
    await expect.poll(() => journal.backlog('archive').records, { timeout: 10_000 }).toBe(0);
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

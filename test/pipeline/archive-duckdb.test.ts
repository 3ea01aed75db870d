import { DuckDBInstance } from '@duckdb/node-api';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArchiveWriter } from '../../src/pipeline/archive-writer.js';
import { Journal } from '../../src/pipeline/journal.js';
import { RECORD_COLUMNS } from '../../src/core/record.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { archiveTable, duckDb } from '../helpers/duckdb.js';
import { makeRecord, tempDir } from '../helpers/records.js';

/** Glue (Hive) type → DuckDB type, so the reader declares exactly the Glue table's schema. */
function duckType(glue: string): string {
  const struct = /^array<struct<(.+)>>$/.exec(glue);
  if (struct !== null)
    return `STRUCT(${struct[1]!
      .split(',')
      .map((f) => {
        const [name, type] = f.split(':');
        return `${name} ${duckType(type!)}`;
      })
      .join(', ')})[]`;
  return ({ string: 'VARCHAR', int: 'INTEGER', bigint: 'BIGINT', boolean: 'BOOLEAN' } as Record<string, string>)[glue]!;
}

describe('archive read as Athena would (DuckDB)', () => {
  it('reads every object with the declared column types and Hive partitions, filters by dt/hour and exports Parquet', async () => {
    // Prepare: two hours of reports archived to a local folder with the S3 key layout.
    const root = tempDir('archive-');
    const journal = await Journal.open({ dir: tempDir() });
    for (let n = 0; n < 40; n++) {
      journal.append(
        makeRecord(n, {
          transact_time: n < 25 ? `2026-11-23T09:0${n % 10}:00.123456Z` : '2026-11-23T10:30:00.5Z',
          text: n === 3 ? 'quote " and \\ and ünïcode' : null,
        }),
      );
    }
    await journal.flush();
    const writer = new ArchiveWriter({
      journal,
      store: new LocalFolderStore(root),
      now: () => Date.parse('2026-11-23T12:00:00Z'),
    });
    await writer.start();
    await writer.stop({ flush: true });
    await journal.close();
    const columns = `{${RECORD_COLUMNS.map((c) => `'${c.name}': '${duckType(c.glueType)}'`).join(', ')}}`;
    const source = `read_json('${join(root, 'exec_reports/dt=*/hour=*/*.jsonl.gz')}', format = 'newline_delimited', hive_partitioning = true, hive_types = {'dt': 'VARCHAR', 'hour': 'INTEGER'}, columns = ${columns})`;
    const instance = await DuckDBInstance.create(':memory:', {
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    });
    const db = await instance.connect();
    // Act
    const all = (
      await db.runAndReadAll(`SELECT count(*) AS n, count(DISTINCT exec_id) AS ids FROM ${source}`)
    ).getRowObjectsJS()[0]!;
    const byHour = (
      await db.runAndReadAll(`SELECT dt, hour, count(*) AS n FROM ${source} GROUP BY dt, hour ORDER BY hour`)
    ).getRowObjectsJS();
    const fills = (
      await db.runAndReadAll(
        `SELECT exec_id, fees[1].amount AS fee, price, aggressor, msg_seq_num FROM ${source} WHERE dt = '2026-11-23' AND hour = 10 AND exec_type = 'F' ORDER BY msg_seq_num`,
      )
    ).getRowObjectsJS();
    const quoted = (await db.runAndReadAll(`SELECT text FROM ${source} WHERE text IS NOT NULL`)).getRowObjectsJS();
    const parquet = join(root, 'export.parquet');
    await db.run(`COPY (SELECT * FROM ${source}) TO '${parquet}' (FORMAT parquet)`);
    const schema = (await db.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${parquet}')`)).getRowObjectsJS();
    const parquetCount = (
      await db.runAndReadAll(`SELECT count(*) AS n FROM read_parquet('${parquet}')`)
    ).getRowObjectsJS()[0]!;
    // Assess
    expect(all).toEqual({ n: 40n, ids: 40n });
    // Partition types as the Glue table projects them: dt a yyyy-MM-dd string, hour an integer.
    expect(byHour.map((r) => [r['dt'], r['hour'], Number(r['n'])])).toEqual([
      ['2026-11-23', 9, 25],
      ['2026-11-23', 10, 15],
    ]);
    expect(fills.map((r) => r['exec_id'])).toEqual(
      Array.from({ length: 40 }, (_, n) => n)
        .filter((n) => n >= 25 && n % 2 === 0)
        .map((n) => makeRecord(n).exec_id),
    );
    expect(fills[0]).toMatchObject({ fee: '0.0700', price: '19.5000', aggressor: true });
    expect(quoted).toEqual([{ text: 'quote " and \\ and ünïcode' }]);
    expect(parquetCount).toEqual({ n: 40n });
    const types = Object.fromEntries(
      schema.map((r): [string, unknown] => [r['column_name'] as string, r['column_type']]),
    );
    for (const column of RECORD_COLUMNS) expect(types[column.name]).toBe(duckType(column.glueType));
    db.closeSync();
    instance.closeSync();
  });

  it('reads several listeners under one table, the listener a partition column like dt and hour', async () => {
    // Prepare: three listeners, each with its own journal, writing into one archive folder.
    const root = tempDir('archive-');
    const store = new LocalFolderStore(root);
    const counts = { 'member-a': 12, 'member-b': 7, 'fcm-1': 3 };
    for (const [listener, count] of Object.entries(counts)) {
      const journal = await Journal.open({ dir: tempDir() });
      for (let n = 0; n < count; n++)
        journal.append(makeRecord(n, { exec_id: `${listener}-${n}`, transact_time: '2026-11-23T09:15:00Z' }));
      await journal.flush();
      const writer = new ArchiveWriter({
        journal,
        store,
        partition: `listener=${listener}`,
        now: () => Date.parse('2026-11-23T12:00:00Z'),
      });
      await writer.start();
      await writer.stop({ flush: true });
      await journal.close();
    }
    const source = archiveTable(root);
    const db = await duckDb();
    // Act
    const rows = (
      await db.runAndReadAll(
        `SELECT listener, dt, hour, count(*) AS n, count(DISTINCT exec_id) AS ids FROM ${source} GROUP BY ALL ORDER BY listener`,
      )
    ).getRowObjectsJS();
    // Assess
    expect(rows.map((r) => [r['listener'], r['dt'], r['hour'], Number(r['n']), Number(r['ids'])])).toEqual([
      ['fcm-1', '2026-11-23', 9, 3, 3],
      ['member-a', '2026-11-23', 9, 12, 12],
      ['member-b', '2026-11-23', 9, 7, 7],
    ]);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  JSON_SERDE,
  PARQUET_SERDE,
  PARQUET_TABLE_NAME,
  parquetTableColumns,
  PARTITION_KEYS,
  projectionParameters,
  tableColumns,
  TABLE_NAME,
} from '../../infra/archive-table.js';
import { namedQueries, parquetNamedQueries } from '../../infra/athena-queries.js';
import { DEFAULT_SETTINGS } from '../../infra/props.js';
import { jsonlFormat } from '../../src/pipeline/archive-format.js';
import { objectKey, partitionOf } from '../../src/pipeline/archive-writer.js';
import { RECORD_COLUMNS } from '../../src/core/record.js';
import { makeRecord } from '../helpers/records.js';
import { REPO } from './synth.js';

const LOCATION = 's3://archive-bucket/kalshi-fix-listener/exec_reports/';

/** What Athena's projection puts in the template for a partition (date as formatted, hour with 2 digits). */
function projectedPrefix(listener: string, dt: string, hour: number): string {
  const template = projectionParameters(LOCATION, '2026-01-01', [listener])['storage.location.template']!;
  return template
    .replace('${listener}', listener)
    .replace('${dt}', dt)
    .replace('${hour}', String(hour).padStart(2, '0'));
}

describe("Glue table over the archive writer's keys", () => {
  it("projects onto the very prefix the writer puts an hour's objects under", () => {
    // Prepare: a report of 07:05 UTC, keyed as the archive writer of listener member-a keys it
    // (its partition first, hour 07 with two digits).
    const record = makeRecord(1, { transact_time: '2026-11-23T07:05:07.401Z' });
    const { hourKey } = partitionOf(record);
    // Act
    const key = `kalshi-fix-listener/${objectKey(`listener=member-a/${hourKey}`, [[1, 20]], 20, jsonlFormat(true))}`;
    // Assess
    expect(`s3://archive-bucket/${key}`.startsWith(projectedPrefix('member-a', '2026-11-23', 7))).toBe(true);
    expect(key).not.toMatch(/dt=[^/]*:/); // no ':' in a partition value (DESIGN.md §3)
  });

  it("has the record's columns, in order, with their comments", () => {
    // Assess
    expect(tableColumns()).toEqual(RECORD_COLUMNS.map((c) => ({ name: c.name, type: c.glueType, comment: c.comment })));
  });

  it('is the table docs/archive.md documents: same partitions, SerDe and projection start', () => {
    // Prepare
    const readme = readFileSync(join(REPO, 'docs', 'archive.md'), 'utf8');
    // Assess
    expect(readme).toContain(`CREATE EXTERNAL TABLE ${TABLE_NAME} (`);
    expect(readme).toContain(`PARTITIONED BY (${PARTITION_KEYS.map((k) => `${k.name} ${k.type}`).join(', ')})`);
    expect(readme).toContain(`ROW FORMAT SERDE '${JSON_SERDE}'`);
    expect(readme).toContain(`'projection.dt.range' = '${DEFAULT_SETTINGS.archiveStartDate},NOW'`);
  });
});

describe('the typed (Parquet) table', () => {
  it('has the same columns in the same order, typed: decimals, UTC timestamps, dates, lists of structs', () => {
    // Act
    const columns = Object.fromEntries(parquetTableColumns().map((c) => [c.name, c.type]));
    // Assess
    expect(Object.keys(columns)).toEqual(RECORD_COLUMNS.map((c) => c.name));
    expect(columns).toMatchObject({
      price: 'decimal(18,4)',
      last_qty: 'decimal(18,4)',
      transact_time: 'timestamp',
      msg_seq_num: 'bigint',
      clearing_business_date: 'date',
      fees: 'array<struct<amount:decimal(18,4),currency:string,fee_type:string,basis:string>>',
      raw: 'string',
    });
  });

  it('is documented in docs/archive.md with the same DDL', () => {
    // Act
    const readme = readFileSync(join(REPO, 'docs', 'archive.md'), 'utf8');
    const ddl = new RegExp(
      `CREATE EXTERNAL TABLE ${PARQUET_TABLE_NAME} \\(\\n([\\s\\S]+?)\\n\\)\\nPARTITIONED BY`,
    ).exec(readme)?.[1];
    // Assess
    expect(ddl).toBeDefined();
    expect(ddl!.split('\n').map((line) => line.trim().replace(/,$/, ''))).toEqual(
      parquetTableColumns().map((c) => `${c.name} ${c.type}`),
    );
    expect(readme).toContain(`ROW FORMAT SERDE '${PARQUET_SERDE}'`);
  });
});

describe('saved Athena queries', () => {
  it('count fills per symbol and hour, follow one order, and look for duplicate ExecIDs', () => {
    // Act
    const queries = Object.fromEntries(namedQueries(TABLE_NAME).map((q) => [q.name, q.sql]));
    // Assess
    expect(queries['fills-per-symbol-per-hour']).toMatch(
      /SELECT symbol, dt, hour, count\(\*\)[\s\S]*WHERE exec_type = 'F'/,
    );
    expect(queries['order-life-by-order-id']).toMatch(
      /WHERE order_id = '[^']+'[\s\S]*ORDER BY from_iso8601_timestamp\(transact_time\), rpad\(replace\(transact_time, 'Z', ''\), 29, '0'\)/,
    );
    expect(queries['duplicate-exec-ids']).toMatch(/GROUP BY exec_id\s+HAVING count\(\*\) > 1/);
    for (const sql of Object.values(queries)) expect(sql).toContain(`FROM ${TABLE_NAME}\n`);
  });

  it('every one reads only some days: each filters on the dt partition', () => {
    // Act
    const queries = [...namedQueries(TABLE_NAME), ...parquetNamedQueries(PARQUET_TABLE_NAME)];
    // Assess: without it a query scans the whole archive and, within months, hits the workgroup's cut-off.
    for (const query of queries)
      expect(query.sql, query.name).toMatch(/WHERE [^\n]*\bdt (=|>=) date_format\(current_date/);
  });
});

import { compress, decompress, init } from '@bokuweb/zstd-wasm';
import fc from 'fast-check';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RECORD_COLUMNS, TYPED_COLUMNS, typedGlueType, type ExecutionReportRecord } from '../../src/core/record.js';
import {
  decimalToUnscaled,
  encodeParquet,
  isoToEpochNanos,
  type LossyValue,
} from '../../src/pipeline/parquet-encode.js';
import { makeRecord, tempDir } from '../helpers/records.js';

/** Records that use every type: 3/6/9-digit times, 2- and 4-decimal values, groups, nulls. */
function records(): ExecutionReportRecord[] {
  return Array.from({ length: 300 }, (_, n) =>
    makeRecord(n, {
      transact_time: ['2026-11-23T22:05:07.401Z', '2026-11-23T22:05:07.401234Z', '2026-11-23T22:05:07.401234567Z'][
        n % 3
      ]!,
      price: n % 7 === 0 ? null : `${n % 100}.${String(n % 10_000).padStart(4, '0')}`,
      order_qty: `${n}.00`,
      fee_total: n % 2 === 0 ? '0.0175' : null,
      clearing_business_date: n % 5 === 0 ? null : '2026-11-24',
      ord_rej_reason: n % 11 === 0 ? 3 : null,
      aggressor: n % 3 === 0 ? null : n % 2 === 0,
      msg_seq_num: 4_000_000_000 + n,
      fees: n % 2 === 0 ? [{ amount: '0.0175', currency: 'USD', fee_type: '4', basis: null }] : [],
      parties: [{ id: `acct-${n % 4}`, id_source: 'D', party_role: '24' }],
      text: n === 4 ? 'quote " and ünïcode' : null,
    }),
  );
}

/** The record as its typed row is compared: decimals as exact strings at scale 4, times in ns. */
function decimal4(text: string | null): string | null {
  if (text === null) return null;
  const [whole, fraction = ''] = text.split('.');
  return `${whole}.${fraction.padEnd(4, '0')}`;
}

beforeAll(async () => {
  await init();
});

describe('decimalToUnscaled', () => {
  it('is exact at scale 4, and refuses what it cannot hold exactly', () => {
    // Act + Assess
    expect(decimalToUnscaled('19.5000')).toBe(195000n);
    expect(decimalToUnscaled('10.00')).toBe(100000n);
    expect(decimalToUnscaled('-0.0001')).toBe(-1n);
    expect(decimalToUnscaled('100')).toBe(1_000_000n);
    expect(decimalToUnscaled('0.123400')).toBe(1234n); // trailing zeros past the scale are fine
    expect(decimalToUnscaled('0.12345')).toBeUndefined();
    expect(decimalToUnscaled('99999999999999.9999')).toBe(999999999999999999n);
    expect(decimalToUnscaled('100000000000000')).toBeUndefined();
    expect(decimalToUnscaled('1e5')).toBeUndefined();
  });

  it('agrees with an exact BigInt reading of any text, short or long (property)', () => {
    /** The model: the whole text read with BigInt, no fast path. */
    const exact = (text: string): bigint | undefined => {
      const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
      if (match === null) return undefined;
      const [, sign, whole, fraction = ''] = match;
      if (/[^0]/.test(fraction.slice(4))) return undefined;
      const unscaled = BigInt(whole!) * 10_000n + BigInt(fraction.slice(0, 4).padEnd(4, '0'));
      if (unscaled >= 10n ** 18n) return undefined;
      return sign === '-' ? -unscaled : unscaled;
    };
    const decimalLike = fc
      .tuple(
        fc.constantFrom('', '-', '--', '+'),
        fc.stringMatching(/^[0-9]{0,20}$/),
        fc.constantFrom('', '.', '..', 'e'),
        fc.stringMatching(/^[0-9]{0,9}$/),
        fc.constantFrom('', ' ', 'x', '0'),
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(decimalLike, fc.string()), (text) => {
        // Act / Assess
        expect(decimalToUnscaled(text)).toBe(exact(text));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('isoToEpochNanos', () => {
  it('keeps every fractional digit received', () => {
    // Act + Assess
    const second = BigInt(Date.parse('2026-11-23T22:05:07Z')) * 1_000_000n;
    expect(isoToEpochNanos('2026-11-23T22:05:07Z')).toBe(second);
    expect(isoToEpochNanos('2026-11-23T22:05:07.4Z')).toBe(second + 400_000_000n);
    expect(isoToEpochNanos('2026-11-23T22:05:07.401234567Z')).toBe(second + 401_234_567n);
    expect(isoToEpochNanos('23/11/2026')).toBeUndefined();
  });

  it('gives the same answers through a shared memo of the last second, across seconds and bad input', () => {
    // Prepare
    const memo = { second: '', nanos: 0n };
    const texts = [
      '2026-11-23T22:05:07.1Z',
      '2026-11-23T22:05:07.2Z',
      '2026-11-23T22:05:08Z',
      '2026-13-45T22:05:08Z', // no such date
      '2026-11-23T22:05:07.3Z',
      '1999-12-31T23:59:59.999999999Z',
    ];
    // Act
    const shared = texts.map((text) => isoToEpochNanos(text, memo));
    // Assess
    expect(shared).toEqual(texts.map((text) => isoToEpochNanos(text)));
    expect(shared[3]).toBeUndefined();
  });
});

describe('encodeParquet', () => {
  it('writes the declared types, read back row for row by DuckDB and by hyparquet', async () => {
    // Prepare
    const source = records();
    const lossy: LossyValue[] = [];

    // Act
    const bytes = encodeParquet(source, { compress: (b) => compress(b, 3), onLossy: (v) => lossy.push(v) });
    const file = join(tempDir(), 'hour.parquet');
    writeFileSync(file, bytes);

    // Assess: DuckDB sees the typed schema of the Parquet Glue table.
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    const described = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`))
      .getRowObjects()
      .map((r) => [r['column_name'], r['column_type']]);
    const duckType = (glue: string): string =>
      glue
        .replace(/decimal\((\d+),(\d+)\)/g, 'DECIMAL($1,$2)')
        .replace(
          /^array<struct<(.+)>>$/,
          (_, fields: string) =>
            `STRUCT(${fields
              .split(/,(?![^(]*\))/)
              .map((f) => f.replace(':', ' '))
              .join(', ')})[]`,
        )
        .replace(/\bstring\b/g, 'VARCHAR')
        .replace(/^timestamp$/, 'TIMESTAMP WITH TIME ZONE')
        .replace(/^int$/, 'INTEGER')
        .replace(/^bigint$/, 'BIGINT')
        .replace(/^boolean$/, 'BOOLEAN')
        .replace(/^date$/, 'DATE');
    expect(described).toEqual(RECORD_COLUMNS.map((c) => [c.name, duckType(typedGlueType(TYPED_COLUMNS[c.name]))]));
    // DuckDB's rows: decimals exact, times to the microsecond (its TIMESTAMPTZ), groups as structs.
    const rows = (
      await connection.runAndReadAll(
        `SELECT exec_id, CAST(price AS VARCHAR) AS price, CAST(order_qty AS VARCHAR) AS order_qty,
                CAST(fee_total AS VARCHAR) AS fee_total, epoch_us(transact_time) AS transact_us,
                CAST(clearing_business_date AS VARCHAR) AS cbd, msg_seq_num, aggressor, ord_rej_reason, text,
                CAST(fees[1].amount AS VARCHAR) AS fee_amount, parties[1].id AS party, raw
         FROM read_parquet('${file}')`,
      )
    ).getRowObjectsJS();
    expect(rows).toHaveLength(source.length);
    // Each row is its source record (rows are in order_id order in the file).
    const byId = new Map(source.map((r) => [r.exec_id, r]));
    expect(new Set(rows.map((row) => row['exec_id']))).toEqual(new Set(byId.keys()));
    rows.forEach((row) => {
      const r = byId.get(row['exec_id'] as string)!;
      expect(row).toEqual({
        exec_id: r.exec_id,
        price: decimal4(r.price),
        order_qty: decimal4(r.order_qty),
        fee_total: decimal4(r.fee_total),
        transact_us: isoToEpochNanos(r.transact_time!)! / 1000n,
        cbd: r.clearing_business_date,
        msg_seq_num: BigInt(r.msg_seq_num),
        aggressor: r.aggressor,
        ord_rej_reason: r.ord_rej_reason,
        text: r.text,
        fee_amount: r.fees.length === 0 ? null : decimal4(r.fees[0]!.amount),
        party: r.parties[0]!.id,
        raw: r.raw,
      });
    });
    connection.closeSync();

    // hyparquet: every row, with nanoseconds.
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const read = await parquetReadObjects({
      file: buffer,
      compressors: { ZSTD: (input: Uint8Array, outputLength: number) => decompress(input).subarray(0, outputLength) },
      parsers: { timestampFromNanoseconds: (nanos: bigint) => nanos },
      utf8: true,
    });
    expect(read).toHaveLength(source.length);
    read.forEach((row) => {
      const r = byId.get(row['exec_id'] as string)!;
      expect(row['exec_id']).toBe(r.exec_id);
      expect(row['symbol']).toBe(r.symbol);
      expect(row['poss_dup']).toBe(r.poss_dup);
      // hyparquet hands decimals over as JS numbers (DuckDB above compared them exactly).
      if (r.last_qty === null) expect(row['last_qty']).toBeNull();
      else expect(row['last_qty']).toBeCloseTo(Number(r.last_qty), 9);
      expect(row['transact_time']).toBe(isoToEpochNanos(r.transact_time!)); // every nanosecond
      expect(row['fees']).toHaveLength(r.fees.length);
    });
    const metadata = parquetMetadata(buffer);
    const transact = metadata.schema.find((s) => s.name === 'transact_time')!;
    expect(transact.logical_type).toEqual({ type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'NANOS' });
    expect(metadata.row_groups[0]!.columns[0]!.meta_data!.codec).toBe('ZSTD');
    expect(lossy).toEqual([]);
  });

  it('sorts rows by order in row groups whose order_id ranges do not overlap', () => {
    // Prepare: 10,000 reports of 400 orders, journaled interleaved.
    const source = Array.from({ length: 10_000 }, (_, n) =>
      makeRecord(n, { order_id: `ord-${String((n * 7919) % 400).padStart(4, '0')}` }),
    );

    // Act
    const bytes = encodeParquet(source, { compress: (b) => compress(b, 3) });

    // Assess: two row groups; each order in one or two of them (where a boundary cuts it).
    const metadata = parquetMetadata(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    );
    const ranges = metadata.row_groups.map((group) => {
      const statistics = group.columns.find((c) => c.meta_data!.path_in_schema[0] === 'order_id')!.meta_data!
        .statistics!;
      return { min: String(statistics.min_value), max: String(statistics.max_value) };
    });
    expect(metadata.row_groups.map((g) => Number(g.num_rows))).toEqual([8192, 1808]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.min >= ranges[i - 1]!.max).toBe(true);
  });

  it('leaves a value it cannot hold exactly null, and says so', () => {
    // Prepare
    const source = [makeRecord(1, { price: '0.12345', transact_time: 'yesterday' })];
    const lossy: LossyValue[] = [];

    // Act
    encodeParquet(source, { compress: (b) => compress(b, 3), onLossy: (v) => lossy.push(v) });

    // Assess
    expect(lossy).toEqual([
      { execId: source[0]!.exec_id, column: 'price', value: '0.12345' },
      { execId: source[0]!.exec_id, column: 'transact_time', value: 'yesterday' },
    ]);
  });
});

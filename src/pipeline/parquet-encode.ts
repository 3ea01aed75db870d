import type { SchemaElement } from 'hyparquet-writer';
import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer';
import {
  DECIMAL_PRECISION,
  DECIMAL_SCALE,
  RECORD_COLUMNS,
  TYPED_COLUMNS,
  type ExecutionReportRecord,
  type TypedType,
} from '../core/record.js';

/** A value the typed table cannot hold exactly: its cell is null there (JSONL and `raw` keep it). */
export interface LossyValue {
  execId: string;
  column: string;
  value: string;
}

export interface ParquetEncodeOptions {
  /** ZSTD block compressor (synchronous). */
  compress: (input: Uint8Array) => Uint8Array;
  onLossy?: (value: LossyValue) => void;
}

/**
 * ZSTD level of the Parquet objects. Measured on an hour of simulator reports (`npm run bench`,
 * parquet section): level 3 gives 1.00× the .jsonl.gz, 9 gives 0.93× for 17 % more encode time
 * (on the worker thread), 15 only 0.92× for 60 % more.
 */
export const ZSTD_LEVEL = 9;

/**
 * Rows per row group. Rows are sorted by order_id, so a query for one order finds it in the one or
 * two row groups whose order_id min/max holds it and reads nothing of the others (Athena prunes on
 * the footer's statistics). Measured on an hour of 36,000 reports (bench, parquet section): 4,096
 * rows read 25× fewer bytes than the JSONL for one order but made the file 0.995× the .jsonl.gz;
 * 8,192 rows, 16× fewer and 0.98×; one row group, 3.7× fewer and 0.93×.
 */
export const ROW_GROUP_ROWS = 8192;

const DECIMAL: Partial<SchemaElement> = {
  type: 'INT64',
  converted_type: 'DECIMAL',
  scale: DECIMAL_SCALE,
  precision: DECIMAL_PRECISION,
  logical_type: { type: 'DECIMAL', scale: DECIMAL_SCALE, precision: DECIMAL_PRECISION },
};
const STRING: Partial<SchemaElement> = { type: 'BYTE_ARRAY', converted_type: 'UTF8' };

function leaf(type: Exclude<TypedType, object>): Partial<SchemaElement> {
  switch (type) {
    case 'string':
      return STRING;
    case 'int':
      return { type: 'INT32' };
    case 'bigint':
      return { type: 'INT64' };
    case 'boolean':
      return { type: 'BOOLEAN' };
    case 'date':
      return { type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } };
    case 'decimal':
      return DECIMAL;
    case 'timestamp':
      return { type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'NANOS' } };
  }
}

/** The Parquet schema of the typed table, from the record's column declarations. */
export function parquetSchema(): SchemaElement[] {
  const schema: SchemaElement[] = [{ name: 'root', num_children: RECORD_COLUMNS.length }];
  for (const { name } of RECORD_COLUMNS) {
    const type = TYPED_COLUMNS[name];
    if (typeof type === 'object') {
      // The three-level LIST every reader (Athena, DuckDB, Spark) understands.
      schema.push(
        { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', repetition_type: 'OPTIONAL', num_children: type.list.length },
        ...type.list.map(([field, t]) => ({ name: field, repetition_type: 'OPTIONAL' as const, ...leaf(t) })),
      );
    } else {
      schema.push({
        name,
        repetition_type: name === 'schema_version' ? 'REQUIRED' : 'OPTIONAL',
        ...leaf(type),
      });
    }
  }
  return schema;
}

const DECIMAL_TEXT = /^(-?)(\d+)(?:\.(\d+))?$/;
const DECIMAL_LIMIT = 10n ** BigInt(DECIMAL_PRECISION);
const SCALE_FACTOR = 10n ** BigInt(DECIMAL_SCALE);

/** "19.5000" → 195000n at scale 4, exactly; undefined when it cannot be held exactly. */
export function decimalToUnscaled(text: string): bigint | undefined {
  const match = DECIMAL_TEXT.exec(text);
  if (match === null) return undefined;
  const [, sign, whole, fraction = ''] = match;
  const kept = fraction.slice(0, DECIMAL_SCALE);
  if (/[^0]/.test(fraction.slice(DECIMAL_SCALE))) return undefined; // digits the scale would drop
  const unscaled = BigInt(whole!) * SCALE_FACTOR + BigInt(kept.padEnd(DECIMAL_SCALE, '0'));
  if (unscaled >= DECIMAL_LIMIT) return undefined;
  return sign === '-' ? -unscaled : unscaled;
}

const ISO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/;

/** "2026-11-23T22:05:07.401234Z" → nanoseconds since the epoch, exactly. */
export function isoToEpochNanos(text: string): bigint | undefined {
  const match = ISO.exec(text);
  if (match === null) return undefined;
  const seconds = Date.parse(`${match[1]}Z`);
  if (Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1_000_000n + BigInt((match[2] ?? '').padEnd(9, '0'));
}

const DAY_MS = 86_400_000;

/** "2026-11-23" → days since the epoch. */
function dateToDays(text: string): number | undefined {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : Number.NaN;
  return Number.isNaN(ms) ? undefined : ms / DAY_MS;
}

/**
 * The records as one Parquet object: typed columns (decimals, UTC timestamps, dates, lists of
 * structs), rows sorted by order (then as journaled) in row groups of ROW_GROUP_ROWS, ZSTD.
 * Synchronous and CPU-bound: run it off the FIX thread.
 */
export function encodeParquet(journaled: readonly ExecutionReportRecord[], options: ParquetEncodeOptions): Uint8Array {
  const records = journaled
    .map((record, at) => ({ record, at }))
    .sort((a, b) => {
      const x = a.record.order_id ?? '';
      const y = b.record.order_id ?? '';
      return x < y ? -1 : x > y ? 1 : a.at - b.at;
    })
    .map(({ record }) => record);
  const lossy = (record: ExecutionReportRecord, column: string, value: string): null => {
    options.onLossy?.({ execId: record.exec_id, column, value });
    return null;
  };
  const convert = (
    record: ExecutionReportRecord,
    column: string,
    type: Exclude<TypedType, object>,
    value: unknown,
  ): unknown => {
    if (value === null || value === undefined) return null;
    switch (type) {
      case 'decimal':
        return decimalToUnscaled(value as string) ?? lossy(record, column, value as string);
      case 'timestamp':
        return isoToEpochNanos(value as string) ?? lossy(record, column, value as string);
      case 'date':
        return dateToDays(value as string) ?? lossy(record, column, value as string);
      case 'bigint':
        return BigInt(value as number);
      default:
        return value;
    }
  };
  const columnData: ColumnSource[] = RECORD_COLUMNS.map(({ name }) => {
    const type = TYPED_COLUMNS[name];
    const data: unknown[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const value = record[name];
      if (typeof type === 'object') {
        data[i] = (value as Array<Record<string, unknown>> | null)?.map((entry) => {
          const out: Record<string, unknown> = {};
          for (const [field, t] of type.list) out[field] = convert(record, `${name}.${field}`, t, entry[field]);
          return out;
        });
      } else data[i] = convert(record, name, type, value);
    }
    return { name, data: data as ColumnSource['data'] };
  });
  const buffer = parquetWriteBuffer({
    columnData,
    schema: parquetSchema(),
    codec: 'ZSTD',
    compressors: { ZSTD: options.compress },
    rowGroupSize: ROW_GROUP_ROWS,
    createdBy: 'kalshi-fix-listener',
  });
  return new Uint8Array(buffer);
}

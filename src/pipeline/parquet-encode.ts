import type { SchemaElement } from 'hyparquet-writer';
import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer';
import {
  DECIMAL_PRECISION,
  DECIMAL_SCALE,
  RECORD_COLUMNS,
  TYPED_COLUMNS,
  type ColumnName,
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
 * ZSTD level of the Parquet objects. Measured on an hour of simulator reports (36,000; the bench's
 * parquet section): level 3 compresses in 5 µs a record but makes the file 1.05× the .jsonl.gz,
 * 6 takes 20 µs for 1.01×, 7 1.004×; 8 and 9 take 25–30 µs for 0.98×. The typed copy must not
 * cost more storage than the JSONL (issue 16), so 9; it is the largest item of the encoder's time.
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
const SCALE = 10 ** DECIMAL_SCALE;
/** Whole parts below this (and the scaled value) stay exact as a double: the fast path's bound. */
const FAST_WHOLE_LIMIT = Math.floor(Number.MAX_SAFE_INTEGER / SCALE);

/** "19.5000" → 195000n at scale 4, exactly; undefined when it cannot be held exactly. */
export function decimalToUnscaled(text: string): bigint | undefined {
  // Prices and quantities are short: digits summed as a double (exact below 2^53), one BigInt at
  // the end. A regex and two BigInt parses per value were a tenth of the encoder's time.
  const length = text.length;
  let i = text.charCodeAt(0) === 45 ? 1 : 0; // '-'
  const digitsFrom = i;
  let whole = 0;
  for (; i < length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    whole = whole * 10 + digit;
  }
  if (i === digitsFrom || whole >= FAST_WHOLE_LIMIT) return slowDecimalToUnscaled(text);
  let fraction = 0;
  if (i < length) {
    if (text.charCodeAt(i) !== 46 || i === length - 1) return undefined; // not '.', or nothing after it
    const fractionFrom = ++i;
    for (; i < length; i++) {
      const digit = text.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return undefined;
      // Digits past the scale must be zeros: the scale would drop them.
      if (i - fractionFrom < DECIMAL_SCALE) fraction = fraction * 10 + digit;
      else if (digit !== 0) return undefined;
    }
    for (let k = Math.min(length - fractionFrom, DECIMAL_SCALE); k < DECIMAL_SCALE; k++) fraction *= 10;
  }
  const unscaled = BigInt(whole * SCALE + fraction);
  return digitsFrom === 1 ? -unscaled : unscaled;
}

/** The general case (long whole parts): exact with BigInt throughout. */
function slowDecimalToUnscaled(text: string): bigint | undefined {
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

/** The last second parsed by `isoToEpochNanos`: reports come in bursts within one second. */
export interface SecondMemo {
  second: string;
  nanos: bigint;
}

/** "2026-11-23T22:05:07.401234Z" → nanoseconds since the epoch, exactly. */
export function isoToEpochNanos(text: string, memo: SecondMemo = { second: '', nanos: 0n }): bigint | undefined {
  const match = ISO.exec(text);
  if (match === null) return undefined;
  const second = match[1]!;
  if (second !== memo.second) {
    const ms = Date.parse(`${second}Z`);
    if (Number.isNaN(ms)) return undefined;
    memo.second = second;
    memo.nanos = BigInt(ms) * 1_000_000n;
  }
  const fraction = match[2];
  return fraction === undefined ? memo.nanos : memo.nanos + BigInt(fraction.padEnd(9, '0'));
}

/** Each column's value, read by its own name. */
const FIELD: { readonly [K in ColumnName]: (record: ExecutionReportRecord) => ExecutionReportRecord[K] } = {
  schema_version: (r) => r.schema_version,
  exec_id: (r) => r.exec_id,
  order_id: (r) => r.order_id,
  cl_ord_id: (r) => r.cl_ord_id,
  orig_cl_ord_id: (r) => r.orig_cl_ord_id,
  exec_type: (r) => r.exec_type,
  ord_status: (r) => r.ord_status,
  symbol: (r) => r.symbol,
  side: (r) => r.side,
  price: (r) => r.price,
  order_qty: (r) => r.order_qty,
  last_px: (r) => r.last_px,
  last_qty: (r) => r.last_qty,
  leaves_qty: (r) => r.leaves_qty,
  cum_qty: (r) => r.cum_qty,
  avg_px: (r) => r.avg_px,
  transact_time: (r) => r.transact_time,
  sending_time: (r) => r.sending_time,
  received_at: (r) => r.received_at,
  msg_seq_num: (r) => r.msg_seq_num,
  poss_dup: (r) => r.poss_dup,
  text: (r) => r.text,
  ord_rej_reason: (r) => r.ord_rej_reason,
  trd_match_id: (r) => r.trd_match_id,
  aggressor: (r) => r.aggressor,
  fee_total: (r) => r.fee_total,
  long_qty: (r) => r.long_qty,
  short_qty: (r) => r.short_qty,
  alloc_account: (r) => r.alloc_account,
  party_id: (r) => r.party_id,
  clearing_business_date: (r) => r.clearing_business_date,
  session_id: (r) => r.session_id,
  source: (r) => r.source,
  fees: (r) => r.fees,
  collateral_changes: (r) => r.collateral_changes,
  parties: (r) => r.parties,
  raw: (r) => r.raw,
};

/** The getters in RECORD_COLUMNS order. */
const COLUMN_FIELDS: ReadonlyArray<(record: ExecutionReportRecord) => unknown> = RECORD_COLUMNS.map(
  ({ name }) => FIELD[name],
);

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
  const keys = journaled.map((record) => record.order_id ?? '');
  const order = Array.from({ length: journaled.length }, (_, at) => at);
  order.sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : a - b));
  const records = order.map((at) => journaled[at]!);
  const memo: SecondMemo = { second: '', nanos: 0n };
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
        return isoToEpochNanos(value as string, memo) ?? lossy(record, column, value as string);
      case 'date':
        return dateToDays(value as string) ?? lossy(record, column, value as string);
      case 'bigint':
        return BigInt(value as number);
      default:
        return value;
    }
  };
  // Row by row into raw columns first: reading column by column visited every record 37 times,
  // and those scattered reads were the encoder's largest cost after ZSTD.
  const columns: unknown[][] = COLUMN_FIELDS.map(() => new Array<unknown>(records.length));
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    for (let c = 0; c < COLUMN_FIELDS.length; c++) columns[c]![i] = COLUMN_FIELDS[c]!(record);
  }
  const columnData: ColumnSource[] = RECORD_COLUMNS.map(({ name }, c) => {
    const type = TYPED_COLUMNS[name];
    const values = columns[c]!;
    // `raw` is unique per row and only ever read whole: no dictionary to try, no min/max to keep.
    if (name === 'raw') return { name, data: values as ColumnSource['data'], encoding: 'PLAIN', statistics: false };
    if (type === 'string' || type === 'int' || type === 'boolean')
      return { name, data: values as ColumnSource['data'] };
    for (let i = 0; i < values.length; i++) {
      const record = records[i]!;
      const value = values[i];
      if (typeof type !== 'object') values[i] = convert(record, name, type, value);
      else
        values[i] = (value as Array<Record<string, unknown>> | null)?.map((entry) => {
          const out: Record<string, unknown> = {};
          for (const [field, t] of type.list) out[field] = convert(record, `${name}.${field}`, t, entry[field]);
          return out;
        });
    }
    return { name, data: values as ColumnSource['data'] };
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

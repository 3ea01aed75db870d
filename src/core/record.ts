/**
 * The ExecutionReport record: the one type the FIX side produces and the pipeline consumes
 * (`fix/` and `pipeline/` meet here and nowhere else). It is also the archive line, the fill
 * message body and the Glue/Athena schema, so its columns are declared once, below, with their
 * Glue types; every other schema (Glue table, DuckDB reader, JSON Schema) is derived from them.
 */

export const SCHEMA_VERSION = 1;

export type RecordSource = 'live' | 'resend' | 'backfill';

// Group keys avoid SQL keywords (type, source) so Athena queries need no quoting.
export interface FeeEntry {
  amount: string | null;
  currency: string | null;
  fee_type: string | null;
  basis: string | null;
}

export interface CollateralChange {
  amount: string | null;
  amount_type: string | null;
}

export interface Party {
  id: string | null;
  id_source: string | null;
  party_role: string | null;
}

/** Keys are snake_case and always present (null when absent) so the archive schema never drifts. */
export interface ExecutionReportRecord {
  schema_version: number;
  exec_id: string;
  order_id: string | null;
  cl_ord_id: string | null;
  orig_cl_ord_id: string | null;
  exec_type: string | null;
  ord_status: string | null;
  symbol: string | null;
  side: string | null;
  price: string | null;
  order_qty: string | null;
  last_px: string | null;
  last_qty: string | null;
  leaves_qty: string | null;
  cum_qty: string | null;
  avg_px: string | null;
  transact_time: string | null;
  sending_time: string | null;
  received_at: string;
  msg_seq_num: number;
  poss_dup: boolean;
  text: string | null;
  ord_rej_reason: number | null;
  trd_match_id: string | null;
  aggressor: boolean | null;
  fee_total: string | null;
  long_qty: string | null;
  short_qty: string | null;
  alloc_account: number | null;
  party_id: string | null;
  clearing_business_date: string | null;
  session_id: string;
  source: RecordSource;
  fees: FeeEntry[];
  collateral_changes: CollateralChange[];
  parties: Party[];
  raw: string;
}

export type ColumnName = keyof ExecutionReportRecord;

/** Column order and Glue (Hive) types: the archive contract of DESIGN.md §3. */
export const RECORD_COLUMNS: ReadonlyArray<{ name: ColumnName; glueType: string; comment: string }> = [
  { name: 'schema_version', glueType: 'int', comment: 'record layout version' },
  { name: 'exec_id', glueType: 'string', comment: 'ExecID(17), unique per report' },
  { name: 'order_id', glueType: 'string', comment: 'OrderID(37)' },
  { name: 'cl_ord_id', glueType: 'string', comment: 'ClOrdID(11)' },
  { name: 'orig_cl_ord_id', glueType: 'string', comment: 'OrigClOrdID(41)' },
  {
    name: 'exec_type',
    glueType: 'string',
    comment: 'ExecType(150): 0 new, 4 canceled, 5 replaced, 8 rejected, C expired, F trade',
  },
  { name: 'ord_status', glueType: 'string', comment: 'OrdStatus(39)' },
  { name: 'symbol', glueType: 'string', comment: 'Symbol(55)' },
  { name: 'side', glueType: 'string', comment: 'Side(54): 1 buy, 2 sell' },
  { name: 'price', glueType: 'string', comment: 'Price(44), decimal dollars as received' },
  { name: 'order_qty', glueType: 'string', comment: 'OrderQty(38), decimal' },
  { name: 'last_px', glueType: 'string', comment: 'LastPx(31), decimal' },
  { name: 'last_qty', glueType: 'string', comment: 'LastQty(32), decimal' },
  { name: 'leaves_qty', glueType: 'string', comment: 'LeavesQty(151), decimal' },
  { name: 'cum_qty', glueType: 'string', comment: 'CumQty(14), decimal' },
  { name: 'avg_px', glueType: 'string', comment: 'AvgPx(6), decimal' },
  { name: 'transact_time', glueType: 'string', comment: 'TransactTime(60), ISO-8601 UTC' },
  { name: 'sending_time', glueType: 'string', comment: 'SendingTime(52), ISO-8601 UTC' },
  { name: 'received_at', glueType: 'string', comment: 'when the listener read it, ISO-8601 UTC' },
  { name: 'msg_seq_num', glueType: 'bigint', comment: 'MsgSeqNum(34) on the session that delivered it' },
  { name: 'poss_dup', glueType: 'boolean', comment: 'PossDupFlag(43)' },
  { name: 'text', glueType: 'string', comment: 'Text(58)' },
  { name: 'ord_rej_reason', glueType: 'int', comment: 'OrdRejReason(103)' },
  { name: 'trd_match_id', glueType: 'string', comment: 'TrdMatchID(880)' },
  { name: 'aggressor', glueType: 'boolean', comment: 'AggressorIndicator(1057): true = taker' },
  { name: 'fee_total', glueType: 'string', comment: 'sum of MiscFeeAmt(137), decimal' },
  { name: 'long_qty', glueType: 'string', comment: 'LongQty(704), decimal' },
  { name: 'short_qty', glueType: 'string', comment: 'ShortQty(705), decimal' },
  { name: 'alloc_account', glueType: 'int', comment: 'AllocAccount(79), subaccount' },
  { name: 'party_id', glueType: 'string', comment: 'first PartyID(448)' },
  { name: 'clearing_business_date', glueType: 'string', comment: 'ClearingBusinessDate(715) as YYYY-MM-DD' },
  { name: 'session_id', glueType: 'string', comment: 'SenderCompID/TargetCompID of the delivering message' },
  { name: 'source', glueType: 'string', comment: 'live, resend or backfill' },
  {
    name: 'fees',
    glueType: 'array<struct<amount:string,currency:string,fee_type:string,basis:string>>',
    comment: 'MiscFees group (136)',
  },
  {
    name: 'collateral_changes',
    glueType: 'array<struct<amount:string,amount_type:string>>',
    comment: 'CollateralAmountChanges group (1703)',
  },
  {
    name: 'parties',
    glueType: 'array<struct<id:string,id_source:string,party_role:string>>',
    comment: 'Parties group (453)',
  },
  { name: 'raw', glueType: 'string', comment: 'the whole FIX message, SOH shown as |' },
];

/** A column's type in the typed (Parquet) table: what the JSONL keeps as text, typed. */
export type TypedType =
  | 'string'
  | 'int'
  | 'bigint'
  | 'boolean'
  | 'date'
  /** DECIMAL(18,4): Kalshi sends prices and amounts with at most 4 decimals, quantities with 2. */
  | 'decimal'
  /** TIMESTAMP(NANOS), adjusted to UTC: the 3, 6 or 9 fractional digits received are all kept. */
  | 'timestamp'
  | { readonly list: ReadonlyArray<readonly [field: string, type: 'string' | 'decimal']> };

export const DECIMAL_PRECISION = 18;
export const DECIMAL_SCALE = 4;

/** Every column's typed type (the compiler insists on all of them). */
export const TYPED_COLUMNS: Readonly<Record<ColumnName, TypedType>> = {
  schema_version: 'int',
  exec_id: 'string',
  order_id: 'string',
  cl_ord_id: 'string',
  orig_cl_ord_id: 'string',
  exec_type: 'string',
  ord_status: 'string',
  symbol: 'string',
  side: 'string',
  price: 'decimal',
  order_qty: 'decimal',
  last_px: 'decimal',
  last_qty: 'decimal',
  leaves_qty: 'decimal',
  cum_qty: 'decimal',
  avg_px: 'decimal',
  transact_time: 'timestamp',
  sending_time: 'timestamp',
  received_at: 'timestamp',
  msg_seq_num: 'bigint',
  poss_dup: 'boolean',
  text: 'string',
  ord_rej_reason: 'int',
  trd_match_id: 'string',
  aggressor: 'boolean',
  fee_total: 'decimal',
  long_qty: 'decimal',
  short_qty: 'decimal',
  alloc_account: 'int',
  party_id: 'string',
  clearing_business_date: 'date',
  session_id: 'string',
  source: 'string',
  fees: {
    list: [
      ['amount', 'decimal'],
      ['currency', 'string'],
      ['fee_type', 'string'],
      ['basis', 'string'],
    ],
  },
  collateral_changes: {
    list: [
      ['amount', 'decimal'],
      ['amount_type', 'string'],
    ],
  },
  parties: {
    list: [
      ['id', 'string'],
      ['id_source', 'string'],
      ['party_role', 'string'],
    ],
  },
  raw: 'string',
};

/** The Glue (Hive) type of a typed column, for the Parquet table. */
export function typedGlueType(type: TypedType): string {
  if (typeof type === 'object')
    return `array<struct<${type.list.map(([field, t]) => `${field}:${typedGlueType(t)}`).join(',')}>>`;
  return type === 'decimal' ? `decimal(${DECIMAL_PRECISION},${DECIMAL_SCALE})` : type;
}

const FILL_KEY = Buffer.from('"exec_type":"F"', 'latin1');

/**
 * Whether a record line (its UTF-8, as the journal holds it) is a fill (ExecType F), without
 * parsing it. The text can only occur as the top-level key: inside any string value a `"` is
 * escaped as `\"`, and no nested object has an `exec_type` key.
 */
export function isFillLine(line: Buffer): boolean {
  return line.indexOf(FILL_KEY) !== -1;
}

const PARTITION_KEYS = ['"transact_time":', '"sending_time":', '"received_at":'].map((key) =>
  Buffer.from(key, 'latin1'),
);
const RECEIVED_AT_KEY = PARTITION_KEYS[2]!;
const QUOTE = 34;

/**
 * The time a record's archive partition is taken from (TransactTime, else SendingTime, else
 * receipt), read from its line's UTF-8 without parsing it; the same argument as `isFillLine`
 * holds: a key with its quotes and colon occurs only as a top-level key, and these come before
 * `raw`.
 */
export function partitionTimeOfLine(line: Buffer): string {
  for (const key of PARTITION_KEYS) {
    const value = valueOfLine(line, key);
    if (value !== undefined) return value;
  }
  throw new Error('record line has no received_at');
}

/** `received_at` of a record line (its UTF-8), without parsing it. */
export function receivedAtOfLine(line: Buffer): string | undefined {
  return valueOfLine(line, RECEIVED_AT_KEY);
}

/** The string value of a top-level key (undefined when it is null or absent). Times carry no escapes. */
function valueOfLine(line: Buffer, key: Buffer): string | undefined {
  const at = line.indexOf(key);
  if (at < 0 || line[at + key.length] !== QUOTE) return undefined;
  const start = at + key.length + 1;
  return line.toString('utf8', start, line.indexOf(QUOTE, start));
}

/** Record keys whose values the fill path reads from the line (see `stringOfLine`). */
export type LineStringKey = 'exec_id' | 'symbol' | 'side' | 'last_px' | 'last_qty' | 'received_at';

const LINE_KEYS: Readonly<Record<LineStringKey, string>> = {
  exec_id: '"exec_id":',
  symbol: '"symbol":',
  side: '"side":',
  last_px: '"last_px":',
  last_qty: '"last_qty":',
  received_at: '"received_at":',
};

/**
 * A top-level string (or null) value of a record line, read without parsing the line: a fill
 * needs six of its ~40 values, and parsing each fill back from its line was a tenth of the
 * publisher's time. The `isFillLine` argument makes the key unique; a value with escapes is
 * decoded by JSON.parse of that value alone.
 */
export function stringOfLine(line: string, key: LineStringKey): string | null {
  const name = LINE_KEYS[key];
  const at = line.indexOf(name);
  if (at < 0) throw new Error(`record line has no ${key}`);
  const start = at + name.length;
  if (line.charCodeAt(start) !== 34) return null;
  let escaped = false;
  let i = start + 1;
  for (let c = line.charCodeAt(i); c !== 34; c = line.charCodeAt(i)) {
    if (Number.isNaN(c)) throw new Error(`record line cut inside ${key}`); // past the end
    if (c === 92) {
      escaped = true;
      i += 2;
    } else i++;
  }
  return escaped ? (JSON.parse(line.slice(start, i + 1)) as string) : line.slice(start + 1, i);
}

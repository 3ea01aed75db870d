import { createHash } from 'node:crypto';
import {
  SCHEMA_VERSION,
  type CollateralChange,
  type ExecutionReportRecord,
  type FeeEntry,
  type Party,
  type RecordSource,
} from '../core/record.js';
import type { FixMessage } from './message.js';
import { fixTimestampToIso } from './time.js';
import { Tag } from './tags.js';

export interface DecodeContext {
  /** Epoch ms when the bytes were read from the socket. */
  receivedAt: number;
  source: RecordSource;
}

// Header and trailer tags: not part of the report's identity (they change on a PossDup resend).
const ENVELOPE_TAGS: ReadonlySet<number> = new Set([8, 9, 10, 34, 43, 49, 52, 56, 97, 115, 122, 128]);

/**
 * ExecutionReport (35=8) → record. One pass over the fields; decimals stay the exact strings
 * received; timestamps keep their precision; unknown tags are not lost because `raw` is the whole
 * message. Never throws on content: a missing field is null. A report without ExecID gets a
 * surrogate id derived from its body, so a resend of it still deduplicates.
 */
export function decodeExecutionReport(message: FixMessage, context: DecodeContext): ExecutionReportRecord {
  const record: ExecutionReportRecord = {
    schema_version: SCHEMA_VERSION,
    exec_id: '',
    order_id: null,
    cl_ord_id: null,
    orig_cl_ord_id: null,
    exec_type: null,
    ord_status: null,
    symbol: null,
    side: null,
    price: null,
    order_qty: null,
    last_px: null,
    last_qty: null,
    leaves_qty: null,
    cum_qty: null,
    avg_px: null,
    transact_time: null,
    sending_time: null,
    received_at: isoOf(context.receivedAt),
    msg_seq_num: message.seqNum,
    poss_dup: false,
    text: null,
    ord_rej_reason: null,
    trd_match_id: null,
    aggressor: null,
    fee_total: null,
    long_qty: null,
    short_qty: null,
    alloc_account: null,
    party_id: null,
    clearing_business_date: null,
    session_id: '',
    source: context.source,
    fees: [],
    collateral_changes: [],
    parties: [],
    raw: message.toString(),
  };
  let sender = '';
  let target = '';
  let fee: FeeEntry | undefined;
  let collateral: CollateralChange | undefined;
  let party: Party | undefined;

  for (let i = 0; i < message.fieldCount; i++) {
    const tag = message.tagAt(i);
    switch (tag) {
      case Tag.SenderCompID:
        sender = message.valueAt(i);
        break;
      case Tag.TargetCompID:
        target = message.valueAt(i);
        break;
      case Tag.SendingTime:
        record.sending_time = fixTimestampToIso(message.valueAt(i)) ?? null;
        break;
      case Tag.PossDupFlag:
        record.poss_dup = message.valueAt(i) === 'Y';
        break;
      case Tag.ExecID:
        record.exec_id = message.exactValueAt(i);
        break;
      case Tag.OrderID:
        record.order_id = message.valueAt(i);
        break;
      case Tag.ClOrdID:
        record.cl_ord_id = message.valueAt(i);
        break;
      case Tag.OrigClOrdID:
        record.orig_cl_ord_id = message.valueAt(i);
        break;
      case Tag.ExecType:
        record.exec_type = message.valueAt(i);
        break;
      case Tag.OrdStatus:
        record.ord_status = message.valueAt(i);
        break;
      case Tag.Symbol:
        record.symbol = message.valueAt(i);
        break;
      case Tag.Side:
        record.side = message.valueAt(i);
        break;
      case Tag.Price:
        record.price = message.valueAt(i);
        break;
      case Tag.OrderQty:
        record.order_qty = message.valueAt(i);
        break;
      case Tag.LastPx:
        record.last_px = message.valueAt(i);
        break;
      case Tag.LastQty:
        record.last_qty = message.valueAt(i);
        break;
      case Tag.LeavesQty:
        record.leaves_qty = message.valueAt(i);
        break;
      case Tag.CumQty:
        record.cum_qty = message.valueAt(i);
        break;
      case Tag.AvgPx:
        record.avg_px = message.valueAt(i);
        break;
      case Tag.TransactTime:
        record.transact_time = fixTimestampToIso(message.valueAt(i)) ?? null;
        break;
      case Tag.Text:
        record.text = message.valueAt(i);
        break;
      case Tag.OrdRejReason:
        record.ord_rej_reason = toInt(message.valueAt(i));
        break;
      case Tag.TrdMatchID:
        record.trd_match_id = message.valueAt(i);
        break;
      case Tag.AggressorIndicator:
        record.aggressor = toBool(message.valueAt(i));
        break;
      case Tag.LongQty:
        record.long_qty = message.valueAt(i);
        break;
      case Tag.ShortQty:
        record.short_qty = message.valueAt(i);
        break;
      case Tag.AllocAccount:
        record.alloc_account = toInt(message.valueAt(i));
        break;
      case Tag.ClearingBusinessDate:
        record.clearing_business_date = toIsoDate(message.valueAt(i));
        break;
      // Repeating groups: each entry starts at its first member tag.
      case Tag.MiscFeeAmt:
        fee = { amount: message.valueAt(i), currency: null, fee_type: null, basis: null };
        record.fees.push(fee);
        break;
      case Tag.MiscFeeCurr:
        if (fee) fee.currency = message.valueAt(i);
        break;
      case Tag.MiscFeeType:
        if (fee) fee.fee_type = message.valueAt(i);
        break;
      case Tag.MiscFeeBasis:
        if (fee) fee.basis = message.valueAt(i);
        break;
      case Tag.CollateralAmountChange:
        collateral = { amount: message.valueAt(i), amount_type: null };
        record.collateral_changes.push(collateral);
        break;
      case Tag.CollateralAmountType:
        if (collateral) collateral.amount_type = message.valueAt(i);
        break;
      case Tag.PartyID:
        party = { id: message.valueAt(i), id_source: null, party_role: null };
        record.parties.push(party);
        break;
      case Tag.PartyIDSource:
        if (party) party.id_source = message.valueAt(i);
        break;
      case Tag.PartyRole:
        if (party) party.party_role = message.valueAt(i);
        break;
      default:
        break;
    }
  }
  record.session_id = `${sender}/${target}`;
  record.party_id = record.parties[0]?.id ?? null;
  record.fee_total = sumDecimals(record.fees);
  if (record.exec_id === '') record.exec_id = surrogateExecId(message);
  return record;
}

// Reports read from one socket chunk share a receive time: format it once, not per report.
let lastReceivedAt = Number.NaN;
let lastReceivedAtIso = '';

function isoOf(epochMs: number): string {
  if (epochMs !== lastReceivedAt) {
    lastReceivedAtIso = new Date(epochMs).toISOString();
    lastReceivedAt = epochMs;
  }
  return lastReceivedAtIso;
}

function toInt(value: string): number | null {
  return /^-?\d{1,15}$/.test(value) ? Number(value) : null;
}

function toBool(value: string): boolean | null {
  return value === 'Y' ? true : value === 'N' ? false : null;
}

function toIsoDate(value: string): string | null {
  return /^\d{8}$/.test(value) ? `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}` : null;
}

function surrogateExecId(message: FixMessage): string {
  const hash = createHash('sha256');
  for (let i = 0; i < message.fieldCount; i++) {
    const tag = message.tagAt(i);
    if (!ENVELOPE_TAGS.has(tag)) hash.update(`${tag}=${message.valueAt(i)}\x01`);
  }
  return `noexecid:${hash.digest('hex').slice(0, 32)}`;
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * Exact sum of decimal strings (never floats). One entry is returned as received; null when there
 * are no fees or one amount is not a decimal (the raw message still has it).
 */
export function sumDecimals(fees: readonly FeeEntry[]): string | null {
  if (fees.length === 0) return null;
  if (fees.length === 1) return fees[0]!.amount;
  let scale = 0;
  const parsed: Array<{ units: bigint; scale: number }> = [];
  for (const { amount } of fees) {
    const m = amount === null ? null : DECIMAL.exec(amount);
    if (m === null) return null;
    const frac = m[3] ?? '';
    scale = Math.max(scale, frac.length);
    parsed.push({ units: BigInt(`${m[1]}${m[2]}${frac}`), scale: frac.length });
  }
  let total = 0n;
  for (const p of parsed) total += p.units * 10n ** BigInt(scale - p.scale);
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const frac = digits.slice(digits.length - scale);
  return `${negative ? '-' : ''}${whole}${scale > 0 ? `.${frac}` : ''}`;
}

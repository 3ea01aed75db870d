import type { ExecutionReportRecord } from '../core/record.js';
import type { RestFill } from './kalshi-rest.js';

export interface ReconcileReport {
  matched: number;
  /** Fills Kalshi's REST API lists that the archive does not hold. */
  missingInArchive: RestFill[];
  /** Archived fills the REST API does not list. */
  missingAtKalshi: ExecutionReportRecord[];
}

/** How far apart FIX TransactTime and REST created_time may be for the same fill. */
const TIME_TOLERANCE_MS = 2000;

/**
 * Kalshi documents no mapping between FIX ExecID/TrdMatchID and REST fill_id, so fills are paired
 * on what both sides state: order, quantity, price and time (kalshi-fix-margin.md §10.17).
 * Decimals are compared as numbers of the same scale ("4.00" = "4"), never as floats.
 */
export function reconcileFills(archived: readonly ExecutionReportRecord[], rest: readonly RestFill[]): ReconcileReport {
  const byKey = new Map<string, ExecutionReportRecord[]>();
  for (const record of archived) {
    if (record.exec_type !== 'F') continue;
    const key = `${record.order_id}|${decimal(record.last_qty)}|${decimal(record.last_px)}`;
    const list = byKey.get(key) ?? [];
    list.push(record);
    byKey.set(key, list);
  }
  const missingInArchive: RestFill[] = [];
  let matched = 0;
  for (const fill of rest) {
    const candidates = byKey.get(`${fill.order_id}|${decimal(fill.count)}|${decimal(fill.price)}`) ?? [];
    const at = Date.parse(fill.created_time);
    const index = candidates.findIndex(
      (r) => Math.abs(Date.parse(r.transact_time ?? r.received_at) - at) <= TIME_TOLERANCE_MS,
    );
    if (index === -1) {
      missingInArchive.push(fill);
      continue;
    }
    candidates.splice(index, 1);
    matched++;
  }
  return { matched, missingInArchive, missingAtKalshi: [...byKey.values()].flat() };
}

/** "19.50" and "19.5000" are the same price: strip trailing zeros, keep the digits exact. */
function decimal(value: string | null | undefined): string {
  if (value === null || value === undefined) return '';
  const [whole = '', frac = ''] = value.split('.');
  const trimmed = frac.replace(/0+$/, '');
  return `${whole.replace(/^(-?)0+(?=\d)/, '$1')}${trimmed === '' ? '' : `.${trimmed}`}`;
}

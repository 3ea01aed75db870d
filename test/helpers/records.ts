import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCHEMA_VERSION, type ExecutionReportRecord } from '../../src/core/record.js';

export function tempDir(prefix = 'kfl-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A complete record with every key, as decodeExecutionReport produces. */
export function makeRecord(n: number, overrides: Partial<ExecutionReportRecord> = {}): ExecutionReportRecord {
  const fill = n % 2 === 0;
  return {
    schema_version: SCHEMA_VERSION,
    exec_id: `${1000 + n};${n}`,
    order_id: `ord-${n}`,
    cl_ord_id: `cl-${n}`,
    orig_cl_ord_id: null,
    exec_type: fill ? 'F' : '0',
    ord_status: fill ? '1' : '0',
    symbol: ['BTC-PERP', 'ETH-PERP', 'SOL-PERP'][n % 3]!,
    side: '1',
    price: '19.5000',
    order_qty: '10.00',
    last_px: fill ? '19.5000' : null,
    last_qty: fill ? '1.00' : null,
    leaves_qty: '9.00',
    cum_qty: '1.00',
    avg_px: '19.5000',
    transact_time: '2026-11-23T22:05:07.401Z',
    sending_time: '2026-11-23T22:05:07.412Z',
    received_at: '2026-11-23T22:05:07.420Z',
    msg_seq_num: n + 1,
    poss_dup: false,
    text: null,
    ord_rej_reason: null,
    trd_match_id: fill ? `trd-${n}` : null,
    aggressor: fill ? true : null,
    fee_total: fill ? '0.0700' : null,
    long_qty: fill ? '1.00' : null,
    short_qty: fill ? '0.00' : null,
    alloc_account: 0,
    party_id: null,
    clearing_business_date: fill ? '2026-11-24' : null,
    session_id: 'KalshiNR/key',
    source: 'live',
    fees: fill ? [{ amount: '0.0700', currency: 'USD', fee_type: '4', basis: '0' }] : [],
    collateral_changes: fill ? [{ amount: '-19.5700', amount_type: 'BALANCE' }] : [],
    parties: [],
    raw: `8=FIXT.1.1|35=8|17=${1000 + n};${n}|`,
    ...overrides,
  };
}

/**
 * Realistic ExecutionReport streams for one account, deterministic for a seed: orders are placed,
 * partly and fully filled, cancelled, replaced, expired and rejected, across several symbols, with
 * the trade block (fees, positions, collateral) Kalshi sends on fills (kalshi-fix-margin.md §5).
 * Pure: no I/O, no FIX encoding. Quantities and prices are integers internally (hundredths of a
 * contract, ten-thousandths of a dollar) so every decimal string is exact.
 */

/** One FIX body field: tag number and its value exactly as it goes on the wire. */
export type Field = readonly [tag: number, value: string];

export interface OrderFlowOptions {
  symbols?: readonly string[];
  seed?: number;
  /** AllocAccount (79) values to spread orders over. */
  subaccounts?: readonly number[];
  /** First ExecID clock value. */
  firstClock?: number;
}

export interface GeneratedReport {
  execId: string;
  execType: string;
  symbol: string;
  fields: Field[];
}

interface Order {
  orderId: string;
  clOrdId: string;
  symbol: string;
  side: '1' | '2';
  price: number; // 1e-4 dollars
  qty: number; // 1e-2 contracts
  cum: number;
  notional: number; // Σ fill qty × price, for AvgPx
  account: number;
  acked: boolean;
}

const DEFAULT_SYMBOLS = ['BTC-PERP', 'ETH-PERP', 'SOL-PERP', 'XRP-PERP', 'DOGE-PERP'];
// Mid prices in 1e-4 dollars.
const MID: Record<string, number> = {
  'BTC-PERP': 900_000_000,
  'ETH-PERP': 32_000_000,
  'SOL-PERP': 1_800_000,
  'XRP-PERP': 6_000,
  'DOGE-PERP': 1_500,
};
const KILL_TEXTS = [
  'IMMEDIATE_OR_CANCELLED',
  'POST_ONLY_CROSS',
  'TAKER_CANCEL_FOR_SELF_TRADE_PREVENTION',
  'MAKER_CANCEL_FOR_SELF_TRADE_PREVENTION',
];
const REJECTS: ReadonlyArray<readonly [number, string]> = [
  [2, 'EXCHANGE_PAUSED'],
  [3, 'INSUFFICIENT_BALANCE'],
  [1, 'MARKET_NOT_FOUND'],
  [5, 'ORDER_ALREADY_EXISTS'],
  [6, 'ORDER_ALREADY_EXISTS'],
  [11, 'POST_ONLY_CROSS'],
  [13, 'INVALID_ORDER'],
  [15, 'CUSTOMER_ACCOUNT_NOT_FOUND'],
  [99, 'INTERNAL_ERROR'],
];

export class OrderFlow {
  readonly #symbols: readonly string[];
  readonly #subaccounts: readonly number[];
  #state: number;
  #clock: number;
  #event = 0;
  readonly #live: Order[] = [];
  readonly #positions = new Map<string, number>(); // symbol/account → net qty (1e-2)

  constructor(options: OrderFlowOptions = {}) {
    this.#symbols = options.symbols ?? DEFAULT_SYMBOLS;
    this.#subaccounts = options.subaccounts ?? [0];
    this.#state = (options.seed ?? 1) >>> 0 || 1;
    this.#clock = options.firstClock ?? 1;
  }

  next(now: Date): GeneratedReport {
    const roll = this.#random();
    const order = this.#live.length > 0 ? this.#live[Math.floor(this.#random() * this.#live.length)]! : undefined;
    // About 45% fills: partial fills of resting orders, and orders that trade on arrival.
    if (order === undefined || this.#live.length < 3 || roll < 0.2) return this.#place(now, roll < 0.06);
    if (roll < 0.58) return this.#fill(order, now);
    if (roll < 0.7) return this.#cancel(order, now, undefined);
    if (roll < 0.8) return this.#replace(order, now);
    if (roll < 0.86) return this.#cancel(order, now, this.#pick(KILL_TEXTS));
    if (roll < 0.9) return this.#expire(order, now);
    if (roll < 0.95) return this.#reject(now);
    return this.#place(now, true);
  }

  // ── events ──────────────────────────────────────────────────────────────────────────────────

  #place(now: Date, tradesOnArrival: boolean): GeneratedReport {
    const symbol = this.#pick(this.#symbols);
    const mid = MID[symbol] ?? 10_000;
    const order: Order = {
      orderId: this.#uuid(),
      clOrdId: this.#uuid(),
      symbol,
      side: this.#random() < 0.5 ? '1' : '2',
      price: Math.max(1, Math.round(mid * (0.98 + this.#random() * 0.04))),
      qty: (1 + Math.floor(this.#random() * 20)) * 100,
      cum: 0,
      notional: 0,
      account: this.#pick(this.#subaccounts),
      acked: false,
    };
    this.#live.push(order);
    // Kalshi folds the New into the first Trade when an order trades in its placement cycle.
    if (tradesOnArrival) return this.#fill(order, now);
    order.acked = true;
    return this.#report(order, now, '0', '0', []);
  }

  #fill(order: Order, now: Date): GeneratedReport {
    const leaves = order.qty - order.cum;
    const full = leaves <= 100 || this.#random() < 0.35;
    const lastQty = full ? leaves : Math.max(100, Math.floor((leaves * this.#random()) / 100) * 100);
    order.cum += lastQty;
    order.notional += lastQty * order.price;
    order.acked = true;
    const done = order.cum === order.qty;
    if (done) this.#remove(order);
    const key = `${order.symbol}/${order.account}`;
    const net = (this.#positions.get(key) ?? 0) + (order.side === '1' ? lastQty : -lastQty);
    this.#positions.set(key, net);
    // Fee ≈ 0.07% of notional, at least 0.0001; collateral moves by notional + fee.
    const notional = Math.round((lastQty * order.price) / 100); // 1e-4 dollars
    const fee = Math.max(1, Math.round(notional * 0.0007));
    const collateral = order.side === '1' ? -(notional + fee) : notional - fee;
    const trade: Field[] = [
      [31, dollars(order.price)],
      [32, qty(lastQty)],
      [880, `trd-${this.#uuid().slice(0, 13)}`],
      [1057, this.#random() < 0.5 ? 'Y' : 'N'],
      [704, qty(Math.max(net, 0))],
      [705, qty(Math.max(-net, 0))],
      [715, clearingDate(now)],
      [136, '1'],
      [137, dollars(fee)],
      [138, 'USD'],
      [139, '4'],
      [891, '0'],
    ];
    const payout = this.#random() < 0.2;
    trade.push([1703, payout ? '2' : '1'], [1704, dollars(collateral)], [1705, 'BALANCE']);
    if (payout) trade.push([1704, dollars(Math.round(collateral / 10))], [1705, 'PAYOUT']);
    return this.#report(order, now, 'F', done ? '2' : '1', trade);
  }

  #cancel(order: Order, now: Date, text: string | undefined): GeneratedReport {
    this.#remove(order);
    const previous = order.clOrdId;
    // A user cancel carries the cancel request's ClOrdID; a system kill keeps the order's own.
    if (text === undefined) order.clOrdId = this.#uuid();
    const extra: Field[] = text === undefined ? [[41, previous]] : [[58, text]];
    return this.#report(order, now, '4', '4', extra, 0);
  }

  #replace(order: Order, now: Date): GeneratedReport {
    const previous = order.clOrdId;
    order.clOrdId = this.#uuid();
    order.price = Math.max(1, order.price + (this.#random() < 0.5 ? -1 : 1) * Math.round(order.price * 0.001));
    order.qty = Math.max(order.cum + 100, order.qty + (this.#random() < 0.5 ? -100 : 100));
    const gtd = this.#random() < 0.5;
    const extra: Field[] = [
      [41, previous],
      [59, gtd ? '6' : '1'],
    ];
    if (gtd) extra.push([126, formatUtcTimestamp(new Date(now.getTime() + 6 * 3600_000))]);
    return this.#report(order, now, '5', '5', extra);
  }

  #expire(order: Order, now: Date): GeneratedReport {
    this.#remove(order);
    return this.#report(order, now, 'C', 'C', [], 0);
  }

  #reject(now: Date): GeneratedReport {
    const symbol = this.#pick(this.#symbols);
    const [reason, text] = this.#pick(REJECTS);
    const order: Order = {
      orderId: this.#uuid(),
      clOrdId: this.#uuid(),
      symbol,
      side: this.#random() < 0.5 ? '1' : '2',
      price: MID[symbol] ?? 10_000,
      qty: 100,
      cum: 0,
      notional: 0,
      account: this.#pick(this.#subaccounts),
      acked: false,
    };
    return this.#report(
      order,
      now,
      '8',
      '8',
      [
        [103, String(reason)],
        [58, text],
      ],
      0,
    );
  }

  // ── helpers ─────────────────────────────────────────────────────────────────────────────────

  #report(
    order: Order,
    now: Date,
    execType: string,
    ordStatus: string,
    extra: Field[],
    leavesOverride?: number,
  ): GeneratedReport {
    const execId = this.#nextExecId();
    const leaves = leavesOverride ?? order.qty - order.cum;
    const avg = order.cum === 0 ? 0 : Math.round(order.notional / order.cum);
    const fields: Field[] = [
      [6, dollars(avg)],
      [11, order.clOrdId],
      [14, qty(order.cum)],
      [17, execId],
      [30, '0'],
      [37, order.orderId],
      [38, qty(leavesOverride === undefined ? order.qty : order.cum + leaves)],
      [39, ordStatus],
      [44, dollars(order.price)],
      [54, order.side],
      [55, order.symbol],
      [60, formatUtcTimestamp(now)],
      [79, String(order.account)],
      [150, execType],
      [151, qty(leaves)],
      [453, '1'],
      [448, `acct-${order.account}`],
      [452, '24'],
      ...extra,
    ];
    return { execId, execType, symbol: order.symbol, fields };
  }

  /** `clock;event`, strictly increasing as an integer pair; the clock ticks every few events. */
  #nextExecId(): string {
    this.#event++;
    if (this.#random() < 0.25) {
      this.#clock += 1 + Math.floor(this.#random() * 3);
      this.#event = 1;
    }
    return `${this.#clock};${this.#event}`;
  }

  #remove(order: Order): void {
    const i = this.#live.indexOf(order);
    if (i !== -1) this.#live.splice(i, 1);
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)]!;
  }

  #uuid(): string {
    const hex = (n: number) =>
      Math.floor(this.#random() * 16 ** n)
        .toString(16)
        .padStart(n, '0');
    return `${hex(8)}-${hex(4)}-4${hex(3)}-${((8 + Math.floor(this.#random() * 4)) >>> 0).toString(16)}${hex(3)}-${hex(6)}${hex(6)}`;
  }

  /** mulberry32: tiny, fast, good enough for a simulator, and reproducible. */
  #random(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** 1e-4 dollars → `19.5000` (4 dp), sign kept. */
function dollars(units: number): string {
  const sign = units < 0 ? '-' : '';
  const abs = Math.abs(units);
  return `${sign}${Math.floor(abs / 10_000)}.${String(abs % 10_000).padStart(4, '0')}`;
}

/** 1e-2 contracts → `10.00`. */
function qty(units: number): string {
  return `${Math.floor(units / 100)}.${String(units % 100).padStart(2, '0')}`;
}

export function formatUtcTimestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
}

/**
 * Kalshi's clearing day runs 16:00 ET to 16:00 ET. ET is approximated as UTC−5 (daylight saving
 * ignored): the simulator only needs a plausible YYYYMMDD.
 */
function clearingDate(now: Date): string {
  const shifted = new Date(now.getTime() - 5 * 3600_000 + 8 * 3600_000); // ET, then +8 h so 16:00 rolls over
  return `${shifted.getUTCFullYear()}${String(shifted.getUTCMonth() + 1).padStart(2, '0')}${String(shifted.getUTCDate()).padStart(2, '0')}`;
}

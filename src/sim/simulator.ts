import type { KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { AcceptorSession, type FaultState } from './acceptor-session.js';
import { generateLoopbackCertificate, type LoopbackCertificate } from './certificate.js';
import type { Field } from '../fix/encoder.js';
import { formatUtcTimestamp } from '../fix/time.js';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { compareExecIds } from '../core/exec-id.js';
import { OrderFlow, type GeneratedReport } from './order-flow.js';
import { startRestFills, type SimRestFill } from './rest-fills.js';
import type { Server as HttpsServer } from 'node:https';
import { fixTimestampToIso } from '../fix/time.js';

/** The three order-entry-host roles a listener meets (kalshi-fix-margin.md §1.1). */
export type Role = 'KalshiNR' | 'KalshiRT' | 'KalshiDC';

export interface SimulatorAccount {
  /** API key ID (UUID): the client's SenderCompID. */
  apiKey: string;
  publicKey: KeyObject;
}

export interface SimulatorOptions {
  accounts: readonly SimulatorAccount[];
  /** Ports per role; 0 (default) picks a free one. Only the roles listed are served (default NR + RT). */
  ports?: Partial<Record<Role, number>>;
  host?: string;
  certificate?: LoopbackCertificate;
  /** Smallest HeartBtInt accepted (Kalshi: 3). Tests lower it to keep time-based cases short. */
  minHeartbeatS?: number;
  /** SendingTime tolerance for the Logon (Kalshi: 30 s). */
  maxClockSkewMs?: number;
  /** ExecutionReports generated per second per account while running (0 = only on demand). */
  reportsPerSecond?: number;
  symbols?: readonly string[];
  seed?: number;
  /** AllocAccount (79) values orders are spread over (default [0]). */
  subaccounts?: readonly number[];
  /** First ExecID clock (default 1). Give each run its own (e.g. epoch seconds) to keep ExecIDs unique across runs. */
  firstClock?: number;
  /** One live session per (key, target) as on the margin gateway, or per key as on regular FIX. */
  oneSessionPer?: 'key+target' | 'key';
  /** KalshiRT resend store limit in messages per session (memory bound for long benchmarks). */
  maxStoredMessages?: number;
  /** KalshiDC look-back (Kalshi: 3 hours). Tests shorten it to make a hole. */
  dropCopyWindowMs?: number;
  /**
   * The listening sockets' accept queue (default Node's 511). Tests shrink it: once a stopped
   * (SIGSTOP) simulator's queue is full, the kernel drops new SYNs and a TCP connect hangs.
   */
  backlog?: number;
  /** The exchange's clock: report generation, SendingTime, the drop-copy window, heartbeats (default: the real clock). */
  clock?: Clock;
  onLog?: (line: string) => void;
  /** Every accepted Logon, on any role (the `sim` command starts its order flow at the first). */
  onLogon?: (role: Role, apiKey: string) => void;
}

export interface SimulatorAddress {
  host: string;
  ports: Partial<Record<Role, number>>;
  /** PEM certificate to trust. */
  ca: string;
}

/** What one (key, target) pair keeps across connections: sequence numbers and the resend store. */
export interface SessionBook {
  nextOutbound: number;
  nextInbound: number;
  /** App messages by seq for KalshiRT resends; admin seqs are absent and get GapFilled. */
  sent: Map<number, { fields: readonly Field[]; msgType: string; sendingTime: string }>;
}

/** ExecID clocks of consecutive accounts start this far apart, so their ExecIDs never meet. */
const ACCOUNT_CLOCK_SPACING = 1_000_000_000_000;

/**
 * A Kalshi margin FIX exchange on loopback: TLS acceptors for NR and RT, logon signature and
 * listener-rule checks, the session layer, an order-flow generator per account fanned out to every
 * listener of that account, and fault switches. Used by tests, benchmarks and the demo.
 */
export class KalshiSimulator {
  readonly #options: SimulatorOptions;
  readonly #servers = new Map<Role, Server>();
  readonly #sessions = new Set<AcceptorSession>();
  readonly #books = new Map<string, SessionBook>();
  readonly #flows = new Map<string, OrderFlow>();
  readonly #generated = new Map<string, GeneratedReport[]>();
  readonly faults: FaultState = { skipNext: 0, heartbeatsStopped: false, skewMs: 0, corruptNext: 0 };
  /** Drop-copy switches: the next U1s answered with U3 1 (rate limited) or 2 (server error); allow-listing (U3 5 when off). */
  readonly dropCopy = { rateLimitNext: 0, serverErrorNext: 0, enabled: true, requests: 0 };
  readonly #generatedAt = new Map<string, number[]>();
  #certificate: LoopbackCertificate | undefined;
  readonly #clock: Clock;
  #timer: TimerHandle | undefined;
  #rate: number;
  #accepting = true;
  readonly #connections = new Map<Role, number>();
  #rest: HttpsServer | undefined;
  /** REST-only fills (a fill FIX never carried) and ExecIDs REST leaves out: reconciliation tests. */
  readonly restPlanted: SimRestFill[] = [];
  readonly restHidden = new Set<string>();
  /** Largest REST page served (Kalshi: 1000); tests lower it to exercise cursor paging. */
  restPageSize = 1000;

  constructor(options: SimulatorOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#rate = options.reportsPerSecond ?? 0;
    for (const [index, account] of options.accounts.entries()) {
      // Each account its own flow and its own ExecIDs, as at Kalshi: a fleet's listeners can be
      // told apart by what they received (the first account's flow is what it always was).
      this.#flows.set(
        account.apiKey,
        new OrderFlow({
          ...(options.symbols ? { symbols: options.symbols } : {}),
          seed: (options.seed ?? 1) + index,
          firstClock: (options.firstClock ?? 1) + index * ACCOUNT_CLOCK_SPACING,
          ...(options.subaccounts === undefined ? {} : { subaccounts: options.subaccounts }),
        }),
      );
      this.#generated.set(account.apiKey, []);
      this.#generatedAt.set(account.apiKey, []);
    }
  }

  async start(): Promise<SimulatorAddress> {
    this.#certificate = this.#options.certificate ?? (await generateLoopbackCertificate());
    const host = this.#options.host ?? '127.0.0.1';
    const roles = Object.keys(this.#options.ports ?? { KalshiNR: 0, KalshiRT: 0 }) as Role[];
    for (const role of roles) {
      const server = createServer(
        { key: this.#certificate.key, cert: this.#certificate.cert, minVersion: 'TLSv1.2' },
        (socket) => this.#accept(role, socket),
      );
      server.on('tlsClientError', () => undefined); // a client that fails the handshake is its own problem
      server.on('connection', () => this.#connections.set(role, (this.#connections.get(role) ?? 0) + 1));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(
          {
            port: this.#options.ports?.[role] ?? 0,
            host,
            ...(this.#options.backlog ? { backlog: this.#options.backlog } : {}),
          },
          () => resolve(),
        );
      });
      this.#servers.set(role, server);
    }
    this.setRate(this.#rate);
    return this.address();
  }

  address(): SimulatorAddress {
    const ports: Partial<Record<Role, number>> = {};
    for (const [role, server] of this.#servers) ports[role] = (server.address() as AddressInfo).port;
    return { host: this.#options.host ?? '127.0.0.1', ports, ca: this.#certificate?.cert ?? '' };
  }

  /** Starts the REST fills endpoint (HTTPS, same certificate and host) on `port` (0: any free one); returns its base URL. */
  async startRest(port = 0): Promise<string> {
    const { url, server } = await startRestFills({
      certificate: this.#certificate!,
      host: this.#options.host ?? '127.0.0.1',
      port,
      publicKeyOf: (apiKey) => this.#options.accounts.find((a) => a.apiKey === apiKey)?.publicKey,
      fillsOf: (apiKey) => [...this.restFills(apiKey), ...this.restPlanted],
      pageSize: () => this.restPageSize,
    });
    this.#rest = server;
    return url;
  }

  /** The account's fills as Kalshi's REST API would list them, derived from the generated trades. */
  restFills(apiKey: string): SimRestFill[] {
    return this.generated(apiKey)
      .filter((r) => r.execType === 'F' && !this.restHidden.has(r.execId))
      .map((r) => {
        const get = (tag: number) => r.fields.find(([t]) => t === tag)?.[1] ?? '';
        return {
          fill_id: `fill-${get(880)}`,
          order_id: get(37),
          ticker: get(55),
          side: get(54) === '1' ? 'bid' : 'ask',
          count: get(32),
          price: get(31),
          created_time: fixTimestampToIso(get(60)) ?? '',
          is_taker: get(1057) === 'Y',
          subaccount: Number(get(79) || '0'),
          trade_id: get(880),
        };
      });
  }

  async stop(): Promise<void> {
    this.#rest?.close();
    this.setRate(0);
    for (const session of this.#sessions) session.destroy();
    await Promise.all(
      [...this.#servers.values()].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
    this.#servers.clear();
  }

  /** Changes the generated report rate (per second, per account); 0 stops generation. */
  setRate(reportsPerSecond: number): void {
    this.#rate = reportsPerSecond;
    this.#clock.clearInterval(this.#timer);
    this.#timer = undefined;
    if (reportsPerSecond <= 0 || this.#servers.size === 0) return;
    // Timers fire at most every few ms: emit in batches sized to the rate.
    const periodMs = Math.max(5, Math.floor(1000 / reportsPerSecond));
    let carry = 0;
    this.#timer = this.#clock.setInterval(() => {
      carry += (reportsPerSecond * periodMs) / 1000;
      const n = Math.floor(carry);
      carry -= n;
      if (n > 0) for (const account of this.#options.accounts) this.emitReports(account.apiKey, n);
    }, periodMs);
  }

  /**
   * Generates `count` reports for an account now and sends each to every logged-on listener of it.
   * Reports are generated whether or not anyone listens: that is what a listener misses while away.
   */
  emitReports(apiKey: string, count = 1): GeneratedReport[] {
    const flow = this.#flows.get(apiKey);
    if (flow === undefined) throw new Error(`unknown account ${apiKey}`);
    const out: GeneratedReport[] = [];
    const log = this.#generated.get(apiKey)!;
    for (let i = 0; i < count; i++) {
      const report = flow.next(new Date(this.#clock.now()));
      out.push(report);
      log.push(report);
      this.#generatedAt.get(apiKey)!.push(this.#clock.now());
      this.#deliver(apiKey, report.fields);
    }
    return out;
  }

  /** Sends hand-made report fields to the account's listeners (tests of exact content). */
  sendReport(apiKey: string, fields: readonly Field[]): void {
    this.#deliver(apiKey, fields);
  }

  /**
   * Live listeners get the report now. A KalshiRT session that exists but is not connected still
   * numbers and stores it, as the exchange does: the listener recovers it by ResendRequest later.
   */
  #deliver(apiKey: string, fields: readonly Field[]): void {
    let rtLive = false;
    for (const session of this.#sessions) {
      if (session.apiKey !== apiKey || !session.isListening) continue;
      session.sendApplication('8', fields);
      if (session.role === 'KalshiRT') rtLive = true;
    }
    const book = this.#books.get(`${apiKey}/KalshiRT`);
    if (book !== undefined && !rtLive) {
      book.sent.set(book.nextOutbound, { fields, msgType: '8', sendingTime: formatUtcTimestamp(this.#clock.now()) });
      book.nextOutbound++;
    }
  }

  /** Every report generated for an account so far, in order. */
  generated(apiKey: string): readonly GeneratedReport[] {
    return this.#generated.get(apiKey) ?? [];
  }

  sessions(): readonly AcceptorSession[] {
    return [...this.#sessions];
  }

  /** TCP connections accepted so far, TLS or not, on one role's port or on all of them. */
  connections(role?: Role): number {
    if (role !== undefined) return this.#connections.get(role) ?? 0;
    return [...this.#connections.values()].reduce((a, b) => a + b, 0);
  }

  // ── fault switches ──────────────────────────────────────────────────────────────────────────

  /** While paused, every new connection is closed at once: the exchange is unreachable. */
  pauseAccepting(paused: boolean): void {
    this.#accepting = !paused;
  }

  /** Drops every connection at once, without Logout (a network cut). */
  dropConnections(): void {
    for (const session of this.#sessions) session.destroy();
  }

  /** The next `n` outbound messages are numbered and stored but never written: a sequence gap. */
  skipSequence(n = 1): void {
    this.faults.skipNext += n;
  }

  /** Stops heartbeats and TestRequest answers, so the client must detect a dead peer. */
  stopHeartbeats(stopped = true): void {
    this.faults.heartbeatsStopped = stopped;
  }

  /** Skews the SendingTime of everything the exchange sends from now on. */
  skewSendingTime(ms: number): void {
    this.faults.skewMs = ms;
  }

  /** The next `n` frames go out with a wrong CheckSum. */
  corruptNextChecksum(n = 1): void {
    this.faults.corruptNext += n;
  }

  /** Re-sends the last application message of every listener with PossDupFlag=Y and its old seq. */
  sendPossDupDuplicate(): void {
    for (const session of this.#sessions) session.resendLastApplication();
  }

  /** Sends a TestRequest with this id to every logged-on session. */
  testRequest(id: string): void {
    for (const session of this.#sessions) session.testRequest(id);
  }

  /** Sends a session-level message (e.g. a Reject 35=3 or BusinessMessageReject 35=j) to every session. */
  sendToAll(msgType: string, fields: readonly Field[]): void {
    for (const session of this.#sessions) session.sendSessionMessage(msgType, fields);
  }

  /** Moves every session's outbound numbering back by `n`: the client sees a seq lower than expected. */
  rewindSequence(n: number): void {
    for (const session of this.#sessions) session.rewind(n);
  }

  /** Sends a Logout with this text to every session (e.g. maintenance). */
  logoutAll(text: string): void {
    for (const session of this.#sessions) session.logout(text);
  }

  /** Forgets the sequence state of every (key, target): as if the exchange restarted without it. */
  resetBooks(): void {
    this.#books.clear();
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────

  /**
   * KalshiDC replay (kalshi-fix-margin.md §6.1): ExecutionReports of the last `dropCopyWindowMs`
   * from BeginExecID (inclusive) to EndExecID or the latest, never rejects.
   */
  #eventResend(
    apiKey: string,
    begin: string,
    end: string | undefined,
  ): { reports: ReadonlyArray<readonly Field[]> } | { reject: number; text: string } {
    this.dropCopy.requests++;
    if (!this.dropCopy.enabled)
      return { reject: 5, text: 'NOT_ENABLED: drop copy replay is not enabled for this account' };
    if (this.dropCopy.rateLimitNext > 0) {
      this.dropCopy.rateLimitNext--;
      return { reject: 1, text: 'Too many resend requests' };
    }
    if (this.dropCopy.serverErrorNext > 0) {
      this.dropCopy.serverErrorNext--;
      return { reject: 2, text: 'Server error' };
    }
    const reports = this.#generated.get(apiKey) ?? [];
    const times = this.#generatedAt.get(apiKey) ?? [];
    const horizon = this.#clock.now() - (this.#options.dropCopyWindowMs ?? 3 * 3600_000);
    let first = 0;
    while (first < reports.length && times[first]! < horizon) first++;
    const inWindow = reports.slice(first).filter((r) => r.execType !== '8');
    const oldest = inWindow[0];
    if (oldest === undefined || compareExecIds(begin, oldest.execId) < 0)
      return { reject: 3, text: 'BeginExecID is too small: outside the drop copy window' };
    const latest = inWindow.at(-1)!;
    if (end !== undefined && compareExecIds(end, latest.execId) > 0)
      return { reject: 4, text: 'EndExecID is too large' };
    const last = end ?? latest.execId;
    return {
      reports: inWindow
        .filter((r) => compareExecIds(r.execId, begin) >= 0 && compareExecIds(r.execId, last) <= 0)
        .map((r) => r.fields),
    };
  }

  #accept(role: Role, socket: TLSSocket): void {
    if (!this.#accepting) {
      socket.destroy();
      return;
    }
    const session = new AcceptorSession({
      role,
      socket,
      faults: this.faults,
      minHeartbeatS: this.#options.minHeartbeatS ?? 3,
      maxClockSkewMs: this.#options.maxClockSkewMs ?? 30_000,
      maxStoredMessages: this.#options.maxStoredMessages ?? 1_000_000,
      clock: this.#clock,
      publicKeyOf: (apiKey) => this.#options.accounts.find((a) => a.apiKey === apiKey)?.publicKey,
      isTaken: (apiKey, target, self) =>
        [...this.#sessions].some(
          (s) =>
            s !== self &&
            s.isLoggedOn &&
            s.apiKey === apiKey &&
            (this.#options.oneSessionPer === 'key' || s.role === target),
        ),
      book: (apiKey, reset) => {
        const id = `${apiKey}/${role}`;
        let book = this.#books.get(id);
        if (book === undefined || reset || role !== 'KalshiRT') {
          book = { nextOutbound: 1, nextInbound: 1, sent: new Map() };
          this.#books.set(id, book);
        }
        return book;
      },
      log: (line) => this.#options.onLog?.(line),
      onLogon: (session) => this.#options.onLogon?.(role, session.apiKey),
      eventResend: (apiKey, begin, end) => this.#eventResend(apiKey, begin, end),
      onClose: () => this.#sessions.delete(session),
    });
    this.#sessions.add(session);
  }
}

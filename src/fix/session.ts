import type { KeyObject } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { Backoff, type BackoffPolicy } from '../core/backoff.js';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { ListenerError } from '../core/errors.js';
import type { SessionCounters, SessionState, SessionStatus } from '../core/status.js';
import { FixDecoder } from './decoder.js';
import { ListenerGuardEncoder, type Field } from './encoder.js';
import { HeartbeatMonitor } from './heartbeat-monitor.js';
import { expectedOutbound, logonFields, saysSessionExists } from './logon.js';
import type { FixMessage } from './message.js';
import { InboundSequencer, type SequencerAction } from './sequencer.js';
import type { SequenceState, SequenceStore } from './sequence-store.js';
import { ADMIN_MSG_TYPES, MsgType, Tag } from './tags.js';
import { fixTimestampToEpochMs, formatUtcTimestamp } from './time.js';
import { connectTls, watchOpening } from './transport.js';

/**
 * The session's life, one state at a time (kalshi-fix-margin.md §3–4):
 *
 *   disconnected ─start/reconnect─▶ connecting ─TLS up─▶ logon_sent ─35=A─▶ active
 *        ▲                              │                    │                │
 *        └──── socket closed / error / timeout / Logout ◀────┴────────────────┤
 *                                                                  stop/reconnect
 *                                                                         ▼
 *   stopped ◀── stop() ── (any state)                                 logout_sent
 */

/** The session file is written at most this often while reports flow. */
const SAVE_EVERY_MS = 1000;
export type { SessionState, SessionStatus } from '../core/status.js';

const TRANSITIONS: Readonly<Record<SessionState, readonly SessionState[]>> = {
  disconnected: ['connecting', 'stopped'],
  connecting: ['logon_sent', 'disconnected', 'stopped'],
  logon_sent: ['active', 'disconnected', 'stopped'],
  active: ['logout_sent', 'disconnected', 'stopped'],
  logout_sent: ['disconnected', 'stopped'],
  stopped: [],
};

export function canTransition(from: SessionState, to: SessionState): boolean {
  return TRANSITIONS[from].includes(to);
}

export interface DeliveryInfo {
  /** Epoch ms when the chunk holding the message was read. */
  receivedAt: number;
  /** `resend` when the exchange retransmitted it (PossDupFlag=Y). */
  source: 'live' | 'resend';
}

export type SessionEvent =
  | { kind: 'state'; from: SessionState; to: SessionState }
  | { kind: 'connected'; host: string; port: number }
  | { kind: 'logon'; heartbeatIntervalS: number; reset: boolean; nextInbound: number; nextOutbound: number }
  | { kind: 'logout'; initiator: 'exchange' | 'listener'; text: string | undefined }
  | {
      kind: 'reject';
      msgType: string;
      refSeqNum: number | undefined;
      refTagId: number | undefined;
      refMsgType: string | undefined;
      reason: number | undefined;
      text: string | undefined;
    }
  | { kind: 'gap'; from: number; to: number; action: 'resend_request' | 'reconnect' }
  | { kind: 'gap_filled'; from: number; to: number }
  | { kind: 'sequence_reset'; newSeqNo: number; gapFill: boolean }
  | { kind: 'duplicate'; seqNum: number }
  | { kind: 'test_request'; id: string }
  | { kind: 'clock_skew'; skewMs: number }
  | { kind: 'decode_error'; error: ListenerError }
  | { kind: 'error'; error: ListenerError }
  | { kind: 'disconnected'; reason: ListenerError | undefined }
  | { kind: 'reconnect_scheduled'; delayMs: number; attempt: number };

export interface ListenerSessionOptions {
  host: string;
  port: number;
  /** The API key ID (UUID): SenderCompID on every message we send. */
  senderCompId: string;
  /** KalshiNR (no retransmission) or KalshiRT (retransmission, resumable). */
  targetCompId: string;
  privateKey: KeyObject;
  heartbeatIntervalS?: number;
  /**
   * Log on with ResetSeqNumFlag(141)=Y. Forced on for every target but KalshiRT, where the
   * default is to resume from the store and recover what was missed.
   */
  resetOnLogon?: boolean;
  /** MessageRetentionPeriod(20200) in hours, sent on KalshiRT only (Kalshi allows up to 72). */
  messageRetentionHours?: number;
  /** Extra Logon fields, e.g. [[21008, 'Y']]. 8013 (cancel on disconnect) is refused. */
  extraLogonFields?: readonly Field[];
  /** Send the listener flags 20126=Y and 21011=Y (default true). */
  listener?: boolean;
  /** MsgTypes this session may send beyond admin ones (e.g. U1 on a drop-copy session). */
  permittedMsgTypes?: ReadonlySet<string>;
  extraCa?: string | Buffer;
  servername?: string;
  /** TCP connect, DNS included, gives up after this (default 10 s): ERR_FIX_CONNECT_TIMEOUT. */
  connectTimeoutMs?: number;
  /** The TLS handshake gives up after this (default 10 s): ERR_FIX_TLS_HANDSHAKE_TIMEOUT. */
  tlsHandshakeTimeoutMs?: number;
  logonTimeoutMs?: number;
  /** How long stop()/reconnect() waits for the exchange's Logout reply (default 2 s). */
  logoutTimeoutMs?: number;
  /** Reconnect back-off (default: 1 s doubling to 60 s, full jitter). */
  reconnect?: Partial<BackoffPolicy>;
  /** Reconnect automatically after a drop (default true). */
  autoReconnect?: boolean;
  /** Gap recovery gives up and reconnects when a resend has not closed the gap in this time. */
  resendTimeoutMs?: number;
  /** Messages held while waiting for a resend; past this the session reconnects instead. */
  maxHeldMessages?: number;
  store?: SequenceStore;
  /**
   * When true, an application message counts as processed only after `acknowledge(seq)`: the
   * persisted inbound sequence number never passes a message the application has not made durable.
   */
  manualAck?: boolean;
  onApplicationMessage?: (message: FixMessage, info: DeliveryInfo) => void;
  onEvent?: (event: SessionEvent) => void;
  /** Test seams. */
  connect?: (options: { host: string; port: number; extraCa?: string | Buffer; servername?: string }) => Duplex;
  /**
   * Every reading and every timer of the session: heartbeats, the Logon, Logout, connect and
   * handshake timeouts, the reconnect back-off, the coalesced save (default: the real clock).
   */
  clock?: Clock;
  random?: () => number;
}

// Equal jitter: a peer that logs us out at once gets a Logon at most every 1, 2, 4, … s.
const DEFAULT_RECONNECT: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, jitter: 'equal' };
const RT = 'KalshiRT';
const DEFAULT_OPENING_TIMEOUT_MS = 10_000;
const CLOCK_SKEW_WARNING_MS = 10_000;

/**
 * What happens when the current connection ends: the sub-state every live state carries.
 * `retry` backs off and connects again (or stays down without autoReconnect), `reconnect`
 * connects at once (an operator asked), `stop` stays down and settles stop().
 */
export type AfterClose = 'retry' | 'reconnect' | 'stop';

/** The session's whole state: where it is and what it will do when the connection ends. */
export interface SessionPhase {
  state: SessionState;
  afterClose: AfterClose;
  /** A reconnect timer is running (state `disconnected`). */
  reconnectScheduled: boolean;
}

/**
 * A Kalshi FIX listener session (initiator): the connection driver. It owns the socket, the
 * timers, the reconnect back-off and the Logon; the inbound numbering is the pure
 * `InboundSequencer`'s and liveness the pure `HeartbeatMonitor`'s, and this class runs what they
 * answer. Application messages reach `onApplicationMessage` strictly in MsgSeqNum order. It can
 * only ever send session-level messages: its encoder refuses the rest.
 */
export class ListenerSession {
  readonly #o: Required<
    Pick<ListenerSessionOptions, 'host' | 'port' | 'senderCompId' | 'targetCompId' | 'privateKey'>
  > &
    ListenerSessionOptions;
  readonly #encoder: ListenerGuardEncoder;
  readonly #decoder: FixDecoder;
  readonly #heartbeatS: number;
  readonly #resumable: boolean;
  readonly #reconnectBackoff: Backoff;
  readonly #clock: Clock;
  readonly #sequencer: InboundSequencer<FixMessage>;
  readonly #liveness: HeartbeatMonitor;

  #state: SessionState = 'disconnected';
  #afterClose: AfterClose = 'retry';
  #socket: Duplex | undefined;
  #nextOutbound = 1;
  #loggedOnAt: number | undefined;
  #chunkReceivedAt = 0;
  #heartbeatTimer: TimerHandle | undefined;
  #logonTimer: TimerHandle | undefined;
  #logoutTimer: TimerHandle | undefined;
  #reconnectTimer: TimerHandle | undefined;
  /** When the running reconnect timer fires (the status page's "next try in"). */
  #nextAttemptAt: number | undefined;
  /** When the session was last logged on, or started: undefined while logged on. */
  #disconnectedSince: number | undefined;
  #saveTimer: TimerHandle | undefined;
  /** The highest MsgSeqNum acknowledged (manualAck): saved so a start can check the app holds it. */
  #lastApplicationSeq = 0;
  /** Cancels the connect/handshake watch of the connection being opened. */
  #stopOpeningWatch: (() => void) | undefined;
  /** A floor for the next reconnect wait ("already exists" asks for 2 × HeartBtInt). */
  #minNextDelayMs = 0;
  #lastError: SessionStatus['lastError'];
  #disconnectReason: ListenerError | undefined;
  /** The last sequence-store write, awaited by stop() so the final position is on disk. */
  #saving: Promise<void> = Promise.resolve();
  // Set when a resumed KalshiRT logon proved the exchange restarted its numbering.
  #forceReset = false;
  /** Set once the exchange's expected outbound MsgSeqNum was adopted; cleared by a Logon. */
  #adoptedOutbound = false;
  #clockSkewMs: number | undefined;
  #stopWaiters: Array<() => void> = [];
  readonly #byType = new Map<string, number>();
  readonly #counters: SessionCounters = {
    messagesIn: 0,
    messagesOut: 0,
    applicationMessages: 0,
    duplicatesDropped: 0,
    gaps: 0,
    resendRequests: 0,
    rejects: 0,
    decodeErrors: 0,
    reconnects: 0,
    logons: 0,
  };

  constructor(options: ListenerSessionOptions) {
    this.#o = options;
    for (const [tag] of options.extraLogonFields ?? []) {
      if (tag === Tag.CancelOrdersOnDisconnect) {
        throw new ListenerError('ERR_CONFIG', 'a listener session must not send CancelOrdersOnDisconnect(8013)');
      }
    }
    this.#heartbeatS = options.heartbeatIntervalS ?? 30;
    if (!Number.isInteger(this.#heartbeatS) || this.#heartbeatS < 1) {
      throw new ListenerError(
        'ERR_CONFIG',
        `heartbeat interval must be a whole number of seconds ≥ 1, got ${this.#heartbeatS}`,
      );
    }
    this.#resumable = options.targetCompId === RT && options.resetOnLogon !== true;
    this.#clock = options.clock ?? systemClock;
    this.#reconnectBackoff = new Backoff({ ...DEFAULT_RECONNECT, ...options.reconnect }, options.random);
    this.#encoder = new ListenerGuardEncoder(
      options.permittedMsgTypes === undefined ? undefined : new Set([...options.permittedMsgTypes, ...ADMIN_MSG_TYPES]),
    );
    this.#liveness = new HeartbeatMonitor(this.#heartbeatS);
    this.#sequencer = new InboundSequencer<FixMessage>({
      retransmits: options.targetCompId === RT,
      resendTimeoutMs: options.resendTimeoutMs ?? Math.max(10_000, 4 * this.#liveness.intervalMs),
      peer: options.targetCompId,
      ...(options.maxHeldMessages === undefined ? {} : { maxHeldMessages: options.maxHeldMessages }),
      ...(options.manualAck === undefined ? {} : { manualAck: options.manualAck }),
    });
    this.#decoder = new FixDecoder({
      onMessage: (message) => this.#onMessage(message),
      onError: (error) => {
        this.#counters.decodeErrors++;
        this.#emit({ kind: 'decode_error', error });
      },
    });
    const saved = this.#resumable ? options.store?.load() : undefined;
    if (saved !== undefined) {
      this.#sequencer.restore(saved.nextInbound);
      this.#nextOutbound = saved.nextOutbound;
      this.#lastApplicationSeq = saved.lastApplicationSeq ?? 0;
    }
  }

  get state(): SessionState {
    return this.#state;
  }

  get phase(): SessionPhase {
    return { state: this.#state, afterClose: this.#afterClose, reconnectScheduled: this.#reconnectTimer !== undefined };
  }

  /** Connects and keeps the session up (reconnecting with back-off) until stop(). */
  start(): void {
    if (this.#state !== 'disconnected' || this.#socket !== undefined) return;
    this.#afterClose = 'retry';
    // Not logged on since the start: a start that never gets through says so from when it began.
    this.#disconnectedSince ??= this.#clock.now();
    this.#connect();
  }

  /**
   * Logs out and reconnects at once (no back-off); while connecting, drops the attempt and starts
   * a new one. Returns false when a reconnect is already under way (a Logon or Logout in flight, or
   * an attempt being dropped) or the session is stopped, so a second call does not cause a second
   * reconnect.
   */
  reconnect(): boolean {
    switch (this.#state) {
      case 'stopped':
      case 'logout_sent':
      case 'logon_sent':
        return false;
      case 'connecting':
        // An attempt that hangs (a peer that never answers TLS) is dropped and a fresh one made at
        // once; a second call while this one is being dropped changes nothing.
        if (this.#afterClose !== 'retry') return false;
        this.#afterClose = 'reconnect';
        this.#transition('disconnected');
        this.#socket?.destroy();
        return true;
      case 'disconnected':
        if (this.#socket !== undefined) return false;
        this.#cancelReconnectTimer();
        this.#afterClose = 'retry';
        this.#connect();
        return true;
      case 'active':
        this.#afterClose = 'reconnect';
        this.#sendLogout('operator requested reconnect');
        return true;
    }
  }

  /** Sends Logout, waits briefly for the reply, closes, and stays down. */
  async stop(): Promise<void> {
    this.#cancelReconnectTimer();
    if (this.#state === 'stopped') return;
    const closed = new Promise<void>((resolve) => this.#stopWaiters.push(resolve));
    this.#afterClose = 'stop';
    if (this.#state === 'active') this.#sendLogout(undefined);
    else if (this.#state === 'logout_sent') {
      // Already logging out: the reply (or the logout timer) closes, and the close stops.
    } else if (this.#socket !== undefined) this.#socket.destroy();
    else this.#finishStop();
    await closed;
    await this.#saving;
    await this.#o.store?.close?.();
  }

  /**
   * Sends a request this session is permitted to make (e.g. a drop-copy EventResendRequest U1 when
   * `permittedMsgTypes` has it). Anything else — every order message — throws ERR_FIX_LISTENER_GUARD.
   */
  request(msgType: string, fields: readonly Field[]): void {
    if (this.#state !== 'active')
      throw new ListenerError('ERR_SESSION_STATE', `cannot send 35=${msgType} while ${this.#state}`);
    this.#send(msgType, fields);
  }

  /** MsgSeqNum the next outbound message will carry (a U2/U3 answer refers to it in RefSeqNum). */
  get nextOutbound(): number {
    return this.#nextOutbound;
  }

  /**
   * Marks application messages up to `seqNum` as durable (manualAck mode). The persisted inbound
   * sequence number advances only past acknowledged messages.
   */
  acknowledge(seqNum: number): void {
    this.#sequencer.acknowledge(seqNum);
    if (seqNum > this.#lastApplicationSeq) this.#lastApplicationSeq = seqNum;
    this.#scheduleSave();
  }

  status(): SessionStatus {
    return {
      state: this.#state,
      host: this.#o.host,
      port: this.#o.port,
      senderCompId: this.#o.senderCompId,
      targetCompId: this.#o.targetCompId,
      heartbeatIntervalS: this.#heartbeatS,
      nextInbound: this.#sequencer.nextInbound,
      nextOutbound: this.#nextOutbound,
      processedThrough: this.#sequencer.safeInbound - 1,
      lastReceivedAt: this.#liveness.lastReceivedAt,
      lastSentAt: this.#liveness.lastSentAt,
      loggedOnAt: this.#loggedOnAt,
      recovering: this.#sequencer.recovering,
      reconnectAttempts: this.#reconnectBackoff.attempts,
      nextAttemptAt: this.#nextAttemptAt,
      disconnectedSince: this.#disconnectedSince,
      lastError: this.#lastError,
      clockSkewMs: this.#clockSkewMs,
      messagesInByType: Object.fromEntries(this.#byType),
      counters: { ...this.#counters },
    };
  }

  // ── connection lifecycle ─────────────────────────────────────────────────────────────────────

  #connect(): void {
    this.#transition('connecting');
    this.#decoder.reset();
    this.#disconnectReason = undefined;
    const connect = this.#o.connect ?? connectTls;
    const target = {
      host: this.#o.host,
      port: this.#o.port,
      ...(this.#o.extraCa === undefined ? {} : { extraCa: this.#o.extraCa }),
      ...(this.#o.servername === undefined ? {} : { servername: this.#o.servername }),
    };
    let socket: Duplex;
    try {
      socket = connect(target);
    } catch (cause) {
      this.#socket = undefined;
      this.#fail(
        new ListenerError('ERR_FIX_TRANSPORT', `cannot connect to ${this.#o.host}:${this.#o.port}`, { cause }),
      );
      this.#onClosed();
      return;
    }
    this.#socket = socket;
    this.#stopOpeningWatch = watchOpening(
      socket,
      target,
      {
        connectMs: this.#o.connectTimeoutMs ?? DEFAULT_OPENING_TIMEOUT_MS,
        handshakeMs: this.#o.tlsHandshakeTimeoutMs ?? DEFAULT_OPENING_TIMEOUT_MS,
      },
      (error) => {
        if (this.#socket === socket && this.#state === 'connecting') this.#fail(error);
      },
      this.#clock,
    );
    const readyEvent = 'encrypted' in socket ? 'secureConnect' : 'connect';
    socket.once(readyEvent, () => {
      if (this.#socket !== socket || this.#state !== 'connecting') return;
      this.#stopOpeningWatch?.();
      this.#emit({ kind: 'connected', host: this.#o.host, port: this.#o.port });
      this.#sendLogon();
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.#socket !== socket) return;
      // Liveness counts complete messages (#onMessage), not bytes: a peer trickling one endless
      // frame is as silent as one sending nothing.
      this.#chunkReceivedAt = this.#clock.now();
      this.#decoder.push(chunk);
    });
    socket.on('error', (cause: Error) => {
      if (this.#socket !== socket) return;
      this.#fail(
        new ListenerError(
          'ERR_FIX_TRANSPORT',
          `connection to ${this.#o.host}:${this.#o.port} failed: ${cause.message}`,
          { cause },
        ),
      );
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      // Closed by the peer with no Logout and no error of ours: say so, with a code.
      if (
        this.#disconnectReason === undefined &&
        this.#afterClose !== 'stop' &&
        (this.#state === 'connecting' || this.#state === 'logon_sent' || this.#state === 'active')
      ) {
        const error = new ListenerError(
          'ERR_FIX_PEER_CLOSED',
          `${this.#o.host}:${this.#o.port} closed the connection without a Logout`,
        );
        this.#disconnectReason = error;
        this.#lastError = { code: error.code, message: error.message, at: this.#clock.now() };
      }
      this.#onClosed();
    });
  }

  /** The connection ended: `afterClose` decides what comes next. */
  #onClosed(): void {
    this.#clearTimers();
    this.#sequencer.connectionClosed();
    this.#saveNow();
    this.#disconnectedSince ??= this.#clock.now();
    this.#emit({ kind: 'disconnected', reason: this.#disconnectReason });
    if (this.#state === 'stopped') {
      this.#finishStop();
      return;
    }
    const next = this.#afterClose;
    if (this.#state !== 'disconnected') this.#transition(next === 'stop' ? 'stopped' : 'disconnected');
    switch (next) {
      case 'stop':
        this.#finishStop();
        return;
      case 'reconnect':
        this.#afterClose = 'retry';
        this.#counters.reconnects++;
        this.#connect();
        return;
      case 'retry':
        if (this.#o.autoReconnect !== false) this.#scheduleReconnect();
    }
  }

  #scheduleReconnect(): void {
    // Jitter spreads reconnect storms; the floor honours "already exists".
    const delayMs = this.#reconnectBackoff.next(this.#minNextDelayMs);
    this.#minNextDelayMs = 0;
    this.#emit({ kind: 'reconnect_scheduled', delayMs, attempt: this.#reconnectBackoff.attempts });
    this.#nextAttemptAt = this.#clock.now() + delayMs;
    this.#reconnectTimer = this.#clock.setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#nextAttemptAt = undefined;
      if (this.#state !== 'disconnected') return;
      this.#counters.reconnects++;
      this.#connect();
    }, delayMs);
  }

  #cancelReconnectTimer(): void {
    this.#clock.clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = this.#nextAttemptAt = undefined;
  }

  #finishStop(): void {
    if (this.#state !== 'stopped') this.#transition('stopped');
    this.#clearTimers();
    this.#cancelReconnectTimer();
    this.#saveNow();
    const waiters = this.#stopWaiters;
    this.#stopWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Records the error and drops the connection; #onClosed decides what comes next. */
  #fail(error: ListenerError): void {
    this.#lastError = { code: error.code, message: error.message, at: this.#clock.now() };
    this.#disconnectReason ??= error;
    this.#emit({ kind: 'error', error });
    const socket = this.#socket;
    if (socket === undefined) return;
    if (this.#state !== 'disconnected' && this.#state !== 'stopped')
      this.#transition(this.#afterClose === 'stop' ? 'stopped' : 'disconnected');
    socket.destroy();
  }

  #transition(to: SessionState): void {
    const from = this.#state;
    if (from === to) return;
    if (!canTransition(from, to)) {
      throw new ListenerError('ERR_SESSION_STATE', `session cannot go from ${from} to ${to}`, {
        details: { from, to },
      });
    }
    this.#state = to;
    this.#emit({ kind: 'state', from, to });
  }

  #clearTimers(): void {
    this.#stopOpeningWatch?.();
    this.#stopOpeningWatch = undefined;
    this.#clock.clearInterval(this.#heartbeatTimer);
    this.#clock.clearTimeout(this.#logonTimer);
    this.#clock.clearTimeout(this.#logoutTimer);
    this.#clock.clearTimeout(this.#saveTimer);
    this.#heartbeatTimer = this.#logonTimer = this.#logoutTimer = this.#saveTimer = undefined;
  }

  // ── outbound ────────────────────────────────────────────────────────────────────────────────

  #send(msgType: string, body: readonly Field[], sendingTime = formatUtcTimestamp(this.#clock.now())): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    const frame = this.#encoder.encode(
      msgType,
      {
        senderCompId: this.#o.senderCompId,
        targetCompId: this.#o.targetCompId,
        msgSeqNum: this.#nextOutbound,
        sendingTime,
      },
      body,
    );
    this.#nextOutbound++;
    this.#markSent();
    socket.write(frame);
    if (this.#resumable) this.#saveNow();
  }

  #markSent(): void {
    const now = this.#clock.now();
    this.#liveness.sent(now);
    this.#counters.messagesOut++;
  }

  #sendLogon(): void {
    const reset = !this.#resumable || this.#forceReset;
    if (reset) this.#nextOutbound = 1;
    this.#sequencer.beginLogon(reset);
    const sendingTime = formatUtcTimestamp(this.#clock.now());
    const fields = logonFields({
      senderCompId: this.#o.senderCompId,
      targetCompId: this.#o.targetCompId,
      privateKey: this.#o.privateKey,
      msgSeqNum: this.#nextOutbound,
      sendingTime,
      heartbeatIntervalS: this.#heartbeatS,
      reset,
      listener: this.#o.listener !== false,
      messageRetentionHours: this.#o.targetCompId === RT ? this.#o.messageRetentionHours : undefined,
      extraFields: this.#o.extraLogonFields ?? [],
    });
    this.#transition('logon_sent');
    this.#send(MsgType.Logon, fields, sendingTime);
    const timeoutMs = this.#o.logonTimeoutMs ?? 10_000;
    this.#logonTimer = this.#clock.setTimeout(() => {
      if (this.#state !== 'logon_sent') return;
      this.#fail(
        new ListenerError(
          'ERR_FIX_LOGON_TIMEOUT',
          `no Logon reply from ${this.#o.targetCompId} within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
  }

  #sendLogout(text: string | undefined): void {
    this.#transition('logout_sent');
    this.#send(MsgType.Logout, text === undefined ? [] : [[Tag.Text, text]]);
    this.#emit({ kind: 'logout', initiator: 'listener', text });
    this.#clock.clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    this.#logoutTimer = this.#clock.setTimeout(() => this.#socket?.destroy(), this.#o.logoutTimeoutMs ?? 2000);
  }

  /** We never send application messages, so any range we are asked for is one GapFill. */
  #answerResendRequest(begin: number): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    const sendingTime = formatUtcTimestamp(this.#clock.now());
    const frame = this.#encoder.encode(
      MsgType.SequenceReset,
      {
        senderCompId: this.#o.senderCompId,
        targetCompId: this.#o.targetCompId,
        msgSeqNum: Math.min(begin, this.#nextOutbound),
        sendingTime,
        possDup: true,
        origSendingTime: sendingTime,
      },
      [
        [Tag.GapFillFlag, 'Y'],
        [Tag.NewSeqNo, this.#nextOutbound],
      ],
    );
    this.#markSent();
    socket.write(frame);
  }

  // ── inbound ─────────────────────────────────────────────────────────────────────────────────

  #onMessage(message: FixMessage): void {
    const receivedAt = this.#chunkReceivedAt;
    this.#liveness.received(receivedAt);
    this.#counters.messagesIn++;
    this.#byType.set(message.msgType, (this.#byType.get(message.msgType) ?? 0) + 1);
    if (this.#state === 'logon_sent') this.#onLogonReply(message);
    else if (this.#state === 'active' || this.#state === 'logout_sent')
      this.#run(this.#sequencer.receive(message, receivedAt));
  }

  /** Carries out what the sequencer decided, in order. */
  #run(actions: readonly SequencerAction<FixMessage>[]): void {
    for (const action of actions) {
      switch (action.type) {
        case 'deliver':
          this.#counters.applicationMessages++;
          // An application message proves the session healthy: the next failure backs off afresh.
          if (this.#reconnectBackoff.attempts > 0) this.#reconnectBackoff.reset();
          if (this.#o.manualAck !== true) this.#scheduleSave();
          this.#o.onApplicationMessage?.(action.message, action);
          break;
        case 'heartbeat':
          this.#liveness.heartbeat(action.testReqId);
          break;
        case 'answer_test_request':
          this.#emit({ kind: 'test_request', id: action.testReqId });
          this.#send(MsgType.Heartbeat, [[Tag.TestReqID, action.testReqId]]);
          break;
        case 'answer_resend_request':
          this.#answerResendRequest(action.begin);
          break;
        case 'resend_request':
          this.#counters.resendRequests++;
          this.#send(MsgType.ResendRequest, [
            [Tag.BeginSeqNo, action.from],
            [Tag.EndSeqNo, action.to],
          ]);
          break;
        case 'reject': {
          const message = action.message;
          this.#counters.rejects++;
          this.#emit({
            kind: 'reject',
            msgType: message.msgType,
            refSeqNum: message.getInt(Tag.RefSeqNum),
            refTagId: message.getInt(Tag.RefTagID),
            refMsgType: message.get(Tag.RefMsgType),
            reason: message.getInt(
              message.msgType === MsgType.Reject ? Tag.SessionRejectReason : Tag.BusinessRejectReason,
            ),
            text: message.get(Tag.Text),
          });
          break;
        }
        case 'logout':
          this.#onLogout(action.message);
          break;
        case 'duplicate':
          this.#counters.duplicatesDropped++;
          this.#emit({ kind: 'duplicate', seqNum: action.seqNum });
          break;
        case 'gap':
          this.#counters.gaps++;
          this.#emit({ kind: 'gap', from: action.from, to: action.to, action: action.action });
          break;
        case 'gap_filled':
          this.#emit({ kind: 'gap_filled', from: action.from, to: action.to });
          break;
        case 'sequence_reset':
          this.#emit({ kind: 'sequence_reset', newSeqNo: action.newSeqNo, gapFill: action.gapFill });
          break;
        case 'advanced':
          this.#scheduleSave();
          break;
        case 'disconnect':
          this.#fail(action.error);
          break;
      }
    }
  }

  /**
   * The exchange refused a resumed Logon because our MsgSeqNum is below what it expects: our
   * saved numbers are older than its (a lost or new SPOOL_DIR, a restored backup). The first time,
   * adopt its number and resume (what we missed is then resent). If that is refused too, log on
   * afresh with ResetSeqNumFlag=Y: the drop copy replays the window and a hole is recorded for
   * what it cannot. Each step is an error event with the numbers.
   */
  #onOutboundTooLow(expected: number, text: string): void {
    if (!this.#adoptedOutbound) {
      this.#adoptedOutbound = true;
      const received = this.#nextOutbound - 1;
      this.#nextOutbound = expected;
      this.#minNextDelayMs = 0;
      this.#fail(
        new ListenerError(
          'ERR_FIX_SEQ_TOO_LOW',
          `${this.#o.targetCompId} expects our MsgSeqNum ${expected}, we sent ${received} (${text}); adopting ${expected} and resuming`,
          { details: { expected, received, step: 'adopt' } },
        ),
      );
      return;
    }
    this.#adoptedOutbound = false;
    this.#forceReset = true;
    this.#fail(
      new ListenerError(
        'ERR_FIX_SEQ_TOO_LOW',
        `${this.#o.targetCompId} refused our MsgSeqNum again (${text}); logging on afresh with ResetSeqNumFlag=Y (the drop copy replays the window)`,
        { details: { expected, step: 'reset' } },
      ),
    );
  }

  #onLogonReply(message: FixMessage): void {
    this.#clock.clearTimeout(this.#logonTimer);
    this.#logonTimer = undefined;
    if (message.msgType === MsgType.Logout) {
      const text = message.get(Tag.Text);
      if (saysSessionExists(text)) this.#minNextDelayMs = 2 * this.#liveness.intervalMs;
      this.#emit({ kind: 'logout', initiator: 'exchange', text });
      const expected = this.#resumable ? expectedOutbound(text) : undefined;
      if (expected !== undefined && expected > this.#nextOutbound) {
        this.#onOutboundTooLow(expected, text!);
        return;
      }
      this.#fail(
        new ListenerError(
          'ERR_FIX_LOGON_REJECTED',
          `${this.#o.targetCompId} rejected the Logon: ${text ?? '(no Text)'}`,
          { details: { text } },
        ),
      );
      return;
    }
    if (message.msgType !== MsgType.Logon) {
      this.#fail(new ListenerError('ERR_FIX_PROTOCOL', `expected Logon reply, got 35=${message.msgType}`));
      return;
    }
    if (message.seqNum === 0) {
      this.#fail(new ListenerError('ERR_FIX_PROTOCOL', 'Logon reply has no MsgSeqNum(34)'));
      return;
    }
    const reset = message.getFlag(Tag.ResetSeqNumFlag) || !this.#resumable || this.#forceReset;
    if (reset && this.#resumable) {
      // The exchange reset both sides (e.g. after maintenance): our store no longer applies.
      this.#sequencer.resetNumbering();
      this.#lastApplicationSeq = 0;
    } else if (message.seqNum < this.#sequencer.nextInbound) {
      // A resumed logon answered below our position: the exchange lost its numbering. Resuming
      // cannot work; log on fresh (141=Y) next time and report the hole it may leave.
      const expected = this.#sequencer.nextInbound;
      this.#forceReset = true;
      this.#fail(
        new ListenerError(
          'ERR_FIX_SEQ_TOO_LOW',
          `Logon reply MsgSeqNum ${message.seqNum} is below expected ${expected}; reconnecting with ResetSeqNumFlag=Y`,
          { details: { received: message.seqNum, expected } },
        ),
      );
      return;
    }
    this.#forceReset = false;
    this.#adoptedOutbound = false;
    this.#transition('active');
    const now = this.#clock.now();
    this.#loggedOnAt = now;
    this.#disconnectedSince = undefined;
    this.#checkClock(message, now);
    // The back-off is not reset here: a peer that logs us out right after every Logon must not get
    // a Logon a second. It resets once the session proves healthy (#onTick, #run).
    this.#counters.logons++;
    this.#emit({
      kind: 'logon',
      heartbeatIntervalS: this.#heartbeatS,
      reset,
      nextInbound: this.#sequencer.nextInbound,
      nextOutbound: this.#nextOutbound,
    });
    this.#liveness.start();
    // The liveness tick alone does not hold the process: stop() and the socket decide its life.
    this.#heartbeatTimer = this.#clock.setInterval(() => this.#onTick(), this.#liveness.tickMs, { ref: false });
    this.#run(this.#sequencer.receive(message, this.#chunkReceivedAt));
  }

  #onLogout(message: FixMessage): void {
    const text = message.get(Tag.Text);
    if (this.#state === 'logout_sent') {
      // The exchange acknowledged ours.
      this.#socket?.end();
      this.#socket?.destroy();
      return;
    }
    this.#emit({ kind: 'logout', initiator: 'exchange', text });
    if (saysSessionExists(text)) this.#minNextDelayMs = 2 * this.#liveness.intervalMs;
    this.#send(MsgType.Logout, []);
    this.#fail(
      new ListenerError('ERR_FIX_LOGOUT', `${this.#o.targetCompId} logged the session out: ${text ?? '(no Text)'}`, {
        details: { text },
      }),
    );
  }

  /**
   * Kalshi refuses a Logon whose SendingTime is over 30 s off its clock. Reports are never dropped
   * for skew (losing data is worse), but a skew approaching that limit is surfaced for operators.
   */
  #checkClock(message: FixMessage, now: number): void {
    const sentAt = fixTimestampToEpochMs(message.get(Tag.SendingTime) ?? '');
    if (sentAt === undefined) return;
    const skewMs = sentAt - now;
    this.#clockSkewMs = skewMs;
    if (Math.abs(skewMs) > CLOCK_SKEW_WARNING_MS) this.#emit({ kind: 'clock_skew', skewMs });
  }

  // ── liveness ────────────────────────────────────────────────────────────────────────────────

  #onTick(): void {
    if (this.#state !== 'active') return;
    const now = this.#clock.now();
    const intervalMs = this.#liveness.intervalMs;
    // Up for 2 × HeartBtInt: the session proved healthy, the next failure backs off afresh.
    if (this.#reconnectBackoff.attempts > 0 && now - (this.#loggedOnAt ?? now) >= 2 * intervalMs)
      this.#reconnectBackoff.reset();
    switch (this.#liveness.tick(now)) {
      case 'timeout': {
        const silentFor = this.#liveness.silentFor(now);
        const partial = this.#decoder.bufferedBytes;
        this.#fail(
          new ListenerError(
            'ERR_FIX_HEARTBEAT_TIMEOUT',
            `nothing received from ${this.#o.targetCompId} for ${silentFor} ms (HeartBtInt ${this.#heartbeatS} s)` +
              (partial > 0 ? `; ${partial} bytes of an unfinished frame` : ''),
            { details: { silentForMs: silentFor, partialFrameBytes: partial } },
          ),
        );
        return;
      }
      case 'test_request':
        this.#send(MsgType.TestRequest, [[Tag.TestReqID, this.#liveness.pendingTestRequest!]]);
        break;
      case 'heartbeat':
        this.#send(MsgType.Heartbeat, []);
        break;
      case 'none':
        break;
    }
    this.#run(this.#sequencer.tick(now));
  }

  // ── persistence (resumable sessions) ────────────────────────────────────────────────────────

  #scheduleSave(): void {
    if (!this.#resumable || this.#o.store === undefined || this.#saveTimer !== undefined) return;
    // Coalesce: one save a second at most (two atomic files: on EFS each is a round trip and the
    // bill). Lagging behind is safe (a resume re-requests at most that second, and the journal
    // drops the duplicates); running ahead would not be. Logon, logout and stop save at once.
    this.#saveTimer = this.#clock.setTimeout(() => {
      this.#saveTimer = undefined;
      this.#saveNow();
    }, SAVE_EVERY_MS);
  }

  #saveNow(): void {
    if (!this.#resumable || this.#o.store === undefined) return;
    const state: SequenceState = {
      nextInbound: this.#sequencer.safeInbound,
      nextOutbound: this.#nextOutbound,
      lastApplicationSeq: this.#lastApplicationSeq,
    };
    this.#saving = this.#o.store.save(state).catch((cause: unknown) => {
      const error = new ListenerError('ERR_SEQUENCE_STORE', 'cannot persist session sequence numbers', { cause });
      this.#lastError = { code: error.code, message: error.message, at: this.#clock.now() };
      this.#emit({ kind: 'error', error });
    });
  }

  #emit(event: SessionEvent): void {
    this.#o.onEvent?.(event);
  }
}

import type { KeyObject } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { Backoff, type BackoffPolicy } from '../core/backoff.js';
import { ListenerError } from '../core/errors.js';
import { HeadQueue } from '../core/head-queue.js';
import type { SessionCounters, SessionState, SessionStatus } from '../core/status.js';
import { FixDecoder } from './decoder.js';
import { ListenerGuardEncoder, type Field } from './encoder.js';
import { signLogon } from './logon-signature.js';
import type { FixMessage } from './message.js';
import type { SequenceState, SequenceStore } from './sequence-store.js';
import { ADMIN_MSG_TYPES, MsgType, Tag } from './tags.js';
import { fixTimestampToEpochMs, formatUtcTimestamp } from './time.js';
import { connectTls } from './transport.js';

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
  now?: () => number;
  random?: () => number;
}

// Equal jitter: a peer that logs us out at once gets a Logon at most every 1, 2, 4, … s.
const DEFAULT_RECONNECT: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, jitter: 'equal' };
const RT = 'KalshiRT';
const CLOCK_SKEW_WARNING_MS = 10_000;

/**
 * A Kalshi FIX listener session (initiator). Holds one TLS connection, logs on with the listener
 * flags, keeps the session alive, checks every inbound sequence number, recovers gaps where the
 * target allows it and hands application messages to `onApplicationMessage` strictly in MsgSeqNum
 * order. It can only ever send session-level messages: its encoder refuses the rest.
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
  readonly #now: () => number;

  #state: SessionState = 'disconnected';
  #socket: Duplex | undefined;
  #nextInbound = 1;
  #nextOutbound = 1;
  #lastReceivedAt: number | undefined;
  #lastSentAt: number | undefined;
  #loggedOnAt: number | undefined;
  #chunkReceivedAt = 0;
  #testRequestPending: string | undefined;
  #testRequestCounter = 0;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #logonTimer: NodeJS.Timeout | undefined;
  #logoutTimer: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #minNextDelayMs = 0;
  #reconnectAfterLogout = false;
  #lastError: SessionStatus['lastError'];
  #disconnectReason: ListenerError | undefined;
  // Gap recovery (KalshiRT): messages past the gap wait here, by seq, until the resend closes it.
  #held = new Map<number, { message: FixMessage; receivedAt: number }>();
  #recoveryTarget = 0;
  #recoveryStartedAt = 0;
  // Application seqs delivered but not yet acknowledged durable (manualAck), in order.
  readonly #unacked = new HeadQueue<number>();
  /** The first MsgSeqNum of the gap being resent (for the gap_filled event). */
  #recoveryFrom = 0;
  /** The last sequence-store write, awaited by stop() so the final position is on disk. */
  #saving: Promise<void> = Promise.resolve();
  // Set when a resumed KalshiRT logon proved the exchange restarted its numbering.
  #forceReset = false;
  /** Set once the exchange's expected outbound MsgSeqNum was adopted; cleared by a Logon. */
  #adoptedOutbound = false;
  #clockSkewMs: number | undefined;
  #saveTimer: NodeJS.Timeout | undefined;
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
    this.#now = options.now ?? Date.now;
    this.#reconnectBackoff = new Backoff({ ...DEFAULT_RECONNECT, ...options.reconnect }, options.random);
    this.#encoder = new ListenerGuardEncoder(
      options.permittedMsgTypes === undefined ? undefined : new Set([...options.permittedMsgTypes, ...ADMIN_MSG_TYPES]),
    );
    this.#decoder = new FixDecoder({
      onMessage: (message) => this.#onMessage(message),
      onError: (error) => {
        this.#counters.decodeErrors++;
        this.#emit({ kind: 'decode_error', error });
      },
    });
    const saved = this.#resumable ? options.store?.load() : undefined;
    if (saved !== undefined) {
      this.#nextInbound = saved.nextInbound;
      this.#nextOutbound = saved.nextOutbound;
    }
  }

  get state(): SessionState {
    return this.#state;
  }

  /** Connects and keeps the session up (reconnecting with back-off) until stop(). */
  start(): void {
    if (this.#state !== 'disconnected' || this.#socket !== undefined) return;
    this.#connect();
  }

  /**
   * Logs out and reconnects at once (no back-off). Returns false when a reconnect is already under
   * way or the session is stopped, so a second call does not cause a second reconnect.
   */
  reconnect(): boolean {
    if (
      this.#state === 'stopped' ||
      this.#state === 'logout_sent' ||
      this.#state === 'connecting' ||
      this.#state === 'logon_sent'
    )
      return false;
    if (this.#state === 'disconnected') {
      if (this.#socket !== undefined) return false;
      clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
      this.#connect();
      return true;
    }
    this.#reconnectAfterLogout = true;
    this.#sendLogout('operator requested reconnect');
    return true;
  }

  /** Sends Logout, waits briefly for the reply, closes, and stays down. */
  async stop(): Promise<void> {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    if (this.#state === 'stopped') return;
    const closed = new Promise<void>((resolve) => this.#stopWaiters.push(resolve));
    if (this.#state === 'active') {
      this.#reconnectAfterLogout = false;
      this.#sendLogout(undefined);
    } else if (this.#state === 'logout_sent') {
      this.#reconnectAfterLogout = false;
    } else if (this.#socket !== undefined) {
      this.#socket.destroy();
    } else {
      this.#finishStop();
    }
    await closed;
    await this.#saving;
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
    while (this.#unacked.length > 0 && this.#unacked.peek()! <= seqNum) this.#unacked.shift();
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
      nextInbound: this.#nextInbound,
      nextOutbound: this.#nextOutbound,
      processedThrough: this.#safeInbound() - 1,
      lastReceivedAt: this.#lastReceivedAt,
      lastSentAt: this.#lastSentAt,
      loggedOnAt: this.#loggedOnAt,
      recovering: this.#recoveryTarget > 0 ? { from: this.#nextInbound, to: this.#recoveryTarget } : undefined,
      reconnectAttempts: this.#reconnectBackoff.attempts,
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
      this.#afterClose();
      return;
    }
    this.#socket = socket;
    const readyEvent = 'encrypted' in socket ? 'secureConnect' : 'connect';
    socket.once(readyEvent, () => {
      if (this.#socket !== socket || this.#state !== 'connecting') return;
      this.#emit({ kind: 'connected', host: this.#o.host, port: this.#o.port });
      this.#sendLogon();
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.#socket !== socket) return;
      // Liveness counts complete messages (#onMessage), not bytes: a peer trickling one endless
      // frame is as silent as one sending nothing.
      this.#chunkReceivedAt = this.#now();
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
        this.#stopWaiters.length === 0 &&
        (this.#state === 'connecting' || this.#state === 'logon_sent' || this.#state === 'active')
      ) {
        const error = new ListenerError(
          'ERR_FIX_PEER_CLOSED',
          `${this.#o.host}:${this.#o.port} closed the connection without a Logout`,
        );
        this.#disconnectReason = error;
        this.#lastError = { code: error.code, message: error.message, at: this.#now() };
      }
      this.#afterClose();
    });
  }

  #afterClose(): void {
    this.#clearTimers();
    this.#releaseHeld();
    this.#saveNow();
    const reason = this.#disconnectReason;
    this.#emit({ kind: 'disconnected', reason });
    if (this.#state === 'stopped') {
      this.#finishStop();
      return;
    }
    const stopping = this.#stopWaiters.length > 0;
    if (this.#state !== 'disconnected') this.#transition(stopping ? 'stopped' : 'disconnected');
    if (stopping) {
      this.#finishStop();
      return;
    }
    if (this.#reconnectAfterLogout) {
      this.#reconnectAfterLogout = false;
      this.#counters.reconnects++;
      this.#connect();
      return;
    }
    if (this.#o.autoReconnect === false) return;
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    // Jitter spreads reconnect storms; the floor honours "already exists".
    const delayMs = this.#reconnectBackoff.next(this.#minNextDelayMs);
    this.#minNextDelayMs = 0;
    this.#emit({ kind: 'reconnect_scheduled', delayMs, attempt: this.#reconnectBackoff.attempts });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#state !== 'disconnected') return;
      this.#counters.reconnects++;
      this.#connect();
    }, delayMs);
  }

  #finishStop(): void {
    if (this.#state !== 'stopped') this.#transition('stopped');
    this.#clearTimers();
    clearTimeout(this.#reconnectTimer);
    this.#saveNow();
    const waiters = this.#stopWaiters;
    this.#stopWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Records the error and drops the connection; close handling decides what comes next. */
  #fail(error: ListenerError): void {
    this.#lastError = { code: error.code, message: error.message, at: this.#now() };
    this.#disconnectReason ??= error;
    this.#emit({ kind: 'error', error });
    this.#drop();
  }

  #drop(): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    if (
      this.#state === 'active' ||
      this.#state === 'logon_sent' ||
      this.#state === 'connecting' ||
      this.#state === 'logout_sent'
    ) {
      this.#transition(this.#stopWaiters.length > 0 ? 'stopped' : 'disconnected');
    }
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
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#logonTimer);
    clearTimeout(this.#logoutTimer);
    clearTimeout(this.#saveTimer);
    this.#heartbeatTimer = this.#logonTimer = this.#logoutTimer = this.#saveTimer = undefined;
  }

  // ── outbound ────────────────────────────────────────────────────────────────────────────────

  #send(msgType: string, body: readonly Field[], sendingTime = formatUtcTimestamp(this.#now())): void {
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
    this.#lastSentAt = this.#now();
    this.#counters.messagesOut++;
    socket.write(frame);
    if (this.#resumable) this.#saveNow();
  }

  #sendLogon(): void {
    const reset = !this.#resumable || this.#forceReset;
    if (reset) {
      this.#nextInbound = 1;
      this.#nextOutbound = 1;
      this.#resetAcks();
    } else if (this.#o.manualAck === true) {
      // Resume from the first message the application has not made durable, as a restart would:
      // what it could not keep (a journal that stopped writing) is asked for again, and what it
      // did keep comes back as a duplicate it drops.
      this.#nextInbound = this.#safeInbound();
      this.#resetAcks();
    }
    const sendingTime = formatUtcTimestamp(this.#now());
    const signature = signLogon(this.#o.privateKey, {
      sendingTime,
      msgSeqNum: this.#nextOutbound,
      senderCompId: this.#o.senderCompId,
      targetCompId: this.#o.targetCompId,
    });
    const fields: Field[] = [
      [Tag.EncryptMethod, 0],
      [Tag.HeartBtInt, this.#heartbeatS],
    ];
    if (reset) fields.push([Tag.ResetSeqNumFlag, 'Y']);
    fields.push([Tag.DefaultApplVerID, 9], [Tag.RawDataLength, signature.length], [Tag.RawData, signature]);
    if (this.#o.listener !== false) fields.push([Tag.ListenerSession, 'Y'], [Tag.SkipPendingExecReports, 'Y']);
    if (this.#o.targetCompId === RT && this.#o.messageRetentionHours !== undefined)
      fields.push([Tag.MessageRetentionPeriod, this.#o.messageRetentionHours]);
    fields.push(...(this.#o.extraLogonFields ?? []));
    this.#transition('logon_sent');
    this.#send(MsgType.Logon, fields, sendingTime);
    this.#logonTimer = setTimeout(() => {
      if (this.#state !== 'logon_sent') return;
      this.#fail(
        new ListenerError(
          'ERR_FIX_LOGON_TIMEOUT',
          `no Logon reply from ${this.#o.targetCompId} within ${this.#o.logonTimeoutMs ?? 10_000} ms`,
        ),
      );
    }, this.#o.logonTimeoutMs ?? 10_000);
  }

  #sendLogout(text: string | undefined): void {
    this.#transition('logout_sent');
    this.#send(MsgType.Logout, text === undefined ? [] : [[Tag.Text, text]]);
    this.#emit({ kind: 'logout', initiator: 'listener', text });
    clearInterval(this.#heartbeatTimer);
    this.#logoutTimer = setTimeout(() => this.#socket?.destroy(), this.#o.logoutTimeoutMs ?? 2000);
  }

  // ── inbound ─────────────────────────────────────────────────────────────────────────────────

  #onMessage(message: FixMessage): void {
    this.#lastReceivedAt = this.#chunkReceivedAt;
    this.#counters.messagesIn++;
    this.#byType.set(message.msgType, (this.#byType.get(message.msgType) ?? 0) + 1);
    if (this.#state === 'logon_sent') {
      this.#onLogonReply(message);
      return;
    }
    if (this.#state !== 'active' && this.#state !== 'logout_sent') return;
    this.#sequence(message, this.#chunkReceivedAt);
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
    clearTimeout(this.#logonTimer);
    if (message.msgType === MsgType.Logout) {
      const text = message.get(Tag.Text);
      // Kalshi keeps a dead connection for ~2 × HeartBtInt before it frees the key.
      if (text !== undefined && /already exists/i.test(text)) this.#minNextDelayMs = 2 * this.#heartbeatS * 1000;
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
      this.#nextInbound = 1;
      this.#resetAcks();
    } else if (message.seqNum < this.#nextInbound) {
      // A resumed logon answered below our position: the exchange lost its numbering. Resuming
      // cannot work; log on fresh (141=Y) next time and report the hole it may leave.
      this.#forceReset = true;
      this.#fail(
        new ListenerError(
          'ERR_FIX_SEQ_TOO_LOW',
          `Logon reply MsgSeqNum ${message.seqNum} is below expected ${this.#nextInbound}; reconnecting with ResetSeqNumFlag=Y`,
          {
            details: { received: message.seqNum, expected: this.#nextInbound },
          },
        ),
      );
      return;
    }
    this.#forceReset = false;
    this.#adoptedOutbound = false;
    this.#transition('active');
    this.#loggedOnAt = this.#now();
    this.#checkClock(message);
    // The back-off is not reset here: a peer that logs us out right after every Logon must not get
    // a Logon a second. It resets once the session proves healthy (#startHeartbeat, #process).
    this.#counters.logons++;
    this.#emit({
      kind: 'logon',
      heartbeatIntervalS: this.#heartbeatS,
      reset,
      nextInbound: this.#nextInbound,
      nextOutbound: this.#nextOutbound,
    });
    this.#startHeartbeat();
    this.#sequence(message, this.#chunkReceivedAt);
  }

  /** Sequence check for every message after the Logon was sent (the Logon reply included). */
  #sequence(message: FixMessage, receivedAt: number): void {
    const seq = message.seqNum;
    const type = message.msgType;
    if (seq === 0) {
      this.#fail(new ListenerError('ERR_FIX_PROTOCOL', `message 35=${type} has no MsgSeqNum(34)`));
      return;
    }
    // SequenceReset-Reset ignores sequence numbers by definition.
    if (type === MsgType.SequenceReset && !message.getFlag(Tag.GapFillFlag)) {
      this.#onSequenceReset(message, false);
      return;
    }
    if (seq < this.#nextInbound) {
      if (message.getFlag(Tag.PossDupFlag)) {
        this.#counters.duplicatesDropped++;
        this.#emit({ kind: 'duplicate', seqNum: seq });
        return;
      }
      this.#fail(
        new ListenerError(
          'ERR_FIX_SEQ_TOO_LOW',
          `MsgSeqNum ${seq} is lower than expected ${this.#nextInbound} and not a PossDup`,
          { details: { received: seq, expected: this.#nextInbound } },
        ),
      );
      return;
    }
    if (seq > this.#nextInbound) {
      this.#onGap(message, receivedAt);
      return;
    }
    this.#process(message, receivedAt);
    if (this.#held.size > 0) this.#drainHeld();
  }

  #onGap(message: FixMessage, receivedAt: number): void {
    const seq = message.seqNum;
    if (message.msgType === MsgType.Logout) {
      this.#onLogout(message);
      return;
    }
    if (this.#o.targetCompId !== RT) {
      // KalshiNR cannot retransmit: keep what we have, record the hole, start clean (141=Y).
      // (The range is taken before the message moves the expected number past it.)
      const from = this.#nextInbound;
      this.#counters.gaps++;
      this.#emit({ kind: 'gap', from, to: seq - 1, action: 'reconnect' });
      this.#process(message, receivedAt);
      this.#fail(
        new ListenerError(
          'ERR_FIX_SEQ_GAP',
          `sequence gap ${from}..${seq - 1} on ${this.#o.targetCompId}, which cannot retransmit; reconnecting`,
          { details: { from, to: seq - 1 } },
        ),
      );
      return;
    }
    if (this.#held.size >= (this.#o.maxHeldMessages ?? 100_000)) {
      this.#fail(
        new ListenerError(
          'ERR_FIX_SEQ_GAP',
          `gap recovery holds ${this.#held.size} messages; reconnecting to resume from ${this.#nextInbound}`,
        ),
      );
      return;
    }
    // A probe is answered even while a gap is open (as QuickFIX does), or the exchange drops us.
    if (message.msgType === MsgType.TestRequest) this.#answerTestRequest(message);
    this.#held.set(seq, { message, receivedAt });
    if (this.#recoveryTarget === 0) {
      this.#counters.gaps++;
      this.#counters.resendRequests++;
      this.#recoveryFrom = this.#nextInbound;
      this.#recoveryTarget = seq;
      this.#recoveryStartedAt = this.#now();
      this.#emit({ kind: 'gap', from: this.#nextInbound, to: seq - 1, action: 'resend_request' });
      // EndSeqNo 0 = "through the latest": one request also covers whatever arrives meanwhile.
      this.#send(MsgType.ResendRequest, [
        [Tag.BeginSeqNo, this.#nextInbound],
        [Tag.EndSeqNo, 0],
      ]);
    } else if (seq > this.#recoveryTarget) {
      this.#recoveryTarget = seq;
    }
  }

  /** Releases held messages that are now in order. */
  #drainHeld(): void {
    for (;;) {
      const next = this.#held.get(this.#nextInbound);
      if (next === undefined) break;
      this.#held.delete(this.#nextInbound);
      this.#process(next.message, next.receivedAt);
      if (this.#state !== 'active') return;
    }
    // Anything older than the expected seq was superseded by its resend.
    for (const seq of this.#held.keys()) if (seq < this.#nextInbound) this.#held.delete(seq);
    if (this.#recoveryTarget > 0 && this.#held.size === 0 && this.#nextInbound > this.#recoveryTarget) {
      // The range that was missing (not what was held after it).
      const from = this.#recoveryFrom;
      const to = this.#recoveryTarget - 1;
      this.#recoveryTarget = 0;
      this.#emit({ kind: 'gap_filled', from, to });
    }
  }

  #releaseHeld(): void {
    // Held messages are past a gap: never deliver them out of order; the resume re-requests them.
    this.#held.clear();
    this.#recoveryTarget = 0;
  }

  /** In-sequence message: advance the expected seq and act on it. */
  #process(message: FixMessage, receivedAt: number): void {
    const seq = message.seqNum;
    switch (message.msgType) {
      case MsgType.Heartbeat:
        if (this.#testRequestPending !== undefined && message.get(Tag.TestReqID) === this.#testRequestPending)
          this.#testRequestPending = undefined;
        this.#nextInbound = seq + 1;
        return;
      case MsgType.TestRequest:
        this.#nextInbound = seq + 1;
        this.#answerTestRequest(message);
        return;
      case MsgType.ResendRequest:
        this.#nextInbound = seq + 1;
        this.#answerResendRequest(message);
        return;
      case MsgType.SequenceReset:
        this.#onSequenceReset(message, true);
        return;
      case MsgType.Logon:
        this.#nextInbound = seq + 1;
        return;
      case MsgType.Logout:
        this.#nextInbound = seq + 1;
        this.#onLogout(message);
        return;
      case MsgType.Reject:
      case MsgType.BusinessMessageReject:
        this.#nextInbound = seq + 1;
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
        return;
      default:
        this.#nextInbound = seq + 1;
        this.#counters.applicationMessages++;
        if (this.#reconnectBackoff.attempts > 0) this.#reconnectBackoff.reset(); // a healthy session
        if (this.#o.manualAck === true) this.#unacked.push(seq);
        else this.#scheduleSave();
        this.#o.onApplicationMessage?.(message, {
          receivedAt,
          source: message.getFlag(Tag.PossDupFlag) ? 'resend' : 'live',
        });
    }
  }

  #onSequenceReset(message: FixMessage, gapFill: boolean): void {
    const newSeqNo = message.getInt(Tag.NewSeqNo);
    if (newSeqNo === undefined) {
      this.#fail(new ListenerError('ERR_FIX_PROTOCOL', 'SequenceReset without NewSeqNo(36)'));
      return;
    }
    if (newSeqNo < this.#nextInbound) {
      // Never move backwards: that would re-deliver, or worse, hide a real reset problem.
      this.#fail(
        new ListenerError(
          'ERR_FIX_SEQ_TOO_LOW',
          `SequenceReset to ${newSeqNo} would move below expected ${this.#nextInbound}`,
          { details: { newSeqNo, expected: this.#nextInbound } },
        ),
      );
      return;
    }
    this.#emit({ kind: 'sequence_reset', newSeqNo, gapFill });
    const skippedFrom = this.#nextInbound;
    // Messages held below the new number reached us live, and the peer will not send them again
    // (some engines gap-fill through the message that revealed the gap): deliver them, in order,
    // rather than drop them. Only session-level ones are let go.
    const covered = [...this.#held.keys()].filter((seq) => seq < newSeqNo).sort((a, b) => a - b);
    for (const seq of covered) {
      const held = this.#held.get(seq)!;
      this.#held.delete(seq);
      if (ADMIN_MSG_TYPES.has(held.message.msgType)) continue;
      this.#nextInbound = seq;
      this.#process(held.message, held.receivedAt);
      if (this.#state !== 'active') return;
    }
    this.#nextInbound = newSeqNo;
    if (!gapFill && this.#recoveryTarget > 0 && newSeqNo > this.#recoveryTarget) this.#recoveryTarget = newSeqNo - 1;
    if (skippedFrom !== newSeqNo) this.#scheduleSave();
    if (this.#held.size > 0 || this.#recoveryTarget > 0) this.#drainHeld();
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
    if (text !== undefined && /already exists/i.test(text)) this.#minNextDelayMs = 2 * this.#heartbeatS * 1000;
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
  #checkClock(message: FixMessage): void {
    const sentAt = fixTimestampToEpochMs(message.get(Tag.SendingTime) ?? '');
    if (sentAt === undefined) return;
    const skewMs = sentAt - this.#now();
    this.#clockSkewMs = skewMs;
    if (Math.abs(skewMs) > CLOCK_SKEW_WARNING_MS) this.#emit({ kind: 'clock_skew', skewMs });
  }

  #answerTestRequest(message: FixMessage): void {
    const id = message.get(Tag.TestReqID) ?? '';
    this.#emit({ kind: 'test_request', id });
    this.#send(MsgType.Heartbeat, [[Tag.TestReqID, id]]);
  }

  /** We never send application messages, so any range we are asked for is one GapFill. */
  #answerResendRequest(message: FixMessage): void {
    const begin = message.getInt(Tag.BeginSeqNo) ?? 1;
    const sendingTime = formatUtcTimestamp(this.#now());
    const socket = this.#socket;
    if (socket === undefined) return;
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
    this.#lastSentAt = this.#now();
    this.#counters.messagesOut++;
    socket.write(frame);
  }

  // ── liveness ────────────────────────────────────────────────────────────────────────────────

  #startHeartbeat(): void {
    const intervalMs = this.#heartbeatS * 1000;
    const tick = Math.max(50, Math.min(1000, intervalMs / 4));
    this.#testRequestPending = undefined;
    this.#heartbeatTimer = setInterval(() => {
      if (this.#state !== 'active') return;
      const now = this.#now();
      if (this.#reconnectBackoff.attempts > 0 && now - (this.#loggedOnAt ?? now) >= 2 * intervalMs)
        this.#reconnectBackoff.reset();
      const silentFor = now - (this.#lastReceivedAt ?? now);
      if (silentFor >= 2 * intervalMs) {
        this.#fail(
          new ListenerError(
            'ERR_FIX_HEARTBEAT_TIMEOUT',
            `nothing received from ${this.#o.targetCompId} for ${silentFor} ms (HeartBtInt ${this.#heartbeatS} s)`,
          ),
        );
        return;
      }
      if (silentFor >= intervalMs * 1.2 && this.#testRequestPending === undefined) {
        this.#testRequestPending = `TEST-${++this.#testRequestCounter}`;
        this.#send(MsgType.TestRequest, [[Tag.TestReqID, this.#testRequestPending]]);
      } else if (now - (this.#lastSentAt ?? 0) >= intervalMs) {
        this.#send(MsgType.Heartbeat, []);
      }
      if (
        this.#recoveryTarget > 0 &&
        now - this.#recoveryStartedAt > (this.#o.resendTimeoutMs ?? Math.max(10_000, 4 * intervalMs))
      ) {
        this.#fail(
          new ListenerError(
            'ERR_FIX_SEQ_GAP',
            `resend for ${this.#nextInbound}..${this.#recoveryTarget - 1} did not arrive; reconnecting to resume`,
          ),
        );
      }
    }, tick);
    this.#heartbeatTimer.unref?.();
  }

  // ── persistence (resumable sessions) ────────────────────────────────────────────────────────

  #safeInbound(): number {
    return this.#unacked.peek() ?? this.#nextInbound;
  }

  #resetAcks(): void {
    this.#unacked.clear();
  }

  #scheduleSave(): void {
    if (!this.#resumable || this.#o.store === undefined || this.#saveTimer !== undefined) return;
    // Coalesce: one atomic write per 100 ms at most. Lagging behind is safe (a resume re-requests
    // and the journal drops the duplicates); running ahead would not be.
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      this.#saveNow();
    }, 100);
  }

  #saveNow(): void {
    if (!this.#resumable || this.#o.store === undefined) return;
    const state: SequenceState = { nextInbound: this.#safeInbound(), nextOutbound: this.#nextOutbound };
    this.#saving = this.#o.store.save(state).catch((cause: unknown) => {
      const error = new ListenerError('ERR_SEQUENCE_STORE', 'cannot persist session sequence numbers', { cause });
      this.#lastError = { code: error.code, message: error.message, at: this.#now() };
      this.#emit({ kind: 'error', error });
    });
  }

  #emit(event: SessionEvent): void {
    this.#o.onEvent?.(event);
  }
}

/** The MsgSeqNum a Logout's Text says the exchange expects ("… expecting 39 but received 1"). */
function expectedOutbound(text: string | undefined): number | undefined {
  const match = text === undefined ? null : /MsgSeqNum too low, expecting (\d+)/i.exec(text);
  const value = match === null ? undefined : Number(match[1]);
  return value !== undefined && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

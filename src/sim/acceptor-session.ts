import type { KeyObject } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Clock, TimerHandle } from '../core/clock.js';
import { FixDecoder } from '../fix/decoder.js';
import { encodeMessage, type Field } from '../fix/encoder.js';
import { verifyLogon } from '../fix/logon-signature.js';
import type { FixMessage } from '../fix/message.js';
import { ADMIN_MSG_TYPES, BEGIN_STRING, MsgType, Tag } from '../fix/tags.js';
import { fixTimestampToEpochMs, formatUtcTimestamp } from '../fix/time.js';
import type { Role, SessionBook } from './simulator.js';

/** Fault switches shared by every session of a simulator (mutable on purpose: tests flip them). */
export interface FaultState {
  skipNext: number;
  heartbeatsStopped: boolean;
  skewMs: number;
  corruptNext: number;
}

export interface AcceptorSessionOptions {
  role: Role;
  socket: TLSSocket;
  faults: FaultState;
  minHeartbeatS: number;
  maxClockSkewMs: number;
  maxStoredMessages: number;
  /** The exchange's clock: SendingTime, liveness, and the timers that close a connection. */
  clock: Clock;
  publicKeyOf(apiKey: string): KeyObject | undefined;
  /** KalshiDC: answers an EventResendRequest (U1) with the reports to replay, or a U3 reason. */
  eventResend?(
    apiKey: string,
    beginExecId: string,
    endExecId: string | undefined,
  ): { reports: ReadonlyArray<readonly Field[]> } | { reject: number; text: string };
  isTaken(apiKey: string, target: Role, self: AcceptorSession): boolean;
  book(apiKey: string, reset: boolean): SessionBook;
  log(line: string): void;
  /** After a Logon was accepted and answered. */
  onLogon?(session: AcceptorSession): void;
  onClose(): void;
}

/** Order-entry messages a listener may never send (kalshi-fix-margin.md §4). */
const FORBIDDEN_FOR_LISTENER = new Set(['D', 'F', 'G', 'q', 'UOG', 'R', 'S']);

/**
 * The exchange's side of one connection: waits for a Logon, checks it as Kalshi does, then runs
 * the session layer (heartbeats, TestRequest, sequence checks, RT resends) and carries reports.
 */
export class AcceptorSession {
  readonly role: Role;
  apiKey = '';
  isLoggedOn = false;
  isListening = false;
  /** RawData(96) of the accepted Logon: lets tests prove the signature never reaches a log. */
  logonSignature: string | undefined;
  readonly #o: AcceptorSessionOptions;
  readonly #decoder: FixDecoder;
  #book: SessionBook | undefined;
  #heartbeatS = 30;
  #lastReceivedAt: number;
  #lastSentAt: number;
  #testRequestOut = false;
  #timer: TimerHandle | undefined;
  #lastApp: { seq: number; msgType: string; fields: readonly Field[]; sendingTime: string } | undefined;
  #closed = false;

  constructor(options: AcceptorSessionOptions) {
    this.#o = options;
    this.role = options.role;
    this.#lastReceivedAt = this.#lastSentAt = options.clock.now();
    this.#decoder = new FixDecoder({
      onMessage: (message) => this.#onMessage(message),
      onError: (error) => options.log(`${this.role} decode error ${error.code}: ${error.message}`),
    });
    options.socket.on('data', (chunk: Buffer) => {
      this.#lastReceivedAt = this.#o.clock.now();
      this.#decoder.push(chunk);
    });
    options.socket.on('error', () => undefined);
    options.socket.on('close', () => this.#onClose());
  }

  /** Sends one application message (35=8 etc.), numbered and stored for RT resends. */
  sendApplication(msgType: string, fields: readonly Field[]): void {
    if (!this.isLoggedOn || this.#book === undefined) return;
    this.#lastApp = { seq: this.#book.nextOutbound, msgType, fields, sendingTime: this.#sendingTime() };
    this.#send(msgType, fields, true);
  }

  /** Fault: the last application message again, same seq, PossDupFlag=Y. */
  resendLastApplication(): void {
    const last = this.#lastApp;
    if (last === undefined) return;
    this.#write(last.msgType, last.seq, last.fields, { possDup: true, origSendingTime: last.sendingTime });
  }

  testRequest(id: string): void {
    if (this.isLoggedOn) this.#send(MsgType.TestRequest, [[Tag.TestReqID, id]], false);
  }

  sendSessionMessage(msgType: string, fields: readonly Field[]): void {
    if (this.isLoggedOn) this.#send(msgType, fields, false);
  }

  rewind(n: number): void {
    if (this.#book !== undefined) this.#book.nextOutbound = Math.max(1, this.#book.nextOutbound - n);
  }

  logout(text: string): void {
    if (this.#book === undefined) return;
    this.#send(MsgType.Logout, [[Tag.Text, text]], false);
    this.#o.clock.setTimeout(() => this.destroy(), 200, { ref: false });
  }

  destroy(): void {
    this.#o.socket.destroy();
  }

  // ── inbound ─────────────────────────────────────────────────────────────────────────────────

  #onMessage(message: FixMessage): void {
    if (!this.isLoggedOn) {
      this.#onLogon(message);
      return;
    }
    const book = this.#book!;
    const seq = message.seqNum;
    if (message.msgType === MsgType.SequenceReset) {
      const newSeqNo = message.getInt(Tag.NewSeqNo) ?? book.nextInbound;
      if (newSeqNo >= book.nextInbound) book.nextInbound = newSeqNo;
      return;
    }
    if (seq < book.nextInbound) {
      if (message.getFlag(Tag.PossDupFlag)) return;
      this.#reject(`MsgSeqNum too low, expecting ${book.nextInbound} but received ${seq}`);
      return;
    }
    if (seq > book.nextInbound) {
      if (this.role === 'KalshiRT') {
        this.#send(
          MsgType.ResendRequest,
          [
            [Tag.BeginSeqNo, book.nextInbound],
            [Tag.EndSeqNo, 0],
          ],
          false,
        );
      } else {
        this.#reject(`MsgSeqNum too high, expecting ${book.nextInbound} but received ${seq}`);
        return;
      }
    }
    book.nextInbound = seq + 1;
    switch (message.msgType) {
      case MsgType.Heartbeat:
        this.#testRequestOut = false;
        return;
      case MsgType.TestRequest:
        if (!this.#o.faults.heartbeatsStopped)
          this.#send(MsgType.Heartbeat, [[Tag.TestReqID, message.get(Tag.TestReqID) ?? '']], false);
        return;
      case MsgType.ResendRequest:
        this.#onResendRequest(message);
        return;
      case MsgType.Logout:
        this.#send(MsgType.Logout, [], false);
        this.#o.socket.end();
        return;
      case MsgType.Reject:
        this.#o.log(`${this.role} client sent Reject: ${message.get(Tag.Text) ?? ''}`);
        return;
      default:
        if (ADMIN_MSG_TYPES.has(message.msgType)) return;
        this.#onApplication(message);
    }
  }

  #onLogon(message: FixMessage): void {
    if (message.msgType !== MsgType.Logon) {
      this.#o.log(`${this.role} first message was 35=${message.msgType}, not a Logon: disconnecting`);
      this.destroy();
      return;
    }
    const problem = this.#checkLogon(message);
    const apiKey = message.get(Tag.SenderCompID) ?? '';
    if (problem !== undefined) {
      this.#o.log(`${this.role} Logon from ${apiKey} refused: ${problem}`);
      // A Logout needs a numbering; a refused logon never touches the book, so use 1.
      this.#write(MsgType.Logout, 1, [[Tag.Text, problem]], {}, apiKey);
      this.#o.clock.setTimeout(() => this.destroy(), 100, { ref: false });
      return;
    }
    const reset = message.getFlag(Tag.ResetSeqNumFlag);
    this.apiKey = apiKey;
    this.logonSignature = message.get(Tag.RawData);
    this.#book = this.#o.book(apiKey, reset);
    const book = this.#book;
    const clientSeq = message.seqNum;
    if (!reset && clientSeq < book.nextInbound) {
      this.#write(
        MsgType.Logout,
        book.nextOutbound,
        [[Tag.Text, `MsgSeqNum too low, expecting ${book.nextInbound} but received ${clientSeq}`]],
        {},
        apiKey,
      );
      this.#o.clock.setTimeout(() => this.destroy(), 100, { ref: false });
      return;
    }
    const clientGap = !reset && clientSeq > book.nextInbound;
    const gapFrom = book.nextInbound;
    book.nextInbound = clientSeq + 1;
    this.#heartbeatS = message.getInt(Tag.HeartBtInt) ?? 30;
    this.isLoggedOn = true;
    this.isListening = message.getFlag(Tag.ListenerSession);
    const reply: Field[] = [
      [Tag.EncryptMethod, 0],
      [Tag.HeartBtInt, this.#heartbeatS],
    ];
    if (reset) reply.push([Tag.ResetSeqNumFlag, 'Y']);
    reply.push([Tag.DefaultApplVerID, 9]);
    this.#send(MsgType.Logon, reply, false);
    if (clientGap)
      this.#send(
        MsgType.ResendRequest,
        [
          [Tag.BeginSeqNo, gapFrom],
          [Tag.EndSeqNo, 0],
        ],
        false,
      );
    this.#o.log(
      `${this.role} ${apiKey} logged on (listener=${this.isListening}, reset=${reset}, next out ${book.nextOutbound})`,
    );
    this.#o.onLogon?.(this);
    this.#timer = this.#o.clock.setInterval(
      () => this.#tick(),
      Math.max(50, Math.min(1000, (this.#heartbeatS * 1000) / 4)),
    );
  }

  /** Kalshi's logon rules (kalshi-fix-margin.md §2, §4, §9.2); returns the Logout Text on failure. */
  #checkLogon(m: FixMessage): string | undefined {
    const apiKey = m.get(Tag.SenderCompID) ?? '';
    const target = m.get(Tag.TargetCompID) ?? '';
    if (!m.bytes.toString('latin1', 2, 2 + BEGIN_STRING.length).startsWith(BEGIN_STRING))
      return 'Unsupported BeginString';
    if (target !== this.role) return 'Invalid TargetCompID';
    const publicKey = this.#o.publicKeyOf(apiKey);
    if (publicKey === undefined) return 'Unknown API key';
    if (m.get(Tag.DefaultApplVerID) !== '9') return 'DefaultApplVerID must be 9';
    if (m.get(Tag.EncryptMethod) !== '0') return 'EncryptMethod must be 0';
    const heartbeat = m.getInt(Tag.HeartBtInt) ?? 30;
    if (heartbeat < this.#o.minHeartbeatS) return `HeartBtInt must be at least ${this.#o.minHeartbeatS}`;
    const sendingTime = m.get(Tag.SendingTime) ?? '';
    const sentAt = fixTimestampToEpochMs(sendingTime);
    if (sentAt === undefined || Math.abs(sentAt - this.#o.clock.now()) > this.#o.maxClockSkewMs)
      return 'SendingTime accuracy problem';
    const signature = m.get(Tag.RawData) ?? '';
    if (
      !verifyLogon(
        publicKey,
        { sendingTime, msgSeqNum: m.seqNum, senderCompId: apiKey, targetCompId: target },
        signature,
      )
    )
      return 'Signature error: RawData does not verify';
    if (m.has(Tag.SenderSubID)) return 'SenderSubID is not allowed on Logon';
    const reset = m.getFlag(Tag.ResetSeqNumFlag);
    if ((this.role === 'KalshiNR' || this.role === 'KalshiDC') && !reset)
      return `ResetSeqNumFlag must be Y on ${this.role}`;
    const listener = m.getFlag(Tag.ListenerSession);
    if (listener && this.role === 'KalshiDC') return 'ListenerSession is not supported on KalshiDC';
    if (listener && !m.getFlag(Tag.SkipPendingExecReports))
      return 'ListenerSession requires SkipPendingExecReports=Y: flags not compatible';
    if (listener && m.getFlag(Tag.CancelOrdersOnDisconnect))
      return 'ListenerSession is not compatible with CancelOrdersOnDisconnect=Y';
    if (this.#o.isTaken(apiKey, this.role, this)) return 'Session already exists';
    return undefined;
  }

  #onResendRequest(message: FixMessage): void {
    const book = this.#book!;
    if (this.role !== 'KalshiRT') {
      this.#send(
        MsgType.Reject,
        [
          [Tag.RefSeqNum, message.seqNum],
          [Tag.RefMsgType, MsgType.ResendRequest],
          [Tag.SessionRejectReason, 11],
          [Tag.Text, `ResendRequest is not supported on ${this.role}`],
        ],
        false,
      );
      return;
    }
    const begin = Math.max(1, message.getInt(Tag.BeginSeqNo) ?? 1);
    const endRequested = message.getInt(Tag.EndSeqNo) ?? 0;
    // The ResendRequest itself was numbered already; everything before it is eligible.
    const last = book.nextOutbound - 1;
    const end = endRequested === 0 || endRequested > last ? last : endRequested;
    let gapStart = 0;
    const flushGap = (upTo: number): void => {
      if (gapStart === 0) return;
      this.#write(
        MsgType.SequenceReset,
        gapStart,
        [
          [Tag.GapFillFlag, 'Y'],
          [Tag.NewSeqNo, upTo],
        ],
        { possDup: true, origSendingTime: this.#sendingTime() },
      );
      gapStart = 0;
    };
    for (let seq = begin; seq <= end; seq++) {
      const stored = book.sent.get(seq);
      if (stored === undefined) {
        if (gapStart === 0) gapStart = seq;
        continue;
      }
      flushGap(seq);
      this.#write(stored.msgType, seq, stored.fields, { possDup: true, origSendingTime: stored.sendingTime });
    }
    flushGap(end + 1);
  }

  #onApplication(message: FixMessage): void {
    if (this.role === 'KalshiDC' && message.msgType === 'U1') {
      this.#onEventResendRequest(message);
      return;
    }
    if (this.isListening && FORBIDDEN_FOR_LISTENER.has(message.msgType)) {
      this.#send(
        MsgType.BusinessMessageReject,
        [
          [Tag.RefSeqNum, message.seqNum],
          [Tag.RefMsgType, message.msgType],
          [Tag.BusinessRejectReason, 6],
          [Tag.Text, `Listener session may not send 35=${message.msgType}`],
        ],
        false,
      );
      return;
    }
    this.#send(
      MsgType.BusinessMessageReject,
      [
        [Tag.RefSeqNum, message.seqNum],
        [Tag.RefMsgType, message.msgType],
        [Tag.BusinessRejectReason, 3],
        [Tag.Text, 'Unsupported message type'],
      ],
      false,
    );
  }

  /** Drop copy: replay with new sequence numbers, then U2 with the count — or U3 with a reason. */
  #onEventResendRequest(message: FixMessage): void {
    const begin = message.get(21001);
    const answer =
      begin === undefined
        ? { reject: 2, text: 'BeginExecID(21001) is required' }
        : this.#o.eventResend?.(this.apiKey, begin, message.get(21002));
    if (answer === undefined || 'reject' in answer) {
      this.#send(
        'U3',
        [
          [Tag.RefSeqNum, message.seqNum],
          [21004, answer?.reject ?? 2],
          [Tag.Text, answer?.text ?? 'drop copy unavailable'],
        ],
        false,
      );
      return;
    }
    for (const fields of answer.reports) this.#send(MsgType.ExecutionReport, fields, true);
    this.#send(
      'U2',
      [
        [Tag.RefSeqNum, message.seqNum],
        [21003, answer.reports.length],
      ],
      false,
    );
  }

  #reject(text: string): void {
    this.#o.log(`${this.role} ${this.apiKey}: ${text}; logging out`);
    this.#send(MsgType.Logout, [[Tag.Text, text]], false);
    this.#o.clock.setTimeout(() => this.destroy(), 100, { ref: false });
  }

  // ── outbound ────────────────────────────────────────────────────────────────────────────────

  #sendingTime(): string {
    return formatUtcTimestamp(this.#o.clock.now() + this.#o.faults.skewMs);
  }

  /** Numbers, stores (RT app messages) and writes — unless a fault swallows or corrupts it. */
  #send(msgType: string, fields: readonly Field[], application: boolean): void {
    const book = this.#book!;
    const seq = book.nextOutbound++;
    const sendingTime = this.#sendingTime();
    if (application && this.role === 'KalshiRT') {
      book.sent.set(seq, { fields, msgType, sendingTime });
      if (book.sent.size > this.#o.maxStoredMessages) book.sent.delete(book.sent.keys().next().value!);
    }
    if (this.#o.faults.skipNext > 0) {
      this.#o.faults.skipNext--;
      return;
    }
    this.#write(msgType, seq, fields, {}, undefined, sendingTime);
  }

  #write(
    msgType: string,
    seq: number,
    fields: readonly Field[],
    extra: { possDup?: boolean; origSendingTime?: string },
    to = this.apiKey,
    sendingTime = this.#sendingTime(),
  ): void {
    if (this.#closed) return;
    const frame = encodeMessage(
      msgType,
      { senderCompId: this.role, targetCompId: to, msgSeqNum: seq, sendingTime, ...extra },
      fields,
    );
    if (this.#o.faults.corruptNext > 0) {
      this.#o.faults.corruptNext--;
      // Flip the last CheckSum digit: framing stays intact, the sum is wrong.
      const digit = frame.length - 2;
      frame[digit] = frame[digit] === 0x39 ? 0x30 : frame[digit]! + 1;
    }
    this.#lastSentAt = this.#o.clock.now();
    this.#o.socket.write(frame);
  }

  #tick(): void {
    if (this.#o.faults.heartbeatsStopped) return;
    const now = this.#o.clock.now();
    const intervalMs = this.#heartbeatS * 1000;
    if (now - this.#lastReceivedAt > 2 * intervalMs) {
      this.#o.log(`${this.role} ${this.apiKey}: no traffic for ${now - this.#lastReceivedAt} ms; disconnecting`);
      this.destroy();
      return;
    }
    if (now - this.#lastReceivedAt > intervalMs * 1.2 && !this.#testRequestOut) {
      this.#testRequestOut = true;
      this.#send(MsgType.TestRequest, [[Tag.TestReqID, `SIM-${now}`]], false);
    } else if (now - this.#lastSentAt >= intervalMs) {
      this.#send(MsgType.Heartbeat, [], false);
    }
  }

  #onClose(): void {
    this.#closed = true;
    this.isLoggedOn = false;
    this.isListening = false;
    this.#o.clock.clearInterval(this.#timer);
    this.#o.onClose();
  }
}

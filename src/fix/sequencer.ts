import { ListenerError } from '../core/errors.js';
import { HeadQueue } from '../core/head-queue.js';
import { ADMIN_MSG_TYPES, MsgType, Tag } from './tags.js';

/** What the sequencer reads of a message: a FixMessage, or a stand-in in tests. */
export interface SequencedMessage {
  readonly msgType: string;
  /** MsgSeqNum(34); 0 when absent. */
  readonly seqNum: number;
  get(tag: number): string | undefined;
  getInt(tag: number): number | undefined;
  getFlag(tag: number): boolean;
}

/**
 * What the connection driver must do, in order, for one inbound message (or one tick). The
 * sequencer decides; it never touches a socket, a timer or a file.
 */
export type SequencerAction<M extends SequencedMessage = SequencedMessage> =
  /** An application message, in MsgSeqNum order, exactly once per connection. */
  | { type: 'deliver'; message: M; receivedAt: number; source: 'live' | 'resend' }
  /** An in-order Heartbeat: clears a TestRequest whose id it echoes. */
  | { type: 'heartbeat'; testReqId: string | undefined }
  /** A TestRequest to answer with a Heartbeat now (once, even if it was held behind a gap). */
  | { type: 'answer_test_request'; testReqId: string }
  /** The exchange asks us to resend from `begin`: we only ever answer with one GapFill. */
  | { type: 'answer_resend_request'; begin: number }
  /** Send ResendRequest(BeginSeqNo = from, EndSeqNo = to; 0 is "through the latest"). */
  | { type: 'resend_request'; from: number; to: number }
  | { type: 'reject'; message: M }
  /** The exchange logged us out (or acknowledged our Logout): the sequencer stops here. */
  | { type: 'logout'; message: M }
  | { type: 'duplicate'; seqNum: number }
  | { type: 'gap'; from: number; to: number; action: 'resend_request' | 'reconnect' }
  | { type: 'gap_filled'; from: number; to: number }
  | { type: 'sequence_reset'; newSeqNo: number; gapFill: boolean }
  /** The expected number moved without a delivery (a SequenceReset): persist it. */
  | { type: 'advanced'; nextInbound: number }
  /** Drop the connection: nothing more is sequenced until `connectionClosed()`. */
  | { type: 'disconnect'; error: ListenerError };

export interface SequencerOptions {
  /** The exchange can retransmit (KalshiRT): gaps are resent; otherwise a gap ends the connection. */
  retransmits: boolean;
  /** Messages held behind a gap; past this the sequencer asks for a reconnect instead. */
  maxHeldMessages?: number;
  /** A resend that has not closed its gap in this time ends the connection (resumed later). */
  resendTimeoutMs: number;
  /**
   * Application messages count as processed only once `acknowledge()` passes them: `safeInbound`
   * never runs ahead of what the application made durable.
   */
  manualAck?: boolean;
  /** Name of the counterparty in error texts (the TargetCompID). */
  peer: string;
}

interface Held<M> {
  message: M;
  receivedAt: number;
  /** A TestRequest answered when it arrived, not again when released. */
  answered: boolean;
}

/**
 * Inbound sequence numbering of one FIX session (FIX session protocol, kalshi-fix-margin.md §4):
 * fed each message with its receive time, it returns what to do — deliver, hold behind a gap and
 * ask for a resend, drop a PossDup duplicate, apply a SequenceReset, or disconnect. Pure: no I/O,
 * no clock of its own, so every transition is a plain function call in a test.
 *
 * The returned array is reused: read it before the next call.
 */
export class InboundSequencer<M extends SequencedMessage = SequencedMessage> {
  readonly #o: SequencerOptions;
  readonly #out: SequencerAction<M>[] = [];
  #nextInbound = 1;
  /** Set by a disconnect or a Logout: nothing more is sequenced on this connection. */
  #halted = false;
  // Gap recovery: messages past the gap wait here, by seq, until the resend closes it.
  readonly #held = new Map<number, Held<M>>();
  #recoveryFrom = 0;
  /** The highest seq seen past the gap (0 = not recovering). */
  #recoveryTarget = 0;
  /** The last seq known missing: the resend is complete once we are past it and hold nothing. */
  #missingTo = 0;
  #recoveryStartedAt = 0;
  // Application seqs delivered but not yet acknowledged durable (manualAck), in order.
  readonly #unacked = new HeadQueue<number>();

  constructor(options: SequencerOptions) {
    this.#o = options;
  }

  /** The MsgSeqNum expected next. */
  get nextInbound(): number {
    return this.#nextInbound;
  }

  /** The first MsgSeqNum not yet made durable: where a resume must start. */
  get safeInbound(): number {
    return this.#unacked.peek() ?? this.#nextInbound;
  }

  /** The range being resent, while a gap is open. */
  get recovering(): { from: number; to: number } | undefined {
    return this.#recoveryTarget > 0 ? { from: this.#nextInbound, to: this.#missingTo } : undefined;
  }

  get heldCount(): number {
    return this.#held.size;
  }

  /** Restores a saved position (a resumed session). */
  restore(nextInbound: number): void {
    this.#nextInbound = nextInbound;
  }

  /**
   * A Logon is about to be sent. `reset` (141=Y) numbers from 1; a resume starts from the first
   * message not yet durable, as a restart would: what the application could not keep is asked for
   * again and what it kept comes back as a duplicate it drops.
   */
  beginLogon(reset: boolean): void {
    this.#halted = false;
    if (reset) this.#nextInbound = 1;
    else if (this.#o.manualAck === true) this.#nextInbound = this.safeInbound;
    this.#unacked.clear();
  }

  /** The exchange's Logon reply reset both sides: our saved position no longer applies. */
  resetNumbering(): void {
    this.#nextInbound = 1;
    this.#unacked.clear();
  }

  /** The connection is gone. Held messages are past a gap: the resume asks for them again. */
  connectionClosed(): void {
    this.#held.clear();
    this.#recoveryTarget = 0;
    this.#halted = false;
  }

  /** Marks application messages through `seqNum` durable (manualAck). */
  acknowledge(seqNum: number): void {
    while (this.#unacked.length > 0 && this.#unacked.peek()! <= seqNum) this.#unacked.shift();
  }

  /** One inbound message after the Logon was sent (the Logon reply included). */
  receive(message: M, receivedAt: number): readonly SequencerAction<M>[] {
    const out = this.#out;
    out.length = 0;
    if (this.#halted) return out;
    const seq = message.seqNum;
    const type = message.msgType;
    if (seq === 0) {
      this.#disconnect(new ListenerError('ERR_FIX_PROTOCOL', `message 35=${type} has no MsgSeqNum(34)`));
    } else if (type === MsgType.SequenceReset && !message.getFlag(Tag.GapFillFlag)) {
      // SequenceReset-Reset ignores sequence numbers by definition.
      this.#onSequenceReset(message, false);
    } else if (seq < this.#nextInbound) {
      const possDup = message.getFlag(Tag.PossDupFlag);
      if (possDup && type === MsgType.SequenceReset && (message.getInt(Tag.NewSeqNo) ?? 0) > this.#nextInbound) {
        // A GapFill that starts below us but reaches past us (two resends answered with
        // overlapping ranges): the part we have not seen is still a gap fill. Ignoring it, as the
        // letter of FIX allows, would leave that part open until the resend times out.
        this.#onSequenceReset(message, true);
      } else if (possDup) out.push({ type: 'duplicate', seqNum: seq });
      else
        this.#disconnect(
          new ListenerError(
            'ERR_FIX_SEQ_TOO_LOW',
            `MsgSeqNum ${seq} is lower than expected ${this.#nextInbound} and not a PossDup`,
            { details: { received: seq, expected: this.#nextInbound } },
          ),
        );
    } else if (seq > this.#nextInbound) {
      this.#onGap(message, receivedAt);
    } else {
      this.#process(message, receivedAt, false);
      if (this.#held.size > 0 && !this.#halted) this.#drainHeld();
    }
    return out;
  }

  /** The time passes: a resend that is overdue ends the connection. */
  tick(now: number): readonly SequencerAction<M>[] {
    const out = this.#out;
    out.length = 0;
    if (this.#halted || this.#recoveryTarget === 0) return out;
    if (now - this.#recoveryStartedAt > this.#o.resendTimeoutMs) {
      this.#disconnect(
        new ListenerError(
          'ERR_FIX_SEQ_GAP',
          `resend for ${this.#nextInbound}..${this.#missingTo} did not arrive within ${this.#o.resendTimeoutMs} ms; reconnecting to resume`,
          { details: { from: this.#nextInbound, to: this.#missingTo } },
        ),
      );
    }
    return out;
  }

  #disconnect(error: ListenerError): void {
    this.#halted = true;
    this.#out.push({ type: 'disconnect', error });
  }

  #onGap(message: M, receivedAt: number): void {
    const seq = message.seqNum;
    const out = this.#out;
    if (message.msgType === MsgType.Logout) {
      // A Logout is acted on whatever its number: the exchange is leaving either way.
      this.#halted = true;
      out.push({ type: 'logout', message });
      return;
    }
    if (!this.#o.retransmits) {
      // No retransmission (KalshiNR): keep what we have, record the hole, start clean (141=Y).
      // The range is taken before the message moves the expected number past it.
      const from = this.#nextInbound;
      out.push({ type: 'gap', from, to: seq - 1, action: 'reconnect' });
      this.#process(message, receivedAt, false);
      if (!this.#halted)
        this.#disconnect(
          new ListenerError(
            'ERR_FIX_SEQ_GAP',
            `sequence gap ${from}..${seq - 1} on ${this.#o.peer}, which cannot retransmit; reconnecting`,
            { details: { from, to: seq - 1 } },
          ),
        );
      return;
    }
    if (this.#held.has(seq)) {
      // Held already (a PossDup copy of a message past the gap): the first one stands.
      out.push({ type: 'duplicate', seqNum: seq });
      return;
    }
    const maxHeld = this.#o.maxHeldMessages ?? 100_000;
    if (this.#held.size >= maxHeld) {
      this.#disconnect(
        new ListenerError(
          'ERR_FIX_SEQ_GAP',
          `gap recovery holds ${this.#held.size} messages; reconnecting to resume from ${this.#nextInbound}`,
          { details: { from: this.#nextInbound, held: this.#held.size } },
        ),
      );
      return;
    }
    // A probe is answered even while a gap is open (as QuickFIX does), or the exchange drops us.
    const answered = message.msgType === MsgType.TestRequest;
    if (answered) out.push({ type: 'answer_test_request', testReqId: message.get(Tag.TestReqID) ?? '' });
    this.#held.set(seq, { message, receivedAt, answered });
    if (this.#recoveryTarget === 0) {
      this.#recoveryFrom = this.#nextInbound;
      this.#recoveryTarget = seq;
      this.#missingTo = seq - 1;
      this.#recoveryStartedAt = receivedAt;
      out.push({ type: 'gap', from: this.#nextInbound, to: seq - 1, action: 'resend_request' });
      // EndSeqNo 0 = "through the latest": one request also covers whatever arrives meanwhile.
      out.push({ type: 'resend_request', from: this.#nextInbound, to: 0 });
    } else if (seq > this.#recoveryTarget) {
      // Another hole past what we hold. The open request ran "through the latest" as the engine
      // saw it when it answered, which may be before this hole: ask for exactly this range too
      // (a copy that comes twice is dropped as a PossDup duplicate).
      if (seq > this.#recoveryTarget + 1) {
        const from = this.#recoveryTarget + 1;
        this.#missingTo = seq - 1;
        out.push({ type: 'gap', from, to: seq - 1, action: 'resend_request' });
        out.push({ type: 'resend_request', from, to: seq - 1 });
      }
      this.#recoveryTarget = seq;
    }
  }

  /** Releases held messages that are now in order. */
  #drainHeld(): void {
    for (;;) {
      const next = this.#held.get(this.#nextInbound);
      if (next === undefined) break;
      this.#held.delete(this.#nextInbound);
      this.#process(next.message, next.receivedAt, next.answered);
      if (this.#halted) return;
    }
    // Anything older than the expected seq was superseded by its resend.
    for (const seq of this.#held.keys()) if (seq < this.#nextInbound) this.#held.delete(seq);
    if (this.#recoveryTarget > 0 && this.#held.size === 0 && this.#nextInbound > this.#recoveryTarget) {
      // The range that was missing (not what was held after it).
      const from = this.#recoveryFrom;
      const to = this.#missingTo;
      this.#recoveryTarget = 0;
      this.#out.push({ type: 'gap_filled', from, to });
    }
  }

  /** An in-sequence message: advance the expected number and say what it asks for. */
  #process(message: M, receivedAt: number, answered: boolean): void {
    const seq = message.seqNum;
    const out = this.#out;
    switch (message.msgType) {
      case MsgType.SequenceReset:
        this.#onSequenceReset(message, true);
        return;
      case MsgType.Heartbeat:
        this.#nextInbound = seq + 1;
        out.push({ type: 'heartbeat', testReqId: message.get(Tag.TestReqID) });
        return;
      case MsgType.TestRequest:
        this.#nextInbound = seq + 1;
        if (!answered) out.push({ type: 'answer_test_request', testReqId: message.get(Tag.TestReqID) ?? '' });
        return;
      case MsgType.ResendRequest:
        this.#nextInbound = seq + 1;
        out.push({ type: 'answer_resend_request', begin: message.getInt(Tag.BeginSeqNo) ?? 1 });
        return;
      case MsgType.Logon:
        this.#nextInbound = seq + 1;
        return;
      case MsgType.Logout:
        this.#nextInbound = seq + 1;
        this.#halted = true;
        out.push({ type: 'logout', message });
        return;
      case MsgType.Reject:
      case MsgType.BusinessMessageReject:
        this.#nextInbound = seq + 1;
        out.push({ type: 'reject', message });
        return;
      default:
        this.#nextInbound = seq + 1;
        if (this.#o.manualAck === true) this.#unacked.push(seq);
        out.push({
          type: 'deliver',
          message,
          receivedAt,
          source: message.getFlag(Tag.PossDupFlag) ? 'resend' : 'live',
        });
    }
  }

  #onSequenceReset(message: M, gapFill: boolean): void {
    const newSeqNo = message.getInt(Tag.NewSeqNo);
    if (newSeqNo === undefined) {
      this.#disconnect(new ListenerError('ERR_FIX_PROTOCOL', 'SequenceReset without NewSeqNo(36)'));
      return;
    }
    if (newSeqNo < this.#nextInbound) {
      // Never move backwards: that would re-deliver, or worse, hide a real reset problem.
      this.#disconnect(
        new ListenerError(
          'ERR_FIX_SEQ_TOO_LOW',
          `SequenceReset to ${newSeqNo} would move below expected ${this.#nextInbound}`,
          { details: { newSeqNo, expected: this.#nextInbound } },
        ),
      );
      return;
    }
    this.#out.push({ type: 'sequence_reset', newSeqNo, gapFill });
    const skippedFrom = this.#nextInbound;
    if (this.#held.size > 0) {
      // Messages held below the new number reached us live, and the peer will not send them again
      // (some engines gap-fill through the message that revealed the gap): deliver them, in order,
      // rather than drop them. Only session-level ones are let go.
      const covered = [...this.#held.keys()].filter((seq) => seq < newSeqNo).sort((a, b) => a - b);
      for (const seq of covered) {
        const held = this.#held.get(seq)!;
        this.#held.delete(seq);
        if (ADMIN_MSG_TYPES.has(held.message.msgType)) continue;
        this.#nextInbound = seq;
        this.#process(held.message, held.receivedAt, held.answered);
        if (this.#halted) return;
      }
    }
    this.#nextInbound = newSeqNo;
    if (!gapFill && this.#recoveryTarget > 0 && newSeqNo > this.#recoveryTarget) {
      // A Reset past everything held: nothing below it can come any more.
      this.#recoveryTarget = newSeqNo - 1;
      this.#missingTo = Math.min(this.#missingTo, newSeqNo - 1);
    }
    if (skippedFrom !== newSeqNo) this.#out.push({ type: 'advanced', nextInbound: newSeqNo });
    if (this.#held.size > 0 || this.#recoveryTarget > 0) this.#drainHeld();
  }
}

import { describe, expect, it } from 'vitest';
import { InboundSequencer, type SequencerAction, type SequencerOptions } from '../../src/fix/sequencer.js';
import { message, report, sequenceReset, type FakeMessage } from '../helpers/messages.js';

function sequencer(options: Partial<SequencerOptions> = {}): InboundSequencer<FakeMessage> {
  return new InboundSequencer<FakeMessage>({
    retransmits: true,
    resendTimeoutMs: 10_000,
    peer: 'KalshiRT',
    ...options,
  });
}

/** The actions as plain data (messages by seq), copied out of the reused array. */
function summary(actions: readonly SequencerAction<FakeMessage>[]): unknown[] {
  return actions.map((action) => {
    if (action.type === 'deliver') return { type: 'deliver', seq: action.message.seqNum, source: action.source };
    if (action.type === 'logout' || action.type === 'reject') return { type: action.type, seq: action.message.seqNum };
    if (action.type === 'disconnect') return { type: 'disconnect', code: action.error.code };
    return { ...action };
  });
}

function feed(target: InboundSequencer<FakeMessage>, messages: readonly FakeMessage[], at = 0): unknown[] {
  return messages.flatMap((m) => summary(target.receive(m, at)));
}

function delivered(actions: readonly unknown[]): number[] {
  return actions
    .filter((a): a is { type: 'deliver'; seq: number } => (a as { type: string }).type === 'deliver')
    .map((a) => a.seq);
}

describe('InboundSequencer', () => {
  describe('receive, in sequence', () => {
    it('delivers application messages in order and advances the expected number', () => {
      // Prepare
      const target = sequencer();

      // Act
      const actions = feed(target, [message('A', 1), report(2), report(3)], 42);

      // Assess
      expect(actions).toEqual([
        { type: 'deliver', seq: 2, source: 'live' },
        { type: 'deliver', seq: 3, source: 'live' },
      ]);
      expect(target.nextInbound).toBe(4);
      expect(target.recovering).toBeUndefined();
    });

    it('hands the receive time through with the delivery', () => {
      // Prepare
      const target = sequencer();

      // Act
      const [action] = target.receive(report(1), 1234);

      // Assess
      expect(action).toMatchObject({ type: 'deliver', receivedAt: 1234, source: 'live' });
    });

    it('asks for a TestRequest to be answered, a ResendRequest to be gap-filled, a Reject to be reported', () => {
      // Prepare
      const target = sequencer();

      // Act
      const actions = feed(target, [
        message('1', 1, { 112: 'PROBE' }),
        message('2', 2, { 7: 1, 16: 0 }),
        message('3', 3, { 45: 9 }),
        message('0', 4, { 112: 'T-1' }),
      ]);

      // Assess
      expect(actions).toEqual([
        { type: 'answer_test_request', testReqId: 'PROBE' },
        { type: 'answer_resend_request', begin: 1 },
        { type: 'reject', seq: 3 },
        { type: 'heartbeat', testReqId: 'T-1' },
      ]);
      expect(target.nextInbound).toBe(5);
    });

    it('stops at a Logout: nothing after it is sequenced on this connection', () => {
      // Prepare
      const target = sequencer();

      // Act
      const actions = feed(target, [report(1), message('5', 2, { 58: 'bye' }), report(3)]);

      // Assess
      expect(actions).toEqual([
        { type: 'deliver', seq: 1, source: 'live' },
        { type: 'logout', seq: 2 },
      ]);
      expect(target.nextInbound).toBe(3);
    });

    it('disconnects on a message without MsgSeqNum', () => {
      // Act
      const actions = feed(sequencer(), [report(0)]);

      // Assess
      expect(actions).toEqual([{ type: 'disconnect', code: 'ERR_FIX_PROTOCOL' }]);
    });
  });

  describe('receive, below the expected number', () => {
    it('drops a PossDup duplicate', () => {
      // Prepare
      const target = sequencer();
      feed(target, [report(1), report(2)]);

      // Act
      const actions = feed(target, [report(1, { possDup: true })]);

      // Assess
      expect(actions).toEqual([{ type: 'duplicate', seqNum: 1 }]);
      expect(target.nextInbound).toBe(3);
    });

    it('disconnects with ERR_FIX_SEQ_TOO_LOW when it is not a PossDup, and then ignores input', () => {
      // Prepare
      const target = sequencer();
      feed(target, [report(1), report(2)]);

      // Act
      const actions = feed(target, [report(1), report(3)]);

      // Assess
      expect(actions).toEqual([{ type: 'disconnect', code: 'ERR_FIX_SEQ_TOO_LOW' }]);
      expect(target.nextInbound).toBe(3);
    });
  });

  describe('receive, past a gap, on a session that retransmits', () => {
    it('holds what is past the gap, asks once for a resend through the latest, and releases in order', () => {
      // Prepare
      const target = sequencer();
      feed(target, [report(1)]);

      // Act: 2..3 missing, then 4 and 5 arrive live, then the resend.
      const gap = feed(target, [report(4), report(5)]);
      const recovering = target.recovering;
      const resend = feed(target, [report(2, { possDup: true }), report(3, { possDup: true })]);

      // Assess
      expect(gap).toEqual([
        { type: 'gap', from: 2, to: 3, action: 'resend_request' },
        { type: 'resend_request', from: 2, to: 0 },
      ]);
      expect(recovering).toEqual({ from: 2, to: 3 });
      expect(resend).toEqual([
        { type: 'deliver', seq: 2, source: 'resend' },
        { type: 'deliver', seq: 3, source: 'resend' },
        { type: 'deliver', seq: 4, source: 'live' },
        { type: 'deliver', seq: 5, source: 'live' },
        { type: 'gap_filled', from: 2, to: 3 },
      ]);
      expect(target.heldCount).toBe(0);
      expect(target.recovering).toBeUndefined();
    });

    it('asks for a second hole found while the first is being resent, by its exact range', () => {
      // Prepare: 2 missing, 3 held.
      const target = sequencer();
      feed(target, [report(1), report(3)]);

      // Act: 4..5 missing as well, 6 held; then the resend of 2 and of 4..5.
      const second = feed(target, [report(6)]);
      const recovering = target.recovering;
      const resend = feed(target, [
        report(2, { possDup: true }),
        report(4, { possDup: true }),
        report(5, { possDup: true }),
      ]);

      // Assess
      expect(second).toEqual([
        { type: 'gap', from: 4, to: 5, action: 'resend_request' },
        { type: 'resend_request', from: 4, to: 5 },
      ]);
      expect(recovering).toEqual({ from: 2, to: 5 });
      expect(delivered(resend)).toEqual([2, 3, 4, 5, 6]);
      expect(resend.at(-1)).toEqual({ type: 'gap_filled', from: 2, to: 5 });
    });

    it('answers a TestRequest that arrives past the gap at once, and not again when it is released', () => {
      // Prepare
      const target = sequencer();
      feed(target, [report(1)]);

      // Act
      const held = feed(target, [message('1', 3, { 112: 'P' })]);
      const released = feed(target, [report(2, { possDup: true })]);

      // Assess
      expect(held).toEqual([
        { type: 'answer_test_request', testReqId: 'P' },
        { type: 'gap', from: 2, to: 2, action: 'resend_request' },
        { type: 'resend_request', from: 2, to: 0 },
      ]);
      expect(released).toEqual([
        { type: 'deliver', seq: 2, source: 'resend' },
        { type: 'gap_filled', from: 2, to: 2 },
      ]);
    });

    it('acts on a Logout whatever its number', () => {
      // Act
      const actions = feed(sequencer(), [message('5', 9)]);

      // Assess
      expect(actions).toEqual([{ type: 'logout', seq: 9 }]);
    });

    it('asks for a reconnect instead of holding more than maxHeldMessages', () => {
      // Prepare
      const target = sequencer({ maxHeldMessages: 2 });

      // Act
      const actions = feed(target, [report(3), report(4), report(5)]);

      // Assess
      expect(actions.at(-1)).toEqual({ type: 'disconnect', code: 'ERR_FIX_SEQ_GAP' });
      expect(target.heldCount).toBe(2);
    });

    it('delivers a held live report that a GapFill runs over instead of dropping it', () => {
      // Prepare: 1 in, 2..4 missing, 5 held.
      const target = sequencer();
      feed(target, [report(1), report(5)]);

      // Act: the peer gap-fills 2 through 6, covering the live report at 5.
      const actions = feed(target, [sequenceReset(2, 7)]);

      // Assess
      expect(actions).toEqual([
        { type: 'sequence_reset', newSeqNo: 7, gapFill: true },
        { type: 'deliver', seq: 5, source: 'live' },
        { type: 'advanced', nextInbound: 7 },
        { type: 'gap_filled', from: 2, to: 4 },
      ]);
      expect(target.nextInbound).toBe(7);
    });
  });

  describe('receive, past a gap, on a session that cannot retransmit', () => {
    it('delivers the message, reports the exact range and disconnects', () => {
      // Prepare
      const target = sequencer({ retransmits: false, peer: 'KalshiNR' });
      feed(target, [report(1), report(2), report(3), report(4)]);

      // Act
      const actions = feed(target, [report(5 + 1)]);

      // Assess: the range is 5..5, not "6..4".
      expect(actions).toEqual([
        { type: 'gap', from: 5, to: 5, action: 'reconnect' },
        { type: 'deliver', seq: 6, source: 'live' },
        { type: 'disconnect', code: 'ERR_FIX_SEQ_GAP' },
      ]);
    });
  });

  describe('receive, SequenceReset', () => {
    it('GapFill moves the expected number forward and asks for it to be saved', () => {
      // Prepare
      const target = sequencer();
      feed(target, [report(1)]);

      // Act
      const actions = feed(target, [sequenceReset(2, 10), report(10)]);

      // Assess
      expect(actions).toEqual([
        { type: 'sequence_reset', newSeqNo: 10, gapFill: true },
        { type: 'advanced', nextInbound: 10 },
        { type: 'deliver', seq: 10, source: 'live' },
      ]);
    });

    it('Reset mode ignores the message number', () => {
      // Prepare
      const target = sequencer();
      feed(target, [report(1), report(2)]);

      // Act: a Reset numbered 1 (below expected) is still applied.
      const actions = feed(target, [sequenceReset(1, 20, { reset: true })]);

      // Assess
      expect(actions).toEqual([
        { type: 'sequence_reset', newSeqNo: 20, gapFill: false },
        { type: 'advanced', nextInbound: 20 },
      ]);
      expect(target.nextInbound).toBe(20);
    });

    it('applies the unseen part of a GapFill that starts below the expected number (overlapping resends)', () => {
      // Prepare: 1..3 in; 4 and 5 missing; 6 held.
      const target = sequencer();
      feed(target, [report(1), report(2), report(3), report(6)]);

      // Act: a GapFill numbered 3 (already seen) that runs through 5.
      const actions = feed(target, [sequenceReset(3, 6)]);

      // Assess
      expect(delivered(actions)).toEqual([6]);
      expect(target.nextInbound).toBe(7);
      expect(target.recovering).toBeUndefined();
    });

    it('drops a PossDup GapFill that ends at or below the expected number as a duplicate', () => {
      // Prepare
      const target = sequencer();
      feed(target, [report(1), report(2), report(3)]);

      // Act
      const actions = feed(target, [sequenceReset(1, 3)]);

      // Assess
      expect(actions).toEqual([{ type: 'duplicate', seqNum: 1 }]);
      expect(target.nextInbound).toBe(4);
    });

    it('refuses to move backwards', () => {
      // Prepare
      const target = sequencer();
      feed(target, [report(1), report(2), report(3)]);

      // Act
      const actions = feed(target, [sequenceReset(1, 2, { reset: true })]);

      // Assess
      expect(actions).toEqual([{ type: 'disconnect', code: 'ERR_FIX_SEQ_TOO_LOW' }]);
      expect(target.nextInbound).toBe(4);
    });

    it('refuses one without NewSeqNo', () => {
      // Act
      const actions = feed(sequencer(), [message('4', 1, { 123: 'Y' })]);

      // Assess
      expect(actions).toEqual([{ type: 'disconnect', code: 'ERR_FIX_PROTOCOL' }]);
    });
  });

  describe('tick', () => {
    it('does nothing while no gap is open', () => {
      // Act + Assess
      expect(sequencer().tick(1e12)).toEqual([]);
    });

    it('ends the connection when a resend is overdue, naming the range', () => {
      // Prepare: a gap opened at t = 1000.
      const target = sequencer({ resendTimeoutMs: 5000 });
      feed(target, [report(1), report(4)], 1000);

      // Act
      const early = summary(target.tick(6000));
      const late = target.tick(6001);

      // Assess
      expect(early).toEqual([]);
      expect(late).toHaveLength(1);
      expect(late[0]).toMatchObject({
        type: 'disconnect',
        error: { code: 'ERR_FIX_SEQ_GAP', details: { from: 2, to: 3 } },
      });
    });
  });

  describe('connectionClosed and beginLogon', () => {
    it('forgets held messages and the open gap, and sequences again on the next connection', () => {
      // Prepare
      const target = sequencer();
      feed(target, [report(1), report(5), message('5', 6)]);

      // Act
      target.connectionClosed();
      target.beginLogon(false);
      const actions = feed(target, [message('A', 2), report(3)]);

      // Assess
      expect(target.heldCount).toBe(0);
      expect(actions).toEqual([{ type: 'deliver', seq: 3, source: 'live' }]);
    });

    it('numbers from 1 again on a reset Logon', () => {
      // Prepare
      const target = sequencer();
      feed(target, [report(1), report(2)]);

      // Act
      target.connectionClosed();
      target.beginLogon(true);

      // Assess
      expect(target.nextInbound).toBe(1);
    });

    it('resumes from the first message not acknowledged durable (manualAck)', () => {
      // Prepare
      const target = sequencer({ manualAck: true });
      feed(target, [report(1), report(2), report(3), report(4)]);
      target.acknowledge(2);
      const safe = target.safeInbound;

      // Act
      target.connectionClosed();
      target.beginLogon(false);

      // Assess
      expect(safe).toBe(3);
      expect(target.nextInbound).toBe(3);
      expect(target.safeInbound).toBe(3);
    });
  });

  describe('acknowledge', () => {
    it('moves safeInbound only past acknowledged messages', () => {
      // Prepare
      const target = sequencer({ manualAck: true });
      feed(target, [report(1), message('0', 2), report(3)]);

      // Act + Assess
      expect(target.safeInbound).toBe(1);
      target.acknowledge(1);
      expect(target.safeInbound).toBe(3);
      target.acknowledge(3);
      expect(target.safeInbound).toBe(4);
    });

    it('without manualAck, safeInbound is the expected number', () => {
      // Prepare
      const target = sequencer();

      // Act
      feed(target, [report(1), report(2)]);

      // Assess
      expect(target.safeInbound).toBe(3);
      expect(delivered(feed(target, [report(3)]))).toEqual([3]);
    });
  });
});

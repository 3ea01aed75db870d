import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InboundSequencer, type SequencerAction } from '../../src/fix/sequencer.js';
import { message, report, sequenceReset, type FakeMessage } from '../helpers/messages.js';

/**
 * Model-based tests of the sequencer. A reference peer keeps its outbound log (what a FIX engine
 * keeps to answer resends) and a random script says what the network and the peer do: send live,
 * lose a frame (a bad checksum drops one), resend an old message as PossDup, answer the open
 * ResendRequest a few frames at a time (reports as PossDup, session messages as GapFill runs),
 * probe with a TestRequest, break the connection and resume, and acknowledge what was delivered.
 * The model says what must come out.
 */

type Kind = 'report' | 'heartbeat' | 'test_request';
interface Logged {
  seq: number;
  kind: Kind | 'logon';
}

type Step =
  | { op: 'live'; kind: Kind }
  | { op: 'lose'; kind: Kind }
  | { op: 'dupe'; back: number }
  | { op: 'replay'; frames: number }
  | { op: 'reconnect' }
  | { op: 'ack' };

const kind = fc.constantFrom<Kind>('report', 'report', 'report', 'heartbeat', 'test_request');
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 10, arbitrary: kind.map((k) => ({ op: 'live' as const, kind: k })) },
  { weight: 3, arbitrary: kind.map((k) => ({ op: 'lose' as const, kind: k })) },
  { weight: 2, arbitrary: fc.nat({ max: 20 }).map((back) => ({ op: 'dupe' as const, back })) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }).map((frames) => ({ op: 'replay' as const, frames })) },
  { weight: 1, arbitrary: fc.constant({ op: 'reconnect' as const }) },
  { weight: 3, arbitrary: fc.constant({ op: 'ack' as const }) },
);

/** The frame the peer sends for a log entry, live or as a PossDup copy. */
function frame(entry: Logged, possDup: boolean): FakeMessage {
  switch (entry.kind) {
    case 'report':
      return report(entry.seq, { possDup });
    case 'heartbeat':
      return message('0', entry.seq, possDup ? { 43: 'Y' } : {});
    case 'test_request':
      return message('1', entry.seq, { 112: `T${entry.seq}`, ...(possDup ? { 43: 'Y' } : {}) });
    case 'logon':
      return message('A', entry.seq, possDup ? { 43: 'Y' } : {});
  }
}

/** What an engine resends for [from, through]: reports as PossDup, runs of the rest as one GapFill. */
function replay(log: readonly Logged[], from: number, through: number): FakeMessage[] {
  const out: FakeMessage[] = [];
  let seq = from;
  while (seq <= through) {
    const entry = log[seq - 1]!;
    if (entry.kind === 'report') {
      out.push(frame(entry, true));
      seq++;
      continue;
    }
    let end = seq;
    while (end + 1 <= through && log[end]!.kind !== 'report') end++;
    out.push(sequenceReset(seq, end + 1));
    seq = end + 1;
  }
  return out;
}

describe('InboundSequencer', () => {
  describe('receive, against a reference peer that retransmits (KalshiRT)', () => {
    it('delivers every report exactly once in order, never again once acknowledged, and closes every gap', () => {
      fc.assert(
        fc.property(fc.array(step, { maxLength: 80 }), fc.boolean(), (steps, manualAck) => {
          // Prepare
          const sequencer = new InboundSequencer<FakeMessage>({
            retransmits: true,
            resendTimeoutMs: 10_000,
            peer: 'KalshiRT',
            manualAck,
          });
          const log: Logged[] = [{ seq: 1, kind: 'logon' }];
          let pending: FakeMessage[] = []; // the open resend's frames, not sent yet
          const deliveries = new Map<number, number>(); // report seq → times delivered
          const answered = new Map<string, number>(); // TestReqID → Heartbeats asked for, this connection
          let ackedThrough = 0;
          let lastDelivered = 0; // on this connection
          const run = (actions: readonly SequencerAction<FakeMessage>[]): void => {
            for (const action of actions) {
              switch (action.type) {
                case 'deliver': {
                  const seq = action.message.seqNum;
                  expect(seq, 'in order on one connection').toBeGreaterThan(lastDelivered);
                  expect(seq, 'never again once acknowledged').toBeGreaterThan(ackedThrough);
                  expect(action.source).toBe(action.message.getFlag(43) ? 'resend' : 'live');
                  lastDelivered = seq;
                  deliveries.set(seq, (deliveries.get(seq) ?? 0) + 1);
                  break;
                }
                case 'answer_test_request':
                  answered.set(action.testReqId, (answered.get(action.testReqId) ?? 0) + 1);
                  expect(answered.get(action.testReqId), 'one answer per probe per connection').toBe(1);
                  break;
                case 'resend_request':
                  // An engine answers at once, "through the latest" being what its log holds now.
                  pending.push(...replay(log, action.from, action.to === 0 ? log.length : action.to));
                  break;
                case 'disconnect':
                case 'logout':
                  throw new Error(`an honest peer was disconnected: ${JSON.stringify(action)}`);
                default:
                  break;
              }
            }
          };
          const send = (m: FakeMessage): void => run(sequencer.receive(m, 0));
          const append = (k: Kind | 'logon'): Logged => {
            const entry: Logged = { seq: log.length + 1, kind: k };
            log.push(entry);
            return entry;
          };
          // The application acknowledges what this connection delivered (a resume forgets the rest).
          const ack = (): void => {
            sequencer.acknowledge(lastDelivered);
            ackedThrough = Math.max(ackedThrough, lastDelivered);
          };
          sequencer.beginLogon(false);
          send(frame(log[0]!, false));

          // Act
          for (const s of steps) {
            switch (s.op) {
              case 'live':
                send(frame(append(s.kind), false));
                break;
              case 'lose':
                append(s.kind);
                break;
              case 'dupe': {
                const entry = log[Math.max(0, log.length - 1 - s.back)]!;
                send(frame(entry, true));
                break;
              }
              case 'replay':
                for (const m of pending.splice(0, s.frames)) send(m);
                break;
              case 'reconnect':
                sequencer.connectionClosed();
                pending = [];
                sequencer.beginLogon(false);
                lastDelivered = 0;
                answered.clear();
                send(frame(append('logon'), false));
                break;
              case 'ack':
                if (manualAck) ack();
                break;
            }
          }
          // Settle: the peer finishes its resend (and one heartbeat reveals a lost tail).
          send(frame(append('heartbeat'), false));
          for (let guard = 0; pending.length > 0 && guard < 1000; guard++) send(pending.shift()!);

          // Assess
          const reports = log.filter((e) => e.kind === 'report').map((e) => e.seq);
          expect([...deliveries.keys()].sort((a, b) => a - b)).toEqual(reports);
          if (!manualAck) for (const [, times] of deliveries) expect(times).toBe(1);
          expect(sequencer.nextInbound).toBe(log.length + 1);
          expect(sequencer.recovering).toBeUndefined();
          expect(sequencer.heldCount).toBe(0);
        }),
        { numRuns: 1000 },
      );
    });
  });

  describe('receive, against a peer that cannot retransmit (KalshiNR)', () => {
    it('delivers what arrived in order and names exactly the lost range before it disconnects', () => {
      fc.assert(
        fc.property(fc.array(fc.record({ lose: fc.boolean(), k: kind }), { maxLength: 40 }), (script) => {
          // Prepare
          const sequencer = new InboundSequencer<FakeMessage>({
            retransmits: false,
            resendTimeoutMs: 10_000,
            peer: 'KalshiNR',
          });
          sequencer.beginLogon(true);
          const delivered: number[] = [];
          const gaps: Array<{ from: number; to: number }> = [];
          let disconnected = false;

          // Act
          let seq = 0;
          let lostFrom: number | undefined;
          const expected: number[] = [];
          let expectedGap: { from: number; to: number } | undefined;
          for (const { lose, k } of [{ lose: false, k: 'heartbeat' as Kind }, ...script]) {
            seq++;
            if (lose) {
              lostFrom ??= seq;
              continue;
            }
            if (lostFrom !== undefined && expectedGap === undefined) expectedGap = { from: lostFrom, to: seq - 1 };
            if (expectedGap === undefined || expectedGap.to === seq - 1) if (k === 'report') expected.push(seq);
            for (const action of sequencer.receive(frame({ seq, kind: k }, false), 0)) {
              if (action.type === 'deliver') delivered.push(action.message.seqNum);
              if (action.type === 'gap') gaps.push({ from: action.from, to: action.to });
              if (action.type === 'disconnect') disconnected = true;
            }
            if (expectedGap !== undefined) break;
          }

          // Assess: the message that revealed the gap is kept, then the connection ends.
          expect(delivered).toEqual(expected);
          expect(gaps).toEqual(expectedGap === undefined ? [] : [expectedGap]);
          expect(disconnected).toBe(expectedGap !== undefined);
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('receive, against a hostile peer', () => {
    const hostile = fc.record({
      msgType: fc.constantFrom('0', '1', '2', '3', '4', '5', 'A', '8', 'j', 'U2'),
      seq: fc.integer({ min: 0, max: 30 }),
      possDup: fc.boolean(),
      gapFill: fc.boolean(),
      newSeqNo: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
    });

    it('never throws, never delivers a number twice or out of order on one connection, and stops at a disconnect', () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof({ weight: 12, arbitrary: hostile }, { weight: 1, arbitrary: fc.constant('close' as const) }),
            {
              maxLength: 60,
            },
          ),
          fc.boolean(),
          (script, retransmits) => {
            // Prepare
            const sequencer = new InboundSequencer<FakeMessage>({
              retransmits,
              resendTimeoutMs: 10_000,
              peer: 'peer',
              maxHeldMessages: 8,
            });
            sequencer.beginLogon(true);
            let last = 0;
            let halted = false;

            // Act + Assess
            for (const item of script) {
              if (item === 'close') {
                sequencer.connectionClosed();
                sequencer.beginLogon(true);
                last = 0;
                halted = false;
                continue;
              }
              const before = sequencer.nextInbound;
              const fields: Record<number, string | number> = { 17: 'x' };
              if (item.possDup) fields[43] = 'Y';
              if (item.gapFill) fields[123] = 'Y';
              if (item.newSeqNo !== undefined) fields[36] = item.newSeqNo;
              const actions = sequencer.receive(message(item.msgType, item.seq, fields), 0);
              if (halted) expect(actions).toEqual([]);
              expect(actions.filter((a) => a.type === 'disconnect').length).toBeLessThanOrEqual(1);
              for (const action of actions) {
                if (action.type === 'deliver') {
                  expect(action.message.seqNum).toBeGreaterThan(last);
                  last = action.message.seqNum;
                }
                if (action.type === 'disconnect' || action.type === 'logout') halted = true;
              }
              expect(sequencer.nextInbound).toBeGreaterThanOrEqual(before);
              expect(sequencer.heldCount).toBeLessThanOrEqual(8);
            }
          },
        ),
        { numRuns: 1000 },
      );
    });
  });
});

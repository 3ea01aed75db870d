import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Backfiller, type BackfillEvent, type BackfillOutcome, type BackfillRetry } from '../../src/app/backfill.js';
import { HoleLog } from '../../src/pipeline/hole-log.js';
import { Journal } from '../../src/pipeline/journal.js';
import { OrderFlow, type GeneratedReport } from '../../src/sim/order-flow.js';
import { ManualClock, settle } from '../helpers/manual-clock.js';
import { duplexPair, MemoryPeer } from '../helpers/memory-peer.js';
import { tempDir } from '../helpers/records.js';
import { API_KEY, testKeys } from '../helpers/sim.js';

/**
 * The backfill's time-driven paths on an injected clock that only the test moves: a replay's
 * deadline, the back-off between runs, and the hole after the last attempt. KalshiDC is an
 * in-memory peer the test plays by hand; the journal and the hole log are real files, so the test
 * waits briefly in real time for their I/O, never for the clock.
 */

interface Rig {
  clock: ManualClock;
  backfill: Backfiller;
  journal: Journal;
  holes: HoleLog;
  events: BackfillEvent[];
  /** One in-memory KalshiDC per connection the backfill opened, in order. */
  peers: MemoryPeer[];
}

const opened: Rig[] = [];

async function rig(retry: BackfillRetry, timeoutMs = 5000): Promise<Rig> {
  const clock = new ManualClock();
  const journal = await Journal.open({ dir: tempDir() });
  const holes = await HoleLog.open(join(tempDir(), 'holes.jsonl'));
  const peers: MemoryPeer[] = [];
  const events: BackfillEvent[] = [];
  const backfill = new Backfiller({
    dropCopy: {
      host: 'dc.test',
      port: 8229,
      apiKey: API_KEY,
      privateKey: testKeys().privateKey,
      timeoutMs,
      connect: () => {
        const [ours, theirs] = duplexPair();
        peers.push(new MemoryPeer(theirs, 'KalshiDC', API_KEY));
        setImmediate(() => ours.emit('connect'));
        return ours;
      },
    },
    journal,
    holes,
    retry,
    clock,
    onEvent: (event) => events.push(event),
  });
  const r = { clock, backfill, journal, holes, events, peers };
  opened.push(r);
  return r;
}

/** Waits (real time, polling) for streams and files; the clock stays where it is. */
async function until(condition: () => boolean): Promise<void> {
  await vi.waitFor(() => expect(condition(), String(condition)).toBe(true), { timeout: 5000, interval: 2 });
}

/** Plays KalshiDC up to the listener's EventResendRequest: answers its Logon; returns the U1's MsgSeqNum. */
async function loggedOnAndAsked(r: Rig, connection: number): Promise<{ peer: MemoryPeer; u1Seq: number }> {
  await until(() => r.peers.length === connection && r.peers[connection - 1]!.types.includes('A'));
  const peer = r.peers[connection - 1]!;
  peer.logon(30, { reset: true });
  await until(() => peer.types.includes('U1'));
  return { peer, u1Seq: peer.received.find((m) => m.msgType === 'U1')!.seqNum };
}

/** Reports as the exchange generates them (every field a record needs). */
function reports(n: number): GeneratedReport[] {
  const flow = new OrderFlow({ seed: 7 });
  return Array.from({ length: n }, () => flow.next(new Date('2026-11-24T11:59:00Z')));
}

const retrying = (r: Rig) => r.events.flatMap((e) => (e.kind === 'retrying' ? [[e.attempt, e.delayMs]] : []));

beforeAll(() => {
  testKeys();
});

afterEach(async () => {
  for (const r of opened.splice(0)) {
    await r.journal.close();
    await r.holes.close();
  }
});

describe('Backfiller on an injected clock', () => {
  it('gives up a replay that does not finish within timeoutMs, waits its back-off, and replays in the next run', async () => {
    // Prepare: KalshiDC accepts the request and then says nothing.
    const r = await rig({ initialMs: 1000, maxMs: 1000, floorMs: 1000, attempts: 3 }, 5000);
    const missed = reports(3);
    let outcome: BackfillOutcome | undefined;
    void r.backfill
      .request({ lastGoodExecId: missed[0]!.execId, since: r.clock.now() - 60_000 })
      .then((o) => (outcome = o));
    await loggedOnAndAsked(r, 1);

    // Act 1: the replay's deadline.
    await r.clock.advance(4999);
    const beforeDeadline = retrying(r);
    await r.clock.advance(1);
    await until(() => retrying(r).length === 1);

    // Assess 1: given up at 5 s, logged out, the next run due a back-off later (on /status too).
    expect(beforeDeadline).toEqual([]);
    expect(r.events.find((e) => e.kind === 'retrying')).toEqual({
      kind: 'retrying',
      from: missed[0]!.execId,
      attempt: 1,
      delayMs: 1000,
      why: 'ERR_FIX_LOGON_TIMEOUT: drop-copy replay did not finish within 5000 ms',
    });
    expect(r.peers[0]!.types.at(-1)).toBe('5');
    expect(r.backfill.status().retrying).toMatchObject({ attempt: 1, at: r.clock.now() + 1000 });

    // Act 2: the back-off.
    await r.clock.advance(999);
    const connectionsBefore = r.peers.length;
    await r.clock.advance(1);
    const { peer, u1Seq } = await loggedOnAndAsked(r, 2);
    for (const report of missed) peer.send('8', report.fields);
    peer.send('U2', [
      [45, u1Seq],
      [21003, missed.length],
    ]);
    await until(() => outcome !== undefined);

    // Assess 2: no second connection before the back-off ended; every missed report journaled.
    expect(connectionsBefore).toBe(1);
    expect(outcome).toBe('complete');
    expect(r.events.find((e) => e.kind === 'finished')).toMatchObject({ replayed: 3, recovered: 3, announced: 3 });
    expect(missed.every((m) => r.journal.knows(m.execId))).toBe(true);
    expect(r.backfill.status()).toMatchObject({ runs: 2, retrying: null, running: false });
  });

  it('backs off after "rate limited" (U3 1), doubling, and records a hole with the clock\'s times after the last attempt', async () => {
    // Prepare: waits equal to the doubling ceiling (the floor is the cap); three attempts.
    const r = await rig({ initialMs: 1000, maxMs: 60_000, floorMs: 60_000, attempts: 3 });
    const t0 = r.clock.now();
    let outcome: BackfillOutcome | undefined;
    void r.backfill.request({ lastGoodExecId: reports(1)[0]!.execId, since: t0 - 60_000 }).then((o) => (outcome = o));
    const refuse = async (connection: number) => {
      const { peer, u1Seq } = await loggedOnAndAsked(r, connection);
      peer.send('U3', [
        [45, u1Seq],
        [21004, 1],
        [58, 'Too many resend requests'],
      ]);
      await until(() => retrying(r).length === connection || outcome !== undefined);
    };

    // Act: three refusals, the clock moved to one ms short of each retry, then onto it.
    const connections: number[] = [];
    await refuse(1);
    for (const [attempt, wait] of [
      [2, 1000],
      [3, 2000],
    ] as const) {
      await r.clock.advance(wait - 1);
      await settle();
      connections.push(r.peers.length);
      await r.clock.advance(1);
      await refuse(attempt);
    }
    await until(() => outcome !== undefined);

    // Assess
    expect(connections).toEqual([1, 2]);
    expect(retrying(r)).toEqual([
      [1, 1000],
      [2, 2000],
    ]);
    expect(outcome).toBe('hole');
    expect(r.holes.holes).toEqual([
      {
        lastGoodExecId: reports(1)[0]!.execId,
        from: new Date(t0 - 60_000).toISOString(),
        to: new Date(t0).toISOString(),
        reason: 'drop copy failed 3 times (last: U3 1: Too many resend requests)',
        recordedAt: new Date(t0 + 3000).toISOString(),
      },
    ]);
  });
});

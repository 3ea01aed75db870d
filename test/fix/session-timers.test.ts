import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ListenerSession, type ListenerSessionOptions, type SessionEvent } from '../../src/fix/session.js';
import { MemorySequenceStore } from '../../src/fix/sequence-store.js';
import { formatUtcTimestamp } from '../../src/fix/time.js';
import { ManualClock, settle } from '../helpers/manual-clock.js';
import { drive as driveSession, loggedOn, type Driven, type Opening } from '../helpers/session-driver.js';
import { API_KEY, testKeys } from '../helpers/sim.js';

/**
 * The session driver's time-driven transitions on an injected clock that only the test moves:
 * Node's timers are real here, so a transition that fires proves the driver used the clock, and
 * each one is asserted to the millisecond (one before, then at the instant) with no waiting.
 */

const sessions: ListenerSession[] = [];

/** A driven session on a clock of its own, stopped after the test. */
function drive(
  options: Partial<ListenerSessionOptions> = {},
  opening: Opening = 'answers',
): Driven & { clock: ManualClock } {
  const clock = new ManualClock();
  const driven = driveSession({ ...options, clock }, opening);
  sessions.push(driven.session);
  return { ...driven, clock };
}

beforeAll(() => {
  testKeys();
});

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.stop()));
});

describe('ListenerSession on an injected clock', () => {
  it("stamps what it sends and what it reports with the clock's time, not the host's", async () => {
    // Prepare
    const d = drive();

    // Act
    const peer = await loggedOn(d);

    // Assess
    const logon = peer.received[0]!;
    expect(logon.get(52)).toBe(formatUtcTimestamp(d.clock.now()));
    expect(d.session.status()).toMatchObject({ loggedOnAt: d.clock.now(), lastSentAt: d.clock.now() });
  });

  it('times the Logon out exactly at logonTimeoutMs and schedules a reconnect on the same clock', async () => {
    // Prepare: the peer connects and never answers the Logon.
    const d = drive({ logonTimeoutMs: 5000 });
    d.session.start();
    await settle();
    expect(d.session.state).toBe('logon_sent');

    // Act
    await d.clock.advance(4999);
    const before = { state: d.session.state, errors: d.errors() };
    await d.clock.advance(1);

    // Assess
    expect(before).toEqual({ state: 'logon_sent', errors: [] });
    expect(d.errors()).toEqual(['ERR_FIX_LOGON_TIMEOUT']);
    expect(d.session.state).toBe('disconnected');
    // Equal jitter with a zero draw: half the first 1 s ceiling.
    expect(d.events.filter((e) => e.kind === 'reconnect_scheduled')).toEqual([
      { kind: 'reconnect_scheduled', delayMs: 500, attempt: 1 },
    ]);
    expect(d.session.status().nextAttemptAt).toBe(d.clock.now() + 500);
  });

  describe('liveness (HeartBtInt 3 s: a tick every 750 ms)', () => {
    it('arms its tick so that it does not hold the process, as before', async () => {
      // Prepare
      const d = drive();

      // Act
      await loggedOn(d);

      // Assess: the tick is the only timer while active, and it is unref'd.
      expect(d.clock.timers()).toEqual([{ inMs: 750, everyMs: 750, ref: false }]);
    });

    it('sends a Heartbeat at HeartBtInt of sending nothing, a TestRequest at the first tick past 1.2 ×, and drops the peer at 2 ×', async () => {
      // Prepare: a peer that goes silent right after the Logon.
      const d = drive();
      const peer = await loggedOn(d);
      const sent = () => peer.types.slice(1);

      // Act + Assess, one threshold at a time.
      await d.clock.advance(2999);
      expect(sent()).toEqual([]);
      await d.clock.advance(1); // 3000 ms: a Heartbeat, so the peer's 1.2 × probe is not needed
      expect(sent()).toEqual(['0']);

      await d.clock.advance(749); // 3749 ms: silent for 1.2 × (3600 ms), but no tick since 3000
      expect(sent()).toEqual(['0']);
      await d.clock.advance(1); // 3750 ms: the first tick past 1.2 ×
      expect(sent()).toEqual(['0', '1']);
      expect(peer.received.at(-1)!.get(112)).toBe('TEST-1');

      await d.clock.advance(2249); // 5999 ms
      expect(d.session.state).toBe('active');
      await d.clock.advance(1); // 6000 ms: 2 × HeartBtInt of silence
      expect(d.session.state).toBe('disconnected');
      const timeout = d.events.find((e) => e.kind === 'error')!;
      expect(timeout).toMatchObject({
        error: { code: 'ERR_FIX_HEARTBEAT_TIMEOUT', details: { silentForMs: 6000, partialFrameBytes: 0 } },
      });
    });

    it('stays up when the TestRequest is answered, and times out 2 × HeartBtInt after the answer instead', async () => {
      // Prepare
      const d = drive();
      const peer = await loggedOn(d);
      await d.clock.advance(3750);
      expect(peer.types.at(-1)).toBe('1');

      // Act: the answer arrives at 3750 ms.
      peer.send('0', [[112, 'TEST-1']]);
      await settle();
      await d.clock.advance(9749 - 3750);
      const before = d.session.state;
      await d.clock.advance(1);

      // Assess
      expect(before).toBe('active');
      expect(d.session.state).toBe('disconnected');
      expect(d.errors()).toEqual(['ERR_FIX_HEARTBEAT_TIMEOUT']);
    });
  });

  describe('reconnect back-off', () => {
    it('connects again exactly when each back-off ends, the waits doubling (500, 1000, 2000 ms with a zero draw)', async () => {
      // Prepare: every connection is refused at once.
      const clock = new ManualClock();
      let attempts = 0;
      const events: SessionEvent[] = [];
      const session = new ListenerSession({
        host: 'fix.test',
        port: 8228,
        senderCompId: API_KEY,
        targetCompId: 'KalshiNR',
        privateKey: testKeys().privateKey,
        random: () => 0,
        clock,
        connect: () => {
          attempts++;
          throw new Error('ECONNREFUSED');
        },
        onEvent: (event) => events.push(event),
      });
      sessions.push(session);

      // Act
      session.start();
      const seen: Array<[attempts: number, atMs: number]> = [];
      const t0 = clock.now();
      for (const wait of [500, 1000, 2000]) {
        await clock.advance(wait - 1);
        seen.push([attempts, clock.now() - t0]);
        await clock.advance(1);
        seen.push([attempts, clock.now() - t0]);
      }

      // Assess
      expect(seen).toEqual([
        [1, 499],
        [2, 500],
        [2, 1499],
        [3, 1500],
        [3, 3499],
        [4, 3500],
      ]);
      expect(events.flatMap((e) => (e.kind === 'reconnect_scheduled' ? [e.delayMs] : []))).toEqual([
        500, 1000, 2000, 4000,
      ]);
      // The status page's "next try in" reads the same clock; the reconnect timer holds the process.
      expect(session.status().nextAttemptAt).toBe(clock.now() + 4000);
      expect(clock.timers()).toEqual([{ inMs: 4000, everyMs: undefined, ref: true }]);
    });
  });

  describe('opening the connection', () => {
    it('gives up a TCP connect that never completes at connectTimeoutMs', async () => {
      // Prepare
      const d = drive({ connectTimeoutMs: 2000, autoReconnect: false }, 'silent');
      d.session.start();

      // Act
      await d.clock.advance(1999);
      const before = d.session.state;
      await d.clock.advance(1);

      // Assess
      expect(before).toBe('connecting');
      expect(d.errors()).toEqual(['ERR_FIX_CONNECT_TIMEOUT']);
      expect(d.session.state).toBe('disconnected');
    });

    it('gives up a TLS handshake that never ends at tlsHandshakeTimeoutMs, counted from the TCP connect', async () => {
      // Prepare: TCP connects at once (the first settle); the handshake never ends.
      const d = drive({ connectTimeoutMs: 10_000, tlsHandshakeTimeoutMs: 3000, autoReconnect: false }, 'tcpOnly');
      d.session.start();
      await settle();

      // Act
      await d.clock.advance(2999);
      const before = d.errors();
      await d.clock.advance(1);

      // Assess
      expect(before).toEqual([]);
      expect(d.errors()).toEqual(['ERR_FIX_TLS_HANDSHAKE_TIMEOUT']);
      expect(d.clock.pending).toBe(0);
    });
  });

  describe('stop', () => {
    it('waits logoutTimeoutMs for a Logout reply that never comes, then closes', async () => {
      // Prepare
      const d = drive({ logoutTimeoutMs: 2000 });
      const peer = await loggedOn(d);
      peer.answerLogout = false;
      let stopped = false;

      // Act
      const stopping = d.session.stop().then(() => (stopped = true));
      await d.clock.advance(1999);
      const before = { stopped, state: d.session.state };
      await d.clock.advance(1);
      await stopping;

      // Assess
      expect(before).toEqual({ stopped: false, state: 'logout_sent' });
      expect(peer.types.at(-1)).toBe('5');
      expect(d.session.state).toBe('stopped');
      expect(d.clock.pending).toBe(0);
    });
  });

  describe('the session file (KalshiRT)', () => {
    it('saves the position a second after reports advance it, not at each report', async () => {
      // Prepare
      const store = new MemorySequenceStore();
      const d = drive({ targetCompId: 'KalshiRT', store });
      const peer = await loggedOn(d);
      const afterLogon = store.load()!.nextInbound;

      // Act: two reports at the logon instant.
      peer.report('R1');
      peer.report('R2');
      await settle();
      await d.clock.advance(999);
      const before = store.load()!.nextInbound;
      await d.clock.advance(1);

      // Assess: Logon reply (1) and two reports (2, 3) processed: 4 is next.
      expect(before).toBe(afterLogon);
      expect(store.load()!.nextInbound).toBe(4);
    });
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemorySequenceStore } from '../../src/fix/sequence-store.js';
import { drive, loggedOn } from '../helpers/session-driver.js';
import { testKeys } from '../helpers/sim.js';

/**
 * The connection driver, one transition at a time: in-memory streams instead of sockets and fake
 * timers instead of sleeps, so a 60 s back-off or a 2 × HeartBtInt timeout takes no time.
 */

/** Lets streams and immediates run (they are not faked), without moving the clock. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Moves the fake clock in steps, letting the streams run between them. */
async function advance(ms: number, stepMs = 50): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) {
    await vi.advanceTimersByTimeAsync(Math.min(stepMs, ms - done));
    await settle();
  }
}

/**
 * Moves the clock to `margin` short of a deadline `inMs` from now, then to `margin` past it, and
 * returns what `look` saw at the first stop: a timeout test shows that nothing happened early and
 * that it did happen. The margin is wider where the deadline is checked on a coarse tick.
 */
async function aroundDeadline<T>(inMs: number, look: () => T, { margin = 100, stepMs = 50 } = {}): Promise<T> {
  await advance(inMs - margin, stepMs);
  const before = look();
  await advance(2 * margin);
  return before;
}

beforeEach(() => {
  testKeys();
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('ListenerSession (driver)', () => {
  describe('disconnected → connecting → logon_sent → active', () => {
    it('connects, sends a signed listener Logon, and goes active on the reply', async () => {
      // Prepare
      const d = drive();

      // Act
      d.session.start();
      const connecting = d.session.state;
      await settle();
      const logonSent = d.session.state;
      const logon = d.peer().received[0]!;
      d.peer().logon(3);
      await settle();

      // Assess
      expect([connecting, logonSent, d.session.state]).toEqual(['connecting', 'logon_sent', 'active']);
      expect(logon.msgType).toBe('A');
      expect(logon.get(141)).toBe('Y'); // KalshiNR always starts fresh
      expect(logon.get(20126)).toBe('Y');
      expect(logon.get(96)).toBeDefined();
      expect(d.session.phase).toEqual({ state: 'active', afterClose: 'retry', reconnectScheduled: false });
      await d.session.stop();
    });

    it('start() is idempotent while a connection is under way', async () => {
      // Prepare
      const d = drive();

      // Act
      d.session.start();
      d.session.start();
      await settle();

      // Assess
      expect(d.peers).toHaveLength(1);
      await d.session.stop();
    });
  });

  describe('logon_sent → disconnected', () => {
    it('times out a Logon without a reply and schedules a reconnect', async () => {
      // Prepare
      const d = drive({ logonTimeoutMs: 5000 });
      d.session.start();
      await settle();

      // Act
      const before = await aroundDeadline(5000, () => d.session.state);

      // Assess
      expect(before).toBe('logon_sent');
      expect(d.errors()).toEqual(['ERR_FIX_LOGON_TIMEOUT']);
      expect(d.session.phase).toMatchObject({ state: 'disconnected', reconnectScheduled: true });
      expect(d.delays()).toEqual([500]); // equal jitter, lowest draw: half the first 1 s ceiling
      await d.session.stop();
    });

    it('surfaces a rejected Logon, and waits 2 × HeartBtInt after "already exists"', async () => {
      // Prepare
      const d = drive();
      d.session.start();
      await settle();

      // Act
      d.peer().send('5', [[58, 'Session already exists for this key']]);
      await settle();

      // Assess
      expect(d.errors()).toEqual(['ERR_FIX_LOGON_REJECTED']);
      expect(d.delays()).toEqual([6000]);
      expect(await aroundDeadline(6000, () => d.peers.length)).toBe(1);
      expect(d.peers).toHaveLength(2);
      await d.session.stop();
    });

    it('refuses a reply that is not a Logon', async () => {
      // Prepare
      const d = drive();
      d.session.start();
      await settle();

      // Act
      d.peer().report('E1');
      await settle();

      // Assess
      expect(d.errors()).toEqual(['ERR_FIX_PROTOCOL']);
      expect(d.reports).toEqual([]);
      await d.session.stop();
    });
  });

  describe('active: liveness', () => {
    it('sends a Heartbeat after HeartBtInt of sending nothing', async () => {
      // Prepare
      const d = drive();
      const peer = await loggedOn(d);

      // Act: the peer keeps talking, we have nothing to say.
      for (let i = 0; i < 4; i++) {
        await advance(1000);
        peer.send('0');
      }
      await settle();

      // Assess
      expect(peer.types.filter((t) => t === '0').length).toBeGreaterThanOrEqual(1);
      expect(peer.types).not.toContain('1');
      expect(d.session.state).toBe('active');
      await d.session.stop();
    });

    it('probes with a TestRequest after 1.2 × HeartBtInt of silence and stays up when it is answered', async () => {
      // Prepare
      const d = drive();
      const peer = await loggedOn(d);

      // Act: the probe is due at 3.6 s and checked every quarter HeartBtInt (750 ms).
      const beforeProbe = await aroundDeadline(3600, () => peer.types.includes('1'), { margin: 600 });
      const probe = peer.received.find((m) => m.msgType === '1');
      peer.send('0', [[112, probe?.get(112) ?? '']]);
      await advance(2500);

      // Assess
      expect(beforeProbe).toBe(false);
      expect(probe?.get(112)).toBe('TEST-1');
      expect(d.session.state).toBe('active');
      expect(d.errors()).toEqual([]);
      await d.session.stop();
    });

    it('drops a silent peer at 2 × HeartBtInt', async () => {
      // Prepare
      const d = drive({ autoReconnect: false });
      const peer = await loggedOn(d);

      // Act: the silence is checked every quarter HeartBtInt (750 ms), so allow a tick either side.
      const before = await aroundDeadline(6000, () => d.session.state, { margin: 500 });

      // Assess
      expect(before).toBe('active');
      expect(d.errors()).toEqual(['ERR_FIX_HEARTBEAT_TIMEOUT']);
      expect(d.session.state).toBe('disconnected');
      expect(peer.closed).toBe(true);
    });

    it('drops a peer that trickles one endless frame, however many bytes arrive', async () => {
      // Prepare
      const d = drive();
      const peer = await loggedOn(d);
      peer.write('8=FIXT.1.1\x019=900000\x0135=8\x01');

      // Act: one byte every 100 ms.
      for (let t = 0; t < 7000 && d.session.state === 'active'; t += 100) {
        peer.write('1');
        await advance(100, 100);
      }

      // Assess
      const error = d.events.find((e) => e.kind === 'error');
      expect(d.session.state).toBe('disconnected');
      expect(error).toMatchObject({ error: { code: 'ERR_FIX_HEARTBEAT_TIMEOUT' } });
      expect(error?.kind === 'error' && error.error.message).toMatch(/\d+ bytes of an unfinished frame/);
      expect(peer.types).toContain('1'); // it was probed first
    });
  });

  describe('back-off', () => {
    it('grows while the peer logs out right after every Logon (at most 6 Logons after the first in 30 s)', async () => {
      // Prepare: the worst draws (random = 0) give the shortest waits.
      const d = drive();

      // Act
      d.session.start();
      for (let t = 0; t < 30_000; t += 50) {
        const peer = d.peer();
        if (peer.types.includes('A') && !peer.closed && peer.seq === 1) {
          peer.logon(3);
          peer.send('5', [[58, 'go away']]);
        }
        await advance(50);
      }

      // Assess
      const logons = d.peers.filter((p) => p.types.includes('A')).length;
      expect(logons - 1).toBeLessThanOrEqual(6);
      expect(d.delays().slice(0, 5)).toEqual([500, 1000, 2000, 4000, 8000]);
      await d.session.stop();
    });

    it('tells since when it has not been logged on and when it tries next (the status page)', async () => {
      // Prepare: logged on.
      const d = drive({ logonTimeoutMs: 1000 });
      const peer = await loggedOn(d);
      const up = d.session.status();

      // Act: the exchange drops the connection, and the next attempt times out too.
      const droppedAt = Date.now();
      peer.close();
      await settle();
      const waiting = d.session.status();
      await advance(500);
      const connecting = d.session.status();
      await advance(1100);
      const waitingAgain = d.session.status();
      await advance(1000);
      d.peer().logon(3);
      await settle();
      const back = d.session.status();
      d.peer().close();
      await settle();
      await d.session.stop();
      const stopped = d.session.status();

      // Assess: back-off draws 500 ms, then 1000 ms (equal jitter, lowest draw).
      expect([up.disconnectedSince, up.nextAttemptAt]).toEqual([undefined, undefined]);
      expect(waiting).toMatchObject({
        state: 'disconnected',
        disconnectedSince: droppedAt,
        nextAttemptAt: droppedAt + 500,
      });
      expect(connecting).toMatchObject({ disconnectedSince: droppedAt, nextAttemptAt: undefined });
      expect(waitingAgain).toMatchObject({ state: 'disconnected', disconnectedSince: droppedAt, reconnectAttempts: 2 });
      expect(waitingAgain.nextAttemptAt).toBe(droppedAt + 500 + 1000 + 1000); // the Logon timed out at 1.5 s
      expect([back.state, back.disconnectedSince, back.nextAttemptAt]).toEqual(['active', undefined, undefined]);
      expect(stopped).toMatchObject({ state: 'stopped', nextAttemptAt: undefined });
      expect(stopped.disconnectedSince).toBeGreaterThan(droppedAt);
    });

    it('starts over once the session has been healthy for 2 × HeartBtInt', async () => {
      // Prepare: two failed attempts.
      const d = drive({ logonTimeoutMs: 1000 });
      d.session.start();
      await advance(1100 + 500 + 1100);
      expect(d.session.status().reconnectAttempts).toBe(2);
      await advance(1000);
      const peer = d.peer();
      peer.logon(3);
      await settle();

      // Act: healthy for 2 × HeartBtInt (the peer keeps talking).
      const attemptsWhileYoung = d.session.status().reconnectAttempts;
      for (let i = 0; i < 7; i++) {
        peer.send('0');
        await advance(1000);
      }

      // Assess
      expect(attemptsWhileYoung).toBe(2);
      expect(d.session.status().reconnectAttempts).toBe(0);
      await d.session.stop();
    });

    it('starts over at once when an application message is delivered', async () => {
      // Prepare
      const d = drive({ logonTimeoutMs: 1000 });
      d.session.start();
      await advance(1100);
      await advance(600);
      const peer = d.peer();
      peer.logon(3);
      await settle();
      const before = d.session.status().reconnectAttempts;

      // Act
      peer.report('E1');
      await settle();

      // Assess
      expect(before).toBe(1);
      expect(d.session.status().reconnectAttempts).toBe(0);
      expect(d.reports).toEqual(['E1']);
      await d.session.stop();
    });

    it('stays down without autoReconnect', async () => {
      // Prepare
      const d = drive({ autoReconnect: false });
      await loggedOn(d);

      // Act
      d.peer().close();
      await settle();
      await advance(120_000, 10_000);

      // Assess
      expect(d.session.phase).toEqual({ state: 'disconnected', afterClose: 'retry', reconnectScheduled: false });
      expect(d.peers).toHaveLength(1);
      expect(d.errors()).toEqual([]);
      expect(d.events.find((e) => e.kind === 'disconnected')).toMatchObject({
        reason: { code: 'ERR_FIX_PEER_CLOSED' },
      });
    });
  });

  describe('connecting → disconnected: never stuck', () => {
    it('gives up a TCP connect after connectTimeoutMs and tries again after the back-off', async () => {
      // Prepare: nothing ever answers the SYN.
      const d = drive({ connectTimeoutMs: 3000 }, 'silent');
      d.session.start();
      await settle();

      // Act
      const before = await aroundDeadline(3000, () => d.session.state);
      const after = d.session.phase;
      await advance(500); // the first wait: half the 1 s ceiling at the lowest draw

      // Assess
      expect(before).toBe('connecting');
      expect(d.errors()).toEqual(['ERR_FIX_CONNECT_TIMEOUT']);
      expect(after).toMatchObject({ state: 'disconnected', reconnectScheduled: true });
      expect(d.session.status().lastError).toMatchObject({ code: 'ERR_FIX_CONNECT_TIMEOUT' });
      expect(d.session.status().lastError?.message).toMatch(
        /TCP connect to fix\.test:8228 did not complete within 3000 ms/,
      );
      expect(d.peers).toHaveLength(2);
      expect(d.session.state).toBe('connecting');
      await d.session.stop();
    });

    it('gives up a TLS handshake that never ends after tlsHandshakeTimeoutMs from the TCP connect', async () => {
      // Prepare: TCP connects, the peer never answers the ClientHello.
      const d = drive({ connectTimeoutMs: 1000, tlsHandshakeTimeoutMs: 4000 }, 'tcpOnly');
      d.session.start();
      await settle();

      // Act: past the connect timeout (TCP is up: it no longer applies), then past the handshake's.
      const before = await aroundDeadline(4000, () => d.session.state);

      // Assess
      expect(before).toBe('connecting');
      expect(d.errors()).toEqual(['ERR_FIX_TLS_HANDSHAKE_TIMEOUT']);
      expect(d.events.find((e) => e.kind === 'error')).toMatchObject({
        error: { details: { phase: 'tls', timeoutMs: 4000, host: 'fix.test', port: 8228 } },
      });
      expect(d.session.phase).toMatchObject({ state: 'disconnected', reconnectScheduled: true });
      expect(d.peer().received).toEqual([]); // no Logon went to a peer that never finished TLS
      await d.session.stop();
    });

    it('allows 10 s for each by default', async () => {
      // Prepare
      const d = drive({}, 'tcpOnly');
      d.session.start();
      await settle();

      // Act
      const before = await aroundDeadline(10_000, () => d.session.state, { stepMs: 100 });

      // Assess
      expect(before).toBe('connecting');
      expect(d.errors()).toEqual(['ERR_FIX_TLS_HANDSHAKE_TIMEOUT']);
      await d.session.stop();
    });

    it('keeps the timeouts to the opening: an active session is not dropped by them', async () => {
      // Prepare
      const d = drive({ connectTimeoutMs: 1000, tlsHandshakeTimeoutMs: 1000 });
      const peer = await loggedOn(d);

      // Act: the peer keeps the session alive well past both timeouts.
      for (let i = 0; i < 4; i++) {
        await advance(1000);
        peer.send('0');
      }

      // Assess
      expect(d.errors()).toEqual([]);
      expect(d.session.state).toBe('active');
      await d.session.stop();
    });

    it('reconnect() drops the attempt at once and starts a new one; a second call meanwhile is refused', async () => {
      // Prepare: an attempt that hangs in the TLS handshake.
      const d = drive({}, 'tcpOnly');
      d.session.start();
      await settle();

      // Act
      const first = d.session.reconnect();
      const second = d.session.reconnect();
      await settle();
      const third = d.session.reconnect();
      await settle();

      // Assess: no back-off, no error: the operator asked for it; each accepted call a new attempt.
      expect([first, second, third]).toEqual([true, false, true]);
      expect(d.peers.map((p) => p.closed)).toEqual([true, true, false]);
      expect(d.session.phase).toEqual({ state: 'connecting', afterClose: 'retry', reconnectScheduled: false });
      expect(d.delays()).toEqual([]);
      expect(d.errors()).toEqual([]);
      expect(d.events.filter((e) => e.kind === 'disconnected')).toEqual([
        { kind: 'disconnected', reason: undefined },
        { kind: 'disconnected', reason: undefined },
      ]);
      expect(d.session.status().counters.reconnects).toBe(2);
      await d.session.stop();
    });
  });

  describe('active → logout_sent', () => {
    it('reconnect(): logs out, reconnects at once on the reply, and refuses a second request meanwhile', async () => {
      // Prepare
      const d = drive();
      const peer = await loggedOn(d);

      // Act
      peer.answerLogout = false;
      const first = d.session.reconnect();
      const phase = d.session.phase;
      const second = d.session.reconnect();
      await settle();
      peer.send('5');
      await settle();

      // Assess
      expect([first, second]).toEqual([true, false]);
      expect(phase).toMatchObject({ state: 'logout_sent', afterClose: 'reconnect' });
      expect(peer.received.find((m) => m.msgType === '5')?.get(58)).toBe('operator requested reconnect');
      expect(d.peers).toHaveLength(2);
      expect(d.delays()).toEqual([]);
      expect(d.session.state).toBe('logon_sent');
      await d.session.stop();
    });

    it('closes after logoutTimeoutMs when the Logout is never answered', async () => {
      // Prepare
      const d = drive({ logoutTimeoutMs: 2000 });
      const peer = await loggedOn(d);
      peer.answerLogout = false;

      // Act
      const stopped = d.session.stop();
      const before = await aroundDeadline(2000, () => d.session.state);
      await stopped;

      // Assess
      expect(before).toBe('logout_sent');
      expect(d.session.state).toBe('stopped');
      expect(peer.closed).toBe(true);
    });

    it('answers an exchange Logout with its own and backs off', async () => {
      // Prepare
      const d = drive();
      const peer = await loggedOn(d);

      // Act
      peer.send('5', [[58, 'maintenance']]);
      await settle();

      // Assess
      expect(peer.types.at(-1)).toBe('5');
      expect(d.errors()).toEqual(['ERR_FIX_LOGOUT']);
      expect(d.session.phase).toMatchObject({ state: 'disconnected', reconnectScheduled: true });
      await d.session.stop();
    });
  });

  describe('→ stopped', () => {
    it('from active: Logout, the reply, stopped; no reconnect follows', async () => {
      // Prepare
      const d = drive();
      const peer = await loggedOn(d);

      // Act
      peer.answerLogout = false;
      const stopped = d.session.stop();
      const phase = d.session.phase;
      await settle();
      peer.send('5');
      await stopped;
      await advance(120_000, 10_000);

      // Assess
      expect(phase).toMatchObject({ state: 'logout_sent', afterClose: 'stop' });
      expect(d.session.state).toBe('stopped');
      expect(d.peers).toHaveLength(1);
    });

    it('from disconnected with a reconnect pending: the timer is cancelled', async () => {
      // Prepare
      const d = drive();
      await loggedOn(d);
      d.peer().close();
      await settle();
      expect(d.session.phase.reconnectScheduled).toBe(true);

      // Act
      await d.session.stop();
      await advance(120_000, 10_000);

      // Assess
      expect(d.session.phase).toEqual({ state: 'stopped', afterClose: 'stop', reconnectScheduled: false });
      expect(d.peers).toHaveLength(1);
    });

    it('from logon_sent: the connection is dropped and it stays down', async () => {
      // Prepare
      const d = drive();
      d.session.start();
      await settle();

      // Act
      await d.session.stop();

      // Assess
      expect(d.states()).toEqual(['connecting', 'logon_sent', 'stopped']);
      expect(d.peer().closed).toBe(true);
      expect(d.session.reconnect()).toBe(false);
    });
  });

  describe('active: sequencing through the driver', () => {
    it('gives up on a resend that never comes and resumes from the saved position', async () => {
      // Prepare: KalshiRT, resumable, with a gap 2..3.
      const store = new MemorySequenceStore();
      const d = drive({ targetCompId: 'KalshiRT', store, resendTimeoutMs: 10_000 });
      const peer = await loggedOn(d);
      peer.seq = 4;
      peer.report('E4');
      await settle();
      const request = peer.received.find((m) => m.msgType === '2');

      // Act: the peer stays alive but never resends.
      for (let t = 0; t < 11_000; t += 1000) {
        peer.send('0');
        await advance(1000, 500);
      }

      // Assess
      expect(request?.get(7)).toBe('2');
      expect(request?.get(16)).toBe('0');
      expect(d.errors()).toContain('ERR_FIX_SEQ_GAP');
      expect(d.reports).toEqual([]); // never out of order
      expect(store.load()?.nextInbound).toBe(2);
      await d.session.stop();
    });

    it('answers a ResendRequest with one GapFill to the next outbound number', async () => {
      // Prepare
      const d = drive();
      const peer = await loggedOn(d);

      // Act
      peer.send('2', [
        [7, 1],
        [16, 0],
      ]);
      await settle();

      // Assess
      const gapFill = peer.received.at(-1)!;
      expect(gapFill.msgType).toBe('4');
      expect(gapFill.get(123)).toBe('Y');
      expect(gapFill.get(43)).toBe('Y');
      expect(gapFill.getInt(36)).toBe(d.session.nextOutbound);
      await d.session.stop();
    });
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { Backoff } from '../../src/core/backoff.js';
import { MemorySequenceStore } from '../../src/fix/sequence-store.js';
import { startBrokenPeer, type BrokenPeer } from '../helpers/broken-peer.js';
import { createSession } from '../helpers/sim.js';

let peer: BrokenPeer | undefined;
afterEach(() => {
  peer?.server.close();
  peer = undefined;
});

describe('ListenerSession', () => {
  describe('against a peer that trickles one endless frame', () => {
    it(
      'counts only complete messages as traffic: sends a TestRequest, then drops the connection within 2 × HeartBtInt',
      { timeout: 20_000 },
      async () => {
        // Prepare: HeartBtInt 3 s, as in the probe.
        peer = await startBrokenPeer('trickle');
        const h = createSession(
          { host: '127.0.0.1', ports: { KalshiNR: peer.port }, ca: peer.ca },
          { heartbeatIntervalS: 3, autoReconnect: false },
        );
        h.session.start();
        await h.waitForEvent('logon', 5000);
        const loggedOnAt = Date.now();

        // Act
        const error = await h.waitForEvent('error', 12_000, (e) => e.error.code === 'ERR_FIX_HEARTBEAT_TIMEOUT');

        // Assess: dropped well within 12 s, after probing with a TestRequest.
        expect(Date.now() - loggedOnAt).toBeLessThan(8_000);
        expect(error.error.message).toMatch(/nothing received/);
        expect(error.error.message).toMatch(/\d+ bytes of an unfinished frame/);
        expect(peer.received).toContain('\x0135=1\x01');
        await h.waitFor(() => h.session.state === 'disconnected', 2000);
        await h.session.stop();
      },
    );
  });

  describe('against a peer that logs out right after every Logon', () => {
    it('backs off further at each attempt instead of starting over at every Logon', { timeout: 20_000 }, async () => {
      // Prepare: a fast policy so the test is short; the default's arithmetic is checked below.
      peer = await startBrokenPeer('logout');
      const h = createSession(
        { host: '127.0.0.1', ports: { KalshiNR: peer.port }, ca: peer.ca },
        { reconnect: { initialMs: 100, maxMs: 10_000 } },
      );

      // Act
      h.session.start();
      await h.waitFor(() => h.events.filter((e) => e.kind === 'reconnect_scheduled').length >= 5, 15_000);
      await h.session.stop();

      // Assess: attempts count up across Logons, each wait at least half its doubling ceiling.
      const scheduled = h.events.flatMap((e) => (e.kind === 'reconnect_scheduled' ? [e] : [])).slice(0, 5);
      expect(scheduled.map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5]);
      scheduled.forEach((e, i) => expect(e.delayMs).toBeGreaterThanOrEqual((100 * 2 ** i) / 2));
      expect(peer.logons).toBeGreaterThanOrEqual(5);
    });

    it('allows at most 6 Logons after the first in 30 s with the default policy, whatever the draws', () => {
      // Prepare: the least lucky draws (every random 0) of the default reconnect policy.
      const backoff = new Backoff({ initialMs: 1000, maxMs: 60_000, jitter: 'equal' }, () => 0);

      // Act
      const waits = Array.from({ length: 7 }, () => backoff.next());

      // Assess: seven waits take longer than 30 s.
      expect(waits.reduce((a, b) => a + b, 0)).toBeGreaterThan(30_000);
      expect(waits.slice(0, 3)).toEqual([500, 1000, 2000]);
    });
  });

  describe('when the peer closes the connection without a Logout', () => {
    it('says so with ERR_FIX_PEER_CLOSED in the disconnected event and lastError', { timeout: 10_000 }, async () => {
      // Prepare
      peer = await startBrokenPeer('quiet');
      const h = createSession(
        { host: '127.0.0.1', ports: { KalshiNR: peer.port }, ca: peer.ca },
        { autoReconnect: false },
      );
      h.session.start();
      await h.waitForEvent('logon', 5000);

      // Act: the peer drops the connection.
      for (const socket of peer.sockets) socket.destroy();
      const disconnected = await h.waitForEvent('disconnected', 5000);

      // Assess
      expect(disconnected.reason?.code).toBe('ERR_FIX_PEER_CLOSED');
      expect(h.session.status().lastError?.code).toBe('ERR_FIX_PEER_CLOSED');
      await h.session.stop();
    });
  });

  describe('on KalshiRT when the exchange refuses the Logon as MsgSeqNum too low', () => {
    it(
      'adopts the number the exchange expects once and resumes, without ResetSeqNumFlag',
      { timeout: 15_000 },
      async () => {
        // Prepare: our saved numbers are behind the exchange's (a new SPOOL_DIR).
        peer = await startBrokenPeer('expects39');
        const h = createSession(
          { host: '127.0.0.1', ports: { KalshiRT: peer.port }, ca: peer.ca },
          // The peer never answers a Logout: stop() need not wait its default 2 s for one.
          { targetCompId: 'KalshiRT', store: new MemorySequenceStore(), logoutTimeoutMs: 100 },
        );

        // Act
        h.session.start();
        const logon = await h.waitForEvent('logon', 10_000);

        // Assess: refused once with the numbers named, then a resumed Logon at 39.
        const refusal = h.events.find((e) => e.kind === 'error' && e.error.code === 'ERR_FIX_SEQ_TOO_LOW');
        expect(refusal).toMatchObject({ error: { details: { expected: 39, received: 1, step: 'adopt' } } });
        expect(logon.reset).toBe(false);
        expect(peer.logonTexts).toHaveLength(2);
        expect(peer.logonTexts[1]).toContain('\x0134=39\x01');
        expect(peer.logonTexts[1]).not.toContain('\x01141=Y\x01');
        await h.session.stop();
      },
    );

    it(
      'logs on afresh with ResetSeqNumFlag=Y when the adopted number is refused too',
      { timeout: 15_000 },
      async () => {
        // Prepare: an exchange that refuses every resume.
        peer = await startBrokenPeer('refusesResume');
        const h = createSession(
          { host: '127.0.0.1', ports: { KalshiRT: peer.port }, ca: peer.ca },
          // The peer never answers a Logout: stop() need not wait its default 2 s for one.
          { targetCompId: 'KalshiRT', store: new MemorySequenceStore(), logoutTimeoutMs: 100 },
        );

        // Act
        h.session.start();
        const logon = await h.waitForEvent('logon', 10_000);

        // Assess: adopt, refused again, then a reset Logon (the service backfills from the drop copy).
        const steps = h.events.flatMap((e) =>
          e.kind === 'error' && e.error.code === 'ERR_FIX_SEQ_TOO_LOW' ? [e.error.details?.['step']] : [],
        );
        expect(steps).toEqual(['adopt', 'reset']);
        expect(logon.reset).toBe(true);
        expect(peer.logonTexts.at(-1)).toContain('\x01141=Y\x01');
        await h.session.stop();
      },
    );
  });

  describe('on KalshiRT when the peer gap-fills over a report it sent live', () => {
    it('delivers the held report once instead of dropping it with the range', { timeout: 10_000 }, async () => {
      // Prepare
      peer = await startBrokenPeer('gapFillsOverLive');
      const h = createSession(
        { host: '127.0.0.1', ports: { KalshiRT: peer.port }, ca: peer.ca },
        // The peer never answers a Logout: stop() need not wait its default 2 s for one.
        { targetCompId: 'KalshiRT', store: new MemorySequenceStore(), logoutTimeoutMs: 100 },
      );

      // Act
      h.session.start();
      await h.waitForEvent('sequence_reset', 5000);

      // Assess
      expect(h.messages.map((m) => [m.message.seqNum, m.message.get(17)])).toEqual([[5, '1;5']]);
      expect(h.session.status().nextInbound).toBe(6);
      expect(h.events.filter((e) => e.kind === 'error')).toEqual([]);
      await h.session.stop();
    });
  });
});

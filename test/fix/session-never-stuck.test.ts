import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ListenerSessionOptions, SessionEvent } from '../../src/fix/session.js';
import { spawnTs, type PipedChild } from '../helpers/spawn.js';
import { API_KEY, createSession, testKeys, type Harness } from '../helpers/sim.js';

/**
 * Issue 28 item 4 on real sockets: a connection attempt never hangs. A peer that accepts TCP and
 * never answers TLS, and a peer process stopped with SIGSTOP (first a half-open session, then
 * attempts its kernel accepts but nobody answers, then SYNs dropped once its accept queue is full),
 * are each retried within the timeout plus the back-off; POST /reconnect's call while connecting
 * drops the attempt and makes a new one.
 */

const TIMEOUT_MS = 400;
const MAX_BACKOFF_MS = 200;
/** What a loaded 2-core machine may add to a timer or a loopback round trip. */
const SLACK_MS = 1000;

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** Timeouts and a back-off short enough that an attempt which hangs shows within a few seconds. */
const BOUNDED: Partial<ListenerSessionOptions> = {
  connectTimeoutMs: TIMEOUT_MS,
  tlsHandshakeTimeoutMs: TIMEOUT_MS,
  reconnect: { initialMs: MAX_BACKOFF_MS / 2, maxMs: MAX_BACKOFF_MS },
};

/** A TCP server that accepts every connection and never sends a byte. */
interface TcpOnlyPeer {
  port: number;
  /** Every accepted connection, with when it was accepted. */
  accepted: Array<{ socket: Socket; at: number; closed: boolean }>;
}

/** Closed after the test. */
async function startTcpOnlyPeer(): Promise<TcpOnlyPeer> {
  const accepted: TcpOnlyPeer['accepted'] = [];
  const server = createServer((socket) => {
    const entry = { socket, at: Date.now(), closed: false };
    accepted.push(entry);
    socket.on('error', () => undefined);
    socket.on('close', () => (entry.closed = true));
    // Read and drop the ClientHello, so the client's FIN is seen and the close with it.
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return { port: (server.address() as { port: number }).port, accepted };
}

type Timeline = Array<{ at: number; event: SessionEvent }>;

/**
 * A session on the peer at `port` (trusting `ca`), stopped after the test, with every event it
 * reports and the time it came, for the spans between them.
 */
function sessionAt(
  port: number,
  ca: string,
  options: Partial<ListenerSessionOptions> = {},
): { h: Harness; events: Timeline } {
  const events: Timeline = [];
  const h = createSession(
    { host: '127.0.0.1', ports: { KalshiNR: port }, ca },
    { ...options, onEvent: (event) => events.push({ at: Date.now(), event }) },
  );
  cleanups.push(() => h.session.stop());
  return { h, events };
}

/** How long each connection attempt stayed in `connecting`, in ms. */
function connectingSpans(events: Timeline): number[] {
  const spans: number[] = [];
  let since: number | undefined;
  for (const { at, event } of events) {
    if (event.kind !== 'state') continue;
    if (event.to === 'connecting') since = at;
    else if (event.from === 'connecting' && since !== undefined) {
      spans.push(at - since);
      since = undefined;
    }
  }
  return spans;
}

function errorCodes(h: Harness): string[] {
  return h.events.flatMap((e) => (e.kind === 'error' ? [e.error.code] : []));
}

describe('ListenerSession never stuck in connecting', () => {
  it(
    'gives up on a peer that accepts TCP and never answers TLS, and retries within timeout + back-off, counting attempts',
    { timeout: 20_000 },
    async () => {
      // Prepare
      const peer = await startTcpOnlyPeer();
      const { h, events } = sessionAt(peer.port, (await testKeys().certificate).cert, BOUNDED);

      // Act
      h.session.start();
      await h.waitFor(
        () => h.events.filter((e) => e.kind === 'reconnect_scheduled').length >= 4,
        10_000,
        'four attempts given up and retried (the old session sat in connecting for ever)',
      );

      // Assess: every attempt reached the peer and was given up at the handshake's timeout.
      expect(errorCodes(h).slice(0, 4)).toEqual(Array(4).fill('ERR_FIX_TLS_HANDSHAKE_TIMEOUT'));
      expect(peer.accepted.length).toBeGreaterThanOrEqual(4);
      for (const span of connectingSpans(events).slice(0, 4)) {
        expect(span).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
        expect(span).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      }
      const gaps = peer.accepted.slice(1, 4).map((a, i) => a.at - peer.accepted[i]!.at);
      for (const gap of gaps) expect(gap).toBeLessThan(TIMEOUT_MS + MAX_BACKOFF_MS + SLACK_MS);
      expect(peer.accepted.slice(0, 3).every((a) => a.closed)).toBe(true);
      const status = h.session.status();
      expect(status.reconnectAttempts).toBeGreaterThanOrEqual(4);
      expect(status.counters.reconnects).toBeGreaterThanOrEqual(3);
      expect(status.lastError).toMatchObject({ code: 'ERR_FIX_TLS_HANDSHAKE_TIMEOUT' });
      expect(status.lastError?.message).toMatch(
        new RegExp(`TLS handshake with 127\\.0\\.0\\.1:${peer.port} did not finish within ${TIMEOUT_MS} ms`),
      );
      expect(status.counters.logons).toBe(0);
    },
  );

  it(
    'reconnect() while connecting drops the hanging attempt and starts a new one at once',
    { timeout: 20_000 },
    async () => {
      // Prepare: the default 10 s timeouts, so only the reconnect can end the attempt this soon.
      const peer = await startTcpOnlyPeer();
      const { h } = sessionAt(peer.port, (await testKeys().certificate).cert);
      h.session.start();
      await h.waitFor(() => peer.accepted.length === 1, 5000, 'the first attempt at the peer');
      const askedAt = Date.now();

      // Act
      const accepted = h.session.reconnect();
      await h.waitFor(
        () => peer.accepted.length === 2 && peer.accepted[0]!.closed,
        5000,
        'the first attempt closed, a second one at the peer',
      );

      // Assess
      expect(accepted).toBe(true);
      expect(Date.now() - askedAt).toBeLessThan(SLACK_MS);
      expect(h.session.state).toBe('connecting');
      expect(peer.accepted[1]!.closed).toBe(false);
      expect(errorCodes(h)).toEqual([]);
      expect(h.events.filter((e) => e.kind === 'reconnect_scheduled')).toEqual([]);
    },
  );

  it(
    'against a peer process stopped with SIGSTOP: drops the half-open session, bounds every attempt by the timeouts, and logs on once it runs again',
    { timeout: 60_000 },
    async () => {
      // Prepare: the simulator in a child process with a 1-connection accept queue.
      const keys = testKeys();
      const certificate = await keys.certificate;
      const peer = spawnTs('test/fixtures/simulator-child.ts', [
        JSON.stringify({
          apiKey: API_KEY,
          publicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }),
          certificate,
          backlog: 1,
        }),
      ]);
      const child: PipedChild = peer.child;
      cleanups.push(async () => {
        child.kill('SIGKILL');
        await peer.exited;
      });
      const port = Number((await peer.waitForOutput(/port (\d+)/))[1]);
      // A 1 s heartbeat: the half-open session is noticed within seconds.
      const { h, events } = sessionAt(port, certificate.cert, { ...BOUNDED, heartbeatIntervalS: 1 });
      h.session.start();
      await h.waitForEvent('logon', 10_000);

      // Act: stop the peer; wait until attempts have met both an unanswered handshake (the kernel
      // still accepts) and an unanswered SYN (its queue full); then let it run again.
      child.kill('SIGSTOP');
      await h.waitForEvent('error', 10_000, (e) => e.error.code === 'ERR_FIX_HEARTBEAT_TIMEOUT');
      await h.waitForEvent('error', 15_000, (e) => e.error.code === 'ERR_FIX_CONNECT_TIMEOUT');
      const attemptsWhileStopped = h.session.status().reconnectAttempts;
      child.kill('SIGCONT');
      await h.waitFor(() => h.session.status().counters.logons === 2, 15_000, 'a Logon once the peer runs again');

      // Assess: after the half-open session, only the two opening timeouts; no attempt outlived one.
      const codes = errorCodes(h);
      const afterHalfOpen = codes.slice(codes.indexOf('ERR_FIX_HEARTBEAT_TIMEOUT') + 1);
      expect(afterHalfOpen).toContain('ERR_FIX_TLS_HANDSHAKE_TIMEOUT');
      expect(afterHalfOpen).toContain('ERR_FIX_CONNECT_TIMEOUT');
      expect(
        afterHalfOpen.filter((c) => c !== 'ERR_FIX_TLS_HANDSHAKE_TIMEOUT' && c !== 'ERR_FIX_CONNECT_TIMEOUT'),
      ).toEqual([]);
      const spans = connectingSpans(events);
      expect(spans.length).toBeGreaterThanOrEqual(afterHalfOpen.length + 1);
      for (const span of spans) expect(span).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      expect(attemptsWhileStopped).toBeGreaterThanOrEqual(afterHalfOpen.length);
      expect(h.session.state).toBe('active');
    },
  );
});

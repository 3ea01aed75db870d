import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Counter, Registry } from 'prom-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  createControlPlane,
  type ControlPlaneOptions,
  type ReconnectRequest,
  type StatusBody,
} from '../../src/http/control-plane.js';
import { createMetrics } from '../../src/http/metrics.js';
import { RateHistory } from '../../src/http/rate-history.js';
import type { ControlTarget, FillView, ListenerStatus, SessionView, SinkView } from '../../src/http/status.js';

/**
 * Every route of createControlPlane, through Hono's app.request(), against a status of the test's
 * own: no socket, no session, no clock. Each test builds its own app and target.
 */

const NOW = Date.parse('2026-11-24T12:00:00.000Z');
const TOKEN = 'routes-control-token-0123456789';

function sessionView(overrides: Partial<SessionView> = {}): SessionView {
  return {
    state: 'active',
    host: 'fix.example.test',
    port: 8230,
    senderCompId: 'key-1',
    targetCompId: 'KalshiRT',
    heartbeatIntervalS: 30,
    nextInbound: 42,
    nextOutbound: 17,
    processedThrough: 40,
    lastReceivedAt: NOW - 1500,
    lastSentAt: NOW - 2500,
    loggedOnAt: NOW - 600_000,
    recovering: undefined,
    reconnectAttempts: 0,
    nextAttemptAt: undefined,
    disconnectedSince: undefined,
    lastError: undefined,
    clockSkewMs: undefined,
    messagesInByType: { '0': 20, '8': 21 },
    counters: {
      messagesIn: 41,
      messagesOut: 16,
      applicationMessages: 21,
      duplicatesDropped: 0,
      gaps: 0,
      resendRequests: 0,
      rejects: 0,
      decodeErrors: 0,
      reconnects: 0,
      logons: 1,
    },
    ...overrides,
  };
}

function sinkView(name: 'archive' | 'fills', overrides: Partial<SinkView> = {}): SinkView {
  return {
    name,
    location: name === 'archive' ? 's3://bucket/prod/' : 'https://sqs.us-east-1.amazonaws.com/1/fills.fifo',
    lastSuccessAt: NOW - 5000,
    lastError: undefined,
    consecutiveFailures: 0,
    lagSeconds: 0,
    pendingRecords: 0,
    deadLetters: 0,
    ...overrides,
  };
}

/** A logged-on listener whose sinks keep up, with parts replaced. */
function listenerStatus(
  overrides: {
    session?: Partial<SessionView>;
    archive?: Partial<SinkView>;
    fills?: Partial<SinkView>;
    fatal?: string;
  } = {},
): ListenerStatus {
  return {
    session: sessionView(overrides.session),
    sessionEvents: [],
    spool: { dir: '/spool', freeBytes: 40 * 2 ** 30, totalBytes: 50 * 2 ** 30, sampledAt: NOW - 2000, error: null },
    journal: {
      lastLsn: 21,
      durableLsn: 21,
      segments: 1,
      bytesOnDisk: 31_337,
      dedupeEntries: 21,
      duplicatesDropped: 0,
      truncatedTailBytes: 0,
      integrity: { damage: [], recovering: 0, stalled: null, pendingBytes: 0, lastWriteError: null },
      backlog: { archive: { records: 21, bytes: 30_000 }, fills: { records: 0, bytes: 0 } },
    },
    sinks: [sinkView('archive', overrides.archive), sinkView('fills', overrides.fills)],
    backfill: {
      configured: false,
      endpoint: null,
      running: false,
      retrying: null,
      disabled: null,
      runs: 0,
      recovered: 0,
      duplicatesDropped: 0,
      lastRun: null,
      holes: [],
    },
    spoolFiles: { damage: [] },
    counters: {
      executionReports: 21,
      duplicatesDropped: 0,
      otherApplicationMessages: 0,
      fillsPublished: 9,
      parquetLossyValues: 0,
      execIdConflicts: 0,
    },
    fatal: overrides.fatal,
  };
}

/** A ControlTarget answering with `current` (a test may replace it) and counting reconnect calls. */
interface FakeTarget extends ControlTarget {
  current: ListenerStatus;
  reconnectCalls: number;
}

function fakeTarget(status: ListenerStatus, reconnectStarts = true): FakeTarget {
  const target: FakeTarget = {
    current: status,
    reconnectCalls: 0,
    status: () => target.current,
    reconnect: () => {
      target.reconnectCalls++;
      return reconnectStarts;
    },
  };
  return target;
}

/** An app over a target and a registry of its own; options override the defaults. */
function controlPlane(options: Partial<Omit<ControlPlaneOptions, 'target'>> & { target?: FakeTarget } = {}) {
  const target = options.target ?? fakeTarget(listenerStatus());
  const app = createControlPlane({
    metrics: new Registry(),
    version: '9.8.7',
    startedAt: NOW - 90_500,
    now: () => NOW,
    ...options,
    target,
  });
  return { app, target };
}

/** A listener that was logged on, was logged out by the exchange and cannot get back in since. */
function afterAnOutage(): ListenerStatus {
  const status = listenerStatus({
    session: {
      state: 'disconnected',
      reconnectAttempts: 3,
      disconnectedSince: NOW - 95_000,
      nextAttemptAt: NOW + 7_400,
      lastError: { code: 'ERR_FIX_TRANSPORT', message: 'connect ECONNREFUSED 10.0.0.9:8230', at: NOW - 600 },
    },
    archive: { pendingRecords: 4, pendingReason: 'batching: next object at 12:00:05 UTC', nextWriteAt: NOW + 5000 },
  });
  status.session.counters.reconnects = 4;
  status.sessionEvents = [
    {
      kind: 'disconnected',
      at: NOW - 600,
      firstAt: NOW - 60_000,
      count: 3,
      code: 'ERR_FIX_TRANSPORT',
      text: 'connect ECONNREFUSED 10.0.0.9:8230',
    },
    {
      kind: 'disconnected',
      at: NOW - 95_000,
      firstAt: NOW - 95_000,
      count: 1,
      code: 'ERR_FIX_LOGOUT',
      text: 'KalshiRT logged the session out: <maintenance>',
    },
    {
      kind: 'logout',
      at: NOW - 95_010,
      firstAt: NOW - 95_010,
      count: 1,
      code: null,
      text: 'the exchange logged out: <maintenance>',
    },
    {
      kind: 'logon',
      at: NOW - 600_000,
      firstAt: NOW - 600_000,
      count: 1,
      code: null,
      text: 'logged on, resuming at MsgSeqNum 42',
    },
  ];
  status.sinks.splice(1, 0, {
    name: 'parquet',
    location: 's3://bucket/prod/',
    lastSuccessAt: NOW - 3600_000,
    lastError: undefined,
    consecutiveFailures: 0,
    lagSeconds: 0,
    pendingRecords: 2621,
    deadLetters: 0,
    pendingReason: 'waiting for hour 11:00 UTC to close + 5 min grace (object at 12:05:00 UTC)',
    nextWriteAt: NOW + 300_000,
  });
  status.backfill = {
    ...status.backfill,
    configured: true,
    endpoint: 'fix.example.test:8229',
    runs: 2,
    retrying: { attempt: 2, at: NOW + 4000, why: 'U3 1: rate limited' },
  };
  status.spool = {
    dir: '/spool',
    freeBytes: 1.5 * 2 ** 30,
    totalBytes: 20 * 2 ** 30,
    sampledAt: NOW - 3000,
    error: null,
  };
  return status;
}

interface ReadyJson {
  ready: boolean;
  reasons?: string[];
}

async function readyz(target: FakeTarget, limits?: ControlPlaneOptions['limits']) {
  const { app } = controlPlane({ target, ...(limits === undefined ? {} : { limits }) });
  const response = await app.request('/readyz');
  return { status: response.status, body: (await response.json()) as ReadyJson };
}

describe('createControlPlane', () => {
  describe('GET /', () => {
    const fill = (n: number, overrides: Partial<FillView> = {}): FillView => ({
      execId: `exec-${n}`,
      symbol: `KXTEST-26NOV30-T${n}`,
      side: n % 2 === 0 ? '1' : '2',
      lastPx: '0.4200',
      lastQty: String(n),
      receivedAt: new Date(NOW - n * 1000).toISOString(),
      sentAt: NOW - n * 1000 + 3,
      ...overrides,
    });

    it('renders the session, the sinks, the last fills and both charts as one self-contained HTML page', async () => {
      // Prepare
      const target = fakeTarget(listenerStatus());
      target.recentFills = () => [fill(1), fill(2)];
      const rates = new RateHistory({ intervalMs: 10_000 });
      [0, 10, 20, 30].forEach((n, i) =>
        rates.sample(NOW - 30_000 + i * 10_000, { executionReports: n * 10, fillsPublished: n }),
      );
      const { app } = controlPlane({ target, rates });
      // Act
      const response = await app.request('/');
      const html = await response.text();
      // Assess
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(html).toContain('<meta http-equiv="refresh" content="5">');
      expect(html).toMatch(/id="session-state">active</);
      expect(html).toMatch(/id="ready">ready</);
      expect(html).toContain('fix.example.test:8230');
      expect(html).toContain('42 / 40'); // seq in: next / processed through
      expect(html).toContain('KXTEST-26NOV30-T1');
      expect(html).toContain('exec-2');
      expect(html.indexOf('exec-1')).toBeLessThan(html.indexOf('exec-2')); // newest first, as given
      expect(html).toContain('now 10.0, peak 10.0'); // reports/s: 100 more every 10 s
      expect((html.match(/<polyline/g) ?? []).length).toBe(4); // two charts, area and line each
      // Nothing loaded from anywhere: no script, no stylesheet or image by URL, links to its own routes only.
      expect(html).not.toMatch(/<script|<link|<img|src=|url\(/i);
      expect([...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1])).toEqual(['/status', '/readyz', '/metrics']);
    });

    it("names its listener and links the fleet's other status pages", async () => {
      // Prepare
      const { app } = controlPlane({
        listener: 'member-b',
        fleet: [
          { name: 'member-a', url: 'http://10.0.1.5:8080/' },
          { name: 'member-b', url: 'http://10.0.2.7:8080/' },
        ],
      });
      // Act
      const html = await (await app.request('/')).text();
      // Assess
      expect(html).toMatch(/<title>active · member-b kalshi-fix-listener<\/title>/);
      expect(html).toMatch(/id="listener">member-b</);
      expect(html).toContain(
        '<nav id="fleet">Fleet: <a href="http://10.0.1.5:8080/">member-a</a> · <strong>member-b</strong></nav>',
      );
    });

    it('says why it is not ready, and lists the holes', async () => {
      // Prepare
      const status = listenerStatus({ session: { state: 'disconnected' } });
      status.backfill = {
        ...status.backfill,
        holes: [
          {
            lastGoodExecId: 'e-9',
            from: '2026-11-24T11:00:00.000Z',
            to: '2026-11-24T11:05:00.000Z',
            reason: 'no drop-copy session configured (FIX_DC_API_KEY)',
            recordedAt: '2026-11-24T11:05:01.000Z',
          },
        ],
      };
      const { app } = controlPlane({ target: fakeTarget(status) });
      // Act
      const html = await (await app.request('/')).text();
      // Assess
      expect(html).toMatch(/id="session-state">disconnected</);
      expect(html).toMatch(/id="ready">not ready</);
      expect(html).toMatch(/<ul class="reasons"><li>session (is )?disconnected/);
      expect(html).toContain('no drop-copy session configured (FIX_DC_API_KEY)');
      expect(html).toContain('No fill sent since the start.');
      expect(html).toContain('collecting…'); // no rates yet
    });

    it('escapes every value it shows (a symbol or an error text is not markup)', async () => {
      // Prepare
      const target = fakeTarget(
        listenerStatus({
          session: { lastError: { code: 'ERR_X', message: '<img src=x onerror=alert(1)>', at: NOW } },
        }),
      );
      target.recentFills = () => [fill(3, { symbol: '<script>alert(1)</script>', execId: '"><b>' })];
      const { app } = controlPlane({ target });
      // Act
      const html = await (await app.request('/')).text();
      // Assess
      expect(html).not.toContain('<script>alert(1)');
      expect(html).not.toContain('<img src=x');
      expect(html).not.toContain('"><b>');
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    });

    it('tells an operator what happened: the session events, since when it is down and the next try, the drop copy, the spool, why a sink holds records', async () => {
      // Prepare
      const { app } = controlPlane({ target: fakeTarget(afterAnOutage()) });
      // Act
      const html = await (await app.request('/')).text();
      const events = [
        ...html.matchAll(/<tr class="(\w+)"><td>([^<]*)<\/td><td>(.*?)<\/td><td>(.*?)<\/td><td>(.*?)<\/td><\/tr>/g),
      ];
      // Assess: the header says it first, with the last reason.
      expect(html).toContain(
        '<p class="outage" id="outage">Not logged on since 95 s ago, at 11:58:25 UTC · next try in 8 s (12:00:07 UTC) · 3 failed attempts · last: ERR_FIX_TRANSPORT: connect ECONNREFUSED 10.0.0.9:8230</p>',
      );
      expect(html).toContain('<td id="disconnected-since">95 s ago, at 11:58:25 UTC</td>');
      expect(html).toContain('<td id="next-try">in 8 s (12:00:07 UTC)</td>');
      expect(html).toContain('<td id="reconnects">4 / 3</td>');
      // Newest first, a run of the same refusal once with its count, every text escaped.
      expect(events.map((m) => [m[1], m[3], m[4]])).toEqual([
        ['disconnected', 'disconnect ×3 <small>since 11:59:00 UTC</small>', '<code>ERR_FIX_TRANSPORT</code>'],
        ['disconnected', 'disconnect', '<code>ERR_FIX_LOGOUT</code>'],
        ['logout', 'logout', '—'],
        ['logon', 'logon', '—'],
      ]);
      expect(events[0]![2]).toBe('1 s ago, 11:59:59 UTC');
      expect(events[2]![5]).toBe('the exchange logged out: &lt;maintenance&gt;');
      expect(events[3]![5]).toBe('logged on, resuming at MsgSeqNum 42');
      expect(html).toContain(
        '<td id="drop-copy-state">retrying (attempt 2 failed: U3 1: rate limited), next in 4 s</td>',
      );
      expect(html).toContain('fix.example.test:8229');
      expect(html).toContain('<td id="spool-free">1.5 GiB of 20.0 GiB (7.5 %), read 3 s ago</td>');
      expect(html).toContain(
        '<td class="why">waiting for hour 11:00 UTC to close + 5 min grace (object at 12:05:00 UTC)</td>',
      );
      expect(html).toContain('<td class="why">batching: next object at 12:00:05 UTC</td>');
      expect(html).not.toMatch(/<script/i);
    });

    it('says nothing of an outage while logged on, and says so when the drop copy or the events are not there', async () => {
      // Prepare
      const status = listenerStatus();
      status.spool = { dir: '/spool', freeBytes: null, totalBytes: null, sampledAt: null, error: 'EACCES' };
      const { app } = controlPlane({ target: fakeTarget(status) });
      // Act
      const html = await (await app.request('/')).text();
      // Assess
      expect(html).not.toContain('id="outage"');
      expect(html).toContain('<td id="disconnected-since">—</td>');
      expect(html).toContain('<td id="next-try">—</td>');
      expect(html).toContain('<p id="session-events">None since the start.</p>');
      expect(html).toContain('<td id="drop-copy-state">not configured: gaps a logon cannot resend become holes</td>');
      expect(html).toContain('<td id="spool-free">unknown (EACCES)</td>');
    });
  });

  describe('GET /healthz', () => {
    it('answers 200 {status: ok}', async () => {
      // Prepare
      const { app } = controlPlane();
      // Act
      const response = await app.request('/healthz');
      // Assess
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
    });

    it('answers 200 even when the listener is not ready: liveness is not readiness', async () => {
      // Prepare
      const { app } = controlPlane({
        target: fakeTarget(listenerStatus({ session: { state: 'disconnected' }, fatal: 'journal write failed' })),
      });
      // Act
      const response = await app.request('/healthz');
      // Assess
      expect(response.status).toBe(200);
    });
  });

  describe('GET /readyz', () => {
    it('answers 200 {ready: true} when the session is active and the sinks keep up', async () => {
      // Act
      const { status, body } = await readyz(fakeTarget(listenerStatus()));
      // Assess
      expect(status).toBe(200);
      expect(body).toEqual({ ready: true });
    });

    it('answers 503 when the session is not active, with the last error code and message', async () => {
      // Prepare
      const target = fakeTarget(
        listenerStatus({
          session: {
            state: 'disconnected',
            lastError: { code: 'ERR_FIX_LOGON_REJECTED', message: 'Signature error', at: NOW - 1000 },
          },
        }),
      );
      // Act
      const { status, body } = await readyz(target);
      // Assess
      expect(status).toBe(503);
      expect(body).toEqual({
        ready: false,
        reasons: ['session is disconnected (ERR_FIX_LOGON_REJECTED: Signature error)'],
      });
    });

    it('answers 503 while a sequence gap is being recovered', async () => {
      // Prepare: seqs 42..44 asked for again.
      const target = fakeTarget(listenerStatus({ session: { recovering: { from: 42, to: 44 } } }));
      // Act
      const { status, body } = await readyz(target);
      // Assess
      expect(status).toBe(503);
      expect(body).toEqual({ ready: false, reasons: ['recovering sequence gap 42..44'] });
    });

    it('answers 503 when fills lag past their limit (60 s by default), with the sink error', async () => {
      // Prepare
      const target = fakeTarget(
        listenerStatus({ fills: { lagSeconds: 61.4, lastError: { message: 'ThrottlingException', at: NOW } } }),
      );
      // Act
      const { status, body } = await readyz(target);
      // Assess
      expect(status).toBe(503);
      expect(body).toEqual({ ready: false, reasons: ['fills is 61 s behind (limit 60 s): ThrottlingException'] });
    });

    it('stays 200 with fills exactly at the limit', async () => {
      // Act
      const { status } = await readyz(fakeTarget(listenerStatus({ fills: { lagSeconds: 60 } })));
      // Assess
      expect(status).toBe(200);
    });

    it('answers 503 when the archive lags past its limit (15 min by default)', async () => {
      // Prepare: 60 s would be far behind for fills, but is nothing for the archive.
      const target = fakeTarget(listenerStatus({ archive: { lagSeconds: 901 } }));
      const within = fakeTarget(listenerStatus({ archive: { lagSeconds: 600 } }));
      // Act
      const { status, body } = await readyz(target);
      const { status: withinStatus } = await readyz(within);
      // Assess
      expect(status).toBe(503);
      expect(body).toEqual({ ready: false, reasons: ['archive is 901 s behind (limit 900 s)'] });
      expect(withinStatus).toBe(200);
    });

    it('applies the limits it is given', async () => {
      // Prepare
      const target = fakeTarget(listenerStatus({ fills: { lagSeconds: 6 }, archive: { lagSeconds: 31 } }));
      // Act
      const { status, body } = await readyz(target, { maxFillLagSeconds: 5, maxArchiveLagSeconds: 30 });
      // Assess
      expect(status).toBe(503);
      expect(body.reasons).toEqual(['archive is 31 s behind (limit 30 s)', 'fills is 6 s behind (limit 5 s)']);
    });

    it('answers 503 when the listener is fatal', async () => {
      // Prepare
      const target = fakeTarget(listenerStatus({ fatal: 'journal write failed: ENOSPC' }));
      // Act
      const { status, body } = await readyz(target);
      // Assess
      expect(status).toBe(503);
      expect(body).toEqual({ ready: false, reasons: ['fatal: journal write failed: ENOSPC'] });
    });

    it('lists every reason at once', async () => {
      // Prepare
      const target = fakeTarget(
        listenerStatus({
          session: { state: 'connecting', recovering: { from: 7, to: 7 } },
          fills: { lagSeconds: 120 },
          fatal: 'disk full',
        }),
      );
      // Act
      const { status, body } = await readyz(target);
      // Assess
      expect(status).toBe(503);
      expect(body.reasons).toEqual([
        'fatal: disk full',
        'session is connecting',
        'recovering sequence gap 7..7',
        'fills is 120 s behind (limit 60 s)',
      ]);
    });
  });

  describe('GET /status', () => {
    it('tells version, uptime, readiness, the session with ISO times, counters, journal, sinks and backfill', async () => {
      // Prepare
      const status = listenerStatus({
        session: { clockSkewMs: -12 },
        archive: {
          lastError: { message: 'SlowDown', at: NOW - 30_000, code: 'SlowDown' },
          consecutiveFailures: 2,
          lagSeconds: 12,
          pendingRecords: 21,
        },
      });
      const { app } = controlPlane({ target: fakeTarget(status) });
      // Act
      const response = await app.request('/status');
      const body = (await response.json()) as StatusBody;
      // Assess
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(body.version).toBe('9.8.7');
      expect(body.uptimeSeconds).toBe(91);
      expect(body.ready).toEqual({ ready: true, reasons: [] });
      expect(body.session).toEqual({
        state: 'active',
        endpoint: 'fix.example.test:8230',
        senderCompId: 'key-1',
        targetCompId: 'KalshiRT',
        heartbeatIntervalS: 30,
        seqIn: { next: 42, processedThrough: 40 },
        seqOut: { next: 17 },
        lastReceivedAt: '2026-11-24T11:59:58.500Z',
        lastSentAt: '2026-11-24T11:59:57.500Z',
        loggedOnAt: '2026-11-24T11:50:00.000Z',
        recovering: null,
        reconnectAttempts: 0,
        nextAttemptAt: null,
        disconnectedSince: null,
        lastError: null,
        clockSkewMs: -12,
        messagesInByType: { '0': 20, '8': 21 },
        counters: status.session.counters,
      });
      expect(body.counters).toEqual(status.counters);
      expect(body.journal).toEqual(status.journal);
      expect(body.sinks).toEqual([
        {
          name: 'archive',
          location: 's3://bucket/prod/',
          lastSuccessAt: '2026-11-24T11:59:55.000Z',
          lastError: { message: 'SlowDown', at: '2026-11-24T11:59:30.000Z', code: 'SlowDown' },
          consecutiveFailures: 2,
          lagSeconds: 12,
          pendingRecords: 21,
          deadLetters: 0,
        },
        {
          name: 'fills',
          location: 'https://sqs.us-east-1.amazonaws.com/1/fills.fifo',
          lastSuccessAt: '2026-11-24T11:59:55.000Z',
          lastError: null,
          consecutiveFailures: 0,
          lagSeconds: 0,
          pendingRecords: 0,
          deadLetters: 0,
        },
      ]);
      expect(body.backfill).toEqual(status.backfill);
      expect(body.fatal).toBeNull();
    });

    it('gives null for what has not happened yet, and tells a gap, an error and a fatal condition', async () => {
      // Prepare: never logged on, a gap open, a session error, the journal failed.
      const status = listenerStatus({
        session: {
          state: 'disconnected',
          lastReceivedAt: undefined,
          lastSentAt: undefined,
          loggedOnAt: undefined,
          recovering: { from: 5, to: 9 },
          reconnectAttempts: 3,
          lastError: { code: 'ERR_FIX_TRANSPORT', message: 'ECONNREFUSED', at: NOW - 250 },
        },
        fills: { lastSuccessAt: undefined },
        fatal: 'journal write failed',
      });
      const { app } = controlPlane({ target: fakeTarget(status) });
      // Act
      const body = (await (await app.request('/status')).json()) as StatusBody;
      // Assess
      expect(body.session).toMatchObject({
        state: 'disconnected',
        lastReceivedAt: null,
        lastSentAt: null,
        loggedOnAt: null,
        recovering: { from: 5, to: 9 },
        reconnectAttempts: 3,
        lastError: { code: 'ERR_FIX_TRANSPORT', message: 'ECONNREFUSED', at: '2026-11-24T11:59:59.750Z' },
        clockSkewMs: null,
      });
      expect(body.sinks[1]!.lastSuccessAt).toBeNull();
      expect(body.fatal).toBe('journal write failed');
      expect(body.ready.ready).toBe(false);
      expect(body.ready.reasons).toHaveLength(3);
    });

    it('tells the session events, the outage, the next try, the spool and why the archive holds records, times as ISO', async () => {
      // Prepare
      const { app } = controlPlane({ target: fakeTarget(afterAnOutage()) });
      // Act
      const body = (await (await app.request('/status')).json()) as StatusBody;
      // Assess
      expect(body.session).toMatchObject({
        disconnectedSince: '2026-11-24T11:58:25.000Z',
        nextAttemptAt: '2026-11-24T12:00:07.400Z',
        reconnectAttempts: 3,
      });
      expect(body.session.counters.reconnects).toBe(4);
      expect(body.sessionEvents).toHaveLength(4);
      expect(body.sessionEvents[0]).toEqual({
        kind: 'disconnected',
        at: '2026-11-24T11:59:59.400Z',
        firstAt: '2026-11-24T11:59:00.000Z',
        count: 3,
        code: 'ERR_FIX_TRANSPORT',
        text: 'connect ECONNREFUSED 10.0.0.9:8230',
      });
      expect(body.spool).toEqual({
        dir: '/spool',
        freeBytes: 1.5 * 2 ** 30,
        totalBytes: 20 * 2 ** 30,
        sampledAt: '2026-11-24T11:59:57.000Z',
        error: null,
      });
      expect(body.sinks[1]).toMatchObject({
        name: 'parquet',
        pendingReason: 'waiting for hour 11:00 UTC to close + 5 min grace (object at 12:05:00 UTC)',
        nextWriteAt: '2026-11-24T12:05:00.000Z',
      });
      expect(body.sinks[2]).not.toHaveProperty('nextWriteAt');
      expect(body.backfill).toMatchObject({
        configured: true,
        endpoint: 'fix.example.test:8229',
        retrying: { attempt: 2, at: '2026-11-24T12:00:04.000Z', why: 'U3 1: rate limited' },
      });
    });
  });

  describe('POST /reconnect', () => {
    it('answers 202 {reconnecting: true} and asks the target once, with no token configured', async () => {
      // Prepare
      const { app, target } = controlPlane();
      // Act
      const response = await app.request('/reconnect', { method: 'POST' });
      // Assess
      expect(response.status).toBe(202);
      expect(await response.json()).toEqual({ reconnecting: true });
      expect(target.reconnectCalls).toBe(1);
    });

    it('answers 202 with alreadyInProgress when the target says a reconnect is under way', async () => {
      // Prepare
      const target = fakeTarget(listenerStatus(), false);
      const { app } = controlPlane({ target });
      // Act
      const response = await app.request('/reconnect', { method: 'POST' });
      // Assess
      expect(response.status).toBe(202);
      expect(await response.json()).toEqual({ reconnecting: true, alreadyInProgress: true });
      expect(target.reconnectCalls).toBe(1);
    });

    it.each([
      ['no Authorization header', undefined],
      ['a wrong token', `Bearer ${TOKEN}x`],
      ['a shorter token', `Bearer ${TOKEN.slice(0, 10)}`],
      ['an empty bearer', 'Bearer '],
      ['the token under another scheme', `Basic ${TOKEN}`],
    ])('answers 401 with WWW-Authenticate to %s when a token is configured, and asks nothing', async (_, header) => {
      // Prepare
      const target = fakeTarget(listenerStatus());
      const { app } = controlPlane({ target, controlToken: TOKEN });
      // Act
      const response = await app.request('/reconnect', {
        method: 'POST',
        ...(header === undefined ? {} : { headers: { authorization: header } }),
      });
      // Assess
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="kalshi-fix-listener"');
      expect(await response.json()).toEqual({ error: 'unauthorized' });
      expect(target.reconnectCalls).toBe(0);
    });

    it('answers 202 to the right bearer token', async () => {
      // Prepare
      const target = fakeTarget(listenerStatus());
      const { app } = controlPlane({ target, controlToken: TOKEN });
      // Act
      const response = await app.request('/reconnect', {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      // Assess
      expect(response.status).toBe(202);
      expect(await response.json()).toEqual({ reconnecting: true });
      expect(target.reconnectCalls).toBe(1);
    });
  });

  describe('GET /metrics', () => {
    it("serves the registry's text with the registry's content type", async () => {
      // Prepare: a registry of the test's own, with one counter.
      const registry = new Registry();
      const counter = new Counter({
        name: 'routes_test_total',
        help: 'A counter of this test.',
        registers: [registry],
      });
      counter.inc(3);
      const { app } = controlPlane({ metrics: registry });
      // Act
      const response = await app.request('/metrics');
      const text = await response.text();
      // Assess
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(registry.contentType);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(text).toMatch(/^# TYPE routes_test_total counter$/m);
      expect(text).toMatch(/^routes_test_total 3$/m);
    });

    it("reads the listener's status at scrape time through createMetrics", async () => {
      // Prepare
      const target = fakeTarget(listenerStatus({ fills: { lagSeconds: 3 } }));
      const { app } = controlPlane({ target, metrics: createMetrics(() => target.status()) });
      const first = await (await app.request('/metrics')).text();
      // Act: the status moves on between two scrapes.
      target.current = listenerStatus({ session: { state: 'disconnected' }, fills: { lagSeconds: 0 } });
      target.current.counters.executionReports = 25;
      const second = await (await app.request('/metrics')).text();
      // Assess
      expect(first).toMatch(/^kfl_execution_reports_total 21$/m);
      expect(first).toMatch(/^kfl_fills_published_total 9$/m);
      expect(first).toMatch(/^kfl_messages_in_total\{msg_type="8"\} 21$/m);
      expect(first).toMatch(/^kfl_session_state\{state="active"\} 1$/m);
      expect(first).toMatch(/^kfl_sink_lag_seconds\{sink="fills"\} 3$/m);
      expect(first).toMatch(/^kfl_journal_backlog_records\{sink="archive"\} 21$/m);
      expect(first).toMatch(/^kfl_journal_bytes 31337$/m);
      expect(second).toMatch(/^kfl_execution_reports_total 25$/m);
      expect(second).toMatch(/^kfl_session_state\{state="active"\} 0$/m);
      expect(second).toMatch(/^kfl_session_state\{state="disconnected"\} 1$/m);
      expect(second).toMatch(/^kfl_sink_lag_seconds\{sink="fills"\} 0$/m);
    });
  });

  describe('unknown routes', () => {
    it.each([
      ['GET', '/nope'],
      ['GET', '/reconnect'],
      ['POST', '/healthz'],
      ['DELETE', '/status'],
    ])('answer %s %s with 404 {error: not found}', async (method, path) => {
      // Prepare
      const { app, target } = controlPlane();
      // Act
      const response = await app.request(path, { method });
      // Assess
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: 'not found' });
      expect(target.reconnectCalls).toBe(0);
    });
  });
});

describe('createControlPlane with CONTROL_TOKEN (issue 28, item 5)', () => {
  const bearer = { authorization: `Bearer ${TOKEN}` };
  /** HTTP Basic as a browser sends it: base64 of `user:password`. */
  const basic = (user: string, password: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
  });
  /** The peer address @hono/node-server passes; app.request() takes it as the env. */
  const from = (remoteAddress: string) => ({ incoming: { socket: { remoteAddress } } });

  /** An app with the token, a clock the test moves, and every audited reconnect call kept. */
  function guarded(options: Partial<Omit<ControlPlaneOptions, 'target'>> & { target?: FakeTarget } = {}) {
    const clock = { now: NOW };
    const audit: ReconnectRequest[] = [];
    const { app, target } = controlPlane({
      controlToken: TOKEN,
      now: () => clock.now,
      onReconnectRequest: (request) => audit.push(request),
      ...options,
    });
    return { app, target, clock, audit };
  }

  const reconnect = (app: ReturnType<typeof guarded>['app'], headers: Record<string, string>, caller = '10.0.0.7') =>
    app.request('/reconnect', { method: 'POST', headers }, from(caller));

  describe.each([
    ['GET /', '/', 200],
    ['GET /status', '/status', 200],
    ['GET /metrics', '/metrics', 200],
    ['GET of an unknown path', '/nope', 404],
  ])('%s', (_, path, allowed) => {
    it('answers 401 with a Basic challenge (a browser prompts) without the token, and shows nothing', async () => {
      // Prepare
      const { app } = guarded();
      // Act
      const response = await app.request(path);
      const body = await response.text();
      // Assess
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Basic realm="kalshi-fix-listener"');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(JSON.parse(body)).toEqual({ error: 'unauthorized' });
      expect(body).not.toContain('key-1'); // the API key ID the status would show
    });

    it('answers with the Bearer token', async () => {
      // Prepare
      const { app } = guarded();
      // Act
      const response = await app.request(path, { headers: bearer });
      // Assess
      expect(response.status).toBe(allowed);
    });

    it('answers with HTTP Basic, any user and the token as password, as a browser sends it', async () => {
      // Prepare
      const { app } = guarded();
      // Act
      const named = await app.request(path, { headers: basic('operator', TOKEN) });
      const anonymous = await app.request(path, { headers: basic('', TOKEN) });
      // Assess
      expect(named.status).toBe(allowed);
      expect(anonymous.status).toBe(allowed);
    });

    it.each([
      ['a wrong Basic password', basic('operator', `${TOKEN}x`)],
      ['the token as the Basic user', basic(TOKEN, '')],
      ['Basic that is not base64 of user:password', { authorization: `Basic ${TOKEN}` }],
      ['a wrong bearer token', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
      ['the token with no scheme', { authorization: TOKEN }],
    ])('answers 401 to %s', async (_name, headers) => {
      // Prepare
      const { app } = guarded();
      // Act
      const response = await app.request(path, { headers });
      // Assess
      expect(response.status).toBe(401);
    });
  });

  it('shows the status page once the browser sends the login it prompted for', async () => {
    // Prepare
    const { app } = guarded();
    // Act
    const response = await app.request('/', { headers: basic('anyone', TOKEN) });
    const html = await response.text();
    // Assess
    expect(response.status).toBe(200);
    expect(html).toMatch(/id="session-state">active</);
  });

  it.each([
    ['/healthz', 200],
    ['/readyz', 200],
  ])('leaves %s open: no token, or a wrong one, still gets %i', async (path, status) => {
    // Prepare
    const { app } = guarded();
    // Act
    const none = await app.request(path);
    const wrong = await app.request(path, { headers: { authorization: 'Bearer wrong' } });
    // Assess
    expect(none.status).toBe(status);
    expect(wrong.status).toBe(status);
    expect(none.headers.get('www-authenticate')).toBeNull();
  });

  describe('POST /reconnect', () => {
    it('answers 202 to the Bearer token and audits the caller', async () => {
      // Prepare
      const { app, target, audit } = guarded();
      // Act
      const response = await reconnect(app, bearer);
      // Assess
      expect(response.status).toBe(202);
      expect(target.reconnectCalls).toBe(1);
      expect(audit).toEqual([{ caller: '10.0.0.7', outcome: 'accepted' }]);
    });

    it.each([
      ['no token', {}],
      ['a wrong token', { authorization: `Bearer ${TOKEN}x` }],
      // A browser resends a Basic login by itself, even with a form posted from another site.
      ['the right token over Basic', basic('operator', TOKEN)],
    ])('answers 401 with a Bearer challenge to %s, asks nothing and audits the refusal', async (_name, headers) => {
      // Prepare
      const { app, target, audit } = guarded();
      // Act
      const response = await reconnect(app, headers);
      // Assess
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="kalshi-fix-listener"');
      expect(target.reconnectCalls).toBe(0);
      expect(audit).toEqual([{ caller: '10.0.0.7', outcome: 'unauthorized' }]);
    });

    it('answers a reconnect loop with 429 and Retry-After until the interval has passed, auditing each call', async () => {
      // Prepare: the default interval, 10 s.
      const { app, target, clock, audit } = guarded();
      // Act: five calls at once, one 9.5 s later, one at 10 s.
      const burst = await Promise.all([1, 2, 3, 4, 5].map(async () => reconnect(app, bearer)));
      clock.now += 9_500;
      const early = await reconnect(app, bearer);
      clock.now += 500;
      const due = await reconnect(app, bearer);
      // Assess
      expect(burst.map((r) => r.status)).toEqual([202, 429, 429, 429, 429]);
      expect(burst.slice(1).map((r) => r.headers.get('retry-after'))).toEqual(['10', '10', '10', '10']);
      expect(await burst[1]!.json()).toEqual({ error: 'too many reconnects', retryAfterS: 10 });
      expect(early.status).toBe(429);
      expect(early.headers.get('retry-after')).toBe('1'); // 0.5 s left, rounded up
      expect(due.status).toBe(202);
      expect(target.reconnectCalls).toBe(2);
      expect(audit.map((a) => [a.outcome, a.retryAfterS])).toEqual([
        ['accepted', undefined],
        ['rate_limited', 10],
        ['rate_limited', 10],
        ['rate_limited', 10],
        ['rate_limited', 10],
        ['rate_limited', 1],
        ['accepted', undefined],
      ]);
      expect(audit.every((a) => a.caller === '10.0.0.7')).toBe(true);
    });

    it('counts only calls with the token: refused strangers do not use up the operators’ reconnect', async () => {
      // Prepare
      const { app, target } = guarded();
      // Act
      const strangers = await Promise.all([1, 2, 3].map(async () => reconnect(app, {}, '203.0.113.9')));
      const operator = await reconnect(app, bearer);
      // Assess
      expect(strangers.map((r) => r.status)).toEqual([401, 401, 401]);
      expect(operator.status).toBe(202);
      expect(target.reconnectCalls).toBe(1);
    });

    it('counts a call the session answers alreadyInProgress, and audits it as such', async () => {
      // Prepare
      const { app, audit } = guarded({ target: fakeTarget(listenerStatus(), false) });
      // Act
      const first = await reconnect(app, bearer);
      const second = await reconnect(app, bearer);
      // Assess
      expect(first.status).toBe(202);
      expect(await first.json()).toEqual({ reconnecting: true, alreadyInProgress: true });
      expect(second.status).toBe(429);
      expect(audit.map((a) => a.outcome)).toEqual(['already_in_progress', 'rate_limited']);
    });

    it('applies the interval it is given (RECONNECT_MIN_INTERVAL_S), 0 being no limit', async () => {
      // Prepare
      const minute = guarded({ reconnectMinIntervalMs: 60_000 });
      const unlimited = guarded({ reconnectMinIntervalMs: 0 });
      // Act
      await reconnect(minute.app, bearer);
      const refused = await reconnect(minute.app, bearer);
      const all = await Promise.all([1, 2, 3].map(async () => reconnect(unlimited.app, bearer)));
      // Assess
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('60');
      expect(all.map((r) => r.status)).toEqual([202, 202, 202]);
      expect(unlimited.target.reconnectCalls).toBe(3);
    });

    it('rate-limits without a token too (loopback-only control plane)', async () => {
      // Prepare
      const { app, target } = controlPlane();
      // Act
      const first = await app.request('/reconnect', { method: 'POST' });
      const second = await app.request('/reconnect', { method: 'POST' });
      // Assess
      expect([first.status, second.status]).toEqual([202, 429]);
      expect(target.reconnectCalls).toBe(1);
    });

    it('audits the address of a real connection, and never anything of the token', async () => {
      // Prepare: the app behind @hono/node-server on loopback, as main serves it.
      const { app, audit } = guarded({ reconnectMinIntervalMs: 60_000 });
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
      onTestFinished(() => new Promise<void>((done) => server.close(() => done())));
      await once(server, 'listening');
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/reconnect`;
      // Act: refused, accepted, rate-limited.
      const statuses: number[] = [];
      for (const headers of [{ authorization: 'Bearer not-the-token' }, bearer, bearer]) {
        const response = await fetch(url, { method: 'POST', headers });
        await response.body?.cancel();
        statuses.push(response.status);
      }
      // Assess
      expect(statuses).toEqual([401, 202, 429]);
      expect(audit.map((a) => a.outcome)).toEqual(['unauthorized', 'accepted', 'rate_limited']);
      for (const entry of audit) expect(entry.caller).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
      expect(JSON.stringify(audit)).not.toContain(TOKEN.slice(0, 8));
      expect(JSON.stringify(audit)).not.toContain('not-the-token');
    });
  });

  it('answers 401 with a Bearer challenge to other methods, which Basic does not open', async () => {
    // Prepare
    const { app } = guarded();
    // Act
    const withBasic = await app.request('/status', { method: 'DELETE', headers: basic('u', TOKEN) });
    const withBearer = await app.request('/status', { method: 'DELETE', headers: bearer });
    // Assess
    expect(withBasic.status).toBe(401);
    expect(withBasic.headers.get('www-authenticate')).toBe('Bearer realm="kalshi-fix-listener"');
    expect(withBearer.status).toBe(404);
  });
});

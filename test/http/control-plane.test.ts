import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusBody } from '../../src/http/control-plane.js';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import type { Config } from '../../src/app/config.js';
import { createLogger } from '../../src/app/log.js';
import { startListener, type RunningService } from '../../src/app/main.js';
import type { KalshiSimulator } from '../../src/sim/simulator.js';
import { tempDir } from '../helpers/records.js';
import { API_KEY, startSimulator, testKeys } from '../helpers/sim.js';

/**
 * The control plane end to end: the real service behind it, logged on to the simulator over TLS.
 * Each test starts a run of its own, so none depends on what another did or in which order.
 * (Every route against a status of the test's own: control-plane-routes.test.ts.)
 */

const TOKEN = 'test-control-token-0123456789';
/** What a script sends; a browser sends HTTP Basic (see GET /). */
const BEARER = { authorization: `Bearer ${TOKEN}` };

interface Run {
  sim: KalshiSimulator;
  running: RunningService;
  base: string;
  /** Every log line of the run, at trace level. */
  logLines: string[];
  /** The local fills queue file. */
  fillsFile: string;
}

/**
 * A simulator and a listener (KalshiRT, local sinks, control token) for one test, stopped after it;
 * `overrides` replace settings of the listener's configuration.
 */
async function startRun(overrides: Partial<Config> = {}): Promise<Run> {
  const { sim, address } = await startSimulator({ ports: { KalshiRT: 0 } });
  const data = tempDir('http-');
  const config: Config = {
    fix: {
      host: address.host,
      port: address.ports.KalshiRT!,
      targetCompId: 'KalshiRT',
      apiKey: API_KEY,
      privateKey: testKeys().privateKey,
      heartbeatS: 1,
      connectTimeoutMs: 10_000,
      extraCa: address.ca,
      messageRetentionHours: 72,
    },
    dropCopy: undefined,
    archive: { kind: 'file', dir: join(data, 'archive') },
    archiveGraceMs: 300_000,
    archiveFlushMs: 60_000,
    archiveTimeOutlierMs: 86_400_000,
    archiveMaxObjectBytes: 64 * 1024 * 1024,
    archiveGzip: true,
    archiveParquet: true,
    fills: { kind: 'file', path: join(data, 'fills.jsonl') },
    spoolDir: join(data, 'spool'),
    journalLingerMs: 0,
    fillsBatchWaitMs: 0,
    httpPort: 0,
    httpHost: '127.0.0.1',
    controlToken: TOKEN,
    reconnectMinIntervalMs: 10_000,
    logLevel: 'trace',
    shutdownTimeoutMs: 20_000,
    healthLogIntervalMs: 200,
    metricsNamespace: 'KalshiFixListener/test',
    listenerName: 'default',
    fleetStatusUrls: [],
    ...overrides,
  };
  const logLines: string[] = [];
  const log = createLogger('trace', { write: (line: string) => void logLines.push(line) });
  const running = await startListener(config, log);
  onTestFinished(async () => {
    await running.stop();
    await sim.stop();
  });
  const base = `http://127.0.0.1:${running.httpPort}`;
  await vi.waitFor(
    async () => {
      const response = await fetch(`${base}/readyz`);
      await response.body?.cancel();
      expect(response.status).toBe(200);
    },
    { timeout: 10_000, interval: 50 },
  );
  return { sim, running, base, logLines, fillsFile: join(data, 'fills.jsonl') };
}

/** Emits `count` reports and waits until the journal holds them and the fill publisher has handled them. */
async function streamReports({ sim, running }: Run, count: number): Promise<void> {
  const before = running.service.status().counters.executionReports;
  sim.emitReports(API_KEY, count);
  await vi.waitFor(
    () => {
      const status = running.service.status();
      expect(status.counters.executionReports).toBe(before + count);
      expect(running.service.journal.durableLsn).toBe(status.journal.lastLsn);
      expect(status.journal.backlog['fills']!.records).toBe(0);
    },
    { timeout: 10_000, interval: 20 },
  );
}

/** Waits for a Heartbeat from the exchange after this call: the connection has been up a while. */
async function nextHeartbeat({ running }: Run): Promise<void> {
  const heartbeats = () => running.service.session.status().messagesInByType['0'] ?? 0;
  const before = heartbeats();
  await expect.poll(heartbeats, { timeout: 5000 }).toBeGreaterThan(before);
}

// A service on the simulator, real TLS and HTTP: more than the 5 s default on a busy machine.
describe('control plane', { timeout: 30_000 }, () => {
  describe('GET /', () => {
    it('shows the session and the fills the queue took, newest first, as HTML', async () => {
      // Prepare
      const run = await startRun();
      await streamReports(run, 40);
      const sent = readFileSync(run.fillsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { exec_id: string }).exec_id);
      // Act: as a browser sends it once it has prompted for the login (any user, the token).
      const login = Buffer.from(`operator:${TOKEN}`).toString('base64');
      const response = await fetch(`${run.base}/`, { headers: { authorization: `Basic ${login}` } });
      const html = await response.text();
      // Assess
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(html).toMatch(/id="session-state">active</);
      const shown = [...html.matchAll(/<td><code>([^<]+)<\/code><\/td>/g)].map((m) => m[1]!);
      expect(sent.length).toBeGreaterThan(0);
      expect(shown).toEqual(sent.slice(-20).reverse());
      // Every log line names its listener (LISTENER_NAME), so a fleet's logs can share a group.
      const lines = run.logLines.map((l) => JSON.parse(l) as { listener?: string });
      expect(lines.length).toBeGreaterThan(3);
      expect(lines.filter((l) => l.listener !== 'default')).toEqual([]);
    });
  });

  describe('GET /healthz', () => {
    it('answers 200 while the process is alive', async () => {
      // Prepare
      const { base } = await startRun();
      // Act
      const response = await fetch(`${base}/healthz`);
      // Assess
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
    });
  });

  describe('GET /readyz', () => {
    it('answers 200 when logged on and the sinks keep up', async () => {
      // Prepare
      const { base, running } = await startRun();
      // Act
      const response = await fetch(`${base}/readyz`);
      // Assess
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ready: true });
      expect(running.service.session.state).toBe('active');
    });
  });

  describe('GET /status', () => {
    it('tells the session, sequence numbers, counters, journal and each sink', async () => {
      // Prepare: 20 reports durable in the journal, and handled by the fill publisher.
      const run = await startRun();
      await streamReports(run, 20);
      // Act
      const status = (await (await fetch(`${run.base}/status`, { headers: BEARER })).json()) as StatusBody;
      // Assess
      expect(status.version).toBe('0.1.0');
      expect(status.session).toMatchObject({
        state: 'active',
        targetCompId: 'KalshiRT',
        senderCompId: API_KEY,
        heartbeatIntervalS: 1,
        reconnectAttempts: 0,
        lastError: null,
      });
      expect(status.session.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(status.session.seqIn.next).toBeGreaterThan(20);
      expect(status.session.seqIn.processedThrough).toBe(status.session.seqIn.next - 1);
      expect(status.session.lastReceivedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(status.counters).toMatchObject({ executionReports: 20, duplicatesDropped: 0 });
      expect(status.counters.fillsPublished).toBe(run.sim.generated(API_KEY).filter((r) => r.execType === 'F').length);
      expect(status.journal).toMatchObject({ lastLsn: 20, durableLsn: 20 });
      expect(status.sinks.map((s) => s.name)).toEqual(['archive', 'parquet', 'fills']);
      expect(status.sinks[0]).toMatchObject({ lagSeconds: 0, pendingRecords: 20, lastError: null });
      expect(status.uptimeSeconds).toBeGreaterThanOrEqual(0);
      // What happened, for the status page: the Logon, the spool's room, why Parquet holds the hour.
      expect(status.sessionEvents).toEqual([
        expect.objectContaining({
          kind: 'logon',
          code: null,
          count: 1,
          text: expect.stringMatching(/^logged on/) as unknown,
        }),
      ]);
      expect(status.session).toMatchObject({ disconnectedSince: null, nextAttemptAt: null });
      expect(status.spool.freeBytes).toBeGreaterThan(0);
      await expect
        .poll(
          async () =>
            ((await (await fetch(`${run.base}/status`, { headers: BEARER })).json()) as StatusBody).sinks[1]!
              .pendingReason,
        )
        .toMatch(/^waiting for hour \d\d:00 UTC to close \+ 5 min grace \(built from its JSONL at \d\d:06:00 UTC\)/);
    });
  });

  describe('GET /metrics', () => {
    it('serves Prometheus text with the session, report, fill, journal and sink metrics', async () => {
      // Prepare: reports received and fills published, so every metric below has a value.
      const run = await startRun();
      await streamReports(run, 20);
      // Act
      const response = await fetch(`${run.base}/metrics`, { headers: BEARER });
      const text = await response.text();
      // Assess
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      // Every series carries the listener's name (LISTENER_NAME), so a fleet shares one Prometheus.
      expect(text).toMatch(/^kfl_execution_reports_total\{listener="default"\} 20$/m);
      expect(text).toMatch(/^kfl_fills_published_total\{listener="default"\} \d+$/m);
      expect(text).toMatch(/^kfl_messages_in_total\{msg_type="8",listener="default"\} \d+$/m);
      expect(text).toMatch(/^kfl_session_state\{state="active",listener="default"\} 1$/m);
      expect(text).toMatch(/^kfl_duplicates_dropped_total\{listener="default"\} 0$/m);
      expect(text).toMatch(/^kfl_reconnects_total\{listener="default"\} \d+$/m);
      expect(text).toMatch(/^kfl_journal_backlog_records\{sink="archive",listener="default"\} \d+$/m);
      expect(text).toMatch(/^kfl_journal_backlog_bytes\{sink="fills",listener="default"\} \d+$/m);
      expect(text).toMatch(/^kfl_sink_lag_seconds\{sink="fills",listener="default"\} 0$/m);
      expect(text).toMatch(/^kfl_sink_last_success_timestamp_seconds\{sink="fills",listener="default"\} [\d.e+]+$/m);
      expect(text).toMatch(/^process_resident_memory_bytes\{listener="default"\} \d+$/m);
      expect(text).not.toMatch(/^kfl_\w+ /m); // no series without the label
      expect(text).not.toMatch(/^kfl_process_/m);
    });
  });

  describe('POST /reconnect', () => {
    it('answers 401 without the bearer token, and with a wrong one, and leaves the session alone', async () => {
      // Prepare
      const run = await startRun();
      const { session } = run.running.service;
      // Act
      const none = await fetch(`${run.base}/reconnect`, { method: 'POST' });
      const wrong = await fetch(`${run.base}/reconnect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}x` },
      });
      // A reconnect starts with a Logout at once; the session still carrying a report and the
      // exchange's next Heartbeat afterwards shows none began.
      await streamReports(run, 1);
      await nextHeartbeat(run);
      // Assess
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(wrong.status).toBe(401);
      expect(session.state).toBe('active');
      expect(session.status().counters.reconnects).toBe(0);
      expect(session.status().counters.logons).toBe(1);
      // Each refusal is logged with the caller's address.
      const refusals = run.logLines
        .map((l) => JSON.parse(l) as { msg: string; caller?: string; outcome?: string })
        .filter((l) => l.msg.startsWith('POST /reconnect'));
      expect(refusals).toHaveLength(2);
      for (const line of refusals)
        expect(line).toMatchObject({
          outcome: 'unauthorized',
          caller: expect.stringMatching(/127\.0\.0\.1$/) as unknown,
        });
    });

    it('answers 202, drops and re-establishes the session once even when called twice, and loses nothing', async () => {
      // Prepare: no rate limit, so the second call reaches the session while the first is under way.
      const run = await startRun({ reconnectMinIntervalMs: 0 });
      const { service } = run.running;
      await streamReports(run, 20);
      const logonsBefore = service.session.status().counters.logons;
      const headers = { authorization: `Bearer ${TOKEN}` };
      // Act
      const [first, second] = await Promise.all([
        fetch(`${run.base}/reconnect`, { method: 'POST', headers }),
        fetch(`${run.base}/reconnect`, { method: 'POST', headers }),
      ]);
      const bodies = [await first.json(), await second.json()] as unknown[];
      run.sim.emitReports(API_KEY, 5); // some while the session is down: recovered on RT
      await vi.waitFor(
        () => {
          expect(service.session.status().counters.logons).toBe(logonsBefore + 1);
          expect(service.session.state).toBe('active');
        },
        { timeout: 10_000, interval: 20 },
      );
      await expect.poll(() => service.status().counters.executionReports, { timeout: 10_000 }).toBe(25);
      // A second reconnect would follow at once: the new connection's first Heartbeat comes after it.
      await nextHeartbeat(run);
      // Assess
      expect([first.status, second.status]).toEqual([202, 202]);
      expect(bodies).toContainEqual({ reconnecting: true });
      expect(bodies).toContainEqual({ reconnecting: true, alreadyInProgress: true });
      expect(service.session.status().counters.reconnects).toBe(1);
      expect(service.session.status().counters.logons).toBe(logonsBefore + 1);
      expect(service.status().journal.lastLsn).toBe(25);
      const logged = run.logLines
        .map((l) => JSON.parse(l) as { msg: string; outcome?: string; caller?: string })
        .filter((l) => l.msg === 'POST /reconnect');
      expect(logged.map((l) => l.outcome).sort()).toEqual(['accepted', 'already_in_progress']);
      expect(logged.every((l) => /127\.0\.0\.1$/.test(l.caller ?? ''))).toBe(true);
    });
  });

  describe('unknown routes', () => {
    it('answer 404 with the token, 401 without (nothing to find out without it)', async () => {
      // Prepare
      const { base } = await startRun();
      // Act
      const response = await fetch(`${base}/nope`, { headers: BEARER });
      const stranger = await fetch(`${base}/nope`);
      // Assess
      expect(response.status).toBe(404);
      expect(stranger.status).toBe(401);
    });
  });

  describe('with CONTROL_TOKEN', () => {
    it('shows nothing but /healthz and /readyz without the token, and asks a browser to log in on GET /', async () => {
      // Prepare
      const { base } = await startRun();
      // Act
      const answers = await Promise.all(
        ['/', '/status', '/metrics', '/healthz', '/readyz'].map(async (path) => {
          const response = await fetch(`${base}${path}`);
          return {
            path,
            status: response.status,
            body: await response.text(),
            challenge: response.headers.get('www-authenticate'),
          };
        }),
      );
      // Assess
      expect(answers.map((a) => [a.path, a.status])).toEqual([
        ['/', 401],
        ['/status', 401],
        ['/metrics', 401],
        ['/healthz', 200],
        ['/readyz', 200],
      ]);
      expect(answers[0]!.challenge).toBe('Basic realm="kalshi-fix-listener"');
      for (const answer of answers.slice(0, 3)) expect(answer.body).not.toContain(API_KEY);
    });

    it('answers a reconnect loop with 429 and Retry-After, reconnects once, and audits every call by address, never the token', async () => {
      // Prepare: the default limit, one reconnect per 10 s.
      const run = await startRun();
      const { session } = run.running.service;
      // Act: a stranger, then an operator's script calling in a loop.
      const stranger = await fetch(`${run.base}/reconnect`, {
        method: 'POST',
        headers: { authorization: 'Bearer guess' },
      });
      const loop: Response[] = [];
      for (let i = 0; i < 5; i++) loop.push(await fetch(`${run.base}/reconnect`, { method: 'POST', headers: BEARER }));
      await vi.waitFor(
        () => {
          expect(session.status().counters.logons).toBe(2);
          expect(session.state).toBe('active');
        },
        { timeout: 10_000, interval: 20 },
      );
      await nextHeartbeat(run);
      // Assess
      expect(stranger.status).toBe(401);
      expect(loop.map((r) => r.status)).toEqual([202, 429, 429, 429, 429]);
      for (const refused of loop.slice(1)) {
        const wait = Number(refused.headers.get('retry-after'));
        expect(wait).toBeGreaterThanOrEqual(1);
        expect(wait).toBeLessThanOrEqual(10);
      }
      expect(session.status().counters.reconnects).toBe(1);
      const audited = run.logLines
        .map((l) => JSON.parse(l) as { msg: string; component?: string; caller?: string; outcome?: string })
        .filter((l) => l.msg.startsWith('POST /reconnect'));
      expect(audited.map((l) => l.outcome)).toEqual([
        'unauthorized',
        'accepted',
        'rate_limited',
        'rate_limited',
        'rate_limited',
        'rate_limited',
      ]);
      for (const line of audited) expect(line.caller).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
      const all = run.logLines.join('');
      expect(all).not.toContain(TOKEN);
      expect(all).not.toContain('guess');
    });
  });
});

// A service on the simulator: more than the 5 s default on a busy machine.
describe('logs of a session run', { timeout: 30_000 }, () => {
  it('never contain the private key, the logon signature or the control token', async () => {
    // Prepare: a run at trace level that logs on, streams, is reconnected with the token, logs on again.
    const run = await startRun();
    const { session } = run.running.service;
    await streamReports(run, 10);
    const signatures = run.sim.sessions().map((s) => s.logonSignature);
    const reconnect = await fetch(`${run.base}/reconnect`, { method: 'POST', headers: BEARER });
    await vi.waitFor(
      () => {
        expect(session.status().counters.logons).toBe(2);
        expect(session.state).toBe('active');
      },
      { timeout: 10_000, interval: 20 },
    );
    await streamReports(run, 10);
    signatures.push(...run.sim.sessions().map((s) => s.logonSignature));
    // Act
    const all = run.logLines.join('');
    const pem = testKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const keyLines = pem.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    const logonSignatures = signatures.filter((s): s is string => s !== undefined);
    // Assess
    expect(reconnect.status).toBe(202);
    expect(run.logLines.length).toBeGreaterThan(5);
    expect(all).toMatch(/"msg":"logged on"/);
    expect(new Set(logonSignatures).size).toBe(2);
    for (const line of keyLines) expect(all).not.toContain(line);
    for (const signature of logonSignatures) {
      expect(all).not.toContain(signature);
      expect(all).not.toContain(signature.slice(0, 40));
    }
    expect(all).not.toContain(TOKEN);
  });
});

describe('the health log line', () => {
  it('says what /readyz says, with an Embedded Metric Format block CloudWatch turns into metrics', async () => {
    // Prepare: logged on, sinks idle and keeping up; the line comes every 200 ms in this run.
    const run = await startRun();
    const health = () =>
      run.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'health');
    await expect.poll(() => health().some((l) => l['Ready'] === 1), { timeout: 10_000 }).toBe(true);
    // Act
    const line = health()
      .filter((l) => l['Ready'] === 1)
      .at(-1)!;
    const emf = line['_aws'] as {
      Timestamp: number;
      CloudWatchMetrics: Array<{
        Namespace: string;
        Dimensions: string[][];
        Metrics: Array<{ Name: string; Unit: string }>;
      }>;
    };
    // Assess
    expect(line).toMatchObject({ component: 'health', Ready: 1, SessionActive: 1, Holes: 0, DeadLetters: 0 });
    expect(line['ArchiveLagSeconds']).toBeTypeOf('number');
    expect(line['FillsLagSeconds']).toBeTypeOf('number');
    expect(line['JournalBacklogRecords']).toBeGreaterThanOrEqual(0);
    expect(emf.CloudWatchMetrics).toHaveLength(1);
    expect(emf.CloudWatchMetrics[0]!.Namespace).toBe('KalshiFixListener/test');
    // One series per listener: the dimension's value (LISTENER_NAME) is a top-level field too.
    expect(emf.CloudWatchMetrics[0]!.Dimensions).toEqual([['Listener']]);
    expect(line['Listener']).toBe('default');
    // Every declared metric is a number at the top level, as the EMF specification requires.
    for (const metric of emf.CloudWatchMetrics[0]!.Metrics) expect(line[metric.Name], metric.Name).toBeTypeOf('number');
    expect(emf.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name).sort()).toEqual([
      'ArchiveLagSeconds',
      'ArchiveOldestRecordSeconds',
      'DeadLetters',
      'FillsLagSeconds',
      'FillsSent',
      'Holes',
      'JournalBacklogRecords',
      'JournalStalled',
      'Ready',
      'ReportsReceived',
      'SessionActive',
    ]);
    expect(Math.abs(emf.Timestamp - Date.now())).toBeLessThan(60_000);
  });
});

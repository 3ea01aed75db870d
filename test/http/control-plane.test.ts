import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/app/config.js';
import { createLogger } from '../../src/app/log.js';
import { startListener, type RunningService } from '../../src/app/main.js';
import type { KalshiSimulator } from '../../src/sim/simulator.js';
import { tempDir } from '../helpers/records.js';
import { API_KEY, startSimulator, testKeys } from '../helpers/sim.js';
import { until } from '../helpers/wait.js';

const TOKEN = 'test-control-token-0123456789';
let sim: KalshiSimulator;
let running: RunningService;
let base: string;
const logLines: string[] = [];

beforeAll(async () => {
  const started = await startSimulator({ ports: { KalshiRT: 0 } });
  sim = started.sim;
  const data = tempDir('http-');
  const config: Config = {
    fix: {
      host: started.address.host,
      port: started.address.ports.KalshiRT!,
      targetCompId: 'KalshiRT',
      apiKey: API_KEY,
      privateKey: testKeys().privateKey,
      heartbeatS: 1,
      extraCa: started.address.ca,
      messageRetentionHours: 72,
    },
    dropCopy: undefined,
    archive: { kind: 'file', dir: join(data, 'archive') },
    archiveGraceMs: 300_000,
    archiveMaxObjectBytes: 64 * 1024 * 1024,
    archiveGzip: true,
    fills: { kind: 'file', path: join(data, 'fills.jsonl') },
    spoolDir: join(data, 'spool'),
    httpPort: 0,
    controlToken: TOKEN,
    logLevel: 'trace',
    shutdownTimeoutMs: 20_000,
    healthLogIntervalMs: 200,
    metricsNamespace: 'KalshiFixListener/test',
  };
  // Every log line of the run, at trace level, for the secrets check below.
  const log = createLogger('trace', { write: (line: string) => void logLines.push(line) });
  running = await startListener(config, log);
  base = `http://127.0.0.1:${running.httpPort}`;
  await until(async () => (await fetch(`${base}/readyz`)).status === 200);
});

afterAll(async () => {
  await running.stop();
  await sim.stop();
});

describe('control plane', () => {
  describe('GET /healthz', () => {
    it('answers 200 while the process is alive', async () => {
      const response = await fetch(`${base}/healthz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
    });
  });

  describe('GET /readyz', () => {
    it('answers 200 when logged on and the sinks keep up', async () => {
      const response = await fetch(`${base}/readyz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ready: true });
    });
  });

  describe('GET /status', () => {
    it('tells the session, sequence numbers, counters, journal and each sink', async () => {
      // Prepare
      sim.emitReports(API_KEY, 20);
      await until(() => running.service.status().counters.executionReports === 20);
      // Durable in the journal, and handled by the fill publisher.
      await until(
        () =>
          running.service.journal.durableLsn === 20 && running.service.status().journal.backlog['fills']!.records === 0,
      );
      // Act
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON body checked field by field below
      const status = (await (await fetch(`${base}/status`)).json()) as Record<string, any>;
      // Assess
      expect(status['version']).toBe('0.1.0');
      expect(status['session']).toMatchObject({
        state: 'active',
        targetCompId: 'KalshiRT',
        senderCompId: API_KEY,
        heartbeatIntervalS: 1,
        reconnectAttempts: 0,
        lastError: null,
      });
      expect(status['session'].endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(status['session'].seqIn.next).toBeGreaterThan(20);
      expect(status['session'].seqIn.processedThrough).toBe(status['session'].seqIn.next - 1);
      expect(status['session'].lastReceivedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(status['counters']).toMatchObject({ executionReports: 20, duplicatesDropped: 0 });
      expect(status['counters'].fillsPublished).toBe(sim.generated(API_KEY).filter((r) => r.execType === 'F').length);
      expect(status['journal']).toMatchObject({ lastLsn: 20, durableLsn: 20 });
      expect(status['sinks'].map((s: { name: string }) => s.name)).toEqual(['archive', 'fills']);
      expect(status['sinks'][0]).toMatchObject({ lagSeconds: 0, pendingRecords: 20, lastError: null });
      expect(status['uptimeSeconds']).toBeGreaterThanOrEqual(0);
    });
  });

  describe('GET /metrics', () => {
    it('serves Prometheus text with the session, report, fill, journal and sink metrics', async () => {
      const response = await fetch(`${base}/metrics`);
      const text = await response.text();
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(text).toMatch(/^kfl_execution_reports_total \d+$/m);
      expect(text).toMatch(/^kfl_fills_published_total \d+$/m);
      expect(text).toMatch(/^kfl_messages_in_total\{msg_type="8"\} \d+$/m);
      expect(text).toMatch(/^kfl_session_state\{state="active"\} 1$/m);
      expect(text).toMatch(/^kfl_duplicates_dropped_total 0$/m);
      expect(text).toMatch(/^kfl_reconnects_total \d+$/m);
      expect(text).toMatch(/^kfl_journal_backlog_records\{sink="archive"\} \d+$/m);
      expect(text).toMatch(/^kfl_journal_backlog_bytes\{sink="fills"\} \d+$/m);
      expect(text).toMatch(/^kfl_sink_lag_seconds\{sink="fills"\} 0$/m);
      expect(text).toMatch(/^kfl_sink_last_success_timestamp_seconds\{sink="fills"\} [\d.e+]+$/m);
      expect(text).toMatch(/^kfl_process_resident_memory_bytes \d+$/m);
    });
  });

  describe('POST /reconnect', () => {
    it('answers 401 without the bearer token, and with a wrong one', async () => {
      const none = await fetch(`${base}/reconnect`, { method: 'POST' });
      const wrong = await fetch(`${base}/reconnect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}x` },
      });
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(wrong.status).toBe(401);
      expect(running.service.session.status().counters.reconnects).toBe(0);
    });

    it('answers 202, drops and re-establishes the session once even when called twice, and loses nothing', async () => {
      // Prepare
      const logonsBefore = running.service.session.status().counters.logons;
      const headers = { authorization: `Bearer ${TOKEN}` };
      // Act
      const [first, second] = await Promise.all([
        fetch(`${base}/reconnect`, { method: 'POST', headers }),
        fetch(`${base}/reconnect`, { method: 'POST', headers }),
      ]);
      const bodies = [await first.json(), await second.json()];
      sim.emitReports(API_KEY, 5); // some while the session is down: recovered on RT
      await until(
        () =>
          running.service.session.status().counters.logons === logonsBefore + 1 &&
          running.service.session.state === 'active',
      );
      await until(() => running.service.status().counters.executionReports === 25);
      // Assess
      expect([first.status, second.status]).toEqual([202, 202]);
      expect(bodies).toContainEqual({ reconnecting: true });
      expect(bodies).toContainEqual({ reconnecting: true, alreadyInProgress: true });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(running.service.session.status().counters.reconnects).toBe(1);
      expect(running.service.session.status().counters.logons).toBe(logonsBefore + 1);
      expect(running.service.status().journal.lastLsn).toBe(25);
    });
  });

  describe('unknown routes', () => {
    it('answer 404', async () => {
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    });
  });
});

describe('logs of a session run', () => {
  it('never contain the private key, the logon signature or the control token', async () => {
    // Prepare: the run above logged on twice (start + reconnect) at trace level.
    const all = logLines.join('');
    const pem = testKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const keyLines = pem.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    const signatures = sim
      .sessions()
      .map((s) => s.logonSignature)
      .filter((s): s is string => s !== undefined);
    // Assess
    expect(logLines.length).toBeGreaterThan(5);
    expect(all).toMatch(/"msg":"logged on"/);
    expect(signatures.length).toBeGreaterThan(0);
    for (const line of keyLines) expect(all).not.toContain(line);
    for (const signature of signatures) {
      expect(all).not.toContain(signature);
      expect(all).not.toContain(signature.slice(0, 40));
    }
    expect(all).not.toContain(TOKEN);
  });
});

describe('the health log line', () => {
  it('says what /readyz says, with an Embedded Metric Format block CloudWatch turns into metrics', async () => {
    // Prepare: logged on, sinks idle and keeping up; the line comes every 200 ms in this run.
    const health = () =>
      logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'health');
    await until(() => health().some((l) => l['Ready'] === 1));
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
    expect(line).toMatchObject({ component: 'health', Ready: 1, SessionActive: 1, Holes: 0 });
    expect(line['ArchiveLagSeconds']).toBeTypeOf('number');
    expect(line['FillsLagSeconds']).toBeTypeOf('number');
    expect(line['JournalBacklogRecords']).toBeGreaterThanOrEqual(0);
    expect(emf.CloudWatchMetrics).toHaveLength(1);
    expect(emf.CloudWatchMetrics[0]!.Namespace).toBe('KalshiFixListener/test');
    expect(emf.CloudWatchMetrics[0]!.Dimensions).toEqual([[]]);
    // Every declared metric is a number at the top level, as the EMF specification requires.
    for (const metric of emf.CloudWatchMetrics[0]!.Metrics) expect(line[metric.Name], metric.Name).toBeTypeOf('number');
    expect(emf.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name).sort()).toEqual([
      'ArchiveLagSeconds',
      'FillsLagSeconds',
      'Holes',
      'JournalBacklogRecords',
      'Ready',
      'SessionActive',
    ]);
    expect(Math.abs(emf.Timestamp - Date.now())).toBeLessThan(60_000);
  });
});

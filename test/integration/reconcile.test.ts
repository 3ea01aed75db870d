import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { reconcile, reconcileCommand } from '../../src/app/reconcile-command.js';
import { KalshiRest } from '../../src/reconcile/kalshi-rest.js';
import { reconcileFills } from '../../src/reconcile/reconcile.js';
import { ListenerService } from '../../src/app/service.js';
import { LocalFileQueue } from '../../src/sinks/local-file-queue.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import type { KalshiSimulator } from '../../src/sim/simulator.js';
import { makeRecord, tempDir } from '../helpers/records.js';
import { API_KEY, startSimulator, testKeys } from '../helpers/sim.js';

let sim: KalshiSimulator;
let restUrl: string;
let ca: string;
let archiveDir: string;
let from: Date;
let to: Date;

beforeAll(async () => {
  // Prepare: the listener archives a stream; the simulator's REST endpoint lists the same fills.
  const started = await startSimulator({ ports: { KalshiNR: 0 }, subaccounts: [0, 3] });
  sim = started.sim;
  sim.restPageSize = 7; // several pages per subaccount: the cursor must be followed
  ca = started.address.ca;
  restUrl = await sim.startRest();
  const root = tempDir('reconcile-');
  archiveDir = join(root, 'archive');
  from = new Date(Date.now() - 60_000);
  const service = await ListenerService.start({
    fix: {
      host: started.address.host,
      port: started.address.ports.KalshiNR!,
      targetCompId: 'KalshiNR',
      apiKey: API_KEY,
      privateKey: testKeys().privateKey,
      heartbeatS: 5,
      extraCa: ca,
    },
    listener: 'default',
    spoolDir: join(root, 'spool'),
    store: new LocalFolderStore(archiveDir),
    queue: new LocalFileQueue(join(root, 'fills.jsonl')),
  });
  await vi.waitFor(() => expect(service.session.state).toBe('active'), { timeout: 10_000, interval: 20 });
  sim.emitReports(API_KEY, 60);
  await vi.waitFor(() => expect(service.status().counters.executionReports).toBe(60), {
    timeout: 10_000,
    interval: 20,
  });
  await service.stop();
  to = new Date(Date.now() + 60_000);
});

afterAll(async () => sim.stop());

function rest(): KalshiRest {
  return new KalshiRest({ baseUrl: restUrl, apiKey: API_KEY, privateKey: testKeys().privateKey, extraCa: ca });
}

describe('reconcile', () => {
  it('finds nothing missing when the archive and REST agree', async () => {
    const report = await reconcile({ from, to, archive: { kind: 'file', dir: archiveDir }, rest: rest() });
    expect(report.archivedFills).toBeGreaterThan(10);
    expect(report.subaccounts).toEqual([0, 3]);
    expect(report.restFills).toBe(report.archivedFills);
    expect(report.matched).toBe(report.archivedFills);
    expect(report.missingInArchive).toEqual([]);
    expect(report.missingAtKalshi).toEqual([]);
  });

  it('does not read objects outside a listener= partition (a layout no release wrote): their fills are reported missing', async () => {
    // Prepare: the same objects, moved out of the listener= partition.
    const old = tempDir('old-layout-');
    cpSync(join(archiveDir, 'exec_reports', 'listener=default'), join(old, 'exec_reports'), { recursive: true });
    // Act
    const report = await reconcile({ from, to, archive: { kind: 'file', dir: old }, rest: rest() });
    // Assess
    expect(report.archivedFills).toBe(0);
    expect(report.restFills).toBeGreaterThan(0);
    expect(report.missingInArchive).toHaveLength(report.restFills);
  });

  it('reports a planted REST-only fill and a fill REST does not list, across pages and subaccounts', async () => {
    // Prepare
    const fills = sim.generated(API_KEY).filter((r) => r.execType === 'F');
    const hidden = fills[0]!.execId;
    sim.restHidden.add(hidden);
    sim.restPlanted.push({
      fill_id: 'planted-1',
      order_id: 'ord-not-in-fix',
      ticker: 'BTC-PERP',
      side: 'bid',
      count: '2.00',
      price: '95000.0000',
      created_time: new Date().toISOString(),
      is_taker: true,
      subaccount: 0,
      trade_id: 't-x',
    });
    // Act
    const report = await reconcile({ from, to, archive: { kind: 'file', dir: archiveDir }, rest: rest() });
    // Assess
    expect(report.missingInArchive.map((f) => f.fill_id)).toEqual(['planted-1']);
    expect(report.missingAtKalshi.map((r) => r.exec_id)).toEqual([hidden]);
    sim.restHidden.clear();
    sim.restPlanted.length = 0;
  });

  it('is refused by Kalshi REST without a valid signature', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const wrong = new KalshiRest({
      baseUrl: restUrl,
      apiKey: API_KEY,
      privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
      extraCa: ca,
    });
    await expect(reconcile({ from, to, archive: { kind: 'file', dir: archiveDir }, rest: wrong })).rejects.toThrow(
      /answered 401/,
    );
    await expect(
      reconcile({ from, to, archive: { kind: 'file', dir: archiveDir }, rest: wrong }),
    ).rejects.toMatchObject({
      code: 'ERR_REST_STATUS',
      details: { httpStatus: 401 },
    });
  });

  it('names an unreachable REST endpoint ERR_REST_TRANSPORT, with the cause', async () => {
    // Prepare: a port nothing listens on.
    const unreachable = new KalshiRest({
      baseUrl: 'https://127.0.0.1:9',
      apiKey: API_KEY,
      privateKey: testKeys().privateKey,
    });
    // Act / Assess
    await expect(
      reconcile({ from, to, archive: { kind: 'file', dir: archiveDir }, rest: unreachable }),
    ).rejects.toMatchObject({ code: 'ERR_REST_TRANSPORT', cause: { code: 'ECONNREFUSED' } });
  });
});

describe('reconcileCommand', () => {
  it('prints the report and exits 1 when a fill is missing, 2 on bad input', async () => {
    const keyFile = join(tempDir('key-'), 'key.pem');
    writeFileSync(keyFile, testKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const caFile = join(tempDir('ca-'), 'ca.pem');
    writeFileSync(caFile, ca);
    const env = {
      ARCHIVE_URL: `file://${archiveDir}`,
      FIX_API_KEY: API_KEY,
      FIX_PRIVATE_KEY_FILE: keyFile,
      FIX_TLS_CA_FILE: caFile,
      KALSHI_REST_URL: restUrl,
    };
    sim.restPlanted.push({
      fill_id: 'planted-2',
      order_id: 'o',
      ticker: 'ETH-PERP',
      side: 'ask',
      count: '1.00',
      price: '3200.0000',
      created_time: new Date().toISOString(),
      is_taker: false,
      subaccount: 0,
      trade_id: 't',
    });
    let printed = '';
    const code = await reconcileCommand(
      ['--from', from.toISOString(), '--to', to.toISOString()],
      env,
      (t) => (printed += t),
    );
    sim.restPlanted.length = 0;
    expect(code).toBe(1);
    const printedReport = JSON.parse(printed) as { missingInArchive: Array<{ fill_id: string }> };
    expect(printedReport.missingInArchive.map((f) => f.fill_id)).toEqual(['planted-2']);
    await expect(reconcileCommand(['--from', 'yesterday'], {}, () => undefined)).rejects.toMatchObject({
      exitCode: 2,
      usage: true,
      message: expect.stringMatching(/--from must be an ISO-8601 time/) as unknown,
    });
  });
});

describe('reconcileFills', () => {
  it('pairs fills on order, quantity, price and time, whatever the decimal scale', () => {
    const record = makeRecord(2, {
      order_id: 'o1',
      last_qty: '4.00',
      last_px: '19.5000',
      transact_time: '2026-11-23T10:00:00.000Z',
    });
    const match = reconcileFills([record], [restFill('2026-11-23T10:00:01.000Z')]);
    const late = reconcileFills([record], [restFill('2026-11-23T10:00:05.000Z')]);
    expect(match).toMatchObject({ matched: 1, missingInArchive: [], missingAtKalshi: [] });
    expect(late.matched).toBe(0);
  });
});

/** Kalshi's REST fill for the record above, created at `createdTime`. */
function restFill(createdTime: string) {
  return {
    fill_id: 'f',
    order_id: 'o1',
    ticker: 'X',
    side: 'bid',
    count: '4',
    price: '19.50',
    created_time: createdTime,
  };
}

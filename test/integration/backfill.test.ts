import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backfiller, type BackfillEvent } from '../../src/app/backfill.js';
import { systemClock } from '../../src/core/clock.js';
import { HoleLog } from '../../src/pipeline/hole-log.js';
import { Journal } from '../../src/pipeline/journal.js';
import { ListenerService } from '../../src/app/service.js';
import { LocalFileQueue } from '../../src/sinks/local-file-queue.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import type { KalshiSimulator } from '../../src/sim/simulator.js';
import { archivedIds } from '../helpers/archive.js';
import { tempDir } from '../helpers/records.js';
import { simulatorDropCopy } from '../helpers/service.js';
import { API_KEY, startSimulator, testKeys } from '../helpers/sim.js';

let sim: KalshiSimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

describe('ListenerService on KalshiNR with drop-copy backfill', () => {
  it(
    'after the connection is cut while reports keep coming, backfills every missed report: each ExecID archived exactly once',
    { timeout: 60_000 },
    async () => {
      // Prepare
      const started = await startSimulator({ ports: { KalshiNR: 0, KalshiDC: 0 } });
      sim = started.sim;
      const root = tempDir('backfill-');
      const events: BackfillEvent[] = [];
      const service = await ListenerService.start({
        fix: {
          host: started.address.host,
          port: started.address.ports.KalshiNR!,
          targetCompId: 'KalshiNR',
          apiKey: API_KEY,
          privateKey: testKeys().privateKey,
          heartbeatS: 1,
          extraCa: started.address.ca,
          reconnect: { initialMs: 50, maxMs: 200 },
        },
        dropCopy: simulatorDropCopy(started.address),
        spoolDir: join(root, 'spool'),
        store: new LocalFolderStore(join(root, 'archive')),
        queue: new LocalFileQueue(join(root, 'fills.jsonl')),
        archive: { graceMs: 0 },
        onBackfillEvent: (e) => events.push(e),
      });
      await expect.poll(() => service.session.state, { timeout: 10_000 }).toBe('active');
      sim.setRate(200);
      await expect.poll(() => service.status().counters.executionReports, { timeout: 10_000 }).toBeGreaterThan(50);
      // Act: the exchange becomes unreachable; reports keep being generated. It stays away until
      // the listener has been refused at least once and over 150 reports went by without it.
      const generatedAtCut = sim.generated(API_KEY).length;
      const reconnectsAtCut = service.session.status().counters.reconnects;
      sim.pauseAccepting(true);
      sim.dropConnections();
      await vi.waitFor(
        () => {
          expect(service.session.status().counters.reconnects).toBeGreaterThan(reconnectsAtCut);
          expect(sim!.generated(API_KEY).length - generatedAtCut).toBeGreaterThan(150);
        },
        { timeout: 10_000, interval: 20 },
      );
      expect(service.session.state).not.toBe('active');
      const generatedWhileAway = sim.generated(API_KEY).length;
      sim.pauseAccepting(false);
      await expect.poll(() => events.some((e) => e.kind === 'finished'), { timeout: 20_000 }).toBe(true);
      // Live reports keep coming after the backfill; then the exchange goes quiet, and a last
      // report journaled proves every live report before it is in (NR delivers in order).
      const reportsAtFinish = service.status().counters.executionReports;
      await expect
        .poll(() => service.status().counters.executionReports, { timeout: 10_000 })
        .toBeGreaterThan(reportsAtFinish + 20);
      sim.setRate(0);
      const [last] = sim.emitReports(API_KEY, 1);
      await expect.poll(() => service.journal.maxExecId, { timeout: 10_000 }).toBe(last!.execId);
      // A second replay over reports the journal already holds (from early in the run): every one
      // comes back and every one must be dropped and counted, none journaled again.
      const early = sim.generated(API_KEY).filter((r) => r.execType !== '8')[10]!.execId;
      expect(await service.backfill.request({ lastGoodExecId: early, since: Date.now() - 5000 })).toBe('complete');
      await service.stop();
      // Assess
      const generated = sim
        .generated(API_KEY)
        .filter((r) => r.execType !== '8')
        .map((r) => r.execId);
      const rejects = sim
        .generated(API_KEY)
        .filter((r) => r.execType === '8')
        .map((r) => r.execId);
      const archived = archivedIds(join(root, 'archive'));
      expect(archived.length).toBe(new Set(archived).size);
      // Every report, rejects included when the live stream carried them; rejects are never replayed.
      for (const id of generated) expect(archived).toContain(id);
      expect(archived.filter((id) => !rejects.includes(id)).length).toBe(generated.length);
      const finished = events.find((e) => e.kind === 'finished') as Extract<BackfillEvent, { kind: 'finished' }>;
      expect(finished.recovered).toBeGreaterThan(50);
      expect(finished.replayed).toBe(finished.announced);
      // The replay starts at the last journaled ExecID, inclusive: that report comes again and is
      // dropped as a duplicate — unless it was a reject, which drop copy never replays.
      expect(finished.recovered + finished.duplicates).toBe(finished.replayed);
      const lastGood = sim.generated(API_KEY).find((r) => r.execId === finished.from);
      expect(lastGood).toBeDefined();
      if (lastGood!.execType !== '8') expect(finished.duplicates).toBeGreaterThanOrEqual(1);
      expect(service.status().backfill).toMatchObject({ configured: true, disabled: null, holes: [] });
      const again = events.filter((e) => e.kind === 'finished').at(-1) as Extract<BackfillEvent, { kind: 'finished' }>;
      expect(again).not.toBe(finished);
      expect(again.replayed).toBeGreaterThan(100);
      expect(again.recovered).toBe(0);
      expect(again.duplicates).toBe(again.replayed);
      expect(service.status().backfill.duplicatesDropped).toBe(finished.duplicates + again.duplicates);
      expect(generatedWhileAway).toBeGreaterThan(100);
    },
  );
});

// A simulator, real TLS and real heartbeats: more than the 5 s default on a busy machine.
describe('Backfiller', { timeout: 30_000 }, () => {
  async function setUp(
    options: Parameters<typeof startSimulator>[0] & {
      backfill?: Partial<ConstructorParameters<typeof Backfiller>[0]>;
    } = {},
  ) {
    const { backfill: _, ...simOptions } = options;
    const started = await startSimulator({ ports: { KalshiDC: 0 }, ...simOptions });
    sim = started.sim;
    const dir = tempDir('bf-');
    const journal = await Journal.open({ dir: join(dir, 'journal') });
    const holes = await HoleLog.open(join(dir, 'holes.jsonl'));
    const events: BackfillEvent[] = [];
    const backfiller = new Backfiller({
      dropCopy: simulatorDropCopy(started.address),
      journal,
      holes,
      retry: { initialMs: 20, maxMs: 50, attempts: 3 },
      ...options.backfill,
      onEvent: (e) => events.push(e),
    });
    return { backfiller, journal, holes, events, dir, address: started.address };
  }

  describe('on EventResendReject reason 1 (rate limited)', () => {
    it('backs off and asks again, then completes', async () => {
      const { backfiller, journal, events } = await setUp();
      const reports = sim!.emitReports(API_KEY, 10);
      sim!.dropCopy.rateLimitNext = 1;
      expect(await backfiller.request({ lastGoodExecId: reports[2]!.execId, since: Date.now() - 1000 })).toBe(
        'complete',
      );
      expect(events.map((e) => e.kind)).toEqual(['started', 'retrying', 'started', 'finished']);
      expect((events[1] as { why: string }).why).toMatch(/^U3 1/);
      expect(journal.lastLsn).toBe(reports.slice(2).filter((r) => r.execType !== '8').length);
    });

    it('says so in its status while it waits to ask again (the status page: the drop copy state)', async () => {
      // Prepare: a wait of at least 800 ms, long enough to look at.
      const { backfiller, address } = await setUp({
        backfill: { retry: { initialMs: 1000, maxMs: 1000, floorMs: 800, attempts: 3 } },
      });
      const reports = sim!.emitReports(API_KEY, 5);
      sim!.dropCopy.rateLimitNext = 1;
      const before = backfiller.status();
      // Act
      const outcome = backfiller.request({ lastGoodExecId: reports[0]!.execId, since: Date.now() - 1000 });
      const waiting = await vi.waitFor(
        () => {
          const status = backfiller.status();
          expect(status.retrying).not.toBeNull();
          return status;
        },
        { timeout: 5000, interval: 10 },
      );
      expect(await outcome).toBe('complete');
      // Assess
      expect(before).toMatchObject({
        endpoint: `${address.host}:${address.ports.KalshiDC}`,
        running: false,
        retrying: null,
      });
      expect(waiting.running).toBe(true);
      expect(waiting.retrying).toMatchObject({ attempt: 1, why: expect.stringMatching(/^U3 1/) as unknown });
      expect(waiting.retrying!.at).toBeGreaterThan(Date.now() - 1000);
      expect(backfiller.status()).toMatchObject({ running: false, retrying: null });
    });
  });

  describe('on EventResendReject reason 2 (server error)', () => {
    it('retries a bounded number of times, then records a hole', async () => {
      const { backfiller, holes, events } = await setUp();
      const reports = sim!.emitReports(API_KEY, 5);
      sim!.dropCopy.serverErrorNext = 10;
      expect(await backfiller.request({ lastGoodExecId: reports[0]!.execId, since: Date.now() - 1000 })).toBe('hole');
      expect(events.filter((e) => e.kind === 'retrying')).toHaveLength(2);
      expect(holes.holes).toHaveLength(1);
      expect(holes.holes[0]!.reason).toMatch(/failed 3 times \(last: U3 2/);
    });
  });

  describe('on EventResendReject reason 3 (outside the window)', () => {
    it('reports a hole beyond the drop-copy window with its time range and last good ExecID, persisted', async () => {
      // Prepare: Kalshi's 3-hour window; the first reports generated on an exchange clock 4 hours
      // behind (no session is connected yet to see its SendingTime), the rest on the real one.
      let behindMs = 4 * 3600_000;
      const { backfiller, holes, events, dir } = await setUp({
        clock: { ...systemClock, now: () => Date.now() - behindMs },
      });
      const old = sim!.emitReports(API_KEY, 3);
      behindMs = 0;
      sim!.emitReports(API_KEY, 3);
      const since = Date.now() - 4 * 3600_000;
      // Act
      const outcome = await backfiller.request({ lastGoodExecId: old[0]!.execId, since });
      // Assess
      expect(outcome).toBe('hole');
      const hole = (events.find((e) => e.kind === 'hole') as Extract<BackfillEvent, { kind: 'hole' }>).hole;
      expect(hole).toMatchObject({ lastGoodExecId: old[0]!.execId, from: new Date(since).toISOString() });
      expect(hole.reason).toMatch(/outside the drop-copy window/);
      expect(Date.parse(hole.to)).toBeGreaterThan(since);
      expect((await HoleLog.open(join(dir, 'holes.jsonl'))).holes).toEqual([hole]);
      expect(backfiller.status().holes).toHaveLength(1);
      expect(holes.holes).toHaveLength(1);
    });
  });

  describe('on EventResendReject reason 5 (not enabled)', () => {
    it('reports the hole and stops asking', async () => {
      const { backfiller, holes, events } = await setUp();
      const reports = sim!.emitReports(API_KEY, 3);
      sim!.dropCopy.enabled = false;
      expect(await backfiller.request({ lastGoodExecId: reports[0]!.execId, since: Date.now() })).toBe('hole');
      const asked = sim!.dropCopy.requests;
      expect(await backfiller.request({ lastGoodExecId: reports[1]!.execId, since: Date.now() })).toBe('hole');
      expect(events.some((e) => e.kind === 'disabled')).toBe(true);
      expect(sim!.dropCopy.requests).toBe(asked);
      expect(holes.holes).toHaveLength(2);
      expect(backfiller.status().disabled).toMatch(/not enabled/);
    });
  });

  describe('without a drop-copy session', () => {
    it('records every gap as a hole', async () => {
      const dir = tempDir('bf-');
      const holes = await HoleLog.open(join(dir, 'holes.jsonl'));
      const backfiller = new Backfiller({
        dropCopy: undefined,
        journal: await Journal.open({ dir: join(dir, 'journal') }),
        holes,
      });
      expect(await backfiller.request({ lastGoodExecId: '5;1', since: Date.now() })).toBe('hole');
      expect(holes.holes[0]!.reason).toMatch(/no drop-copy session configured/);
    });
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { ListenerService } from '../../src/app/service.js';
import type { KalshiSimulator } from '../../src/sim/simulator.js';
import { tempDir } from '../helpers/records.js';
import { simulatorServiceOptions } from '../helpers/service.js';
import { API_KEY, startSimulator } from '../helpers/sim.js';

let sim: KalshiSimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

describe('ListenerService', () => {
  describe('a restart on KalshiNR without a drop copy', () => {
    it(
      'records a hole from the last report journaled before the outage to the logon after it',
      { timeout: 30_000 },
      async () => {
        // Prepare: a first run journals reports, then the process goes away while reports go on.
        const started = await startSimulator({ ports: { KalshiNR: 0 } });
        sim = started.sim;
        const options = simulatorServiceOptions(started.address, tempDir(), 'KalshiNR');
        const first = await ListenerService.start(options);
        await expect.poll(() => first.session.state, { timeout: 10_000 }).toBe('active');
        const generated = sim.emitReports(API_KEY, 5);
        await expect.poll(() => first.journal.maxExecId, { timeout: 10_000 }).toBe(generated.at(-1)!.execId);
        const lastReceived = first.journal.lastReceivedMs!;
        await first.stop();
        const restartedAt = Date.now();

        // Act
        const second = await ListenerService.start(options);
        await expect.poll(() => second.status().backfill.holes.length, { timeout: 10_000 }).toBe(1);
        const [hole] = second.status().backfill.holes;
        await second.stop();

        // Assess: the window opens at the last report kept (not at the new process's start) and
        // closes once the listener is back.
        expect(hole).toMatchObject({
          lastGoodExecId: generated.at(-1)!.execId,
          from: new Date(lastReceived).toISOString(),
        });
        expect(Date.parse(hole!.from)).toBeLessThan(restartedAt);
        expect(Date.parse(hole!.to)).toBeGreaterThanOrEqual(restartedAt);
      },
    );
  });
});

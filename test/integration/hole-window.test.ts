import { describe, expect, it } from 'vitest';
import { ListenerService } from '../../src/app/service.js';
import { runUntilJournaled, simulatorPerTest } from '../helpers/simulated-service.js';

const onSimulator = simulatorPerTest();

describe('ListenerService', () => {
  describe('a restart on KalshiNR without a drop copy', { timeout: 30_000 }, () => {
    it('records a hole from the last report journaled before the outage to the logon after it', async () => {
      // Prepare: a first run journals reports, then the process goes away while reports go on.
      const exchange = await onSimulator('KalshiNR');
      const { generated, lastReceivedMs } = await runUntilJournaled(exchange, 5);
      const restartedAt = Date.now();

      // Act
      const second = await ListenerService.start(exchange.options);
      await expect.poll(() => second.status().backfill.holes.length, { timeout: 10_000 }).toBe(1);
      const [hole] = second.status().backfill.holes;
      await second.stop();

      // Assess: the window opens at the last report kept (not at the new process's start) and
      // closes once the listener is back.
      expect(hole).toMatchObject({
        lastGoodExecId: generated.at(-1)!.execId,
        from: new Date(lastReceivedMs).toISOString(),
      });
      expect(Date.parse(hole!.from)).toBeLessThan(restartedAt);
      expect(Date.parse(hole!.to)).toBeGreaterThanOrEqual(restartedAt);
    });
  });
});

import { afterEach, expect } from 'vitest';
import { ListenerService, type ServiceOptions } from '../../src/app/service.js';
import type { GeneratedReport } from '../../src/sim/order-flow.js';
import type { KalshiSimulator } from '../../src/sim/simulator.js';
import { tempDir } from './records.js';
import { simulatorServiceOptions } from './service.js';
import { API_KEY, startSimulator } from './sim.js';

/** A simulator and the options of a service on it, with its spool and sinks under `root`. */
export interface SimulatedExchange {
  sim: KalshiSimulator;
  options: ServiceOptions;
  root: string;
}

/**
 * For a file of service tests on the simulator: the function it returns starts one on `target`'s
 * port (and on the drop copy's, when asked) and gives a service's options on it. Each simulator is
 * stopped after its test, so a test that fails half-way leaves no exchange running into the next.
 * Call it at the top of the test file: the stop is an afterEach hook of that file (files that
 * share a module graph would otherwise share one hook).
 */
export function simulatorPerTest(): (
  target: 'KalshiNR' | 'KalshiRT',
  setUp?: { dropCopy?: boolean; root?: string },
) => Promise<SimulatedExchange> {
  let sim: KalshiSimulator | undefined;
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });
  return async (target, { dropCopy = false, root = tempDir() } = {}) => {
    const started = await startSimulator({ ports: { [target]: 0, ...(dropCopy ? { KalshiDC: 0 } : {}) } });
    sim = started.sim;
    return {
      sim: started.sim,
      options: simulatorServiceOptions(started.address, root, target, { dropCopy }),
      root,
    };
  };
}

/**
 * A run of the service that journals `count` reports from the simulator, then stops cleanly: the
 * reports, and when the journal received its last one (where a hole after this run would open).
 */
export async function runUntilJournaled(
  { sim, options }: SimulatedExchange,
  count: number,
): Promise<{ generated: GeneratedReport[]; lastReceivedMs: number }> {
  const service = await ListenerService.start(options);
  await expect.poll(() => service.session.state, { timeout: 10_000 }).toBe('active');
  const generated = sim.emitReports(API_KEY, count);
  await expect.poll(() => service.journal.maxExecId, { timeout: 10_000 }).toBe(generated.at(-1)!.execId);
  const lastReceivedMs = service.journal.lastReceivedMs!;
  await service.stop();
  return { generated, lastReceivedMs };
}

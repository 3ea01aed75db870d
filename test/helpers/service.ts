import { join } from 'node:path';
import type { ServiceOptions } from '../../src/app/service.js';
import type { SimulatorAddress } from '../../src/sim/simulator.js';
import { LocalFileQueue } from '../../src/sinks/local-file-queue.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { API_KEY, testKeys } from './sim.js';

/**
 * A service on the simulator's `target` port, with short heartbeats and reconnects, local sinks
 * under `root` (`spool/`, `archive/`, `fills.jsonl`) and, when asked, the simulator's drop copy.
 */
export function simulatorServiceOptions(
  address: SimulatorAddress,
  root: string,
  target: 'KalshiNR' | 'KalshiRT',
  options: { dropCopy?: boolean } = {},
): ServiceOptions {
  return {
    fix: {
      host: address.host,
      port: address.ports[target]!,
      targetCompId: target,
      apiKey: API_KEY,
      privateKey: testKeys().privateKey,
      heartbeatS: 1,
      extraCa: address.ca,
      reconnect: { initialMs: 50, maxMs: 200 },
    },
    ...(options.dropCopy === true ? { dropCopy: simulatorDropCopy(address) } : {}),
    spoolDir: join(root, 'spool'),
    store: new LocalFolderStore(join(root, 'archive')),
    queue: new LocalFileQueue(join(root, 'fills.jsonl')),
    archive: { graceMs: 0 },
  };
}

/** The simulator's drop copy (KalshiDC) as the service's backfill source. */
export function simulatorDropCopy(address: SimulatorAddress): NonNullable<ServiceOptions['dropCopy']> {
  return {
    host: address.host,
    port: address.ports.KalshiDC!,
    apiKey: API_KEY,
    privateKey: testKeys().privateKey,
    extraCa: address.ca,
    timeoutMs: 10_000,
  };
}

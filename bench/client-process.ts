/**
 * The process of one benchmark client (clients.ts forks it): a listener, the floor or jspurefix,
 * logged on to the simulator of one peers process, sampled on command. Nothing else runs here, so
 * process.cpuUsage() is that client's CPU, all threads.
 */
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ClientCommand, ClientReply, ClientSample, ClientSpec } from './clients.js';
import { BENCH_API_KEY } from './fixtures.js';
import { startFloorClient, type ReferenceClient } from './floor-client.js';
import { startJspurefixClient } from './jspurefix-client.js';
import { startListener, type BenchListener } from './listener.js';
import type { PeersAddress } from './peers-client.js';
import { descendantsCpuUs } from './process-cpu.js';
import { sleep } from './timing.js';

interface Running {
  reports(): number;
  fills(): number;
  /** Stops as for real; the files are removed afterwards by `cleanup`. */
  stop(): Promise<void>;
  cleanup(): void;
}

let running: Running | undefined;
let peak = 0;
let peakSampler: NodeJS.Timeout | undefined;

function reply(message: ClientReply): void {
  process.send!(message);
}

function sample(): ClientSample {
  const cpu = process.cpuUsage();
  const rss = process.memoryUsage.rss();
  return {
    userUs: cpu.user,
    systemUs: cpu.system,
    childrenUs: descendantsCpuUs(),
    reports: running?.reports() ?? 0,
    fills: running?.fills() ?? 0,
    rssBytes: rss,
    peakRssBytes: Math.max(peak, rss),
    at: performance.now(),
  };
}

async function start(spec: ClientSpec, address: PeersAddress, privateKeyPem: string): Promise<Running> {
  const privateKey = createPrivateKey(privateKeyPem);
  if (spec.kind === 'listener') {
    const listener: BenchListener = await startListener(
      { address, privateKey },
      {
        archive: spec.archive,
        fills: spec.fills,
        ...(spec.parquet === undefined ? {} : { parquet: spec.parquet }),
        ...(spec.lingerMs === undefined ? {} : { lingerMs: spec.lingerMs }),
      },
    );
    const { journal } = listener.service;
    const base = journal.durableLsn;
    return {
      reports: () => journal.durableLsn - base,
      fills: () => listener.fillsSent(),
      // What listener.stop() does, less removing the spool: that is not the service's work.
      async stop() {
        await listener.service.stop();
        await listener.queue.close?.();
      },
      cleanup: () => rmSync(listener.dir, { recursive: true, force: true }),
    };
  }
  const dir = mkdtempSync(join(tmpdir(), `kfl-bench-${spec.kind}-`));
  const options = {
    host: address.fix.host,
    port: address.fix.port,
    ca: address.fix.ca,
    apiKey: BENCH_API_KEY,
    privateKey,
    heartbeatS: 30,
    file: join(dir, 'journal'),
  };
  const client: ReferenceClient =
    spec.kind === 'floor' ? await startFloorClient(options) : await startJspurefixClient(options);
  const base = client.durable();
  return {
    reports: () => client.durable() - base,
    fills: () => 0,
    stop: () => client.stop(),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function waitFor(reports: number, fills: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while ((running?.reports() ?? 0) < reports || (running?.fills() ?? 0) < fills) {
    if (performance.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${reports} reports (${running?.reports()}) and ${fills} fills (${running?.fills()})`,
      );
    await sleep(5);
  }
}

function trackPeak(on: boolean): void {
  clearInterval(peakSampler);
  peakSampler = undefined;
  peak = 0;
  if (on) peakSampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 100);
}

// The benchmark that forked this process is gone: nothing is left to measure for.
process.on('disconnect', () => process.exit(1));

process.on('message', (command: ClientCommand) => {
  void (async () => {
    try {
      switch (command.cmd) {
        case 'start': {
          const t = performance.now();
          running = await start(command.spec, command.address, command.privateKeyPem);
          return reply({ type: 'ready', startMs: Math.round(performance.now() - t) });
        }
        case 'sample': {
          const s = sample();
          trackPeak(command.trackPeak === true);
          return reply({ type: 'sample', sample: s });
        }
        case 'wait':
          await waitFor(command.reports, command.fills, command.timeoutMs);
          return reply({ type: 'sample', sample: sample() });
        case 'stop': {
          await running?.stop();
          const s = sample();
          trackPeak(false);
          running?.cleanup();
          // Whatever the client leaves running (SDK sockets, timers) must not hold the process.
          process.send!({ type: 'sample', sample: s } satisfies ClientReply, () => process.exit(0));
          return;
        }
      }
    } catch (error) {
      reply({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  })();
});

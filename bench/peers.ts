/**
 * "The outside world" of the end-to-end benchmarks, in a process of its own: the Kalshi simulator
 * (KalshiRT over loopback TLS) and fauxqs (S3 + SQS). Keeping them out of the listener's process
 * means the listener's event loop, CPU time and RSS are its own, as they would be against the real
 * exchange and AWS; on two cores the listener gets one and its peers share the other.
 *
 * Driven over the fork IPC channel by peers-client.ts (messages typed there).
 */
import './loopback-only.js';
import { createPublicKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { startFauxqs } from 'fauxqs';
import { KalshiSimulator } from '../src/sim/simulator.js';
import { BENCH_API_KEY } from './fixtures.js';
import type { PeerCommand, PeerReply } from './peers-client.js';

let sim: KalshiSimulator | undefined;
let aws: Awaited<ReturnType<typeof startFauxqs>> | undefined;
let fills = 0;
let generated = 0;

function reply(message: PeerReply): void {
  process.send!(message);
}

async function start(publicKeyPem: string): Promise<void> {
  aws = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
  aws.createBucket('archive');
  const { queueUrl } = aws.createQueue('fills.fifo', {
    attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' },
  });
  sim = new KalshiSimulator({
    accounts: [{ apiKey: BENCH_API_KEY, publicKey: createPublicKey(publicKeyPem) }],
    ports: { KalshiRT: 0 },
    reportsPerSecond: 0,
    // ExecIDs from the clock: a run never collides with an earlier one in a reused journal.
    firstClock: Math.floor(Date.now() / 1000),
    seed: 11,
    // The resend store only serves gaps; a long run must not hold every report it ever sent.
    maxStoredMessages: 10_000,
  });
  const address = await sim.start();
  reply({
    type: 'ready',
    fix: { host: address.host, port: address.ports.KalshiRT!, ca: address.ca },
    aws: { endpoint: `http://127.0.0.1:${aws.port}`, bucket: 'archive', queueUrl },
  });
}

function count(reports: ReadonlyArray<{ execType: string }>): void {
  generated += reports.length;
  for (const r of reports) if (r.execType === 'F') fills++;
}

/**
 * Emits `total` reports as fast as this process can make them: `batch` per turn of the event loop,
 * so socket writes and TLS keep flowing while generation goes on. The listener's reading pace
 * (TCP back-pressure) is what limits the stream beyond that.
 */
async function emit(total: number, batch: number): Promise<void> {
  let left = total;
  while (left > 0) {
    const n = Math.min(batch, left);
    count(sim!.emitReports(BENCH_API_KEY, n));
    left -= n;
    await new Promise((resolve) => setImmediate(resolve));
  }
  reply({ type: 'emitted', generated, fills });
}

let pacer: NodeJS.Timeout | undefined;

/**
 * Steady rate. The simulator's setRate adds rate × period per timer tick, so every late tick loses
 * reports (≈6 % short at 4.7k/s here); this pacer emits whatever the elapsed time calls for.
 */
function setRate(perSecond: number): void {
  clearInterval(pacer);
  pacer = undefined;
  if (perSecond <= 0) return;
  const start = performance.now();
  let due = 0;
  pacer = setInterval(() => {
    const target = Math.floor(((performance.now() - start) * perSecond) / 1000);
    if (target > due) count(sim!.emitReports(BENCH_API_KEY, target - due));
    due = target;
  }, 2);
}

function stats(): void {
  reply({ type: 'stats', generated, fills, rssBytes: process.memoryUsage().rss });
}

// The process that forked this one is gone without a stop (it failed): do not outlive it.
let stopping = false;
process.on('disconnect', () => {
  if (!stopping) process.exit(1);
});

process.on('message', (command: PeerCommand) => {
  void (async () => {
    try {
      switch (command.cmd) {
        case 'start':
          return await start(command.publicKeyPem);
        case 'emit':
          return await emit(command.count, command.batch);
        case 'rate':
          setRate(command.perSecond);
          return reply({ type: 'ok' });
        case 'stats':
          return stats();
        case 'stop':
          stopping = true;
          setRate(0);
          await sim?.stop();
          await aws?.stop();
          reply({ type: 'ok' });
          process.disconnect();
          return;
      }
    } catch (error) {
      reply({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  })();
});

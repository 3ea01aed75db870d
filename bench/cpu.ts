/**
 * Section — CPU per report: what the listener process spends, all threads, for each report it
 * takes, with fsync on. The exchange side (the simulator in the peers process) is another process,
 * so its cost is not counted; nothing here is instrumented (no stage wrappers), only
 * `process.cpuUsage` around the run, the event-loop thread's own CPU from /proc, and GC pauses.
 *
 * The flood: the peers stream `reports` as fast as the listener reads; the clock stops once every
 * report is durable, every fill is in the fills sink, and the service has stopped (its archive
 * flushed): so the sinks' work is in the figure, not only the FIX side's. Then steady rates, each
 * on a fresh listener: CPU over a window, where small group commits cost more per report.
 */
import { readFileSync } from 'node:fs';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { startListener } from './listener.js';
import { Peers } from './peers-client.js';
import { MB, round, sleep, waitUntil } from './timing.js';

export interface CpuOptions {
  reports: number;
  timeoutMs: number;
  /** Steady rates measured after the flood (reports/s), each for `steadyMs` after a warm-up. */
  steadyRates: number[];
  steadyMs: number;
  /** ArchiveWriter settings beyond the service defaults (to see what holding an object costs). */
  archiveOptions?: { maxObjectBytes?: number; flushMs?: number };
}

export const DEFAULT_CPU_OPTIONS: CpuOptions = {
  reports: 200_000,
  timeoutMs: 180_000,
  // 2,000 fills/s (the latency section's rate) and the stack's planning rate × 10.
  steadyRates: [4700, 1000],
  steadyMs: 15_000,
};

/** CPU at a steady rate: what per-commit costs (fsync, thread-pool hops) add when batches are small. */
export interface SteadyCpu {
  reportsPerSecond: number;
  reports: number;
  cpuUsPerReport: number;
  userUsPerReport: number;
  systemUsPerReport: number;
  mainThreadUsPerReport: number | null;
}

export interface CpuResult {
  reports: number;
  fills: number;
  wallMs: number;
  /** All threads (process.cpuUsage: user + system), per report, µs. */
  cpuUsPerReport: number;
  userUsPerReport: number;
  systemUsPerReport: number;
  /** The event-loop thread alone (/proc/self/task/<pid>/stat, 10 ms ticks): the FIX socket's thread. */
  mainThreadUsPerReport: number | null;
  /** GC pauses per report (inside the main thread's time). */
  gcUsPerReport: number;
  gcPauses: number;
  peakRssMb: number;
  /** Minor page faults per report (process.resourceUsage): memory touched for the first time. */
  minorFaultsPerReport: number;
  /**
   * What this host charges for touching fresh memory: CPU µs per MiB of a new ArrayBuffer filled
   * once (256 faults), measured before the flood. On a VM whose page faults are expensive it is
   * a large share of the figures above: faults/report × this ÷ 256 is their µs per report.
   */
  firstTouchUsPerMiB: number;
  steady: SteadyCpu[];
}

const TICK_US = 10_000; // USER_HZ = 100 on Linux

/** utime + stime of the main thread, µs (null where /proc is not there). */
function mainThreadCpuUs(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command name: state is field 3, utime 14 and stime 15 (1-based over the whole line).
    return (Number(fields[11]) + Number(fields[12])) * TICK_US;
  } catch {
    return null;
  }
}

async function steadyRun(reportsPerSecond: number, ms: number): Promise<SteadyCpu> {
  const peers = await Peers.start();
  try {
    const listener = await startListener(peers, { archive: 'local', fills: 'local' });
    await peers.setRate(reportsPerSecond);
    await sleep(3000);
    const { journal } = listener.service;
    const lsn0 = journal.durableLsn;
    const main0 = mainThreadCpuUs();
    const cpu0 = process.cpuUsage();
    await sleep(ms);
    const cpu = process.cpuUsage(cpu0);
    const main1 = mainThreadCpuUs();
    const reports = journal.durableLsn - lsn0;
    await peers.setRate(0);
    await listener.stop();
    const per = (us: number) => round(us / Math.max(1, reports), 1);
    return {
      reportsPerSecond: Math.round((reports * 1000) / ms),
      reports,
      cpuUsPerReport: per(cpu.user + cpu.system),
      userUsPerReport: per(cpu.user),
      systemUsPerReport: per(cpu.system),
      mainThreadUsPerReport: main0 === null || main1 === null ? null : per(main1 - main0),
    };
  } finally {
    await peers.stop();
  }
}

export async function runCpu(options: CpuOptions = DEFAULT_CPU_OPTIONS): Promise<CpuResult> {
  const flood = await floodRun(options);
  const steady: SteadyCpu[] = [];
  for (const rate of options.steadyRates) steady.push(await steadyRun(rate, options.steadyMs));
  return { ...flood, steady };
}

/** CPU µs per MiB to fault in fresh memory (median of 5 rounds of 16 MiB). */
function firstTouchUsPerMiB(): number {
  const samples: number[] = [];
  for (let round = 0; round < 5; round++) {
    const fresh = new Uint8Array(new ArrayBuffer(16 * MB));
    const before = process.cpuUsage();
    for (let at = 0; at < fresh.length; at += 4096) fresh[at] = 1;
    const used = process.cpuUsage(before);
    samples.push((used.user + used.system) / 16);
  }
  samples.sort((a, b) => a - b);
  return Math.round(samples[2]!);
}

async function floodRun(options: CpuOptions): Promise<Omit<CpuResult, 'steady'>> {
  const firstTouch = firstTouchUsPerMiB();
  const peers = await Peers.start();
  try {
    const listener = await startListener(peers, {
      archive: 'local',
      fills: 'local',
      ...(options.archiveOptions === undefined ? {} : { archiveOptions: options.archiveOptions }),
    });
    const { journal } = listener.service;
    const base = journal.lastLsn;
    let gcMs = 0;
    let gcPauses = 0;
    const gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        gcMs += entry.duration;
        gcPauses++;
      }
    });
    gc.observe({ entryTypes: ['gc'] });
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

    const main0 = mainThreadCpuUs();
    const faults0 = process.resourceUsage().minorPageFault;
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const emitted = await peers.emit(options.reports);
    await waitUntil(() => journal.durableLsn - base >= options.reports, options.timeoutMs, 'every report durable');
    await waitUntil(() => listener.fillsSent() >= emitted.fills, options.timeoutMs, 'every fill in the fills sink');
    await listener.stop();
    const wallMs = performance.now() - start;
    const cpu = process.cpuUsage(cpu0);
    const faults = process.resourceUsage().minorPageFault - faults0;
    const main1 = mainThreadCpuUs();
    clearInterval(sampler);
    gc.disconnect();

    const per = (us: number) => round(us / options.reports, 2);
    return {
      reports: options.reports,
      fills: emitted.fills,
      wallMs: Math.round(wallMs),
      cpuUsPerReport: per(cpu.user + cpu.system),
      userUsPerReport: per(cpu.user),
      systemUsPerReport: per(cpu.system),
      mainThreadUsPerReport: main0 === null || main1 === null ? null : per(main1 - main0),
      gcUsPerReport: per(gcMs * 1000),
      gcPauses,
      peakRssMb: Math.round(peakRss / MB),
      minorFaultsPerReport: round(faults / options.reports, 2),
      firstTouchUsPerMiB: firstTouch,
    };
  } finally {
    await peers.stop();
  }
}

/**
 * Section — the listener against two references, in the same rounds (issue 29): the floor
 * (floor-client.ts: TLS, split on CheckSum, every read appended O_DSYNC) and jspurefix
 * (jspurefix-client.ts: its session and parser, each ExecutionReport read into an object and
 * appended durably, no sinks). Each client runs in its own process (clients.ts) against a
 * simulator of its own (one peers process each), and is measured the same way: process.cpuUsage()
 * of its process, all threads, over a window, per report durable in it. The targets are ratios of
 * figures taken in the same round, so they hold on any host; each figure is the median of the rounds
 * (idle: the CPU of the idle windows together, see 1.).
 *
 * A round:
 *   1. connected, side by side: the listener, the listener with the S3 + SQS sinks (fauxqs in its
 *      peers process), the listener without the typed Parquet copy, the floor and jspurefix, all
 *      logged on at once; in the first `idleRounds` rounds `idleMs` with nothing to read (CPU ms
 *      per minute: a whole minute, since the listener's periodic work — the 30 s heartbeat, the
 *      Parquet copy's 60 s check — falls at the same offsets from the start in every round, and
 *      shorter windows there would miss it every time; sampled every `idleSliceMs` for the
 *      spread), then `slowRate` reports/s evenly spaced for `slowMs` after `warmupMs` (the load is
 *      light, so they share the cores without getting in each other's way; a flood would not).
 *   2. `fastRate` reports/s, one client after another (the order turns each round): `warmupMs`,
 *      then the window of `fastMs`. The two local-sink listeners then drain and stop, so the
 *      figure from the rate's start through the stop holds every report's whole cost (the archive
 *      flushed, the Parquet copy's share): on minus off is the typed copy's cost to the listener.
 *   3. a flood of `floodReports` as fast as the listener reads, one client after another (fresh
 *      ones, started with the round and idle until then), through the stop: the listener until
 *      every report is durable, every fill in the fills sink and the service stopped; the floor and
 *      jspurefix until every report is durable, the Logout answered and the file closed. Peak RSS.
 */
import { BenchClient, type ClientSample, type ClientSpec } from './clients.js';
import { Peers } from './peers-client.js';
import { MB, median, round, sleep } from './timing.js';

export const SUBJECTS = ['listener', 'listener-s3-sqs', 'listener-no-parquet', 'floor', 'jspurefix'] as const;
export type Subject = (typeof SUBJECTS)[number];

const SPECS: Record<Subject, ClientSpec> = {
  listener: { kind: 'listener', archive: 'local', fills: 'local' },
  'listener-s3-sqs': { kind: 'listener', archive: 's3', fills: 'sqs' },
  'listener-no-parquet': { kind: 'listener', archive: 'local', fills: 'local', parquet: false },
  floor: { kind: 'floor' },
  jspurefix: { kind: 'jspurefix' },
};

const CONNECTED: readonly Subject[] = SUBJECTS;
const FAST: readonly Subject[] = ['listener', 'listener-no-parquet', 'floor', 'jspurefix'];
const FLOOD: readonly Subject[] = ['listener', 'floor', 'jspurefix'];

export type ReferencesPhase = 'connected' | 'fast' | 'flood';

export interface ReferencesOptions {
  rounds: number;
  phases: ReferencesPhase[];
  /** After every client of the round has logged on, before the idle window (start-up work settles). */
  settleMs: number;
  /** The idle window, in the first `idleRounds` rounds; sampled every `idleSliceMs`. */
  idleMs: number;
  idleRounds: number;
  idleSliceMs: number;
  slowRate: number;
  slowMs: number;
  fastRate: number;
  fastMs: number;
  /** Before each rate's window. */
  warmupMs: number;
  floodReports: number;
  timeoutMs: number;
}

export const DEFAULT_REFERENCES_OPTIONS: ReferencesOptions = {
  rounds: 3,
  phases: ['connected', 'fast', 'flood'],
  settleMs: 3000,
  // A minute idle, and 45 s at 100/s and 30 s at 1,000/s per client over the three rounds.
  idleMs: 60_000,
  idleRounds: 1,
  idleSliceMs: 20_000,
  slowRate: 100,
  slowMs: 15_000,
  fastRate: 1000,
  fastMs: 10_000,
  warmupMs: 2000,
  floodReports: 100_000,
  timeoutMs: 120_000,
};

/** A client over a window: CPU of its process (all threads) per report durable in the window. */
export interface WindowCpu {
  reports: number;
  seconds: number;
  reportsPerSecond: number;
  cpuUsPerReport: number;
  userUsPerReport: number;
  systemUsPerReport: number;
  /** CPU of the processes it started (the Parquet builder), per report; null without /proc. */
  childrenUsPerReport: number | null;
}

export interface IdleCpu {
  seconds: number;
  /** CPU ms per minute connected with nothing to read, its process (all threads). */
  cpuMsPerMinute: number;
  childrenMsPerMinute: number | null;
  /** The same over each `idleSliceMs` of the window, ms per minute. */
  slices: number[];
  /** Totals over the window (to pool rounds): CPU µs and ms. */
  cpuUs: number;
  ms: number;
}

export interface FloodCpu extends WindowCpu {
  wallMs: number;
  peakRssMb: number;
}

export interface ReferencesRound {
  fastOrder: Subject[];
  floodOrder: Subject[];
  idle: Partial<Record<Subject, IdleCpu>>;
  slow: Partial<Record<Subject, WindowCpu>>;
  fast: Partial<Record<Subject, WindowCpu>>;
  /** From the fast rate's start through the stop (listeners): every report's whole cost. */
  fastThroughStop: Partial<Record<Subject, WindowCpu>>;
  flood: Partial<Record<Subject, FloodCpu>>;
}

export interface ReferencesResult {
  options: ReferencesOptions;
  rounds: ReferencesRound[];
  /** Medians over the rounds (idle: over every idle window together). */
  median: {
    idleMsPerMinute: Partial<Record<Subject, number>>;
    slowUsPerReport: Partial<Record<Subject, number>>;
    fastUsPerReport: Partial<Record<Subject, number>>;
    fastThroughStopUsPerReport: Partial<Record<Subject, number>>;
    floodUsPerReport: Partial<Record<Subject, number>>;
    floodPeakRssMb: Partial<Record<Subject, number>>;
    floodReportsPerSecond: Partial<Record<Subject, number>>;
  };
  /** Medians over the rounds of ratios (and differences) taken within each round. */
  ratios: {
    /** Listener ÷ floor and jspurefix ÷ floor, CPU per report. */
    slowListenerToFloor: number | null;
    slowJspurefixToFloor: number | null;
    fastListenerToFloor: number | null;
    fastJspurefixToFloor: number | null;
    floodListenerToFloor: number | null;
    floodJspurefixToFloor: number | null;
    /** Rounds where the listener took less CPU per report than jspurefix, of those measured. */
    slowBelowJspurefix: [rounds: number, of: number];
    fastBelowJspurefix: [rounds: number, of: number];
    /** The listener with S3 + SQS sinks ÷ with local sinks, at the slow rate. */
    s3SqsToLocalSinks: number | null;
    /** Listener with Parquet − without, from the fast rate's start through the stop, µs per report. */
    parquetUsPerReport: number | null;
    /** The same, of the processes it started (the Parquet builder), µs per report. */
    parquetChildrenUsPerReport: number | null;
  };
}

const cpuUs = (s: ClientSample) => s.userUs + s.systemUs;

function window(a: ClientSample, b: ClientSample): WindowCpu {
  const reports = b.reports - a.reports;
  const per = (us: number) => round(us / Math.max(1, reports), 2);
  const seconds = (b.at - a.at) / 1000;
  return {
    reports,
    seconds: round(seconds, 1),
    reportsPerSecond: Math.round(reports / seconds),
    cpuUsPerReport: per(cpuUs(b) - cpuUs(a)),
    userUsPerReport: per(b.userUs - a.userUs),
    systemUsPerReport: per(b.systemUs - a.systemUs),
    childrenUsPerReport: a.childrenUs === null || b.childrenUs === null ? null : per(b.childrenUs - a.childrenUs),
  };
}

const msPerMinute = (a: ClientSample, b: ClientSample) =>
  round((cpuUs(b) - cpuUs(a)) / 1000 / ((b.at - a.at) / 60_000), 1);

function idle(samples: readonly ClientSample[]): IdleCpu {
  const a = samples[0]!;
  const b = samples.at(-1)!;
  const minutes = (b.at - a.at) / 60_000;
  return {
    seconds: round((b.at - a.at) / 1000, 1),
    cpuMsPerMinute: msPerMinute(a, b),
    childrenMsPerMinute:
      a.childrenUs === null || b.childrenUs === null ? null : round((b.childrenUs - a.childrenUs) / 1000 / minutes, 1),
    slices: samples.slice(1).map((x, i) => msPerMinute(samples[i]!, x)),
    cpuUs: cpuUs(b) - cpuUs(a),
    ms: Math.round(b.at - a.at),
  };
}

interface Running {
  peers: Peers;
  client: BenchClient;
}

async function startSubject(subject: Subject, live: Set<Running>): Promise<Running> {
  const peers = await Peers.start();
  try {
    const running = { peers, client: await BenchClient.start(SPECS[subject], peers) };
    live.add(running);
    return running;
  } catch (error) {
    await peers.stop();
    throw error;
  }
}

async function finish(running: Running, live: Set<Running>): Promise<void> {
  live.delete(running);
  await running.client.kill();
  await running.peers.stop();
}

const rotate = <T>(list: readonly T[], by: number): T[] => list.map((_, i) => list[(i + by) % list.length]!);

async function sampleAll<K extends string>(clients: ReadonlyMap<K, Running>): Promise<Map<K, ClientSample>> {
  const entries = await Promise.all(
    [...clients].map(async ([subject, { client }]) => [subject, await client.sample()] as const),
  );
  return new Map(entries);
}

async function runRound(r: number, options: ReferencesOptions, live: Set<Running>): Promise<ReferencesRound> {
  const has = (phase: ReferencesPhase) => options.phases.includes(phase);
  const result: ReferencesRound = {
    fastOrder: rotate(FAST, r),
    floodOrder: rotate(FLOOD, r),
    idle: {},
    slow: {},
    fast: {},
    fastThroughStop: {},
    flood: {},
  };
  // Every client of the round starts now, side by side (jspurefix loads its dictionary for seconds):
  // the flood's are fresh, idle until their turn.
  const connectedSet = has('connected') ? CONNECTED : has('fast') ? FAST : [];
  const starting = [
    ...connectedSet.map(async (s) => ['connected', s, await startSubject(s, live)] as const),
    ...(has('flood') ? FLOOD.map(async (s) => ['flood', s, await startSubject(s, live)] as const) : []),
  ];
  // All settled before going on, so a failure leaves no client outside `live` (cleaned up by the caller).
  const settled = await Promise.allSettled(starting);
  const failed = settled.find((x) => x.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  const started = settled.flatMap((x) => (x.status === 'fulfilled' ? [x.value] : []));
  const connected = new Map(started.filter(([set]) => set === 'connected').map(([, s, run]) => [s, run]));
  const flooders = new Map(started.filter(([set]) => set === 'flood').map(([, s, run]) => [s, run]));
  await sleep(options.settleMs);

  if (has('connected')) {
    if (r < options.idleRounds && options.idleMs > 0) {
      const samples = [await sampleAll(connected)];
      for (let left = options.idleMs; left > 0; left -= options.idleSliceMs) {
        await sleep(Math.min(left, options.idleSliceMs));
        samples.push(await sampleAll(connected));
      }
      for (const s of connected.keys()) result.idle[s] = idle(samples.map((x) => x.get(s)!));
    }

    await Promise.all([...connected.values()].map(({ peers }) => peers.setRate(options.slowRate)));
    await sleep(options.warmupMs);
    const s0 = await sampleAll(connected);
    await sleep(options.slowMs);
    const s1 = await sampleAll(connected);
    await Promise.all([...connected.values()].map(({ peers }) => peers.setRate(0)));
    for (const [s, a] of s0) result.slow[s] = window(a, s1.get(s)!);
    const aws = connected.get('listener-s3-sqs');
    if (aws !== undefined) await finish(aws, live);
  }

  if (has('fast')) {
    for (const subject of result.fastOrder) {
      const running = connected.get(subject)!;
      const { peers, client } = running;
      const start = await client.sample();
      await peers.setRate(options.fastRate);
      await sleep(options.warmupMs);
      const a = await client.sample();
      await sleep(options.fastMs);
      const b = await client.sample();
      await peers.setRate(0);
      result.fast[subject] = window(a, b);
      if (SPECS[subject].kind === 'listener') {
        // Everything generated went to this client alone, since before it logged on.
        const generated = await peers.stats();
        await client.waitFor(generated.generated, generated.fills, options.timeoutMs);
        result.fastThroughStop[subject] = window(start, await client.stop());
        await finish(running, live);
        connected.delete(subject);
      }
    }
  }
  for (const running of connected.values()) await finish(running, live);

  if (has('flood')) {
    for (const subject of result.floodOrder) {
      const running = flooders.get(subject)!;
      const { peers, client } = running;
      const a = await client.sample(true);
      const emitted = await peers.emit(options.floodReports);
      await client.waitFor(
        a.reports + options.floodReports,
        SPECS[subject].kind === 'listener' ? emitted.fills : 0,
        options.timeoutMs,
      );
      const b = await client.stop();
      // Durable reports are the flood's, whatever else the stop counted (the floor counts the Logout).
      const w = window(a, { ...b, reports: a.reports + options.floodReports });
      result.flood[subject] = {
        ...w,
        wallMs: Math.round(b.at - a.at),
        reportsPerSecond: Math.round((options.floodReports * 1000) / (b.at - a.at)),
        peakRssMb: Math.round(b.peakRssBytes / MB),
      };
      await finish(running, live);
    }
  }
  return result;
}

/** Idle CPU ms per minute over every idle window of the rounds together (not a median: see above). */
function pooledIdle(rounds: readonly ReferencesRound[]): Partial<Record<Subject, number>> {
  const out: Partial<Record<Subject, number>> = {};
  for (const s of SUBJECTS) {
    const windows = rounds.flatMap((r) => (r.idle[s] === undefined ? [] : [r.idle[s]]));
    const ms = windows.reduce((sum, w) => sum + w.ms, 0);
    if (ms > 0) out[s] = round(windows.reduce((sum, w) => sum + w.cpuUs, 0) / 1000 / (ms / 60_000), 1);
  }
  return out;
}

function medianOf(rounds: readonly ReferencesRound[], pick: (r: ReferencesRound) => number | undefined | null) {
  const values = rounds.map(pick).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return values.length === 0 ? null : median(values);
}

function perSubject(
  rounds: readonly ReferencesRound[],
  pick: (r: ReferencesRound, s: Subject) => number | undefined,
  digits = 2,
): Partial<Record<Subject, number>> {
  const out: Partial<Record<Subject, number>> = {};
  for (const s of SUBJECTS) {
    const m = medianOf(rounds, (r) => pick(r, s));
    if (m !== null) out[s] = round(m, digits);
  }
  return out;
}

function ratio(
  rounds: readonly ReferencesRound[],
  pick: (r: ReferencesRound) => Partial<Record<Subject, WindowCpu>>,
  top: Subject,
  bottom: Subject,
): number | null {
  const m = medianOf(rounds, (r) => {
    const a = pick(r)[top]?.cpuUsPerReport;
    const b = pick(r)[bottom]?.cpuUsPerReport;
    return a === undefined || b === undefined || b === 0 ? undefined : a / b;
  });
  return m === null ? null : round(m, 2);
}

function below(rounds: readonly ReferencesRound[], pick: (r: ReferencesRound) => Partial<Record<Subject, WindowCpu>>) {
  const pairs = rounds
    .map((r) => [pick(r).listener?.cpuUsPerReport, pick(r).jspurefix?.cpuUsPerReport] as const)
    .filter(([a, b]) => a !== undefined && b !== undefined);
  return [pairs.filter(([a, b]) => a! < b!).length, pairs.length] as [number, number];
}

export async function runReferences(
  options: ReferencesOptions = DEFAULT_REFERENCES_OPTIONS,
): Promise<ReferencesResult> {
  const live = new Set<Running>();
  const rounds: ReferencesRound[] = [];
  try {
    for (let r = 0; r < options.rounds; r++) {
      process.stderr.write(`references: round ${r + 1} of ${options.rounds}\n`);
      rounds.push(await runRound(r, options, live));
    }
  } finally {
    for (const running of live) await finish(running, live).catch(() => undefined);
  }
  const slow = (r: ReferencesRound) => r.slow;
  const fast = (r: ReferencesRound) => r.fast;
  const flood = (r: ReferencesRound) => r.flood;
  const parquet = (field: 'cpuUsPerReport' | 'childrenUsPerReport') =>
    medianOf(rounds, (r) => {
      const on = r.fastThroughStop.listener?.[field];
      const off = r.fastThroughStop['listener-no-parquet']?.[field];
      return on === undefined || off === undefined || on === null || off === null ? undefined : on - off;
    });
  const parquetUs = parquet('cpuUsPerReport');
  const parquetChildrenUs = parquet('childrenUsPerReport');
  return {
    options,
    rounds,
    median: {
      idleMsPerMinute: pooledIdle(rounds),
      slowUsPerReport: perSubject(rounds, (r, s) => r.slow[s]?.cpuUsPerReport),
      fastUsPerReport: perSubject(rounds, (r, s) => r.fast[s]?.cpuUsPerReport),
      fastThroughStopUsPerReport: perSubject(rounds, (r, s) => r.fastThroughStop[s]?.cpuUsPerReport),
      floodUsPerReport: perSubject(rounds, (r, s) => r.flood[s]?.cpuUsPerReport),
      floodPeakRssMb: perSubject(rounds, (r, s) => r.flood[s]?.peakRssMb, 0),
      floodReportsPerSecond: perSubject(rounds, (r, s) => r.flood[s]?.reportsPerSecond, 0),
    },
    ratios: {
      slowListenerToFloor: ratio(rounds, slow, 'listener', 'floor'),
      slowJspurefixToFloor: ratio(rounds, slow, 'jspurefix', 'floor'),
      fastListenerToFloor: ratio(rounds, fast, 'listener', 'floor'),
      fastJspurefixToFloor: ratio(rounds, fast, 'jspurefix', 'floor'),
      floodListenerToFloor: ratio(rounds, flood, 'listener', 'floor'),
      floodJspurefixToFloor: ratio(rounds, flood, 'jspurefix', 'floor'),
      slowBelowJspurefix: below(rounds, slow),
      fastBelowJspurefix: below(rounds, fast),
      s3SqsToLocalSinks: ratio(rounds, slow, 'listener-s3-sqs', 'listener'),
      parquetUsPerReport: parquetUs === null ? null : round(parquetUs, 2),
      parquetChildrenUsPerReport: parquetChildrenUs === null ? null : round(parquetChildrenUs, 2),
    },
  };
}

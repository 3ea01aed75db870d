/**
 * Section — spool operations: what the listener asks of SPOOL_DIR for each report, at steady
 * 10, 100 and 1,000 reports/s (evenly spaced, the simulator in the peers process, each rate on a
 * fresh listener as in the CPU section) and connected with nothing to read. On EFS every one of
 * them is a metered request, so this is the figure the stack's throughput mode and the README's
 * cost table rest on (infra/sizing.ts SPOOL_DATA_WRITES_PER_SECOND, SPOOL_METADATA_OPS_PER_SECOND, commitsPerReport).
 *
 * Counted in this process by bench/spool-ops-counter.ts, installed by spool-ops-preload.ts before
 * src is imported: data writes (O_DSYNC ones apart), fsyncs, renames, creates and opens, closes,
 * unlinks, mkdirs, stats, truncates, folder reads. Local sinks, so the archive and fills files are
 * outside the spool, as S3 and SQS are deployed; the Parquet copy on, as deployed.
 *
 * The EFS estimate assumes Elastic throughput's metering for every operation: a data write is
 * metered as at least 32 KiB (its size when larger), any other operation as 4 KiB, all of it billed
 * as written ($0.06/GB in us-east-1). Reads are counted but not priced.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EFS_METERED_DATA_KIB, EFS_METERED_METADATA_KIB } from '../infra/sizing.js';
import { startListener } from './listener.js';
import { Peers } from './peers-client.js';
import {
  DATA_KINDS,
  isSpoolOpsCounterInstalled,
  METADATA_KINDS,
  OP_KINDS,
  resetSpoolOps,
  setMeterMinBytes,
  setSpoolRoot,
  spoolOps,
  sumOf,
  type OpCounts,
  type OpKind,
} from './spool-ops-counter.js';
import { MB, round, sleep } from './timing.js';

export interface SpoolOpsOptions {
  /** Steady rates (reports/s), each on a fresh listener. */
  rates: number[];
  /** After logon and the rate set, before the window: start-up's own operations are not counted. */
  warmupMs: number;
  measureMs: number;
  /** A connected listener with nothing to read, for this long (0: skipped). */
  idleMs: number;
  /**
   * JOURNAL_LINGER_MS values: each rate runs once per value (the idle run once, with the first).
   * Absent: the service default. The latency section's `lingerMs` gives the other side of the trade-off.
   */
  lingerMs?: number[];
}

export const DEFAULT_SPOOL_OPS_OPTIONS: SpoolOpsOptions = {
  rates: [10, 100, 1000],
  warmupMs: 5000,
  measureMs: 20_000,
  idleMs: 60_000,
};

/** $ per GB (10⁹ B) written under Elastic throughput, us-east-1; a month of 730 hours. */
export const EFS_ELASTIC_USD_PER_GB_WRITTEN = 0.06;
const SECONDS_PER_MONTH = 730 * 3600;
const KIB = 1024;

type Figures = Record<OpKind | 'data' | 'metadata' | 'total', number>;

export interface SpoolOpsRun {
  /** 0 for the idle run. */
  targetReportsPerSecond: number;
  /** JOURNAL_LINGER_MS the listener ran with; null = the service default. */
  lingerMs: number | null;
  reportsPerSecond: number;
  reports: number;
  seconds: number;
  counts: OpCounts;
  writtenBytes: number;
  /** Per report (null when idle), per second and per minute: each kind, data writes, metadata operations, all. */
  perReport: Figures | null;
  perSecond: Figures;
  perMinute: Figures;
  /** Bytes EFS would meter a second under the assumption above, and a month of it at $0.06/GB. */
  meteredMiBps: number;
  usdPerMonth: number;
  /** Operations a second per file (digits as #), the busiest first. */
  byFile: Array<{ file: string; dataPerSecond: number; metadataPerSecond: number }>;
}

export interface SpoolOpsResult {
  runs: SpoolOpsRun[];
  assumption: string;
}

function figures(counts: OpCounts, per: number, digits: number): Figures {
  const out = Object.fromEntries(OP_KINDS.map((k) => [k, round(counts[k] / per, digits)])) as Figures;
  const data = sumOf(counts, DATA_KINDS);
  const metadata = sumOf(counts, METADATA_KINDS);
  out.data = round(data / per, digits);
  out.metadata = round(metadata / per, digits);
  out.total = round((data + metadata) / per, digits);
  return out;
}

async function measure(
  reportsPerSecond: number,
  lingerMs: number | undefined,
  options: SpoolOpsOptions,
): Promise<SpoolOpsRun> {
  const peers = await Peers.start();
  try {
    // The spool's folder is known before the service opens anything in it, so every handle it
    // opens (the journal's segment first) is followed.
    const dir = mkdtempSync(join(tmpdir(), 'kfl-bench-'));
    setSpoolRoot(join(dir, 'spool'));
    const listener = await startListener(peers, {
      archive: 'local',
      fills: 'local',
      dir,
      ...(lingerMs === undefined ? {} : { lingerMs }),
    });
    if (reportsPerSecond > 0) await peers.setRate(reportsPerSecond);
    await sleep(options.warmupMs);
    const ms = reportsPerSecond > 0 ? options.measureMs : options.idleMs;
    const { journal } = listener.service;
    const lsn0 = journal.durableLsn;
    resetSpoolOps();
    const start = performance.now();
    await sleep(ms);
    const ops = spoolOps();
    const seconds = (performance.now() - start) / 1000;
    const reports = journal.durableLsn - lsn0;
    await peers.setRate(0);
    await listener.stop();
    setSpoolRoot(undefined);

    const metadata = sumOf(ops.counts, METADATA_KINDS);
    const meteredBytes = ops.meteredWriteBytes + metadata * EFS_METERED_METADATA_KIB * KIB;
    return {
      targetReportsPerSecond: reportsPerSecond,
      lingerMs: lingerMs ?? null,
      reportsPerSecond: Math.round(reports / seconds),
      reports,
      seconds: round(seconds, 1),
      counts: ops.counts,
      writtenBytes: ops.writtenBytes,
      perReport: reports > 0 ? figures(ops.counts, reports, 3) : null,
      perSecond: figures(ops.counts, seconds, 2),
      perMinute: figures(ops.counts, seconds / 60, 1),
      meteredMiBps: round(meteredBytes / seconds / MB, 3),
      usdPerMonth: round(((meteredBytes / seconds) * SECONDS_PER_MONTH * EFS_ELASTIC_USD_PER_GB_WRITTEN) / 1e9, 2),
      byFile: Object.entries(ops.byFile)
        .map(([file, n]) => ({
          file,
          dataPerSecond: round(n.data / seconds, 2),
          metadataPerSecond: round(n.metadata / seconds, 2),
        }))
        .sort((a, b) => b.dataPerSecond + b.metadataPerSecond - (a.dataPerSecond + a.metadataPerSecond)),
    };
  } finally {
    setSpoolRoot(undefined);
    await peers.stop();
  }
}

export async function runSpoolOps(options: SpoolOpsOptions = DEFAULT_SPOOL_OPS_OPTIONS): Promise<SpoolOpsResult> {
  if (!isSpoolOpsCounterInstalled())
    throw new Error(
      'the spool counter is not installed: run this section through section.js (spool-ops-preload.ts installs it before src loads)',
    );
  setMeterMinBytes(EFS_METERED_DATA_KIB * KIB);
  const runs: SpoolOpsRun[] = [];
  const lingers = options.lingerMs === undefined || options.lingerMs.length === 0 ? [undefined] : options.lingerMs;
  for (const rate of options.rates) for (const lingerMs of lingers) runs.push(await measure(rate, lingerMs, options));
  if (options.idleMs > 0) runs.push(await measure(0, lingers[0], options));
  return {
    runs,
    assumption: `EFS Elastic metering assumed for every operation: a data write as max(its size, ${EFS_METERED_DATA_KIB} KiB), any other operation as ${EFS_METERED_METADATA_KIB} KiB, all billed as written at $${EFS_ELASTIC_USD_PER_GB_WRITTEN}/GB (730 h a month); reads not priced`,
  };
}

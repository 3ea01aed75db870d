/**
 * Task memory from the benchmark's figures (bench/README.md, memory and dedupe sections): after
 * forced GC the live heap holds ~114 MB, plus the ExecID index's newest 65,536 ids (~10 MB, exact,
 * in memory); the older ones of the 72-hour window are in sorted chunk files on the spool, of
 * which only a header stays in memory: 0.18 B of heap per id remembered, measured at 26 M ids
 * (72 h at 100/s), taken as 0.25. V8's heap is capped at ¾ of the task (NODE_OPTIONS in
 * taskEnvironment) so buffers and TLS have the rest.
 */
export const BASE_HEAP_MB = 130;
export const DEDUPE_BYTES_PER_EXEC_ID = 0.25;
export const DEDUPE_WINDOW_HOURS = 72;
export const HEAP_SHARE = 0.75;

/** Fargate's memory range (MiB) per CPU size, in 1 GiB steps above 1 GiB. */
const FARGATE_MEMORY: ReadonlyArray<[cpu: number, min: number, max: number]> = [
  [256, 512, 2048],
  [512, 1024, 4096],
  [1024, 2048, 8192],
  [2048, 4096, 16384],
  [4096, 8192, 30720],
];

/** The heap (MB) the listener needs at a sustained rate of reports per second. */
export function heapNeededMb(reportsPerSecond: number): number {
  return BASE_HEAP_MB + (reportsPerSecond * 3600 * DEDUPE_WINDOW_HOURS * DEDUPE_BYTES_PER_EXEC_ID) / 1e6;
}

/**
 * CPU from the benchmark's CPU section (bench/README.md), all threads, the Parquet copy included:
 * 429 µs a report at 1,000/s and 273 µs at 4,700/s on a small VM, i.e. about a quarter of a core
 * whatever the rate (group commits, timers, the encoder thread) plus 250 µs a report. Sized with
 * half again as much for bursts and for a backlog draining after an outage.
 */
export const CPU_BASE_CORES = 0.25;
export const CPU_US_PER_REPORT = 250;
export const CPU_HEADROOM = 1.5;

/** Fargate CPU units (1024 a vCPU) the listener needs at a sustained rate of reports per second. */
export function cpuNeeded(reportsPerSecond: number): number {
  return (CPU_BASE_CORES + (reportsPerSecond * CPU_US_PER_REPORT) / 1e6) * CPU_HEADROOM * 1024;
}

/**
 * The smallest Fargate size whose CPU covers the rate (or is at least `cpu` when one is given) and
 * whose ¾ heap holds that rate's dedupe window.
 */
export function taskSizeFor(reportsPerSecond: number, cpu?: number): { cpu: number; memoryMiB: number } {
  const minCpu = cpu ?? Math.max(512, cpuNeeded(reportsPerSecond));
  const needMiB = (heapNeededMb(reportsPerSecond) * 1e6) / 2 ** 20 / HEAP_SHARE;
  for (const [cpu, min, max] of FARGATE_MEMORY) {
    if (cpu < minCpu) continue;
    const memoryMiB = Math.max(min, Math.ceil(needMiB / 1024) * 1024);
    if (memoryMiB <= max) return { cpu, memoryMiB };
  }
  throw new Error(`no Fargate size holds ${reportsPerSecond} reports/s over ${DEDUPE_WINDOW_HOURS} h`);
}

/**
 * The spool's operations, from the bench's spool-ops section (`npm run bench -- --linger-ms
 * 0,10,50`, 2026-12-06): the journal's O_DSYNC group commit is the one data write that follows the
 * reports; the rest come at most once a second whatever the rate (the fills cursor, the session
 * file, the dedupe log's sync, the archive cursor: 4.85–5.85 data writes a second measured at 10
 * and 100/s) with 6.8–7 metadata operations a second (the fstat after each in-place save, the
 * active segment's check). docs/deployment.md (What it costs) has the measured rows.
 */
export const SPOOL_DATA_WRITES_PER_SECOND = 5;
export const SPOOL_METADATA_OPS_PER_SECOND = 7;

/**
 * The share of the reports a linger could gather that a commit does gather at a steady, evenly
 * spaced rate (timer slack, the write's own time): measured 0.69–0.86 at 100/s with 50 ms and at
 * 1,000/s with 10 and 50 ms; taken low, so the sizing errs toward more writes.
 */
const LINGER_YIELD = 0.6;

/**
 * Group commits a report at a steady, evenly spaced rate with the journal's linger
 * (JOURNAL_LINGER_MS): a commit waits the linger after its first report and takes what arrives
 * meanwhile; never more than one a report. Evenly spaced is the worst case: reports come in
 * clusters (an order's acknowledgement and its fills), which share commits without a linger.
 */
export function commitsPerReport(reportsPerSecond: number, lingerMs: number): number {
  return 1 / Math.max(1, (LINGER_YIELD * reportsPerSecond * lingerMs) / 1000);
}

/**
 * How EFS meters an operation (Elastic throughput's rule: a data operation as at least 32 KiB, a
 * metadata operation as at least 4 KiB). Taken for every throughput mode, the conservative reading:
 * the spool's writes are a few KiB, so the minimums decide.
 */
export const EFS_METERED_DATA_KIB = 32;
export const EFS_METERED_METADATA_KIB = 4;

/**
 * What Bursting throughput gives a small file system (under 20 GiB, which the spool stays below up
 * to ~1,000 reports/s) at no charge beyond storage, sustained: 1 MiB/s metered.
 */
export const EFS_BURSTING_BASELINE_MIBPS = 1;
/**
 * The share of that baseline the spool may use and stay on Bursting: the rest earns burst credits
 * for a restart's or a backlog's burst, so the balance grows rather than drains.
 */
export const EFS_BURSTING_SHARE = 0.75;
/** Provisioned throughput is sized with this much headroom (a backlog draining, a restart). */
export const EFS_PROVISIONED_HEADROOM = 1.5;

/** MiB/s of metered EFS throughput the spool drives at a sustained rate of reports per second. */
export function spoolMeteredMiBps(reportsPerSecond: number, lingerMs = 0): number {
  const dataWrites = reportsPerSecond * commitsPerReport(reportsPerSecond, lingerMs) + SPOOL_DATA_WRITES_PER_SECOND;
  const kib = dataWrites * EFS_METERED_DATA_KIB + SPOOL_METADATA_OPS_PER_SECOND * EFS_METERED_METADATA_KIB;
  return kib / 1024;
}

/**
 * The spool's EFS throughput mode, the cheapest that keeps up with the rate. The load is small and
 * steady, which is where Elastic is dearest: it bills every metered byte ($0.06/GB written in
 * us-east-1), so 1 MiB/s for a month costs ~$165, against $6 provisioned or nothing on Bursting.
 * Bursting while the metered rate stays well inside its free 1 MiB/s baseline (credits then build
 * up for bursts instead of draining: a file system that runs out is throttled to the baseline,
 * and the journal with it); Provisioned above, at the rate with headroom, whole MiB/s.
 */
export function spoolThroughput(
  reportsPerSecond: number,
  lingerMs = 0,
): { mode: 'bursting' } | { mode: 'provisioned'; mibps: number } {
  const metered = spoolMeteredMiBps(reportsPerSecond, lingerMs);
  if (metered <= EFS_BURSTING_BASELINE_MIBPS * EFS_BURSTING_SHARE) return { mode: 'bursting' };
  return { mode: 'provisioned', mibps: Math.ceil(metered * EFS_PROVISIONED_HEADROOM) };
}

/**
 * Section 2 — end-to-end throughput: the simulator (own process) streams N reports over loopback
 * TLS as fast as the listener reads them; the listener journals each with fsync (group commit), then
 * archives and publishes fills. Measured per sink pair:
 *   journal   first report read → all N durable in the journal (the "sustained reports/s")
 *   fills     first report read → every fill acknowledged by the fills sink
 *   archive   the archive writes objects when an hour closes, past 64 MiB, or at stop: the flush
 *             time at stop (from the Logout to the last object written) is reported
 * plus where the time went (stage timing from instrument.ts) and the listener's peak RSS.
 */
import { performance } from 'node:perf_hooks';
import { installStageTiming, resetStages, stageStats, type StageStats } from './instrument.js';
import { startListener, type ArchiveKind, type FillsKind } from './listener.js';
import { Peers } from './peers-client.js';
import { TimedQueue } from './timed-queue.js';
import { MB, round, waitUntil } from './timing.js';

export interface EndToEndOptions {
  runs: Array<{ archive: ArchiveKind; fills: FillsKind; reports: number }>;
  /** Give up waiting for a sink after this long and report what it managed. */
  timeoutMs: number;
}

export const DEFAULT_END_TO_END_OPTIONS: EndToEndOptions = {
  runs: [
    { archive: 'local', fills: 'local', reports: 200_000 },
    { archive: 's3', fills: 'sqs', reports: 100_000 },
  ],
  timeoutMs: 120_000,
};

export interface StageBreakdown {
  meanChunkBytes: number;
  /** Listener CPU per report, µs: all threads (process.cpuUsage) over the run. */
  cpuUsPerReport: number;
  /** Event-loop time per report inside FixDecoder.push minus Journal.append: framing, session, record. */
  decodeUsPerReport: number;
  /** Journal.append: JSON.stringify, CRC32, frame. */
  appendUsPerReport: number;
  /** Rest of the event loop's busy time: TLS decryption, sinks (batching, SDK/HTTP or file), cursors. */
  otherUsPerReport: number;
  /** GC pauses per report (they fall inside the stages above, wherever the allocation triggered them). */
  gcUsPerReport: number;
  /** Share of the listener's busy event-loop time, percent. */
  sharePercent: { decode: number; append: number; other: number };
  /** Group commit: journal writes+fsyncs, records per commit, mean fsync wall time. */
  journalCommits: number;
  recordsPerCommit: number;
  meanFsyncMs: number;
  /** Whole run (sinks included): wall time awaiting file I/O by kind, concurrent with the event loop's work; MB read back. */
  ioWaitMs: Record<string, { writeMs: number; syncMs: number; syncs: number; readMb: number }>;
}

export interface EndToEndRun {
  sinks: string;
  reports: number;
  fills: number;
  journalMs: number;
  journalReportsPerSecond: number;
  fillsMs: number;
  fillsPerSecond: number;
  /** Fills acknowledged when the run ended (equals `fills` unless the sink timed out). */
  fillsSent: number;
  archiveFlushMs: number;
  archiveObjects: number;
  archiveObjectsDuringRun: number;
  stopMs: number;
  /** Fills per sendBatch and sendBatch calls in flight (mean): what bounds the fills sink. */
  meanBatchSize: number;
  meanBatchesInFlight: number;
  peakRssMb: number;
  eventLoopUtilization: number;
  stages: StageBreakdown;
}

/** `stages` up to the moment the journal held everything; `io` over the whole run (sinks included). */
function breakdown(
  stages: StageStats,
  io: StageStats['io'],
  reports: number,
  cpuMicros: number,
  busyMs: number,
): StageBreakdown {
  const decodeMs = stages.pushMs - stages.appendMs;
  const otherMs = Math.max(0, busyMs - stages.pushMs);
  const per = (ms: number) => round((ms * 1000) / reports, 2);
  const share = (ms: number) => round((ms / Math.max(busyMs, 1e-9)) * 100, 1);
  const segment = stages.io['journal segment'];
  // A commit is one O_DSYNC write of the segment (or a write + fdatasync where that is the mode).
  const commit = segment === undefined ? undefined : segment.sync.calls > 0 ? segment.sync : segment.write;
  const ioWaitMs: StageBreakdown['ioWaitMs'] = {};
  for (const [kind, entry] of Object.entries(io))
    ioWaitMs[kind] = {
      writeMs: Math.round(entry.write.ms),
      syncMs: Math.round(entry.sync.ms),
      syncs: entry.sync.calls,
      readMb: round(entry.read.bytes / MB, 1),
    };
  return {
    meanChunkBytes: Math.round(stages.chunkBytes / Math.max(1, stages.chunks)),
    cpuUsPerReport: round(cpuMicros / reports, 2),
    decodeUsPerReport: per(decodeMs),
    appendUsPerReport: per(stages.appendMs),
    otherUsPerReport: per(otherMs),
    gcUsPerReport: per(stages.gcMs),
    sharePercent: { decode: share(decodeMs), append: share(stages.appendMs), other: share(otherMs) },
    journalCommits: commit?.calls ?? 0,
    recordsPerCommit: round(reports / Math.max(1, commit?.calls ?? 0), 1),
    meanFsyncMs: round((commit?.ms ?? 0) / Math.max(1, commit?.calls ?? 0), 2),
    ioWaitMs,
  };
}

async function oneRun(
  archive: ArchiveKind,
  fills: FillsKind,
  reports: number,
  timeoutMs: number,
): Promise<EndToEndRun> {
  const peers = await Peers.start();
  try {
    let timed: TimedQueue | undefined;
    const listener = await startListener(peers, {
      archive,
      fills,
      wrapQueue: (queue) => (timed = new TimedQueue(queue)),
    });
    const { journal } = listener.service;
    const baseLsn = journal.lastLsn;
    let durableAt = 0;
    journal.onDurable((lsn) => {
      if (durableAt === 0 && lsn - baseLsn >= reports) durableAt = performance.now();
    });

    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
    resetStages();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();

    const emitted = await peers.emit(reports);
    await waitUntil(() => durableAt > 0, timeoutMs, `${reports} reports durable in the journal`);
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const stages = structuredClone(stageStats());
    await waitUntil(() => listener.fillsSent() >= emitted.fills, timeoutMs, `${emitted.fills} fills sent`).catch(
      () => undefined,
    );
    const fillsSent = listener.fillsSent();
    const io = structuredClone(stageStats().io);
    const duringRun = listener.archiveUploads().count;
    const stopped = await listener.stop();
    clearInterval(sampler);

    const journalMs = durableAt - stages.firstAppendAt;
    const fillsMs = listener.lastFillSentAt() - stages.firstAppendAt;
    return {
      sinks: `${archive === 'local' ? 'local folder' : 'fauxqs S3'} + ${fills === 'local' ? 'local file' : 'fauxqs SQS FIFO'}`,
      reports,
      fills: emitted.fills,
      journalMs: Math.round(journalMs),
      journalReportsPerSecond: Math.round((reports / journalMs) * 1000),
      fillsMs: Math.round(fillsMs),
      fillsPerSecond: Math.round((fillsSent / fillsMs) * 1000),
      fillsSent,
      archiveFlushMs: Math.round(stopped.archiveFlushMs),
      archiveObjects: stopped.archiveObjects,
      archiveObjectsDuringRun: duringRun,
      stopMs: Math.round(stopped.stopMs),
      ...timed!.shape(),
      peakRssMb: Math.round(peakRss / MB),
      eventLoopUtilization: round(elu.utilization, 3),
      stages: breakdown(stages, io, reports, cpu.user + cpu.system, elu.active),
    };
  } finally {
    await peers.stop();
  }
}

export async function runEndToEnd(
  options: EndToEndOptions = DEFAULT_END_TO_END_OPTIONS,
): Promise<{ runs: EndToEndRun[] }> {
  await installStageTiming();
  const runs: EndToEndRun[] = [];
  for (const run of options.runs) runs.push(await oneRun(run.archive, run.fills, run.reports, options.timeoutMs));
  return { runs };
}

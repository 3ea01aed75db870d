/**
 * Turns the sections' results into the markdown tables `npm run bench` prints (and bench/README.md
 * quotes), with each figure next to its reference and the issue's target.
 */
import type { CpuResult } from './cpu.js';
import type { DecodeResult } from './decode.js';
import type { DedupeResult } from './dedupe.js';
import type { EndToEndRun } from './end-to-end.js';
import type { FreshnessResult } from './freshness.js';
import type { ParquetResult } from './parquet.js';
import type { LatencyScenarioResult } from './latency.js';
import type { MemoryResult } from './memory.js';
import type { ProfileResult } from './profile.js';
import type { ReferencesResult, Subject } from './references.js';
import type { SpoolOpsResult, SpoolOpsRun } from './spool-ops.js';
import type { StartupResult } from './startup.js';

export interface BenchResults {
  decode?: DecodeResult;
  cpu?: CpuResult;
  references?: ReferencesResult;
  dedupe?: DedupeResult;
  'end-to-end'?: { runs: EndToEndRun[] };
  freshness?: FreshnessResult;
  parquet?: ParquetResult;
  latency?: { scenarios: LatencyScenarioResult[] };
  memory?: MemoryResult;
  startup?: StartupResult;
  profile?: ProfileResult;
  'spool-ops'?: SpoolOpsResult;
}

export interface Target {
  what: string;
  /** The issue that set it. */
  issue: number;
  target: string;
  measured: string;
  met: boolean;
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');

function table(head: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export function decodeTable(d: DecodeResult): string {
  const byteLoop = d.cases[0]!.nsPerMessage;
  const jsfix = d.cases.at(-1)!.nsPerMessage;
  const rows = d.cases.map((c, i) => [
    c.name,
    c.nsPerMessage,
    n(c.messagesPerSecond),
    `±${c.spreadPercent}%`,
    i === 0 ? '—' : `${(jsfix / c.nsPerMessage).toFixed(2)}×`,
    i === 0 ? '100%' : `${((byteLoop / c.nsPerMessage) * 100).toFixed(1)}%`,
  ]);
  const corpus = `${n(d.corpus.messages)} ExecutionReports, ${d.corpus.minFrameBytes}–${d.corpus.maxFrameBytes} bytes (mean ${d.corpus.meanFrameBytes}), ${(d.corpus.fillShare * 100).toFixed(1)} % fills, fed in ${d.corpus.chunkBytes}-byte chunks; jspurefix dictionary ${d.jspurefix.dictionary} (loaded in ${n(d.jspurefix.dictionaryLoadMs)} ms)`;
  const journal = d.journalRecord;
  const record = `\n\nA report's journal record costs the FIX thread ${n(journal.jsonNsPerReport)} ns beyond framing as a JSON line (the record, its JSON, UTF-8, CRC32: the append today) and ${n(journal.frameNsPerReport)} ns as a frame record (ExecID, the frame copied behind a header, CRC32: issue 15's direction 1, which would leave building the JSON line to a sink).`;
  return `${corpus}\n\n${table(['decoder', 'ns/msg (median)', 'msgs/s', 'spread', 'vs jspurefix', '% of byte loop'], rows)}${record}`;
}

export function endToEndTable(runs: readonly EndToEndRun[]): string {
  const rows = runs.map((r) => [
    r.sinks,
    n(r.reports),
    n(r.journalReportsPerSecond),
    `${n(r.fillsPerSecond)} (${r.meanBatchSize}/batch × ${r.meanBatchesInFlight} in flight)`,
    `${n(r.archiveFlushMs)} ms (${r.archiveObjects} obj; ${r.archiveObjectsDuringRun} during run)`,
    `${r.peakRssMb} MB`,
    r.eventLoopUtilization,
    `${r.stages.decodeUsPerReport} / ${r.stages.appendUsPerReport} / ${r.stages.otherUsPerReport} (GC ${r.stages.gcUsPerReport})`,
    `${r.stages.recordsPerCommit} rec, ${r.stages.meanFsyncMs} ms`,
    `${n(r.stages.ioWaitMs['journal segment']?.readMb ?? 0)} MB`,
  ]);
  return table(
    [
      'sinks',
      'reports',
      'journal: reports/s durable',
      'fills sink: fills/s',
      'archive flush at stop',
      'peak RSS',
      'event loop busy',
      'µs/report: decode / append / other',
      'group commit: size, durable write',
      'journal re-read by sinks',
    ],
    rows,
  );
}

export function latencyTable(scenarios: readonly LatencyScenarioResult[]): string {
  const rows = scenarios.map((s) => [
    s.name,
    `${n(s.measuredFillsPerSecond)} (${n(s.measuredReportsPerSecond)} reports/s)`,
    s.readToSent.p50,
    s.readToSent.p90,
    s.readToSent.p99,
    s.readToSent.p999,
    s.readToSent.max,
    `${s.readToSent.over5msPercent}%`,
    `${s.readToDurable.p50} / ${s.readToDurable.p99}`,
    `${s.readToIssued.p50} / ${s.readToIssued.p99}`,
    `${s.durableWrite.p50} / ${s.durableWrite.p99}`,
    `${s.durableToIssued.p50} / ${s.durableToIssued.p99}`,
    `${s.sqsRoundTrip.p50} / ${s.sqsRoundTrip.p99}`,
    s.archiveObjectsInWindow,
    `${s.meanBatchSize} × ${s.meanBatchesInFlight}`,
    s.eventLoopUtilization,
  ]);
  return table(
    [
      'scenario',
      'fills/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p99.9 ms',
      'max ms',
      '> 5 ms',
      'read→durable p50 / p99 ms',
      'read→SendMessageBatch issued p50 / p99 ms',
      'journal durable write (O_DSYNC) p50 / p99 ms',
      'durable→SendMessageBatch issued p50 / p99 ms',
      'SQS round trip p50 / p99 ms',
      'archive objects in window',
      'batch size × in flight',
      'event loop busy',
    ],
    rows,
  );
}

export function cpuTable(c: CpuResult): string {
  const rows: Array<Array<string | number>> = [
    [
      `flood: ${n(c.reports)} reports (${n(c.fills)} fills) as fast as read, through stop`,
      c.cpuUsPerReport,
      `${c.userUsPerReport} / ${c.systemUsPerReport}`,
      c.mainThreadUsPerReport ?? 'n/a',
      `${c.gcUsPerReport} (${n(c.gcPauses)} pauses)`,
      `${c.minorFaultsPerReport} (≈ ${round2((c.minorFaultsPerReport * c.firstTouchUsPerMiB) / 256)} µs)`,
      `${c.peakRssMb} MB`,
    ],
    ...c.steady.map((s) => [
      `steady ${n(s.reportsPerSecond)} reports/s (${n(s.reports)} in the window)`,
      s.cpuUsPerReport,
      `${s.userUsPerReport} / ${s.systemUsPerReport}`,
      s.mainThreadUsPerReport ?? 'n/a',
      '—',
      '—',
      '—',
    ]),
  ];
  return table(
    [
      'run',
      'CPU µs/report, all threads',
      'user / system',
      'event-loop thread µs/report',
      'GC pauses µs/report',
      `page faults/report (≈ CPU at ${n(c.firstTouchUsPerMiB)} µs a MiB faulted)`,
      'peak RSS',
    ],
    rows,
  );
}

const SUBJECT_LABEL: Record<Subject, string> = {
  listener: 'listener (local sinks, Parquet copy on)',
  'listener-s3-sqs': 'listener, S3 + SQS sinks (fauxqs)',
  'listener-no-parquet': 'listener, Parquet copy off',
  floor: 'floor',
  jspurefix: 'jspurefix 5.11.4',
};

/** The idle windows the figure pools, e.g. "60 s in 1 round". */
function idleWindows(r: ReferencesResult): string {
  const windows = r.rounds.filter((x) => x.idle.listener !== undefined || x.idle.floor !== undefined).length;
  return `${r.options.idleMs / 1000} s in ${windows} round${windows === 1 ? '' : 's'}`;
}

/** Lowest–highest ms/min over the idle windows' slices (idleSliceMs each). */
function idleSlices(r: ReferencesResult, s: Subject): string {
  const slices = r.rounds.flatMap((x) => x.idle[s]?.slices ?? []);
  return slices.length === 0
    ? '—'
    : `of ${r.options.idleSliceMs / 1000} s ${Math.min(...slices)}–${Math.max(...slices)} ms/min`;
}

const times = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${x}×`);
const fig = (x: number | undefined) => (x === undefined ? '—' : String(x));

/**
 * The listener against the floor and jspurefix (medians of the rounds; the ratios are medians of
 * each round's ratio), then the listener's variants.
 */
export function referencesTable(r: ReferencesResult): string {
  const m = r.median;
  const q = r.ratios;
  const o = r.options;
  const vsFloor = (load: Partial<Record<Subject, number>>, s: Subject) => {
    const a = load[s];
    const f = load.floor;
    return a === undefined || f === undefined || f === 0 ? null : Math.round((a / f) * 100) / 100;
  };
  const row = (
    label: string,
    load: Partial<Record<Subject, number>>,
    listenerToFloor: number | null,
    jspurefixToFloor: number | null,
    below: [number, number] | undefined,
  ) => [
    label,
    fig(load.listener),
    fig(load.floor),
    fig(load.jspurefix),
    times(listenerToFloor),
    times(jspurefixToFloor),
    below === undefined
      ? load.listener !== undefined && load.jspurefix !== undefined
        ? load.listener < load.jspurefix
          ? 'yes'
          : 'no'
        : '—'
      : `${below[0]} of ${below[1]} rounds`,
  ];
  const main = table(
    [
      `load (medians of ${r.rounds.length} rounds)`,
      'listener',
      'floor',
      'jspurefix',
      'listener ÷ floor',
      'jspurefix ÷ floor',
      'listener below jspurefix',
    ],
    [
      row(
        `idle, connected: CPU ms/min (${idleWindows(r)}, side by side)`,
        m.idleMsPerMinute,
        vsFloor(m.idleMsPerMinute, 'listener'),
        vsFloor(m.idleMsPerMinute, 'jspurefix'),
        undefined,
      ),
      row(
        `steady ${n(o.slowRate)}/s evenly spaced: µs/report (${o.slowMs / 1000} s, side by side)`,
        m.slowUsPerReport,
        q.slowListenerToFloor,
        q.slowJspurefixToFloor,
        q.slowBelowJspurefix,
      ),
      row(
        `steady ${n(o.fastRate)}/s: µs/report (${o.fastMs / 1000} s, one at a time)`,
        m.fastUsPerReport,
        q.fastListenerToFloor,
        q.fastJspurefixToFloor,
        q.fastBelowJspurefix,
      ),
      row(
        `flood of ${n(o.floodReports)} through the stop: µs/report`,
        m.floodUsPerReport,
        q.floodListenerToFloor,
        q.floodJspurefixToFloor,
        undefined,
      ),
      ...(
        [
          ['flood: reports/s', m.floodReportsPerSecond],
          ['flood: peak RSS, MB', m.floodPeakRssMb],
        ] as const
      ).map(([label, load]) => [label, fig(load.listener), fig(load.floor), fig(load.jspurefix), '', '', '']),
    ],
  );
  const variants = table(
    [
      'listener',
      'idle ms/min',
      `${n(o.slowRate)}/s µs/report`,
      `${n(o.fastRate)}/s µs/report`,
      `${n(o.fastRate)}/s from the rate's start through the stop, µs/report`,
    ],
    (['listener', 'listener-s3-sqs', 'listener-no-parquet'] as const).map((s) => [
      SUBJECT_LABEL[s],
      fig(m.idleMsPerMinute[s]),
      fig(m.slowUsPerReport[s]),
      fig(m.fastUsPerReport[s]),
      fig(m.fastThroughStopUsPerReport[s]),
    ]),
  );
  const notes = [
    `S3 + SQS sinks ÷ local sinks at ${n(o.slowRate)}/s: ${times(q.s3SqsToLocalSinks)}`,
    `the typed Parquet copy's cost to the listener (on − off at ${n(o.fastRate)}/s, through the stop): ${q.parquetUsPerReport ?? '—'} µs/report in its process, ${q.parquetChildrenUsPerReport ?? '—'} µs/report in the processes it started`,
  ];
  return `Each client in its own process against its own simulator, CPU of that process (all threads, process.cpuUsage) per report durable in it; the floor is a TLS client that splits on CheckSum and appends each read O_DSYNC, jspurefix parses each ExecutionReport into an object and appends it as a JSON line O_DSYNC.\n\n${main}\n\n${variants}\n\n${notes.join('; ')}.`;
}

/** Spool operations against fill latency for each JOURNAL_LINGER_MS run (both sections run with `lingerMs`). */
export function lingerTable(
  spool: SpoolOpsResult | undefined,
  latency: readonly LatencyScenarioResult[] | undefined,
): string | undefined {
  const ops = (spool?.runs ?? []).filter((x) => x.targetReportsPerSecond === 100 && x.perReport !== null);
  const lat = (latency ?? []).filter((x) => x.targetFillsPerSecond === 100);
  const lingers = [...new Set([...ops.map((x) => x.lingerMs), ...lat.map((x) => x.lingerMs)])];
  if (lingers.length < 2 && lingers.every((l) => l === null)) return undefined;
  lingers.sort((a, b) => (a ?? -1) - (b ?? -1));
  return table(
    [
      'JOURNAL_LINGER_MS',
      'spool ops/report at 100/s (data + metadata)',
      'of them O_DSYNC writes',
      'fill read→SendMessageBatch issued p50 / p99 ms (100 fills/s)',
      'of it read→durable p50 / p99 ms',
      'durable→issued p50 / p99 ms',
    ],
    lingers.map((l) => {
      const o = ops.find((x) => x.lingerMs === l)?.perReport ?? undefined;
      const t = lat.find((x) => x.lingerMs === l);
      return [
        l === null ? 'service default' : `${l} ms`,
        o === undefined ? '—' : `${o.total} (${o.data} + ${o.metadata})`,
        o === undefined ? '—' : String(o.dsyncWrites),
        t === undefined ? '—' : `${t.readToIssued.p50} / ${t.readToIssued.p99}`,
        t === undefined ? '—' : `${t.readToDurable.p50} / ${t.readToDurable.p99}`,
        t === undefined ? '—' : `${t.durableToIssued.p50} / ${t.durableToIssued.p99}`,
      ];
    }),
  );
}

/**
 * SQS requests against fill latency for each FILLS_BATCH_WAIT_MS run (the latency section run with
 * `fillsBatchWaitMs`), next to what docs/deployment.md's cost table assumes of it.
 */
export function batchWaitTable(latency: readonly LatencyScenarioResult[] | undefined): string | undefined {
  const runs = (latency ?? []).filter((x) => x.fillsBatchWaitMs !== null);
  if (runs.length === 0) return undefined;
  return table(
    [
      'FILLS_BATCH_WAIT_MS',
      'fills/s (reports/s)',
      'fills per SendMessageBatch',
      'cost table assumes (1 + fills/s × wait, ≤ 10)',
      'SendMessageBatch requests/s',
      'fill read→SendMessageBatch issued p50 / p99 / max ms',
      'of it durable→issued p50 / p99 / max ms',
    ],
    [...runs]
      .sort((a, b) => a.fillsBatchWaitMs! - b.fillsBatchWaitMs!)
      .map((t) => [
        `${t.fillsBatchWaitMs} ms`,
        `${n(t.measuredFillsPerSecond)} (${n(t.measuredReportsPerSecond)})`,
        `${t.sqsRequests.fillsPerRequest} (${n(t.sqsRequests.count)} requests)`,
        String(assumedFillsPerRequest(t.measuredFillsPerSecond, t.fillsBatchWaitMs!)),
        t.sqsRequests.perSecond,
        `${t.readToIssued.p50} / ${t.readToIssued.p99} / ${t.readToIssued.max}`,
        `${t.durableToIssued.p50} / ${t.durableToIssued.p99} / ${t.durableToIssued.max}`,
      ]),
  );
}

/**
 * docs/deployment.md's model: a request leaves with its first fill plus those arriving within the
 * wait (fills at random), at most a batch of 10.
 */
function assumedFillsPerRequest(fillsPerSecond: number, waitMs: number): number {
  return round2(Math.min(10, 1 + (fillsPerSecond * waitMs) / 1000));
}

export function spoolOpsTable(s: SpoolOpsResult): string {
  // Steady rates: per report (per second); idle: per minute.
  const cell = (r: SpoolOpsRun, pick: (f: NonNullable<SpoolOpsRun['perReport']>) => number) =>
    r.perReport === null ? `${pick(r.perMinute)}/min` : `${pick(r.perReport)} (${pick(r.perSecond)}/s)`;
  const rows = s.runs.map((r) => [
    (r.targetReportsPerSecond === 0
      ? `idle, connected, ${n(r.seconds)} s`
      : `${n(r.reportsPerSecond)} reports/s (${n(r.reports)} in ${n(r.seconds)} s)`) +
      (r.lingerMs === null || r.lingerMs === undefined ? '' : `, JOURNAL_LINGER_MS=${r.lingerMs}`),
    cell(r, (f) => f.data),
    cell(r, (f) => f.dsyncWrites),
    cell(r, (f) => f.fsyncs),
    cell(r, (f) => f.renames),
    cell(r, (f) => f.creates + f.opens),
    cell(r, (f) => f.closes),
    cell(r, (f) => f.unlinks),
    cell(r, (f) => f.mkdirs),
    cell(r, (f) => f.stats),
    cell(r, (f) => f.truncates + f.readdirs + f.other),
    cell(r, (f) => f.metadata),
    `**${cell(r, (f) => f.total)}**`,
    `${r.meteredMiBps} MiB/s`,
    `$${r.usdPerMonth.toLocaleString('en-US', { maximumFractionDigits: 2 })}`,
  ]);
  const main = table(
    [
      'run',
      'data writes',
      'of them O_DSYNC',
      'fsync / fdatasync',
      'renames',
      'creates + opens',
      'closes',
      'unlinks',
      'mkdir',
      'stat / statfs',
      'truncate, readdir, other',
      'metadata ops',
      'all ops',
      'EFS metered',
      'a month at $0.06/GB',
    ],
    rows,
  );
  const at100 = s.runs.find((r) => r.targetReportsPerSecond === 100) ?? s.runs[0];
  const files =
    at100 === undefined
      ? ''
      : `\n\nBy file at ${n(at100.reportsPerSecond)} reports/s (digits as #):\n\n${table(
          ['file under SPOOL_DIR', 'data writes/s', 'metadata ops/s'],
          at100.byFile.slice(0, 10).map((f) => [`\`${f.file}\``, f.dataPerSecond, f.metadataPerSecond]),
        )}`;
  return `Per report (per second); idle per minute. ${s.assumption}.\n\n${main}${files}`;
}

export function dedupeTable(d: DedupeResult): string {
  return table(
    ['measure', 'figure'],
    [
      [
        'ExecIDs remembered (window)',
        `${n(d.remembered)} (${d.windowHours} h at ${n(d.ids / (d.windowHours * 3600))}/s)`,
      ],
      ['held in memory / sealed in chunk files', `${n(d.inMemory)} / ${n(d.chunkFiles)} files`],
      ['live JS heap per remembered id (after forced GC)', `${d.liveHeapBytesPerId} B`],
      ['RSS per remembered id / RSS at the end', `${d.rssBytesPerId} B / ${d.rssEndMb} MB`],
      ['spool bytes per id (chunks + dedupe.log)', `${d.diskBytesPerId} B`],
      ['has + add of a new id (the journal path)', `${n(d.newIdNs)} ns`],
      [
        'has of an old id: its chunk read from disk / already read / absent id in range',
        `${d.oldIdColdUs} µs / ${d.oldIdWarmUs} µs / ${d.absentIdUs} µs`,
      ],
      ['time to fill', `${d.fillSeconds} s`],
      ...(d.listener === undefined
        ? []
        : [
            [
              `the listener on that spool, ${n(d.listener.reportsPerSecond)} reports/s: ids remembered at start`,
              n(d.listener.remembered),
            ],
            [
              'its RSS: median / peak / after forced GC (live heap)',
              `${d.listener.rssMedianMb} / ${d.listener.rssPeakMb} / ${d.listener.rssEndMb} MB (${d.listener.liveHeapEndMb} MB)`,
            ],
          ]),
    ],
  );
}

export function memoryTable(m: MemoryResult, s: StartupResult | undefined): string {
  const rows: Array<[string, string]> = [
    [
      'S3 outage (archive store always fails), fills to fauxqs SQS',
      `${m.outageSeconds} s at ${n(m.reportsPerSecond)} reports/s = ${n(m.reports)} reports (10 min at ${n(m.equivalentRateOver10Min)}/s)`,
    ],
    ['RSS start → peak → end', `${m.rssStartMb} → ${m.rssPeakMb} → ${m.rssEndMb} MB`],
    [
      'RSS slope, 2nd half (after forced GC)',
      `${m.rssSlopeSecondHalfMbPerMin} MB/min (samples between ${m.rssRangeSecondHalfMb[0]} and ${m.rssRangeSecondHalfMb[1]} MB)`,
    ],
    [
      'live JS heap slope, 2nd half (after forced GC)',
      `${m.liveHeapSlopeSecondHalfMbPerMin} MB/min = ${m.liveHeapBytesPerReport} B/report (samples between ${m.liveHeapRangeSecondHalfMb[0]} and ${m.liveHeapRangeSecondHalfMb[1]} MB)`,
    ],
    ['V8 reserved heap (heapTotal) at the end', `${m.heapReservedEndMb} MB`],
    ['archive buffer held / failed writes', `${m.archiveBufferedMb} MB / ${m.archiveFailedWrites}`],
    ['journal backlog for the archive', `${n(m.journalBacklogRecords)} records, ${m.journalBacklogMb} MB on disk`],
    ['fills published during the outage', n(m.fillsSent)],
    [
      'graceful stop while S3 is still down',
      m.stopDuringOutageMs === null
        ? 'did not finish within 20 s (SHUTDOWN_TIMEOUT_S)'
        : `${n(m.stopDuringOutageMs)} ms`,
    ],
  ];
  if (s !== undefined) {
    rows.push([
      'start-up: `cli.js run` spawn → Logon sent (median)',
      `${s.run.logonSentMs} ms (logged on ${s.run.loggedOnMs} ms; runs ${s.run.samples.join(', ')})`,
    ]);
    rows.push([
      'start-up: `cli.js demo` spawn → Logon sent (median)',
      `${s.demo.logonSentMs} ms (incl. RSA key, certificate, simulator; runs ${s.demo.samples.join(', ')})`,
    ]);
    rows.push([
      'start-up: importing dist/src/app/main.js / the two AWS SDK clients',
      `${s.importMainMs} ms / ${s.importAwsSdkMs} ms`,
    ]);
    rows.push(['start-up: `node -e 0` (runtime floor)', `${s.nodeBareMs} ms`]);
  }
  return table(['memory and start-up', 'measured'], rows);
}

export function profileTable(p: ProfileResult): string {
  const top = table(
    ['self time', 'function', 'where'],
    p.top.slice(0, 8).map((e) => [`${e.selfPercent}%`, e.function, e.location]),
  );
  const lines = table(
    ['share of the top function', 'line (compiled JS)'],
    p.hotLines.map((l) => [`${l.percentOfFunction}%`, `${l.line}: \`${l.text.replaceAll('|', '\\|')}\``]),
  );
  return `${top}\n\n${lines}`;
}

/**
 * Issue 29's table, in its order: the CPU figures as ratios to the floor measured in the same
 * rounds (and against jspurefix, also in them), then the rest of its rows.
 */
export function issue29Targets(r: BenchResults): Target[] {
  const out: Target[] = [];
  const ref = r.references;
  if (ref !== undefined) {
    const m = ref.median;
    const q = ref.ratios;
    const o = ref.options;
    const steady = (
      load: Partial<Record<Subject, number>>,
      toFloor: number | null,
      jspurefixToFloor: number | null,
      below: [number, number],
      what: string,
    ) => {
      if (load.listener === undefined || load.floor === undefined) return;
      const belowJspurefix = load.jspurefix !== undefined && load.listener < load.jspurefix;
      out.push({
        what,
        issue: 29,
        target: '≤ 1.5 × floor, and below jspurefix',
        measured: `${times(toFloor)} floor (${load.listener} vs ${load.floor} µs/report); jspurefix ${fig(load.jspurefix)} µs (${times(jspurefixToFloor)} floor), the listener below it in ${below[0]} of ${below[1]} rounds`,
        met: toFloor !== null && toFloor <= 1.5 && belowJspurefix,
      });
    };
    steady(
      m.slowUsPerReport,
      q.slowListenerToFloor,
      q.slowJspurefixToFloor,
      q.slowBelowJspurefix,
      `listener CPU per report, steady ${n(o.slowRate)}/s evenly spaced (all threads)`,
    );
    steady(
      m.fastUsPerReport,
      q.fastListenerToFloor,
      q.fastJspurefixToFloor,
      q.fastBelowJspurefix,
      `listener CPU per report, steady ${n(o.fastRate)}/s (all threads)`,
    );
    if (m.floodUsPerReport.listener !== undefined && m.floodUsPerReport.floor !== undefined)
      out.push({
        what: `listener CPU per report, flood of ${n(o.floodReports)} through the stop (all threads)`,
        issue: 29,
        target: '≤ 5 × floor',
        measured: `${times(q.floodListenerToFloor)} floor (${m.floodUsPerReport.listener} vs ${m.floodUsPerReport.floor} µs/report); jspurefix ${fig(m.floodUsPerReport.jspurefix)} µs (${times(q.floodJspurefixToFloor)} floor)`,
        met: q.floodListenerToFloor !== null && q.floodListenerToFloor <= 5,
      });
    const idle = m.idleMsPerMinute.listener;
    if (idle !== undefined)
      out.push({
        what: 'listener CPU idle, connected',
        issue: 29,
        target: '≤ 60 ms/min',
        measured: `${idle} ms/min over ${idleWindows(ref)}, slices ${idleSlices(ref, 'listener')} (floor ${fig(m.idleMsPerMinute.floor)}, jspurefix ${fig(m.idleMsPerMinute.jspurefix)})`,
        met: idle <= 60,
      });
    if (q.parquetUsPerReport !== null)
      out.push({
        what: `the typed copy's cost to the listener (ARCHIVE_PARQUET on − off, ${n(o.fastRate)}/s through the stop)`,
        issue: 29,
        target: '≤ 5 µs per report',
        measured: `${q.parquetUsPerReport} µs (on ${fig(m.fastThroughStopUsPerReport.listener)}, off ${fig(m.fastThroughStopUsPerReport['listener-no-parquet'])} µs/report; the processes it started: ${q.parquetChildrenUsPerReport ?? 'n/a'} µs/report)`,
        met: q.parquetUsPerReport <= 5,
      });
    if (q.s3SqsToLocalSinks !== null)
      out.push({
        what: `listener CPU per report, steady ${n(o.slowRate)}/s with the S3 + SQS sinks (fauxqs)`,
        issue: 29,
        target: '≤ 1.3 × the local-sink figure',
        measured: `${times(q.s3SqsToLocalSinks)} (${fig(m.slowUsPerReport['listener-s3-sqs'])} vs ${fig(m.slowUsPerReport.listener)} µs/report)`,
        met: q.s3SqsToLocalSinks <= 1.3,
      });
  }
  const spool = r['spool-ops']?.runs.filter((x) => x.targetReportsPerSecond === 100 && x.perReport !== null) ?? [];
  const so = spool.find((x) => x.lingerMs === null) ?? spool[0];
  if (so?.perReport !== undefined && so.perReport !== null)
    out.push({
      what: `spool operations per report at ${n(so.reportsPerSecond)} reports/s (data writes + metadata ops${so.lingerMs === null ? '' : `; JOURNAL_LINGER_MS=${so.lingerMs}`})`,
      issue: 29,
      target: '≤ 0.3',
      measured: `${so.perReport.total} (${so.perReport.data} data, ${so.perReport.metadata} metadata; EFS ${so.meteredMiBps} MiB/s metered)`,
      met: so.perReport.total <= 0.3,
    });
  const fills = r.latency?.scenarios.filter((x) => x.targetFillsPerSecond === 100) ?? [];
  const fl = fills.find((x) => x.lingerMs === null) ?? fills[0];
  if (fl !== undefined) {
    const linger = fl.lingerMs === null ? 'the service default' : `${fl.lingerMs} ms`;
    out.push({
      what: `fill read → SendMessageBatch issued, p99 at ${n(fl.measuredFillsPerSecond)} fills/s`,
      issue: 29,
      target: "≤ 10 ms (state the linger's share)",
      measured: `${fl.readToIssued.p99} ms: read → durable p99 ${fl.readToDurable.p99} ms (journal linger ${linger}; its durable write p99 ${fl.durableWrite.p99} ms), durable → issued p99 ${fl.durableToIssued.p99} ms`,
      met: fl.readToIssued.p99 <= 10,
    });
  }
  const rss = r.references?.median.floodPeakRssMb.listener;
  if (rss !== undefined)
    out.push({
      what: `listener peak RSS, flood of ${n(r.references!.options.floodReports)}`,
      issue: 29,
      target: '≤ 300 MB',
      measured: `${rss} MB (floor ${fig(r.references!.median.floodPeakRssMb.floor)}, jspurefix ${fig(r.references!.median.floodPeakRssMb.jspurefix)} MB)`,
      met: rss <= 300,
    });
  const local = r['end-to-end']?.runs.find((x) => x.sinks.startsWith('local'));
  if (local !== undefined)
    out.push({
      what: 'end to end, local sinks, journal durable (also #7)',
      issue: 29,
      target: '≥ 50,000 reports/s',
      measured: `${n(local.journalReportsPerSecond)}/s`,
      met: local.journalReportsPerSecond >= 50_000,
    });
  return out;
}

export function targets(r: BenchResults, totalSeconds: number): Target[] {
  const out: Target[] = issue29Targets(r);
  const c = r.cpu;
  if (c !== undefined) {
    out.push({
      what: 'listener CPU per report, all threads, fsync on (generator in another process; flood)',
      issue: 15,
      target: '≤ 20 µs (aim 15)',
      measured: `${c.cpuUsPerReport} µs (steady: ${c.steady.map((s) => `${s.cpuUsPerReport} µs at ${n(s.reportsPerSecond)}/s`).join(', ')})`,
      met: c.cpuUsPerReport <= 20,
    });
    const fixPath = r['end-to-end']?.runs.find((x) => x.sinks.startsWith('local'))?.stages;
    out.push({
      what: 'the FIX thread per report (the event loop, which also runs the sinks)',
      issue: 15,
      target: '≤ 6 µs',
      measured:
        `${c.mainThreadUsPerReport ?? 'n/a'} µs` +
        (fixPath === undefined
          ? ''
          : `; of it decode + session + append ${round2(fixPath.decodeUsPerReport + fixPath.appendUsPerReport)} µs (end to end, instrumented)`),
      met: c.mainThreadUsPerReport !== null && c.mainThreadUsPerReport <= 6,
    });
  }
  const lat = r.latency?.scenarios.find((x) => x.targetFillsPerSecond === 2000);
  if (lat !== undefined) {
    const bound = round2(2 * lat.durableWrite.p99 + 2);
    out.push({
      what: `read → durable p99 at ${n(lat.measuredFillsPerSecond)} fills/s`,
      issue: 15,
      target: `≤ 2 × the journal's durable write p99 + 2 ms (${bound} ms)`,
      measured: `${lat.readToDurable.p99} ms (durable write p99 ${lat.durableWrite.p99} ms)`,
      met: lat.readToDurable.p99 <= bound,
    });
    out.push({
      what: `durable → SendMessageBatch issued p99 at ${n(lat.measuredFillsPerSecond)} fills/s`,
      issue: 15,
      target: '≤ 1 ms',
      measured: `${lat.durableToIssued.p99} ms (SQS round trip p50 ${lat.sqsRoundTrip.p50}, p99 ${lat.sqsRoundTrip.p99} ms)`,
      met: lat.durableToIssued.p99 <= 1,
    });
  }
  const dd = r.dedupe;
  if (dd !== undefined) {
    const perId = Math.max(dd.liveHeapBytesPerId, dd.rssBytesPerId);
    out.push({
      what: `dedupe: bytes resident per remembered ExecID (${n(dd.remembered)} ids)`,
      issue: 15,
      target: '≤ 2 B',
      measured: `${perId} B (live heap ${dd.liveHeapBytesPerId} B, RSS ${dd.rssBytesPerId} B)`,
      met: perId <= 2,
    });
    const l = dd.listener;
    out.push({
      what: `RSS with ${n(l?.remembered ?? dd.remembered)} ExecIDs remembered`,
      issue: 15,
      target: '≤ 200 MB',
      measured:
        l === undefined
          ? `${dd.rssEndMb} MB (the index alone; the listener run was skipped)`
          : `${l.rssPeakMb} MB peak, ${l.rssMedianMb} MB median (the listener at ${n(l.reportsPerSecond)} reports/s on the filled spool)`,
      met: (l?.rssPeakMb ?? Number.POSITIVE_INFINITY) <= 200,
    });
  }
  const m = r.memory;
  if (m !== undefined) {
    out.push({
      what: 'live heap through the compressed S3 outage, 2nd half (after forced GC)',
      issue: 15,
      target: '≤ 1 MB/min',
      measured: `${m.liveHeapSlopeSecondHalfMbPerMin} MB/min (${m.liveHeapBytesPerReport} B/report)`,
      met: m.liveHeapSlopeSecondHalfMbPerMin <= 1,
    });
    out.push({
      what: 'same, RSS slope after forced GC (reported)',
      issue: 15,
      target: 'flat',
      measured: `${m.rssSlopeSecondHalfMbPerMin} MB/min, ${m.rssRangeSecondHalfMb[0]}–${m.rssRangeSecondHalfMb[1]} MB`,
      met: Math.abs(m.rssSlopeSecondHalfMbPerMin) <= 10,
    });
  }
  const st = r.startup;
  if (st !== undefined)
    out.push({
      what: 'start → Logon sent (`cli.js run`, median)',
      issue: 15,
      target: '≤ 300 ms',
      measured: `${st.run.logonSentMs} ms (node -e 0: ${st.nodeBareMs} ms)`,
      met: st.run.logonSentMs <= 300,
    });
  const d = r.decode;
  if (d !== undefined) {
    out.push({
      what: 'decode: ours (key fields) vs byte loop',
      issue: 15,
      target: '≥ 45 %',
      measured: `${d.ratios.oursKeyPercentOfByteLoop} %`,
      met: d.ratios.oursKeyPercentOfByteLoop >= 45,
    });
    out.push({
      what: 'decode: ours (key fields) vs jspurefix',
      issue: 15,
      target: '≥ 12×',
      measured: `${d.ratios.oursKeyVsJspurefix}×`,
      met: d.ratios.oursKeyVsJspurefix >= 12,
    });
  }
  const f = r.freshness;
  if (f !== undefined)
    out.push({
      what: `archive freshness p99 at ${n(f.reportsPerSecond)} reports/s (received → object visible)`,
      issue: 16,
      target: `≤ ARCHIVE_FLUSH_S + 5 s (${f.flushSeconds + 5} s)`,
      measured: `${f.receiveToVisible.p99} s; ${n(f.objectsPerHour)} objects/hour`,
      met: f.receiveToVisible.p99 <= f.flushSeconds + 5,
    });
  const p = r.parquet;
  if (p !== undefined) {
    out.push({
      what: `Parquet bytes vs the hour's .jsonl.gz (${n(p.records)} records)`,
      issue: 16,
      target: '≤ 1×',
      measured: `${p.parquetToJsonlGz}×`,
      met: p.parquetToJsonlGz <= 1,
    });
    for (const q of p.queries)
      out.push({
        what: `${q.name}: bytes read, Parquet vs .jsonl.gz`,
        issue: 16,
        target: '≥ 10× fewer',
        measured: `${q.fewerBytes}× fewer`,
        met: q.fewerBytes >= 10,
      });
  }
  out.push({
    what: '`npm run bench` wall time on this machine',
    issue: 7,
    target: '< 12 min',
    measured: `${(totalSeconds / 60).toFixed(1)} min`,
    met: totalSeconds < 720,
  });
  return out;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export function freshnessTable(f: FreshnessResult): string {
  return table(
    ['ARCHIVE_FLUSH_S', 'reports/s', 'p50', 'p99', 'max', 'objects in window', 'objects/hour', 'records/object'],
    [
      [
        `${f.flushSeconds} s`,
        n(f.reportsPerSecond),
        `${f.receiveToVisible.p50} s`,
        `${f.receiveToVisible.p99} s`,
        `${f.receiveToVisible.max} s`,
        String(f.objectsInWindow),
        n(f.objectsPerHour),
        n(f.meanRecordsPerObject),
      ],
    ],
  );
}

export function parquetTable(p: ParquetResult): string {
  return [
    table(
      ['records', '.jsonl.gz', '.parquet (ZSTD)', 'ratio', 'encode µs/record'],
      [[n(p.records), n(p.jsonlGzBytes), n(p.parquetBytes), `${p.parquetToJsonlGz}×`, String(p.encodeMicrosPerRecord)]],
    ),
    table(
      ['saved query', 'Parquet bytes read', '.jsonl.gz bytes read', 'fewer'],
      p.queries.map((q) => [q.name, n(q.parquetBytesRead), n(q.jsonlGzBytesRead), `${q.fewerBytes}×`]),
    ),
  ].join('\n\n');
}

export function targetsTable(list: readonly Target[]): string {
  return table(
    ['target', 'issue', 'goal', 'measured', 'met'],
    list.map((t) => [t.what, `#${t.issue}`, t.target, t.measured, t.met ? 'yes' : '**no**']),
  );
}

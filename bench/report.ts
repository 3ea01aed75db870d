/**
 * Turns the sections' results into the markdown tables `npm run bench` prints (and bench/README.md
 * quotes), with each figure next to its reference and the issue's target.
 */
import type { DecodeResult } from './decode.js';
import type { EndToEndRun } from './end-to-end.js';
import type { FreshnessResult } from './freshness.js';
import type { ParquetResult } from './parquet.js';
import type { LatencyScenarioResult } from './latency.js';
import type { MemoryResult } from './memory.js';
import type { ProfileResult } from './profile.js';
import type { StartupResult } from './startup.js';

export interface BenchResults {
  decode?: DecodeResult;
  'end-to-end'?: { runs: EndToEndRun[] };
  freshness?: FreshnessResult;
  parquet?: ParquetResult;
  latency?: { scenarios: LatencyScenarioResult[] };
  memory?: MemoryResult;
  startup?: StartupResult;
  profile?: ProfileResult;
}

export interface Target {
  what: string;
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
  return `${corpus}\n\n${table(['decoder', 'ns/msg (median)', 'msgs/s', 'spread', 'vs jspurefix', '% of byte loop'], rows)}`;
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
      'group commit: size, fdatasync',
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
      'archive objects in window',
      'batch size × in flight',
      'event loop busy',
    ],
    rows,
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

export function targets(r: BenchResults, totalSeconds: number): Target[] {
  const out: Target[] = [];
  const d = r.decode;
  if (d !== undefined) {
    const key = d.cases[2]!;
    out.push({
      what: 'decode: ours (key fields) vs jspurefix',
      target: '≥ 10×',
      measured: `${d.ratios.oursKeyVsJspurefix}×`,
      met: d.ratios.oursKeyVsJspurefix >= 10,
    });
    out.push({
      what: 'decode: ours (key fields) vs byte loop',
      target: '≥ 60 %',
      measured: `${d.ratios.oursKeyPercentOfByteLoop} %`,
      met: d.ratios.oursKeyPercentOfByteLoop >= 60,
    });
    out.push({
      what: 'decode: reports/s with key fields',
      target: '~1.5 M/s',
      measured: `${n(key.messagesPerSecond)}/s`,
      met: key.messagesPerSecond >= 1_500_000,
    });
  }
  const local = r['end-to-end']?.runs.find((x) => x.sinks.startsWith('local'));
  if (local !== undefined)
    out.push({
      what: 'end to end, local sinks, journal durable',
      target: '≥ 50k reports/s',
      measured: `${n(local.journalReportsPerSecond)}/s`,
      met: local.journalReportsPerSecond >= 50_000,
    });
  const lat = r.latency?.scenarios[0];
  if (lat !== undefined)
    out.push({
      what: `fill latency p99 at ${n(lat.measuredFillsPerSecond)} fills/s (${lat.name})`,
      target: '≤ 5 ms',
      measured: `${lat.readToSent.p99} ms`,
      met: lat.readToSent.p99 <= 5,
    });
  const f = r.freshness;
  if (f !== undefined)
    out.push({
      what: `archive freshness p99 at ${n(f.reportsPerSecond)} reports/s (received → object visible)`,
      target: `≤ ARCHIVE_FLUSH_S + 5 s (${f.flushSeconds + 5} s)`,
      measured: `${f.receiveToVisible.p99} s; ${n(f.objectsPerHour)} objects/hour`,
      met: f.receiveToVisible.p99 <= f.flushSeconds + 5,
    });
  const p = r.parquet;
  if (p !== undefined) {
    out.push({
      what: `Parquet bytes vs the hour's .jsonl.gz (${n(p.records)} records)`,
      target: '≤ 1×',
      measured: `${p.parquetToJsonlGz}×`,
      met: p.parquetToJsonlGz <= 1,
    });
    for (const q of p.queries)
      out.push({
        what: `${q.name}: bytes read, Parquet vs .jsonl.gz`,
        target: '≥ 10× fewer',
        measured: `${q.fewerBytes}× fewer`,
        met: q.fewerBytes >= 10,
      });
  }
  const m = r.memory;
  if (m !== undefined) {
    // The journal remembers every ExecID for 72 h (~68 B each, measured): the one growth by design.
    out.push({
      what: 'memory during a compressed 10-min S3 outage: live heap growth per report, 2nd half',
      target: 'flat but for the ExecID dedupe map (≈ 68 B/report)',
      measured: `${m.liveHeapBytesPerReport} B/report (${m.liveHeapSlopeSecondHalfMbPerMin} MB/min)`,
      met: m.liveHeapBytesPerReport <= 90,
    });
    out.push({
      what: 'same, RSS slope after forced GC (issue: report it)',
      target: 'flat',
      measured: `${m.rssSlopeSecondHalfMbPerMin} MB/min, ${m.rssRangeSecondHalfMb[0]}–${m.rssRangeSecondHalfMb[1]} MB`,
      met: Math.abs(m.rssSlopeSecondHalfMbPerMin) <= 10,
    });
  }
  out.push({
    what: '`npm run bench` wall time on this machine',
    target: '< 10 min',
    measured: `${(totalSeconds / 60).toFixed(1)} min`,
    met: totalSeconds < 600,
  });
  return out;
}

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
    ['target', 'issue', 'measured', 'met'],
    list.map((t) => [t.what, t.target, t.measured, t.met ? 'yes' : '**no**']),
  );
}

/**
 * Section 5 — where the decode hot path spends its time. Runs FixDecoder + key-field reads over the
 * corpus for a few seconds in a child started with `node --cpu-prof`, then ranks functions by self
 * time from the .cpuprofile V8 writes. `node dist/bench/profile.js` runs it on its own;
 * `node dist/bench/profile.js --child <seconds>` is the profiled process.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FixDecoder } from '../src/fix/decoder.js';
import { buildCorpus, KEY_TAGS } from './fixtures.js';
import { round } from './timing.js';

export interface ProfileEntry {
  function: string;
  location: string;
  selfPercent: number;
}

export interface ProfileResult {
  seconds: number;
  samples: number;
  top: ProfileEntry[];
  /** The hottest function's hottest lines (of the compiled JS, with the source text). */
  hotLines: Array<{ line: number; percentOfFunction: number; text: string }>;
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  /** Samples per source line (compiled JS lines) inside this function. */
  positionTicks?: Array<{ line: number; ticks: number }>;
}

/** The profiled workload: the same decoder + key-field reads as the decode section. */
function decodeFor(seconds: number): void {
  const corpus = buildCorpus(20_000);
  let sink = 0;
  const decoder = new FixDecoder({
    onMessage: (m) => {
      sink +=
        (m.get(KEY_TAGS.ExecID)?.length ?? 0) +
        (m.get(KEY_TAGS.ExecType)?.length ?? 0) +
        (m.get(KEY_TAGS.Symbol)?.length ?? 0);
      sink +=
        (m.get(KEY_TAGS.LastQty)?.length ?? 0) +
        (m.get(KEY_TAGS.LastPx)?.length ?? 0) +
        (m.getInt(KEY_TAGS.MsgSeqNum) ?? 0);
    },
    onError: (error) => {
      throw error;
    },
  });
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) for (const chunk of corpus.chunks) decoder.push(chunk);
  if (sink === -1) console.log(sink);
}

/** Self time per function (summed over the profile's nodes), highest first, and its hot lines. */
export function summarize(profilePath: string, top = 12): Omit<ProfileResult, 'seconds'> {
  const profile = JSON.parse(readFileSync(profilePath, 'utf8')) as { nodes: CpuProfileNode[] };
  const byFunction = new Map<string, ProfileEntry & { hits: number; url: string; lines: Map<number, number> }>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    total += hits;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.startsWith('file://') ? relative(process.cwd(), fileURLToPath(url)) : url;
    const location = file === '' ? '' : `${file}:${lineNumber + 1}`;
    const key = `${functionName}@${location}`;
    const entry = byFunction.get(key) ?? {
      function: functionName || '(anonymous)',
      location,
      selfPercent: 0,
      hits: 0,
      url,
      lines: new Map<number, number>(),
    };
    entry.hits += hits;
    for (const { line, ticks } of node.positionTicks ?? []) entry.lines.set(line, (entry.lines.get(line) ?? 0) + ticks);
    byFunction.set(key, entry);
  }
  const ranked = [...byFunction.values()].sort((a, b) => b.hits - a.hits);
  const hottest = ranked.find((e) => e.url.startsWith('file://'));
  let hotLines: ProfileResult['hotLines'] = [];
  if (hottest !== undefined) {
    const source = readFileSync(fileURLToPath(hottest.url), 'utf8').split('\n');
    hotLines = [...hottest.lines]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([line, ticks]) => ({
        line,
        percentOfFunction: round((ticks / hottest.hits) * 100, 1),
        text: (source[line - 1] ?? '').trim().slice(0, 110),
      }));
  }
  return {
    samples: total,
    top: ranked.slice(0, top).map(({ function: fn, location, hits }) => ({
      function: fn,
      location,
      selfPercent: round((hits / total) * 100, 1),
    })),
    hotLines,
  };
}

export async function runProfile(seconds = 6): Promise<ProfileResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kfl-bench-prof-'));
  try {
    const child = fork(fileURLToPath(import.meta.url), ['--child', String(seconds)], {
      execArgv: ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${dir}`],
      stdio: 'inherit',
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`profiled child exited with ${code}`);
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error('no .cpuprofile written');
    return { seconds, ...summarize(join(dir, file)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--child') {
    decodeFor(Number(process.argv[3] ?? '6'));
  } else {
    const result = await runProfile();
    console.log(`decode hot path, ${result.samples} samples over ${result.seconds} s — self time:`);
    for (const e of result.top)
      console.log(`${String(e.selfPercent).padStart(6)} %  ${e.function.padEnd(28)} ${e.location}`);
    console.log(`hottest lines of ${result.top[0]?.function ?? '?'}:`);
    for (const l of result.hotLines)
      console.log(`${String(l.percentOfFunction).padStart(6)} %  line ${l.line}: ${l.text}`);
  }
}

/**
 * `npm run bench`: every section in its own child process (section.ts), one after another so they
 * never compete for the two cores; then the tables, the targets, and bench/results/latest.json.
 * Sections made of several service runs (end-to-end, latency) get one process per run: a run
 * that follows another in the same process inherits its heap and GC state and measured worse.
 *
 *   node dist/bench/run.js                       everything (≈ 20 min here)
 *   node dist/bench/run.js --only decode,latency a subset; latest.json is still written
 *   npm run bench -- --readme                    everything, and the tables replace the results
 *                                                block of bench/README.md
 *   node dist/bench/run.js --only spool-ops,latency --linger-ms 0,10,50
 *                                                spool-ops' rates and the 100 fills/s latency
 *                                                scenario once per JOURNAL_LINGER_MS, and the
 *                                                trade-off table
 *   node dist/bench/run.js --only latency --fills-batch-wait-ms 0,250
 *                                                the 10 fills/s latency scenario once per
 *                                                FILLS_BATCH_WAIT_MS alone (with --linger-ms or
 *                                                --readme, the usual scenarios too), and its table
 *   --out FILE                                   results there instead of bench/results/latest.json
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release, platform } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_END_TO_END_OPTIONS, type EndToEndRun } from './end-to-end.js';
import {
  DEFAULT_LATENCY_OPTIONS,
  latencyScenarios,
  type LatencyOptions,
  type LatencyScenarioResult,
} from './latency.js';
import {
  cpuTable,
  decodeTable,
  dedupeTable,
  endToEndTable,
  freshnessTable,
  parquetTable,
  latencyTable,
  lingerTable,
  batchWaitTable,
  memoryTable,
  profileTable,
  referencesTable,
  spoolOpsTable,
  targets,
  targetsTable,
  type BenchResults,
} from './report.js';
import { MB, sleep } from './timing.js';

const ORDER = [
  'decode',
  'profile',
  'cpu',
  'references',
  'spool-ops',
  'end-to-end',
  'latency',
  'freshness',
  'parquet',
  'memory',
  'dedupe',
  'startup',
] as const;
type Section = (typeof ORDER)[number];

// --expose-gc: decode isolates its rounds with forced GCs; memory samples the live heap after one.
// The memory section runs the listener under the heap cap the CDK stack sets (¾ of its default
// 1024 MiB task, infra/listener-stack.ts), as it runs deployed.
const EXEC_ARGV: Partial<Record<Section, string[]>> = {
  decode: ['--expose-gc'],
  dedupe: ['--expose-gc'],
  memory: ['--expose-gc', '--max-old-space-size=768'],
};

function runSection(name: Section, overrides: object = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./section.js', import.meta.url)), [name, JSON.stringify(overrides)], {
      execArgv: EXEC_ARGV[name] ?? [],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let stderr = '';
    // The AWS SDK warns about Node 20 on every client: keep stderr for failures only.
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let outcome: { ok: boolean; result?: unknown; error?: string } | undefined;
    child.on('message', (message: typeof outcome) => (outcome = message));
    child.once('exit', (code) => {
      if (outcome?.ok === true) resolve(outcome.result);
      else reject(new Error(`section ${name} failed (exit ${code}): ${outcome?.error ?? stderr.slice(-2000)}`));
    });
  });
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function machine() {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGb: Math.round(totalmem() / 1024 / MB),
    os: `${platform()} ${release()}`,
    node: process.version,
    v8: process.versions.v8,
    commit: git(['rev-parse', '--short', 'HEAD']),
    uncommittedChanges: git(['status', '--porcelain']) !== '',
  };
}

/** A comma-separated list of whole ms, e.g. `--linger-ms 0,10,50`; `max` where the setting has one. */
function msList(flag: string, list: string | undefined, max = Number.MAX_SAFE_INTEGER): number[] | undefined {
  return list?.split(',').map((v) => {
    const ms = Number(v);
    if (!Number.isInteger(ms) || ms < 0) throw new UsageError(`--${flag}: '${v}' is not a whole number of ms`);
    if (ms > max) throw new UsageError(`--${flag}: ${ms} is above the setting's ${max} ms`);
    return ms;
  });
}

/** Bad arguments: one line on stderr and exit 2, as the CLI's usage errors. */
class UsageError extends Error {}

const USAGE = `usage: node dist/bench/run.js [--only SECTION,…] [--readme] [--linger-ms MS,…]
                                [--fills-batch-wait-ms MS,…] [--out FILE]

Runs the benchmark sections one after another, each in a process of its own, prints their tables
and targets, and writes the results to bench/results/latest.json (or FILE). Sections:
  ${ORDER.join(', ')}
--readme also replaces the results block of bench/README.md. bench/README.md says what each
section measures and how to read it.
`;

/** The sections `--only` names, in the bench's order; every name must be one. */
function sections(only: string | undefined): Section[] {
  if (only === undefined) return [...ORDER];
  const names = only.split(',').filter((name) => name !== '');
  const unknown = names.filter((name) => !(ORDER as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new UsageError(`--only: no section ${unknown.join(', ')} (sections: ${ORDER.join(', ')})`);
  return ORDER.filter((section) => names.includes(section));
}

/**
 * The latency section's options. A FILLS_BATCH_WAIT_MS list alone runs its 10 fills/s scenarios
 * and nothing else: the four usual scenarios (≈ 2 min) do not depend on it. They stay with a
 * `lingerMs` list, and when the README is rewritten, whose tables and targets need them.
 */
function latencyOptions(
  lingerMs: number[] | undefined,
  fillsBatchWaitMs: number[] | undefined,
  readme: boolean,
): LatencyOptions {
  const usual = lingerMs !== undefined || readme;
  return {
    ...DEFAULT_LATENCY_OPTIONS,
    ...(lingerMs === undefined ? {} : { lingerMs }),
    ...(fillsBatchWaitMs === undefined ? {} : { fillsBatchWaitMs, ...(usual ? {} : { scenarios: [] }) }),
  };
}

async function main(): Promise<void> {
  const { values } = usageChecked(() =>
    parseArgs({
      options: {
        only: { type: 'string' },
        readme: { type: 'boolean', default: false },
        'linger-ms': { type: 'string' },
        'fills-batch-wait-ms': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }),
  );
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const lingerMs = msList('linger-ms', values['linger-ms']);
  // FILLS_BATCH_WAIT_MS's range (src/core/environment.ts).
  const fillsBatchWaitMs = msList('fills-batch-wait-ms', values['fills-batch-wait-ms'], 1000);
  const wanted = sections(values.only);
  const started = performance.now();
  const loadBefore = loadavg();
  const results: BenchResults = {};
  const sectionSeconds: Record<string, number> = {};
  const failed: Record<string, string> = {};
  for (const name of wanted) {
    const t = performance.now();
    process.stderr.write(`bench: ${name}…\n`);
    // A section that fails is reported and the run goes on: the others' figures are not lost.
    try {
      if (name === 'end-to-end') {
        const runs: EndToEndRun[] = [];
        for (const run of DEFAULT_END_TO_END_OPTIONS.runs)
          runs.push(...((await runSection(name, { runs: [run] })) as { runs: EndToEndRun[] }).runs);
        results[name] = { runs };
      } else if (name === 'latency') {
        const scenarios: LatencyScenarioResult[] = [];
        for (const scenario of latencyScenarios(latencyOptions(lingerMs, fillsBatchWaitMs, values.readme)))
          scenarios.push(
            ...((await runSection(name, { scenarios: [scenario] })) as { scenarios: LatencyScenarioResult[] })
              .scenarios,
          );
        results[name] = { scenarios };
      } else {
        (results as Record<string, unknown>)[name] = await runSection(
          name,
          name === 'spool-ops' && lingerMs !== undefined ? { lingerMs } : {},
        );
      }
    } catch (error) {
      failed[name] = error instanceof Error ? error.message : String(error);
      process.stderr.write(`bench: ${name} failed: ${failed[name]}\n`);
    }
    sectionSeconds[name] = Math.round((performance.now() - t) / 1000);
    // Let the previous section's file deletions and write-back settle before the next one times fsyncs.
    await sleep(2000);
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const env = {
    ...machine(),
    loadAverageBefore: loadBefore.map((x) => Number(x.toFixed(2))),
    loadAverageAfter: loadavg().map((x) => Number(x.toFixed(2))),
  };

  const blocks: string[] = [];
  blocks.push(
    `Machine: ${env.cpu} × ${env.cores} cores, ${env.memoryGb} GB, ${env.os}, Node ${env.node}; commit ${env.commit}${env.uncommittedChanges ? ' (+ uncommitted changes)' : ''}; load average before ${env.loadAverageBefore.join(' ')}`,
  );
  if (results.decode) blocks.push(`### Decode\n\n${decodeTable(results.decode)}`);
  if (results.cpu || results.references)
    blocks.push(
      [
        '### CPU per report (simulator in another process → ListenerService, local sinks, fsync on, nothing instrumented)',
        ...(results.cpu ? [cpuTable(results.cpu)] : []),
        ...(results.references
          ? [`Against the floor and jspurefix, in the same rounds:\n\n${referencesTable(results.references)}`]
          : []),
      ].join('\n\n'),
    );
  if (results['spool-ops'])
    blocks.push(
      `### Spool operations per report (simulator in another process → ListenerService, local sinks outside the spool)\n\n${spoolOpsTable(results['spool-ops'])}`,
    );
  if (results['end-to-end'])
    blocks.push(
      `### End to end (simulator over loopback TLS → ListenerService, journal fsync on)\n\n${endToEndTable(results['end-to-end'].runs)}`,
    );
  if (results.latency)
    blocks.push(
      `### Fill latency: socket read → SQS SendMessageBatch returned (fauxqs)\n\n${latencyTable(results.latency.scenarios)}`,
    );
  const linger = lingerTable(results['spool-ops'], results.latency?.scenarios);
  if (linger !== undefined)
    blocks.push(`### Journal linger: spool operations against fill latency (JOURNAL_LINGER_MS)\n\n${linger}`);
  const batching = batchWaitTable(results.latency?.scenarios);
  if (batching !== undefined)
    blocks.push(`### Fill batching: SQS requests against fill latency (FILLS_BATCH_WAIT_MS)\n\n${batching}`);
  if (results.freshness)
    blocks.push(
      `### Archive freshness: report received → its object visible in S3 (fauxqs)\n\n${freshnessTable(results.freshness)}`,
    );
  if (results.parquet)
    blocks.push(`### Typed Parquet copy of an hour vs its JSONL\n\n${parquetTable(results.parquet)}`);
  if (results.memory) blocks.push(`### Memory and start-up\n\n${memoryTable(results.memory, results.startup)}`);
  if (results.dedupe)
    blocks.push(
      `### Deduplication memory (the ExecID index filled with a 72 h window at 100 reports/s)\n\n${dedupeTable(results.dedupe)}`,
    );
  if (results.profile)
    blocks.push(
      `### Decode hot path (node --cpu-prof, ${results.profile.samples} samples)\n\n${profileTable(results.profile)}`,
    );
  const verdicts = targets(results, totalSeconds);
  blocks.push(`### Targets\n\n${targetsTable(verdicts)}`);
  blocks.push(
    `Sections (s): ${Object.entries(sectionSeconds)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; total ${totalSeconds.toFixed(0)} s`,
  );
  console.log(blocks.join('\n\n'));

  // --out keeps a partial run's figures away from the committed latest.json.
  const out = resolve(values.out ?? fileURLToPath(new URL('../../bench/results/latest.json', import.meta.url)));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ capturedAt: new Date().toISOString(), machine: env, totalSeconds: Math.round(totalSeconds), sectionSeconds, targets: verdicts, results }, null, 2)}\n`,
  );
  console.log(`\nwrote ${out}`);
  if (Object.keys(failed).length > 0) {
    console.error(`\nsections failed: ${Object.keys(failed).join(', ')}; the tables of the docs are left as they were`);
    process.exitCode = 1;
  } else if (values.readme) {
    const readme = fileURLToPath(new URL('../../bench/README.md', import.meta.url));
    const text = readFileSync(readme, 'utf8');
    const block = `<!-- results:start -->\n${blocks.join('\n\n')}\n<!-- results:end -->`;
    writeFileSync(
      readme,
      text.replace(/<!-- results:start -->[\s\S]*<!-- results:end -->/, () => block),
    );
    console.log(`updated ${readme}`);
    // docs/architecture.md (Performance) carries the summary: the machine and every target with its figure.
    const projectReadme = fileURLToPath(new URL('../../docs/architecture.md', import.meta.url));
    const summary = `<!-- bench:start -->\n${blocks[0]}\n\n${targetsTable(verdicts)}\n<!-- bench:end -->`;
    const projectText = readFileSync(projectReadme, 'utf8');
    if (!projectText.includes('<!-- bench:start -->'))
      throw new Error('docs/architecture.md has no <!-- bench:start --> block to update');
    writeFileSync(
      projectReadme,
      projectText.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, () => summary),
    );
    console.log(`updated ${projectReadme}`);
  }
}

/** `parse()`, its parser's errors (an unknown option, a missing value) as usage errors. */
function usageChecked<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

await main().catch((error: unknown) => {
  const usage = error instanceof UsageError;
  process.stderr.write(
    usage
      ? `bench: ${error.message}\n${USAGE.split('\n\n')[0]}\n`
      : `bench: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exitCode = usage ? 2 : 1;
});

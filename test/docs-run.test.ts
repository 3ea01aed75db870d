import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { DuckDBConnection } from '@duckdb/node-api';
import { spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORD_COLUMNS, type ExecutionReportRecord } from '../src/core/record.js';
import { archivedRecords } from './helpers/archive.js';
import {
  asDeclared,
  BUCKET_PLACEHOLDER,
  duckType,
  duckView,
  parseCreateExternalTable,
  projectedObjects,
  type AthenaTable,
} from './helpers/athena.js';
import { AWS_TEST_CREDENTIALS, s3Client, startAws, type AwsPeer } from './helpers/aws.js';
import { cliArgv } from './helpers/cli.js';
import { docCommands, SHELL_LANGS, SQL_LANGS, type DocCommand } from './helpers/docs.js';
import { duckDb } from './helpers/duckdb.js';
import { tempDir } from './helpers/records.js';
import { captureOutput, REPO, type CapturedOutput, type PipedChild } from './helpers/spawn.js';

/**
 * Docs that run (issue 31 item 4): every shell command and query of the README and docs/ is run
 * here against what the demo produces — the CLI on its archive, curl on its control plane, the
 * Athena DDL and queries in DuckDB over its objects — or is listed below with the reason it cannot
 * run on this machine. The blocks are read from the docs, so a command added there is a command
 * this test must run or explain: it fails on one that is neither.
 *
 * What changes before a command runs is said in its test's title and done by `substitute`, which
 * fails when the text it replaces is no longer in the docs: placeholders (a bucket, a queue URL, a
 * date, an order id) become the demo's; `node dist/src/app/cli.js` becomes the repository's CLI
 * (the demo runs in a directory of its own), and so does `npx kalshi-fix-listener` when dist/ is
 * not fresh: then the sources run through tsx (nothing is built here; other suites may compile).
 */

const { blocks, commands } = docCommands();
const CLI = cliArgv();
const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const CLI_SHELL = CLI.argv.map(quote).join(' ');

/** Replaces `from` in `text`, and fails when the docs no longer hold it. */
function substitute(text: string, from: string | RegExp, to: string): string {
  const found = typeof from === 'string' ? text.includes(from) : from.test(text);
  expect(found, `the command no longer holds ${String(from)}: ${text}`).toBe(true);
  return typeof from === 'string' ? text.replaceAll(from, to) : text.replace(from, to);
}

/** `npx kalshi-fix-listener` as written when dist/ is fresh (it runs dist/src/app/cli.js), else the sources. */
const withCli = (text: string) => (CLI.fromDist ? text : substitute(text, 'npx kalshi-fix-listener', CLI_SHELL));

/**
 * The bracketed options of a synopsis: `[--listener NAME]` given as the demo's listener, any other
 * given as `given` says (a flag with its value, or a bare flag), or left out.
 */
function optionals(text: string, given: Record<string, string> = {}): string {
  return text.replace(/ ?\[(--[\w-]+)( [^\]]+)?\]/g, (_, flag: string) => {
    if (flag === '--listener') return ' --listener default';
    const value = given[flag];
    return value === undefined ? '' : value === '' ? ` ${flag}` : ` ${flag} ${value}`;
  });
}

// ---------------------------------------------------------------------------------------------
// Running a shell command

interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The definitions (`PORT=…`, `key() {…}`) its block makes before the command, then the command. */
function script(command: DocCommand, text = command.text): string {
  const before = commands.filter(
    (c) => c.file === command.file && c.block === command.block && c.definition && c.line < command.line,
  );
  return [...before.map((c) => c.text), text].join('\n');
}

/** Signals a command's process group, which may have ended meanwhile. */
function signalGroup(child: PipedChild, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function spawnShell(text: string, cwd: string, env: Record<string, string>): PipedChild {
  return spawn('bash', ['-c', `set -o pipefail\n${text}`], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a pipeline or a server it starts is stopped with it.
    detached: true,
  });
}

/** Runs a command that ends by itself (within `timeoutMs`). */
async function runShell(
  text: string,
  cwd: string,
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<ShellResult> {
  const child = spawnShell(text, cwd, env);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), timeoutMs);
  const code = await captureOutput(child).exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Starts a command that runs until stopped (tail -f, a consumer); `stop` signals its process group. */
function startShell(
  text: string,
  cwd: string,
  env: Record<string, string> = {},
): CapturedOutput & { stop: (signal: NodeJS.Signals) => Promise<number | null> } {
  const child = spawnShell(text, cwd, env);
  const captured = captureOutput(child);
  return {
    ...captured,
    stop: async (signal) => {
      signalGroup(child, signal);
      return captured.exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The demo, shared by the file: started once, stopped with Ctrl-C (SIGINT) half-way

interface Demo {
  cwd: string;
  data: string;
  port: number;
  running: () => boolean;
  output: () => string;
  exited: Promise<number | null>;
  stop: (signal: NodeJS.Signals) => Promise<number | null>;
}

let demo: Demo | undefined;
let aws: AwsPeer | undefined;
/** Where the keys of docs/deployment.md go. */
const keysDir = tempDir('docs-keys-');

async function startDemo(): Promise<Demo> {
  const cwd = tempDir('docs-demo-');
  // As `npm run demo` runs it after its build, from a fresh working directory; ./data is its own.
  const started = startShell(`exec ${CLI_SHELL} demo`, cwd, { HTTP_PORT: '0', LOG_LEVEL: 'info' });
  let running = true;
  void started.exited.then(() => (running = false));
  const port = Number((await started.waitForOutput(/"httpPort":(\d+)/, 30_000))[1]);
  return { cwd, data: join(cwd, 'data'), port, running: () => running, ...started };
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) =>
    statSync(join(dir, name)).isDirectory() ? filesUnder(join(dir, name)) : [join(dir, name)],
  );
}

function fillsOf(data: string): ExecutionReportRecord[] {
  const path = join(data, 'fills.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ExecutionReportRecord);
}

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

/** The demo, running, with an archive object and a few fills written. */
const live = once(async () => {
  const d = demo!;
  await expect
    .poll(() => filesUnder(join(d.data, 'archive', 'exec_reports')).filter((p) => p.endsWith('.jsonl.gz')).length, {
      timeout: 20_000,
      interval: 100,
    })
    .toBeGreaterThan(0);
  await expect.poll(() => fillsOf(d.data).length, { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(3);
  return d;
});

/**
 * Runs a command of the docs (`text`, as changed for this machine) after its block's definitions,
 * in `cwd`. It must exit 0: what a failed command printed is not worth reading.
 */
async function runInDir(
  cwd: string,
  command: DocCommand,
  text = command.text,
  env: Record<string, string> = {},
): Promise<ShellResult> {
  const r = await runShell(script(command, text), cwd, env);
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/**
 * Runs a README command against the live demo's control plane: HTTP_PORT is the demo's port, which
 * the block's `PORT=${HTTP_PORT:-8080}` reads.
 */
async function onLiveDemo(command: DocCommand): Promise<ShellResult> {
  const d = await live();
  return runInDir(d.cwd, command, command.text, { HTTP_PORT: String(d.port) });
}

/** What the demo left once Ctrl-C stopped it: its archive, its fills, its hours. */
const stopped = once(async () => {
  const d = await live();
  // Ctrl-C: the demo writes what is not yet in an object, drains the fills and exits 0.
  const code = await d.stop('SIGINT');
  expect(code, d.output().slice(-3000)).toBe(0);
  expect(d.output()).toMatch(/stopped cleanly/);
  const archive = join(d.data, 'archive');
  const records = archivedRecords(join(archive, 'exec_reports'));
  // Its hours, `YYYY-MM-DDTHH`, and the busiest (the demo may have run across the turn of one).
  const hours = new Map<string, ExecutionReportRecord[]>();
  for (const dir of new Set(filesUnder(join(archive, 'exec_reports')).map((p) => p.replace(/[^/]+$/, '')))) {
    const [, dt, hour] = /dt=([\d-]+)\/hour=(\d\d)\/$/.exec(dir)!;
    hours.set(`${dt}T${hour}`, archivedRecords(dir));
  }
  const [hour, hourRecords] = [...hours].sort((a, b) => b[1].length - a[1].length)[0]!;
  const orders = new Map<string, number>();
  for (const r of records) if (r.order_id !== null) orders.set(r.order_id, (orders.get(r.order_id) ?? 0) + 1);
  return {
    ...d,
    archive,
    records,
    fills: fillsOf(d.data),
    hour,
    hourRecords,
    dt: hour.slice(0, 10),
    busiestOrder: [...orders].sort((a, b) => b[1] - a[1])[0]![0],
    parquetAtStop: filesUnder(join(archive, 'exec_reports_parquet')).filter((p) => p.endsWith('.parquet')),
  };
});

/** The Parquet objects of an hour (`YYYY-MM-DDTHH`) of the demo's archive. */
function parquetObjects(data: string, hour: string): string[] {
  const dir = join(data, 'archive', 'exec_reports_parquet', 'listener=default', `dt=${hour.slice(0, 10)}`);
  return filesUnder(join(dir, `hour=${hour.slice(11)}`)).filter((p) => p.endsWith('.parquet'));
}

/** What build-parquet prints: one JSON line per hour, none of them an error. */
function parquetOutcomes(stdout: string): Array<{ hour: string }> {
  const outcomes = stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { hour: string; error?: unknown });
  for (const o of outcomes) expect(o.error, JSON.stringify(o)).toBeUndefined();
  expect(outcomes.length).toBeGreaterThan(0);
  return outcomes;
}

/** The queue `replay` filled, for the consumer. */
let replayed: { queueUrl: string; execIds: string[] } | undefined;

const AWS_ENV = () => ({
  AWS_REGION: AWS_TEST_CREDENTIALS.region,
  AWS_ACCESS_KEY_ID: AWS_TEST_CREDENTIALS.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: AWS_TEST_CREDENTIALS.credentials.secretAccessKey,
  AWS_ENDPOINT_URL_S3: aws!.endpoint,
  AWS_ENDPOINT_URL_SQS: aws!.endpoint,
});

// ---------------------------------------------------------------------------------------------
// DuckDB standing in for Athena

const ATHENA_TABLES = commands
  .filter((c) => c.kind === 'sql' && c.command.startsWith('CREATE EXTERNAL TABLE '))
  .map((c) => parseCreateExternalTable(c.text));

let duckConnection: DuckDBConnection | undefined;

/**
 * DuckDB over the demo's archive: relative paths from the demo's working directory (the inline
 * queries are written for one), Presto's from_iso8601_timestamp as a macro, and each Athena table
 * of the docs as a view over the objects its projection finds, with its declared types.
 */
const duck = once(async () => {
  const s = await stopped();
  const db = await duckDb();
  duckConnection = db;
  await db.run(`SET file_search_path = '${s.cwd}'`);
  await db.run(`CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)`);
  const views = new Map<string, { table: AthenaTable; seen: string[]; unseen: string[] }>();
  for (const table of ATHENA_TABLES) {
    const { seen, unseen } = projectedObjects(table, s.archive, new Date().toISOString().slice(0, 10));
    if (seen.length > 0) await db.run(duckView(table, seen));
    views.set(table.name, { table, seen, unseen });
  }
  return { db, views };
});

/** The names a SELECT list gives its columns: an alias, or a bare column; null for an unnamed expression. */
function selectNames(sql: string): Array<string | null> | '*' {
  const list = /^SELECT\s(.+?)\sFROM\s/is.exec(sql)?.[1];
  if (list === undefined) throw new Error(`no SELECT … FROM in ${sql}`);
  if (list.trim() === '*') return '*';
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    if (list[i] === '(') depth++;
    else if (list[i] === ')') depth--;
    else if (list[i] === ',' && depth === 0) {
      items.push(list.slice(start, i));
      start = i + 1;
    }
  }
  items.push(list.slice(start));
  return items.map((item) => /\bAS (\w+)\s*$/i.exec(item.trim())?.[1] ?? /^(\w+)$/.exec(item.trim())?.[1] ?? null);
}

// ---------------------------------------------------------------------------------------------
// How each command runs

type Stage = 'first' | 'live' | 'stopped' | 'rebuilt' | 'replayed';
/** Tests run in this order of stage (then in the docs' order): the demo runs, stops, is read. */
const STAGES: readonly Stage[] = ['first', 'live', 'stopped', 'rebuilt', 'replayed'];

interface Runner {
  /** The command as DocCommand.command has it (whitespace collapsed, trailing comment dropped). */
  match: string | RegExp;
  stage: Stage;
  /** Where it runs and what changes, for the test's title. */
  how: string;
  run: (command: DocCommand) => Promise<void>;
}

const matches = (pattern: string | RegExp, command: string) =>
  typeof pattern === 'string' ? pattern === command : pattern.test(command);

const RUNNERS: Runner[] = [
  // README.md, the demo
  {
    match: 'curl -s localhost:$PORT/status',
    stage: 'live',
    how: 'against the demo',
    run: async (c) => {
      const r = await onLiveDemo(c);
      const status = JSON.parse(r.stdout) as { session: { state: string }; counters: { executionReports: number } };
      expect(status.session.state).toBe('active');
      expect(status.counters.executionReports).toBeGreaterThan(0);
    },
  },
  {
    match: 'curl -s localhost:$PORT/metrics | grep ^kfl_',
    stage: 'live',
    how: 'against the demo',
    run: async (c) => {
      const r = await onLiveDemo(c);
      const lines = r.stdout.trim().split('\n');
      expect(lines.every((l) => l.startsWith('kfl_'))).toBe(true);
      expect(r.stdout).toMatch(/^kfl_execution_reports_total\{listener="default"\} [1-9]\d*$/m);
    },
  },
  {
    match: 'curl -s -X POST localhost:$PORT/reconnect',
    stage: 'live',
    how: 'against the demo: it logs out and on again',
    run: async (c) => {
      const d = await live();
      const logons = () => d.output().split('"msg":"logged on"').length - 1;
      const before = logons();
      const r = await onLiveDemo(c);
      expect(JSON.parse(r.stdout)).toEqual({ reconnecting: true });
      await expect.poll(logons, { timeout: 10_000, interval: 50 }).toBeGreaterThan(before);
    },
  },
  {
    match: 'tail -f data/fills.jsonl',
    stage: 'live',
    how: "in the demo's directory, until it has printed a fill",
    run: async (c) => {
      const d = await live();
      const tail = startShell(script(c), d.cwd);
      await tail.waitForOutput(/^\{.*\}\n/m, 20_000);
      // Still following the file: it prints the fills written meanwhile, and ends only when stopped.
      const before = tail.output().split('\n').length;
      await expect
        .poll(() => tail.output().split('\n').length, { timeout: 20_000, interval: 100 })
        .toBeGreaterThan(before);
      expect(d.running()).toBe(true);
      await tail.stop('SIGTERM');
      const lines = tail.output().split('\n').slice(0, -1); // the last may be cut
      expect(lines.length).toBeGreaterThan(1);
      for (const line of lines) {
        const fill = JSON.parse(line) as { exec_type: string; exec_id: unknown };
        expect([fill.exec_type, typeof fill.exec_id]).toEqual(['F', 'string']);
      }
    },
  },
  {
    match: 'ls -R data/archive/exec_reports/',
    stage: 'live',
    how: "in the demo's directory",
    run: async (c) => {
      const { cwd } = await live();
      const r = await runInDir(cwd, c);
      expect(r.stdout).toMatch(/^data\/archive\/exec_reports\/listener=default\/dt=\d{4}-\d\d-\d\d\/hour=\d\d:$/m);
      expect(r.stdout).toMatch(/^\d{12}-\d{12}-\d+\.jsonl\.gz$/m);
    },
  },
  {
    match:
      'ARCHIVE_URL=file://$PWD/data/archive/ node dist/src/app/cli.js build-parquet --hours $(date -u +%Y-%m-%dT%H)',
    stage: 'live',
    how: "in the demo's directory while it runs (dist/src/app/cli.js from the repository, as built or its sources)",
    run: async (c) => {
      const d = await live();
      const r = await runInDir(d.cwd, c, substitute(c.text, 'node dist/src/app/cli.js', CLI_SHELL));
      const [outcome] = parquetOutcomes(r.stdout);
      expect(outcome?.hour).toMatch(/^\d{4}-\d\d-\d\dT\d\d$/);
      expect(parquetObjects(d.data, outcome!.hour).length).toBeGreaterThan(0);
    },
  },
  {
    match:
      /^ARCHIVE_URL=file:\/\/\$PWD\/data\/archive\/ node dist\/src\/app\/cli\.js build-parquet --hours \S+ --listener default$/,
    stage: 'stopped',
    how: "in the demo's directory after Ctrl-C, for its hour: every report of the hour in its Parquet once",
    run: async (c) => {
      const s = await stopped();
      let text = substitute(c.text, 'node dist/src/app/cli.js', CLI_SHELL);
      text = substitute(text, /--hours \d{4}-\d\d-\d\dT\d\d/, `--hours ${s.hour}`);
      const r = await runInDir(s.cwd, c, text);
      expect(parquetOutcomes(r.stdout).map((o) => o.hour)).toEqual([s.hour]);
      // Run again, it writes nothing new; either way the hour's Parquet holds each report once.
      await runInDir(s.cwd, c, text);
      const db = await duckDb();
      const rows = (
        await db.runAndReadAll(
          `SELECT count(*) AS n, count(DISTINCT exec_id) AS ids FROM read_parquet([${parquetObjects(s.data, s.hour)
            .map((p) => `'${p}'`)
            .join(', ')}])`,
        )
      ).getRowObjectsJS();
      db.closeSync();
      expect(rows).toEqual([{ n: BigInt(s.hourRecords.length), ids: BigInt(s.hourRecords.length) }]);
    },
  },
  {
    match: 'ls -R data/archive/exec_reports_parquet/',
    stage: 'rebuilt',
    how: "in the demo's directory, after Ctrl-C and the rebuild-parquet of docs/archive.md",
    run: async (c) => {
      const s = await stopped();
      const r = await runInDir(s.cwd, c);
      expect(r.stdout).toMatch(
        /^data\/archive\/exec_reports_parquet\/listener=default\/dt=\d{4}-\d\d-\d\d\/hour=\d\d:\n\d{12}-\d{12}-\d+\.parquet$/m,
      );
      // The line's own promise, where the demo ran the built CLI (the Parquet encoder runs from
      // dist/, not from the sources through tsx).
      if (CLI.fromDist && /Ctrl-C/.test(c.comment)) expect(s.parquetAtStop).not.toEqual([]);
    },
  },

  // docs/deployment.md, keys and secrets
  {
    match: /^npm run keygen -- --out [\w-]+$/,
    stage: 'first',
    how: 'as the keygen that `npm run keygen --` runs after its build',
    run: async (c) => {
      const scripts = (
        JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
      ).scripts;
      expect(scripts['keygen']).toBe('tsc -b tsconfig.build.json && node dist/src/app/cli.js keygen');
      // npm passes the directory it was run from as INIT_CWD, which keygen resolves --out against.
      await runInDir(keysDir, c, substitute(c.text, 'npm run keygen --', `${CLI_SHELL} keygen`), { INIT_CWD: keysDir });
      const out = /--out ([\w-]+)/.exec(c.command)![1]!;
      const privatePem = join(keysDir, `${out}.pem`);
      expect(statSync(privatePem).mode & 0o777).toBe(0o600);
      const publicKey = createPublicKey(readFileSync(join(keysDir, `${out}.pub.pem`)));
      expect(createPublicKey(createPrivateKey(readFileSync(privatePem))).export({ format: 'jwk' })).toEqual(
        publicKey.export({ format: 'jwk' }),
      );
      expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    },
  },
  {
    match: /^aws secretsmanager create-secret --name [\w/-]+ --secret-string "\$\(key "\$\w+" [\w.-]+\.pem\)"$/,
    stage: 'first',
    how: 'with a stand-in `aws` that prints the secret it is given (no AWS account here)',
    run: async (c) => {
      const keyId = randomUUID();
      const variable = /"\$(\w+)"/.exec(c.command)![1]!;
      const pem = /([\w.-]+\.pem)/.exec(c.command)![1]!;
      const standIn = `aws() { for a in "$@"; do printf '%s\\0' "$a"; done; }`;
      const r = await runShell(`${standIn}\n${script(c)}`, keysDir, { [variable]: keyId });
      expect(r.code, r.stderr).toBe(0);
      const args = r.stdout.split('\0').slice(0, -1);
      expect(args.slice(0, 3)).toEqual(['secretsmanager', 'create-secret', '--name']);
      expect(args[4]).toBe('--secret-string');
      // The shape the stack's ECS secrets read: the key id and the PEM, as the key file holds it.
      const secret = JSON.parse(args[5]!) as { apiKey: string; privateKey: string };
      expect(secret).toEqual({ apiKey: keyId, privateKey: readFileSync(join(keysDir, pem), 'utf8') });
      expect(createPrivateKey(secret.privateKey).asymmetricKeyType).toBe('rsa');
    },
  },
  {
    match: /^aws ecs execute-command .* --command "node -e \\".*\\""$/,
    stage: 'live',
    how: "the command it gives the task, run here against the demo's control plane (a stand-in `aws` hands it over)",
    run: async (c) => {
      const d = await live();
      const standIn = `aws() { while [ $# -gt 0 ]; do [ "$1" = --command ] && { printf '%s' "$2"; return 0; }; shift; done; return 1; }`;
      const given = await runShell(`${standIn}\n${script(c)}`, d.cwd);
      expect(given.code, given.stderr).toBe(0);
      const inTask = substitute(given.stdout, 'http://127.0.0.1:8080/', `http://127.0.0.1:${d.port}/`);
      const r = await runShell(inTask, d.cwd, { CONTROL_TOKEN: 'a-control-token-0123456789' });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ session: { state: 'active' } });
    },
  },

  // docs/archive.md, the CLI on the archive and the fills consumer
  {
    match: /^ARCHIVE_URL=s3:\/\/bucket\/prefix\/ npx kalshi-fix-listener rebuild-parquet /,
    stage: 'stopped',
    how: "on the demo's archive folder (file://), for its hour: refused as too recent, then with --force",
    run: async (c) => {
      const s = await stopped();
      let text = substitute(c.command, 's3://bucket/prefix/', `file://${s.archive}/`);
      text = substitute(text, /--hour \S+/, `--hour ${s.hour}`);
      text = withCli(optionals(text));
      // The hour has not ended an hour ago: refused (exit 2), as the docs say, unless --force.
      const refused = await runShell(text, REPO);
      expect(refused.code, refused.stdout + refused.stderr).toBe(2);
      expect(refused.stderr).toMatch(/ended less than an hour ago/);
      const r = await runShell(`${text} --force`, REPO);
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout) as { records: number; jsonlObjects: number; parquetKey: string };
      const partition = `listener=default/dt=${s.dt}/hour=${s.hour.slice(11)}`;
      expect(summary.records).toBe(s.hourRecords.length);
      expect(summary.jsonlObjects).toBe(readdirSync(join(s.archive, 'exec_reports', partition)).length);
      expect(summary.parquetKey).toMatch(
        new RegExp(`^exec_reports_parquet/${partition}/\\d{12}-\\d{12}-${s.hourRecords.length}\\.parquet$`),
      );
      // --replace: the rebuilt object is the hour's only one.
      expect(readdirSync(join(s.archive, 'exec_reports_parquet', partition))).toEqual([
        summary.parquetKey.split('/').at(-1),
      ]);
    },
  },
  {
    match: /^ARCHIVE_URL=s3:\/\/bucket\/prefix\/ npx kalshi-fix-listener replay /,
    stage: 'stopped',
    how: "from the demo's archive in a bucket of the S3/SQS server on loopback, to a FIFO queue there, over the demo's hours: a dry run for one symbol, then all",
    run: async (c) => {
      const s = await stopped();
      const bucket = await aws!.newBucket();
      const queueUrl = await aws!.newFifoQueue();
      const client = s3Client(aws!.endpoint);
      for (const path of filesUnder(join(s.archive, 'exec_reports')))
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `prefix/${relative(s.archive, path)}`,
            Body: readFileSync(path),
          }),
        );
      client.destroy();
      const times = s.records.map((r) => Date.parse(r.transact_time!));
      const from = new Date(Math.floor(Math.min(...times) / 3_600_000) * 3_600_000).toISOString();
      const to = new Date(Math.ceil((Math.max(...times) + 1) / 3_600_000) * 3_600_000 - 1000).toISOString();
      let text = substitute(c.command, 's3://bucket/prefix/', `s3://${bucket}/prefix/`);
      text = substitute(
        text,
        /--from \S+ --to \S+/,
        `--from ${from.replace('.000Z', 'Z')} --to ${to.replace('.000Z', 'Z')}`,
      );
      text = substitute(text, /--queue https:\/\/sqs\.[^\s]+\.fifo/, `--queue ${queueUrl}`);
      // First with every option: one symbol, a dry run (nothing sent).
      const symbol = s.fills[0]!.symbol!;
      const dry = await runShell(withCli(optionals(text, { '--symbol': symbol, '--dry-run': '' })), REPO, AWS_ENV());
      expect(dry.code, dry.stderr).toBe(0);
      expect(JSON.parse(dry.stdout)).toMatchObject({
        symbol,
        dryRun: true,
        selected: s.fills.filter((f) => f.symbol === symbol).length,
        sent: 0,
      });
      // Then every fill, for real.
      const r = await runShell(withCli(optionals(text)), REPO, AWS_ENV());
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout) as { read: number; selected: number; sent: number; failed: unknown[] };
      // Every fill of the demo, which its fills file holds too.
      expect(summary).toMatchObject({
        read: s.records.length,
        selected: s.fills.length,
        sent: s.fills.length,
        failed: [],
      });
      replayed = { queueUrl, execIds: s.fills.map((f) => f.exec_id) };
    },
  },
  {
    match: 'FILLS_QUEUE_URL=<FillsQueueUrl output> node --import tsx examples/fills-consumer.ts',
    stage: 'replayed',
    how: 'on the queue the replay above filled, until it has printed every fill; then Ctrl-C',
    run: async (c) => {
      expect(replayed, 'the replay of docs/archive.md runs first and fills the queue').toBeDefined();
      const text = substitute(c.text, '<FillsQueueUrl output>', replayed!.queueUrl);
      const consumer = startShell(text, REPO, AWS_ENV());
      try {
        const last = replayed!.execIds.at(-1)!;
        await consumer.waitForOutput(new RegExp(`"exec_id":"${last.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`), 30_000);
        await expect
          .poll(
            () =>
              consumer
                .output()
                .split('\n')
                .filter((l) => l.startsWith('{')).length,
            { timeout: 10_000 },
          )
          .toBe(replayed!.execIds.length);
      } finally {
        expect(await consumer.stop('SIGINT')).toBe(0);
      }
      const printed = consumer
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => (JSON.parse(l) as { exec_id: string }).exec_id);
      expect(printed.sort()).toEqual([...replayed!.execIds].sort());
    },
  },

  // docs/archive.md, the Athena tables and queries, in DuckDB
  {
    match: /^CREATE EXTERNAL TABLE \w+ \(/,
    stage: 'rebuilt',
    how: "in DuckDB: a view over the demo's objects that the partition projection finds, with the declared types",
    run: async (c) => {
      const s = await stopped();
      const { db, views } = await duck();
      const { table, seen, unseen } = views.get(parseCreateExternalTable(c.text).name)!;
      // Every object of the demo is in a partition the projection reads: a query sees all of them.
      expect(unseen.map((p) => relative(s.archive, p))).toEqual([]);
      expect(seen.length).toBeGreaterThan(0);
      expect(table.location.startsWith(BUCKET_PLACEHOLDER)).toBe(true);
      const count = Number(
        (await db.runAndReadAll(`SELECT count(*) AS n FROM ${table.name}`)).getRowObjectsJS()[0]!['n'],
      );
      const described = (await db.runAndReadAll(`DESCRIBE SELECT * FROM ${table.name}`)).getRowObjectsJS() as Array<{
        column_name: string;
        column_type: string;
      }>;
      const types = described.map((row) => [row.column_name, asDeclared(row.column_type)]);
      // The declared columns in order, then the partition columns.
      expect(types.slice(0, table.columns.length)).toEqual(table.columns.map(([name, type]) => [name, duckType(type)]));
      expect(types.slice(table.columns.length).sort()).toEqual(
        table.partitions.map(([name, type]) => [name, duckType(type)]).sort(),
      );
      if (table.serde.endsWith('JsonSerDe')) {
        // Every line of every object read with the declared types, each holding exactly those keys.
        expect(count).toBe(s.records.length);
        for (const record of s.records) expect(Object.keys(record)).toEqual(table.columns.map(([name]) => name));
      } else {
        expect(count).toBeGreaterThan(0);
      }
    },
  },
  {
    match: /^SELECT /,
    stage: 'rebuilt',
    how: "in DuckDB over the demo's archive (each table the view of its DDL; its date and an order id of its own)",
    run: async (c) => {
      const s = await stopped();
      const { db } = await duck();
      let sql = c.text;
      if (/\bdt = '\d{4}-\d\d-\d\d'/.test(sql)) sql = substitute(sql, /\bdt = '\d{4}-\d\d-\d\d'/g, `dt = '${s.dt}'`);
      if (/\border_id = '/.test(sql)) sql = substitute(sql, /\border_id = '[^']*'/g, `order_id = '${s.busiestOrder}'`);
      const result = await db.runAndReadAll(sql);
      const rows = result.getRowObjectsJS();
      const names = result.columnNames();
      if (/expect no rows/.test(c.comment)) expect(rows).toEqual([]);
      else expect(rows.length).toBeGreaterThan(0);
      const documented = selectNames(sql);
      if (documented === '*') {
        expect(names).toEqual(
          expect.arrayContaining([...RECORD_COLUMNS.map((col) => col.name), 'listener', 'dt', 'hour']),
        );
      } else {
        expect(names).toHaveLength(documented.length);
        documented.forEach((name, i) => name !== null && expect(names[i]).toBe(name));
      }
      // A count of fills adds up to the demo's fills of that day, in the hours the table has objects for.
      if (names.includes('fills')) {
        const table = /\bFROM (\w+)/.exec(sql)![1]!;
        const seen = (await duck()).views.get(table)!.seen;
        const hours = new Set(seen.map((p) => /dt=([\d-]+)\/hour=(\d\d)\//.exec(p)!.slice(1).join('T')));
        const fills = s.records.filter(
          (r) => r.exec_type === 'F' && r.transact_time!.startsWith(s.dt) && hours.has(r.transact_time!.slice(0, 13)),
        );
        expect(rows.reduce((sum, row) => sum + Number(row['fills']), 0)).toBe(fills.length);
      }
    },
  },
];

/** Commands that cannot run on this machine, and why. */
const NOT_RUN: Array<{ match: string | RegExp; why: string }> = [
  {
    match: 'npm ci && npm run demo',
    why: '`npm ci` deletes and reinstalls node_modules under the tests that are running; the demo it starts is the one this file runs (`kalshi-fix-listener demo`, as `npm run demo` runs it after its build) for the commands below it',
  },
  { match: 'npm test', why: 'runs every suite, this one included: CI runs it' },
  {
    match: /^npx cdk deploy /,
    why: 'deploys to an AWS account, which this machine has not; test/infra/ synthesises the stack offline',
  },
  {
    match: /^TASK=\$\(aws ecs list-tasks /,
    why: "asks ECS for the task of a deployed stack (no AWS account here); the command the next line gives that task runs here against the demo's control plane",
  },
];

/** Blocks that show something (a diagram, a file, log lines) rather than a command to run. */
const NOT_COMMANDS: Array<{ file: string; startsWith: string; why: string }> = [
  { file: 'docs/architecture.md', startsWith: 'src/app ── wires everything', why: 'a diagram' },
  {
    file: 'docs/deployment.md',
    startsWith: '[',
    why: 'a listeners file for `-c listenersFile` (test/infra/fleet.test.ts synthesises fleets)',
  },
  {
    file: 'docs/operations.md',
    startsWith: 'kalshi-fix-listener: invalid configuration:',
    why: 'what a start on a locked spool prints (test/integration/start-guards.test.ts)',
  },
  {
    file: 'docs/operations.md',
    startsWith: '{"level":"error","component":"journal","code":"ERR_JOURNAL_CORRUPT"',
    why: 'log lines',
  },
  {
    file: 'docs/operations.md',
    startsWith: '{"level":"error","component":"journal","code":"ERR_JOURNAL_DISK_FULL"',
    why: 'a log line',
  },
  { file: 'docs/operations.md', startsWith: '7d0c52e1 {"sink":"fills"', why: 'a line of dead-letters.jsonl' },
  {
    file: 'docs/operations.md',
    startsWith: '{"level":"warn","component":"archive","code":"ERR_ARCHIVE_TIME_OUTLIER"',
    why: 'a log line',
  },
];

const runnerOf = (c: DocCommand) => RUNNERS.filter((r) => matches(r.match, c.command));
const planned = commands
  .filter((c) => !c.definition && runnerOf(c).length === 1)
  .map((c) => ({ command: c, runner: runnerOf(c)[0]! }))
  .sort((a, b) => STAGES.indexOf(a.runner.stage) - STAGES.indexOf(b.runner.stage));

const short = (text: string) => (text.length > 90 ? `${text.slice(0, 87)}…` : text);

describe(`the commands and queries of the README and docs/ (the CLI ${CLI.fromDist ? 'from dist/' : 'from its sources, with tsx'})`, () => {
  beforeAll(async () => {
    [demo, aws] = await Promise.all([startDemo(), startAws()]);
  }, 60_000);
  afterAll(async () => {
    duckConnection?.closeSync();
    if (demo?.running() === true) await demo.stop('SIGKILL');
    await aws?.stop();
  });

  it('runs every one of them here, or says why it cannot', () => {
    const problems: string[] = [];
    const where = (c: DocCommand) => `${c.file}:${c.line}: ${c.command}`;
    for (const c of commands) {
      if (c.definition) {
        // Runs with a command after it in its block.
        const used = commands.some(
          (o) => o.file === c.file && o.block === c.block && o.line > c.line && !o.definition && runnerOf(o).length > 0,
        );
        if (!used) problems.push(`${where(c)}: a definition no command run after it uses`);
        continue;
      }
      const ways = runnerOf(c).length + NOT_RUN.filter((n) => matches(n.match, c.command)).length;
      if (ways !== 1)
        problems.push(`${where(c)}: ${ways === 0 ? 'neither run nor listed with a reason' : 'matched twice'}`);
    }
    for (const b of blocks) {
      const runnable = SHELL_LANGS.includes(b.lang) || SQL_LANGS.includes(b.lang);
      const listed = NOT_COMMANDS.filter((n) => n.file === b.file && b.text.startsWith(n.startsWith));
      if (runnable && listed.length > 0)
        problems.push(`${b.file}:${b.line}: a ${b.lang} block listed as not a command`);
      if (runnable && !commands.some((c) => c.file === b.file && c.block === b.line))
        problems.push(`${b.file}:${b.line}: a ${b.lang} block with no command in it`);
      if (!runnable && listed.length !== 1)
        problems.push(`${b.file}:${b.line}: a \`${b.lang || 'plain'}\` block neither run nor listed (or listed twice)`);
    }
    // Nothing listed that the docs no longer hold.
    for (const r of [...RUNNERS, ...NOT_RUN])
      if (!commands.some((c) => matches(r.match, c.command)))
        problems.push(`no command of the docs matches ${String(r.match)}`);
    for (const n of NOT_COMMANDS)
      if (!blocks.some((b) => b.file === n.file && b.text.startsWith(n.startsWith)))
        problems.push(`no block of ${n.file} starts with ${n.startsWith}`);
    expect(problems).toEqual([]);
    expect(planned.length).toBeGreaterThanOrEqual(20);
    for (const n of [...NOT_RUN, ...NOT_COMMANDS]) expect(n.why.length).toBeGreaterThan(0);
  });

  for (const { command, runner } of planned)
    it(`${command.file}:${command.line} \`${short(command.command)}\` — ${runner.how}`, { timeout: 90_000 }, () =>
      runner.run(command),
    );
});

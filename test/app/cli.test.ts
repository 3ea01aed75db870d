import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandSpec } from '../../src/app/cli-command.js';
import { DEMO } from '../../src/app/demo-command.js';
import { KEYGEN } from '../../src/app/keygen-command.js';
import { REBUILD_PARQUET } from '../../src/app/rebuild-parquet-command.js';
import { RECONCILE } from '../../src/app/reconcile-command.js';
import { REPLAY } from '../../src/app/replay-command.js';
import { RUN } from '../../src/app/run-command.js';
import { SIM } from '../../src/app/sim-command.js';
import { tempDir } from '../helpers/records.js';
import { CLI, runCli } from '../helpers/cli.js';
import { captureOutput, REPO } from '../helpers/spawn.js';

/** Issue 31 item 7: `--help` per command, usage errors on stderr with exit 2, one shape for refusals. */

const SPECS: CommandSpec[] = [RUN, DEMO, SIM, KEYGEN, RECONCILE, REBUILD_PARQUET, REPLAY];

/** Exactly one line on stderr: `kalshi-fix-listener[ <command>]: [CODE] message`. */
const REFUSAL = /^kalshi-fix-listener(?: [a-z-]+)?: (?:\[ERR_[A-Z_]+\] )?[^\n]+\n$/;

describe('--help', () => {
  it('lists every command, on stdout with exit 0, as --help, -h and help', async () => {
    // Act
    const results = await Promise.all([['--help'], ['-h'], ['help']].map((args) => runCli(args)));
    // Assess
    for (const { code, stdout, stderr } of results) {
      expect(code).toBe(0);
      expect(stderr).toBe('');
      expect(stdout).toMatch(/^usage: kalshi-fix-listener <command> \[options\]\n/);
      for (const { name } of SPECS) expect(stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    }
    expect(new Set(results.map((r) => r.stdout)).size).toBe(1);
  });

  it("prints each command's usage, options (with defaults) and environment, exit 0, even beside bad arguments", async () => {
    // Act
    const results = await Promise.all(SPECS.map(({ name }) => runCli([name, '--bogus', '--help'])));
    const viaHelp = await runCli(['help', 'reconcile']);
    // Assess
    for (const [i, { name, options }] of SPECS.entries()) {
      const { code, stdout, stderr } = results[i]!;
      expect(code, name).toBe(0);
      expect(stderr).toBe('');
      expect(stdout).toMatch(new RegExp(`^usage: kalshi-fix-listener ${name}\\b`));
      for (const [option, { default: value }] of Object.entries(options)) {
        expect(stdout).toContain(`--${option}`);
        if (value !== undefined) expect(stdout).toContain(`(default: ${value})`);
      }
      expect(stdout).toContain('-h, --help');
    }
    expect(viaHelp).toEqual(results[SPECS.indexOf(RECONCILE)]);
  });
});

/** A command's usage error as it prints it: its problems, then where its own help is. */
const usageError = (command: string, problems: string) =>
  `kalshi-fix-listener ${command}: ${problems} (see kalshi-fix-listener ${command} --help)`;

describe('usage errors', () => {
  it.each([
    [[], 'kalshi-fix-listener: no command given (see kalshi-fix-listener --help)'],
    [['nope'], 'kalshi-fix-listener: unknown command: nope (see kalshi-fix-listener --help)'],
    [['help', 'nope'], 'kalshi-fix-listener: unknown command: nope (see kalshi-fix-listener --help)'],
    [['run', 'extra'], usageError('run', "unexpected argument 'extra'")],
    [['reconcile', '--bogus'], usageError('reconcile', "unknown option '--bogus'")],
    [
      ['replay', '--from', 'yesterday'],
      usageError(
        'replay',
        '--from must be an ISO-8601 time; --to must be an ISO-8601 time; --queue is required (an SQS queue URL or file:///path.jsonl); ARCHIVE_URL is required',
      ),
    ],
    [
      ['rebuild-parquet', '--hour', 'x', '--force'],
      usageError('rebuild-parquet', '--hour must be a UTC hour, e.g. 2026-11-23T09; ARCHIVE_URL is required'),
    ],
    [['keygen', '--force=yes'], usageError('keygen', "option '--force' does not take an argument")],
    [['demo', '--listeners', '0'], usageError('demo', '--listeners must be a whole number from 1 to 9')],
    [
      ['sim', '--rt-port', 'x', '--rate=-1'],
      usageError(
        'sim',
        '--rt-port must be a port number from 0 (any free one) to 65535; --rate must be a number of reports per second, 0 or more',
      ),
    ],
  ])('%j: one line on stderr, nothing on stdout, exit 2', async (args, line) => {
    // Act
    const { code, stdout, stderr } = await runCli(args);
    // Assess
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(`${line}\n`);
    expect(stderr).toMatch(REFUSAL);
  });
});

describe('refusals', () => {
  it('carry their code: a key file already there (exit 2), an environment that is wrong (exit 2)', async () => {
    // Prepare
    const dir = tempDir('cli-keygen-');
    const env = { PATH: process.env['PATH'] };
    await runCli(['keygen', '--out', 'k'], { cwd: dir, env });
    // Act
    const again = await runCli(['keygen', '--out', 'k'], { cwd: dir, env });
    const run = await runCli(['run'], { env });
    // Assess
    expect(again.code).toBe(2);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(REFUSAL);
    expect(again.stderr).toMatch(
      new RegExp(`^kalshi-fix-listener keygen: \\[ERR_KEY_FILE_EXISTS\\] ${join(dir, 'k.pem')} already exists; `),
    );
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    // The configuration's problems follow its first line, one per line (DESIGN.md §6).
    expect(run.stderr).toMatch(/^kalshi-fix-listener run: \[ERR_CONFIG\] invalid configuration:\n( {2}- .+\n)+$/);
  });

  it('a failure on the way is exit 1 in the same shape, with its code', async () => {
    // Prepare: a REST endpoint nothing listens on.
    const dir = tempDir('cli-reconcile-');
    const keyFile = join(dir, 'key.pem');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const env = {
      PATH: process.env['PATH'],
      ARCHIVE_URL: `file://${join(dir, 'archive')}`,
      FIX_API_KEY: '0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d',
      FIX_PRIVATE_KEY_FILE: keyFile,
      KALSHI_REST_URL: 'https://127.0.0.1:9',
    };
    // Act
    const { code, stdout, stderr } = await runCli(
      ['reconcile', '--from', '2026-11-23T09:00:00Z', '--to', '2026-11-23T10:00:00Z'],
      { env },
    );
    // Assess
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(REFUSAL);
    expect(stderr).toMatch(
      /^kalshi-fix-listener reconcile: \[ERR_REST_TRANSPORT\] Kalshi REST 127\.0\.0\.1:9 unreachable/,
    );
  });
});

describe('npm start', () => {
  const scripts = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts;

  it('and the other scripts that run dist/ build it with tsc -b: incrementally, and not at all when it is fresh', () => {
    // Prepare
    const buildConfig = JSON.parse(readFileSync(join(REPO, 'tsconfig.build.json'), 'utf8')) as {
      compilerOptions: { incremental?: boolean };
    };
    // Assess
    expect(scripts['build']).toBe('tsc -b tsconfig.build.json && chmod +x dist/src/app/cli.js');
    for (const name of ['start', 'demo', 'sim', 'keygen', 'bench'])
      expect(scripts[name], name).toMatch(/^tsc -b tsconfig\.build\.json && node dist\/\S+\.js\b/);
    expect(buildConfig.compilerOptions.incremental).toBe(true);
  });

  it('starts without compiling when nothing changed', { timeout: 60_000 }, async () => {
    // Prepare: dist/ is fresh (the global setup, test/setup/build.ts); its entry point's time says
    // whether anything rewrote it.
    const before = statSync(CLI).mtimeMs;
    // Act: an empty environment, so `run` refuses as soon as it has started.
    const child = spawn('npm', ['start', '--silent'], {
      cwd: REPO,
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], npm_config_update_notifier: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { exited, output } = captureOutput(child);
    const code = await exited;
    // Assess
    expect(code, output()).toBe(2);
    expect(output()).toMatch(/^kalshi-fix-listener run: \[ERR_CONFIG\] invalid configuration:/m);
    expect(statSync(CLI).mtimeMs).toBe(before);
  });
});

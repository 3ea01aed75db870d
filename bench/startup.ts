/**
 * Section 4b — start-up: process spawn → Logon sent, for the real entry point.
 *
 *   run    `node dist/src/app/cli.js run` configured from the environment (as in production) against
 *          the simulator in the peers process, local sinks: a first start, then restarts on the
 *          same SPOOL_DIR (KalshiRT resumes its sequence numbers, as a restarted task does)
 *   demo   `node dist/src/app/cli.js demo`: also generates an RSA key, a TLS certificate and starts the
 *          simulator in-process before logging on
 *   node   `node -e 0`: the runtime's own spawn-to-exit floor, for scale
 *
 * "Logon sent" is the `TLS connected` log line: the session writes its Logon in the same tick.
 * `logged on` (Kalshi's Logon answer arrived) is reported too. Children get
 * `--import loopback-only.js` so their control plane binds 127.0.0.1 only.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BENCH_API_KEY } from './fixtures.js';
import { Peers } from './peers-client.js';
import { median, round } from './timing.js';

export interface StartupOptions {
  runs: number;
  demoRuns: number;
}

export const DEFAULT_STARTUP_OPTIONS: StartupOptions = { runs: 5, demoRuns: 3 };

export interface StartupResult {
  /** Medians in ms, and every run. */
  run: { logonSentMs: number; loggedOnMs: number; samples: number[] };
  demo: { logonSentMs: number; loggedOnMs: number; samples: number[] };
  nodeBareMs: number;
  /** Time to import dist/src/app/main.js (everything the service loads) and the S3 + SQS SDK clients alone. */
  importMainMs: number;
  importAwsSdkMs: number;
}

const CLI = fileURLToPath(new URL('../src/app/cli.js', import.meta.url));
const LOOPBACK_ONLY = new URL('./loopback-only.js', import.meta.url).href;

/** Spawns the CLI and resolves with the times (ms since spawn) of the two log lines, then stops it. */
async function timeOne(args: string[], env: NodeJS.ProcessEnv): Promise<{ logonSent: number; loggedOn: number }> {
  const start = performance.now();
  const child = spawn(process.execPath, [`--import=${LOOPBACK_ONLY}`, CLI, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    return await new Promise((resolve, reject) => {
      let logonSent = 0;
      const timer = setTimeout(
        () => reject(new Error(`no logon within 20 s; stderr: ${stderr.slice(0, 500)}`)),
        20_000,
      );
      createInterface({ input: child.stdout }).on('line', (line) => {
        const msg = line.startsWith('{') ? (JSON.parse(line) as { msg?: string }).msg : undefined;
        if (msg === 'TLS connected') logonSent = performance.now() - start;
        if (msg === 'logged on') {
          clearTimeout(timer);
          resolve({ logonSent, loggedOn: performance.now() - start });
        }
      });
      child.once('exit', (code) =>
        reject(new Error(`exited with ${code} before logging on; stderr: ${stderr.slice(0, 500)}`)),
      );
    });
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** ms a fresh node spends importing `specifiers`, as the child measures it. */
async function timeImport(specifiers: string[]): Promise<number> {
  const code = `const t = performance.now(); ${specifiers.map((s) => `await import(${JSON.stringify(s)});`).join(' ')} console.log(performance.now() - t);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.once('exit', resolve));
  return Number(out.trim());
}

async function timeBareNode(): Promise<number> {
  const start = performance.now();
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return performance.now() - start;
}

export async function runStartup(options: StartupOptions = DEFAULT_STARTUP_OPTIONS): Promise<StartupResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kfl-bench-start-'));
  const peers = await Peers.start();
  try {
    const keyFile = join(dir, 'key.pem');
    const caFile = join(dir, 'ca.pem');
    writeFileSync(keyFile, peers.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(caFile, peers.address.fix.ca);
    const base = { PATH: process.env['PATH'], HOME: process.env['HOME'], HTTP_PORT: '0', LOG_LEVEL: 'info' };

    const run: Array<{ logonSent: number; loggedOn: number }> = [];
    const spool = join(dir, 'run');
    for (let i = 0; i < options.runs; i++) {
      run.push(
        await timeOne(['run'], {
          ...base,
          FIX_HOST: peers.address.fix.host,
          FIX_PORT: String(peers.address.fix.port),
          FIX_TARGET_COMP_ID: 'KalshiRT',
          FIX_API_KEY: BENCH_API_KEY,
          FIX_PRIVATE_KEY_FILE: keyFile,
          FIX_TLS_CA_FILE: caFile,
          ARCHIVE_URL: `file://${join(spool, 'archive')}`,
          FILLS_QUEUE_URL: `file://${join(spool, 'fills.jsonl')}`,
          SPOOL_DIR: join(spool, 'spool'),
        }),
      );
    }
    const demo: Array<{ logonSent: number; loggedOn: number }> = [];
    for (let i = 0; i < options.demoRuns; i++)
      demo.push(await timeOne(['demo', '--data', join(dir, `demo-${i}`)], base));
    const bare: number[] = [];
    const importMain: number[] = [];
    const importSdk: number[] = [];
    const sdk = ['@aws-sdk/client-s3', '@aws-sdk/client-sqs'].map((p) => import.meta.resolve(p));
    for (let i = 0; i < options.runs; i++) {
      bare.push(await timeBareNode());
      importMain.push(await timeImport([new URL('../src/app/main.js', import.meta.url).href]));
      importSdk.push(await timeImport(sdk));
    }

    const summary = (xs: Array<{ logonSent: number; loggedOn: number }>) => ({
      logonSentMs: Math.round(median(xs.map((x) => x.logonSent))),
      loggedOnMs: Math.round(median(xs.map((x) => x.loggedOn))),
      samples: xs.map((x) => round(x.logonSent, 0)),
    });
    return {
      run: summary(run),
      demo: summary(demo),
      nodeBareMs: Math.round(median(bare)),
      importMainMs: Math.round(median(importMain)),
      importAwsSdkMs: Math.round(median(importSdk)),
    };
  } finally {
    await peers.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

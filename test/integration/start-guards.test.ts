import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KalshiSimulator } from '../../src/sim/simulator.js';
import { tempDir } from '../helpers/records.js';
import { API_KEY, startSimulator, testKeys } from '../helpers/sim.js';
import { spawnTs } from '../helpers/spawn.js';

/**
 * Issue 28 items 1 and 2 with real service processes (`kalshi-fix-listener run` and `demo`): one
 * writer per spool, and nothing connects to the exchange before the spool is locked and the
 * control plane's port bound.
 */

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

interface Exchange {
  sim: KalshiSimulator;
  port: number;
  /** Logons the simulator accepted. */
  logons: () => number;
  /** Connections the test itself made (connectionsSoFar's probes). */
  probes: number;
}

async function exchange(): Promise<Exchange> {
  const lines: string[] = [];
  const { sim, address } = await startSimulator({ ports: { KalshiRT: 0 }, onLog: (line) => lines.push(line) });
  cleanups.push(() => sim.stop());
  return {
    sim,
    port: address.ports.KalshiRT!,
    logons: () => lines.filter((line) => / logged on /.test(line)).length,
    probes: 0,
  };
}

/** `run`'s environment: the simulator's KalshiRT port, local sinks under `root`. */
async function runEnv(root: string, fixPort: number, extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  const caFile = join(root, 'ca.pem');
  writeFileSync(caFile, (await testKeys().certificate).cert);
  return {
    PATH: process.env['PATH'],
    FIX_HOST: '127.0.0.1',
    FIX_PORT: String(fixPort),
    FIX_TARGET_COMP_ID: 'KalshiRT',
    FIX_API_KEY: API_KEY,
    FIX_PRIVATE_KEY: testKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    FIX_TLS_CA_FILE: caFile,
    FIX_HEARTBEAT_S: '3',
    ARCHIVE_URL: `file://${join(root, 'archive')}`,
    ARCHIVE_PARQUET: 'false',
    FILLS_QUEUE_URL: `file://${join(root, 'fills.jsonl')}`,
    SPOOL_DIR: join(root, 'spool'),
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** `kalshi-fix-listener <command>` from the sources, killed after the test if it is still running. */
function service(
  command: 'run' | 'demo',
  options: { cwd?: string; env: NodeJS.ProcessEnv },
): ReturnType<typeof spawnTs> {
  const started = spawnTs('src/app/cli.ts', [command], options);
  cleanups.push(async () => {
    started.child.kill('SIGKILL');
    await started.exited;
  });
  return started;
}

const run = (env: NodeJS.ProcessEnv) => service('run', { env });

/** A `run` on its own simulator with a spool under a fresh `root`, once it has logged on. */
async function loggedOnRun(rootPrefix: string) {
  const ex = await exchange();
  const root = tempDir(rootPrefix);
  const env = await runEnv(root, ex.port);
  const listener = run(env);
  await listener.waitForOutput(/"msg":"logged on"/);
  return { ex, root, env, listener };
}

/**
 * The connections services made to the simulator so far. Waits until it has handled every one
 * made before this call: one of our own, made now, is counted after them (the accept queue is
 * first in, first out). No sleeping.
 */
async function connectionsSoFar(ex: Exchange): Promise<number> {
  const before = ex.sim.connections();
  const probe = createConnection({ host: '127.0.0.1', port: ex.port });
  probe.on('error', () => undefined);
  await new Promise<void>((resolve) => probe.once('connect', () => resolve()));
  await vi.waitFor(() => expect(ex.sim.connections()).toBeGreaterThan(before), { timeout: 5000, interval: 10 });
  probe.destroy();
  ex.probes++;
  return ex.sim.connections() - ex.probes;
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) =>
    statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)],
  );
}

function execIds(lines: string[]): string[] {
  return lines.filter(Boolean).map((line) => (JSON.parse(line) as { exec_id: string }).exec_id);
}

describe('one writer per spool', () => {
  it(
    'a second run on the same SPOOL_DIR exits 2 naming the first, before any connection; the first runs on and loses or doubles nothing',
    { timeout: 90_000 },
    async () => {
      // Prepare: a first listener logged on.
      const { ex, root, env, listener: first } = await loggedOnRun('one-writer-');
      const connectionsBefore = await connectionsSoFar(ex);

      // Act: a second one on the same spool (its own control plane port: HTTP_PORT=0).
      const second = run(env);
      const code = await second.exited;
      const connectionsAfter = await connectionsSoFar(ex);
      ex.sim.emitReports(API_KEY, 40);
      const generated = ex.sim.generated(API_KEY);
      const fillsFile = join(root, 'fills.jsonl');
      const expectedFills = generated.filter((r) => r.execType === 'F').map((r) => r.execId);
      await vi.waitFor(
        () => expect(execIds(readFileSync(fillsFile, 'utf8').split('\n'))).toHaveLength(expectedFills.length),
        { timeout: 20_000, interval: 50 },
      );
      first.child.kill('SIGTERM');
      const firstCode = await first.exited;

      // Assess: refused with its own code, naming the holder; the exchange saw one listener only.
      expect(code).toBe(2);
      expect(second.output()).toMatch(
        new RegExp(
          `SPOOL_DIR .* is in use by another listener: pid ${first.child.pid} on \\S+ since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z holds .*\\.lock \\(ERR_SPOOL_LOCKED\\)`,
        ),
      );
      expect(second.output()).toMatch(/"code":"ERR_SPOOL_LOCKED"/);
      expect(second.output()).not.toMatch(/"msg":"(TLS connected|logged on)"/);
      expect(connectionsAfter).toBe(connectionsBefore);
      expect(connectionsBefore).toBe(1);
      expect(ex.logons()).toBe(1);
      // The first ran on: every report archived once, every fill published once.
      expect(firstCode).toBe(0);
      const archived = execIds(
        files(join(root, 'archive'))
          .filter((path) => path.endsWith('.jsonl.gz'))
          .flatMap((path) => gunzipSync(readFileSync(path)).toString('utf8').split('\n')),
      );
      expect([...archived].sort()).toEqual(generated.map((r) => r.execId).sort());
      expect(execIds(readFileSync(fillsFile, 'utf8').split('\n')).sort()).toEqual([...expectedFills].sort());
    },
  );

  it(
    'a lock left by a SIGKILLed run does not block the next: it starts, logs on and says who left it',
    { timeout: 60_000 },
    async () => {
      // Prepare: a listener logged on, which then dies holding the lock.
      const { root, env, listener: killed } = await loggedOnRun('stale-lock-');

      // Act
      killed.child.kill('SIGKILL');
      await killed.exited;
      const next = run(env);
      await next.waitForOutput(/"msg":"logged on"/);
      next.child.kill('SIGTERM');
      const code = await next.exited;

      // Assess
      expect(next.output()).toMatch(
        new RegExp(`"code":"W_SPOOL_LOCK_LEFT".*SPOOL_DIR was left locked by pid ${killed.child.pid} on `),
      );
      expect(code).toBe(0);
      // A clean stop leaves nothing for the next start to warn about.
      expect(readFileSync(join(root, 'spool', '.lock'), 'utf8')).toBe('');
    },
  );

  it(
    'two demos on one --data folder: the second exits 2 naming the first, which runs on',
    { timeout: 60_000 },
    async () => {
      // Prepare
      const cwd = tempDir('two-demos-');
      const demo = () => service('demo', { cwd, env: { ...process.env, HTTP_PORT: '0', LOG_LEVEL: 'info' } });
      const first = demo();
      await first.waitForOutput(/"msg":"logged on"/);

      // Act
      const second = demo();
      const code = await second.exited;

      // Assess
      expect(code).toBe(2);
      expect(second.output()).toMatch(
        new RegExp(`in use by another listener: pid ${first.child.pid} on .*\\(ERR_SPOOL_LOCKED\\)`),
      );
      expect(second.output()).not.toMatch(/"msg":"(TLS connected|logged on)"/);
      expect(first.child.exitCode).toBeNull();
      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);
    },
  );
});

describe('bind first, log on after', () => {
  it('a start on a busy HTTP_PORT exits 2 without ever connecting to the exchange', { timeout: 60_000 }, async () => {
    // Prepare: the port taken by another process's server.
    const ex = await exchange();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => taken.close());
    const port = (taken.address() as { port: number }).port;
    const root = tempDir('busy-port-');

    // Act
    const service = run(await runEnv(root, ex.port, { HTTP_PORT: String(port) }));
    const code = await service.exited;

    // Assess
    expect(code).toBe(2);
    expect(service.output()).toMatch(
      new RegExp(`invalid configuration:\\n  - HTTP_PORT ${port} on 127\\.0\\.0\\.1 cannot be used \\(EADDRINUSE\\)`),
    );
    expect(await connectionsSoFar(ex)).toBe(0);
    expect(ex.logons()).toBe(0);
    // It let the spool go: the next start on it is not refused.
    expect(readFileSync(join(root, 'spool', '.lock'), 'utf8')).toBe('');
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CommandRefusal } from '../../src/app/cli-command.js';
import { reconcileCommand } from '../../src/app/reconcile-command.js';
import { simCommand } from '../../src/app/sim-command.js';
import { tempDir } from '../helpers/records.js';
import { spawnCli } from '../helpers/cli.js';

/**
 * Issue 31 item 6: `sim` is the recommended setup on a laptop (KalshiRT, the drop copy, Kalshi's
 * REST fills), it prints every variable a listener needs for it, and `reconcile` closes the loop.
 */

/** What a listener on the rig needs, each read from the environment file `sim` writes. */
const RIG_VARIABLES = [
  'FIX_HOST',
  'FIX_PORT',
  'FIX_TARGET_COMP_ID',
  'FIX_API_KEY',
  'FIX_PRIVATE_KEY_FILE',
  'FIX_TLS_CA_FILE',
  'FIX_DC_HOST',
  'FIX_DC_PORT',
  'FIX_DC_API_KEY',
  'FIX_DC_PRIVATE_KEY_FILE',
  'KALSHI_REST_URL',
  'ARCHIVE_URL',
  'ARCHIVE_FLUSH_S',
  'FILLS_QUEUE_URL',
  'SPOOL_DIR',
];

const ANY_PORTS = ['--rt-port', '0', '--dc-port', '0', '--nr-port', '0', '--rest-port', '0'];

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** `sim` in this process until the test ends; what it prints, and its environment file once written. */
async function startRig(args: string[] = []): Promise<{ printed: () => string; rig: Record<string, string> }> {
  const cwd = tempDir('sim-rig-');
  let printed = '';
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const exited = simCommand(
    [...ANY_PORTS, '--dir', 'rig', ...args],
    cwd,
    (text) => (printed += text),
    () => stopped,
  );
  cleanups.push(async () => {
    stop();
    expect(await exited).toBe(0);
  });
  await vi.waitFor(() => expect(printed).toMatch(/^(The|No) order flow/m), {
    timeout: 20_000,
    interval: 20,
  });
  const rig = parseEnv(readFileSync(join(cwd, 'rig', 'listener.env'), 'utf8')) as Record<string, string>;
  return { printed: () => printed, rig };
}

/** The fills a listener published so far (its file queue). */
function fills(rig: Record<string, string>): Array<{ transact_time: string }> {
  const file = new URL(rig['FILLS_QUEUE_URL']!).pathname;
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { transact_time: string });
}

describe('kalshi-fix-listener sim', () => {
  it(
    'drives a local reconcile end to end: a listener run from its printed environment archives what REST lists',
    { timeout: 90_000 },
    async () => {
      // Prepare: the rig, and a listener started from nothing but the environment it printed.
      const { printed, rig } = await startRig(['--rate', '25']);
      const service = spawnCli(['run'], {
        env: { PATH: process.env['PATH'], ...rig, HTTP_PORT: '0', LOG_LEVEL: 'info' },
      });
      cleanups.push(async () => {
        service.child.kill('SIGKILL');
        await service.exited;
      });
      await vi.waitFor(() => expect(printed()).toMatch(/order flow started at (\S+):/), {
        timeout: 20_000,
        interval: 20,
      });
      const from = /order flow started at (\S+):/.exec(printed())![1]!;
      // Whole seconds on both ends: REST takes Unix seconds, so both sides then cut at the same instant.
      const to = new Date(Date.parse(from) + 3000).toISOString();
      // The listener has had everything up to `to` once it published a fill made a second after it
      // (KalshiRT delivers in order).
      await vi.waitFor(
        () => expect(fills(rig).some((f) => Date.parse(f.transact_time) > Date.parse(to) + 1000)).toBe(true),
        { timeout: 30_000, interval: 50 },
      );
      service.child.kill('SIGTERM'); // flushes the open archive objects
      expect(await service.exited, service.output().slice(-2000)).toBe(0);

      // Act: reconcile from the same environment, against the rig's REST endpoint.
      let report = '';
      const code = await reconcileCommand(['--from', from, '--to', to], rig, (text) => (report += text));

      // Assess
      const parsed = JSON.parse(report) as {
        matched: number;
        archivedFills: number;
        restFills: number;
        missingInArchive: unknown[];
        missingAtKalshi: unknown[];
      };
      expect(code, report).toBe(0);
      expect(parsed.matched).toBeGreaterThan(5);
      expect(parsed).toMatchObject({
        archivedFills: parsed.matched,
        restFills: parsed.matched,
        missingInArchive: [],
        missingAtKalshi: [],
      });
      expect(service.output()).toMatch(/"msg":"logged on"/);
      expect(service.output()).not.toContain('BEGIN PRIVATE KEY');
    },
  );

  it('prints every variable of the recommended setup (KalshiRT with the drop copy, REST), exactly as it writes them', async () => {
    // Act
    const { printed, rig } = await startRig(['--rate', '0']);
    // Assess
    expect(Object.keys(rig).sort()).toEqual([...RIG_VARIABLES].sort());
    expect(rig).toMatchObject({ FIX_TARGET_COMP_ID: 'KalshiRT', FIX_HOST: '127.0.0.1', FIX_DC_HOST: '127.0.0.1' });
    expect(rig['FIX_DC_PORT']).not.toBe(rig['FIX_PORT']);
    expect(rig['KALSHI_REST_URL']).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    for (const [name, value] of Object.entries(rig)) expect(printed()).toContain(`\n${name}=${value}\n`);
    expect(readFileSync(rig['FIX_TLS_CA_FILE']!, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(printed()).not.toContain('PRIVATE KEY');
    expect(printed()).toMatch(/No order flow \(--rate 0\)/);
  });

  it('refuses a port in use with exit 2, naming the options that move it', async () => {
    // Prepare
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => taken.close());
    const port = (taken.address() as { port: number }).port;
    // Act
    const refused = await simCommand(
      [...ANY_PORTS, '--rt-port', String(port), '--dir', join(tempDir('sim-rig-'), 'rig')],
      '/',
      () => undefined,
      () => Promise.resolve(),
    ).catch((error: unknown) => error);
    // Assess
    expect(refused).toBeInstanceOf(CommandRefusal);
    expect(refused).toMatchObject({
      exitCode: 2,
      message: `port ${port} cannot be used (EADDRINUSE): give --rt-port, --dc-port, --nr-port or --rest-port another (0: any free one)`,
    });
  });

  it('as a process: prints the environment, then stops on SIGTERM with exit 0', { timeout: 30_000 }, async () => {
    // Prepare
    const cwd = tempDir('sim-cli-');
    const sim = spawnCli(['sim', ...ANY_PORTS, '--dir', 'rig'], { cwd });
    cleanups.push(() => sim.child.kill('SIGKILL'));
    // Act
    await sim.waitForOutput(/starts when the first listener logs on/);
    sim.child.kill('SIGTERM');
    // Assess
    expect(await sim.exited).toBe(0);
    expect(sim.stderr()).toBe('');
    const rig = parseEnv(readFileSync(join(cwd, 'rig', 'listener.env'), 'utf8'));
    expect(Object.keys(rig).sort()).toEqual([...RIG_VARIABLES].sort());
    expect(sim.stdout()).toContain(`\nSPOOL_DIR=${join(cwd, 'rig', 'spool')}\n`);
  });
});

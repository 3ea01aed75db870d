import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommandRefusal } from '../../src/app/cli-command.js';
import type { Config } from '../../src/app/config.js';
import { demoCommand } from '../../src/app/demo-command.js';
import { tempDir } from '../helpers/records.js';

/**
 * What `demo` hands the service, looked at in this process: `serve` is replaced by one that keeps
 * the configurations and stops the simulator. test/integration/demo.test.ts runs the real thing.
 */
async function demo(args: string[], env: NodeJS.ProcessEnv = {}) {
  let printed = '';
  let configs: Config[] = [];
  const code = await demoCommand(
    args,
    { HTTP_PORT: '18080', ...env },
    (text) => (printed += text),
    async (given, cleanup) => {
      configs = given;
      await cleanup();
      return undefined;
    },
  );
  return { code, printed, configs };
}

// The simulator and a listener on it, real TLS and RSA keys: more than the 5 s default on a busy machine.
describe('demoCommand', { timeout: 30_000 }, () => {
  it("points one listener at the simulator's KalshiRT and drop copy, with its data under --data", async () => {
    // Prepare
    const data = tempDir('demo-');
    // Act
    const { code, printed, configs } = await demo(['--data', data, '--rate', '0']);
    // Assess
    expect(code).toBeUndefined();
    expect(configs).toHaveLength(1);
    const [config] = configs;
    expect(config!.fix).toMatchObject({ host: '127.0.0.1', targetCompId: 'KalshiRT' });
    expect(config!.fix.extraCa).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(config!.dropCopy).toMatchObject({ host: '127.0.0.1', apiKey: config!.fix.apiKey });
    expect(config!.dropCopy!.port).not.toBe(config!.fix.port);
    expect(config!.archive).toEqual({ kind: 'file', dir: join(data, 'archive') });
    expect(config!.spoolDir).toBe(join(data, 'spool'));
    expect(config!.httpPort).toBe(18080);
    expect(printed).toContain(`demo: fills in ${join(data, 'fills.jsonl')}`);
    expect(printed).toContain('demo: status page at http://localhost:18080/');
  });

  it('makes a fleet with --listeners: one key, spool, fills file and port each, into one archive', async () => {
    // Prepare
    const data = tempDir('demo-');
    // Act
    const { configs } = await demo(['--listeners', '3', '--rate', '0'], { DATA_DIR: data });
    // Assess
    expect(configs.map((c) => c.listenerName)).toEqual(['listener-1', 'listener-2', 'listener-3']);
    expect(configs.map((c) => c.httpPort)).toEqual([18080, 18081, 18082]);
    expect(configs.map((c) => c.spoolDir)).toEqual([1, 2, 3].map((i) => join(data, 'spool', `listener-${i}`)));
    expect(new Set(configs.map((c) => c.fix.apiKey)).size).toBe(3);
    expect(new Set(configs.map((c) => JSON.stringify(c.archive))).size).toBe(1);
    expect(configs[0]!.fleetStatusUrls.map((u) => u.name)).toEqual(['listener-1', 'listener-2', 'listener-3']);
    expect(configs.map((c) => c.fills)).toEqual(
      [1, 2, 3].map((i) => ({ kind: 'file', path: join(data, 'fills', `listener-${i}.jsonl`) })),
    );
  });

  it('refuses bad arguments with every problem at once (exit 2), and a bad environment with ERR_CONFIG', async () => {
    // Act
    const usage = await demo(['--listeners', '10', '--rate', 'fast']).catch((error: unknown) => error);
    const config = await demo(['--data', tempDir('demo-'), '--rate', '0'], { LOG_LEVEL: 'loud' }).catch(
      (error: unknown) => error,
    );
    // Assess
    expect(usage).toBeInstanceOf(CommandRefusal);
    expect(usage).toMatchObject({
      exitCode: 2,
      usage: true,
      message:
        '--listeners must be a whole number from 1 to 9; --rate must be a number of reports per second, 0 or more',
    });
    expect(config).toMatchObject({ exitCode: 2, code: 'ERR_CONFIG' });
    expect((config as Error).message).toMatch(/LOG_LEVEL/);
  });
});

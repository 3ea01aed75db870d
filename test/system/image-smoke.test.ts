import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RUN_COMMAND, RUNTIME_INSTALL } from '../../infra/image-contract.js';
import type { KalshiSimulator, SimulatorAddress } from '../../src/sim/simulator.js';
import { execForm, instruction, readDockerfile, stageEnv } from '../infra/dockerfile.js';
import { FILL_SCHEMA, validate } from '../infra/json-schema.js';
import { tempDir } from '../helpers/records.js';
import { API_KEY, startSimulator, testKeys } from '../helpers/sim.js';
import { captureOutput, REPO } from '../helpers/spawn.js';

/**
 * What the Dockerfile's runtime stage does, without Docker: compile src/ as the build stage does,
 * install the production dependencies alone with the runtime stage's own command into an empty
 * directory, and start the image's CMD there against the simulator, with local sinks.
 */
const stages = readDockerfile(REPO);
const [buildStage, runtime] = [stages[0]!, stages.at(-1)!];
/** What the build stage removes after compiling (the simulator), relative to /app. */
const removedAfterBuild = instruction(buildStage, 'RUN')
  .flatMap((i) => i.args.split(' && '))
  .filter((command) => command.startsWith('rm -r '))
  .map((command) => command.slice('rm -r '.length));
const installCommand = instruction(runtime, 'RUN')
  .map((i) => i.args.split(' && ')[0]!)
  .find((command) => command.startsWith('npm ci'))!;
const startCommand = execForm(instruction(runtime, 'CMD').at(-1)!.args);

let root: string;
let app: string;
let sim: KalshiSimulator;
let address: SimulatorAddress;

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): void {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 170_000 });
  if (result.status !== 0)
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`,
    );
}

beforeAll(async () => {
  root = tempDir('kfl-image-');
  app = join(root, 'app');
  mkdirSync(app);
  // Build stage: the compiler over src/ only (the image's build context holds nothing else).
  const tsconfig = join(root, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(REPO, 'tsconfig.build.json'),
      compilerOptions: {
        rootDir: REPO,
        outDir: join(app, 'dist'),
        typeRoots: [join(REPO, 'node_modules/@types')],
        sourceMap: false,
      },
      include: [join(REPO, 'src')],
    }),
  );
  run(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], REPO);
  for (const path of removedAfterBuild) rmSync(join(app, path), { recursive: true });
  // Runtime stage: manifests, then the production install, exactly as the Dockerfile runs it.
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(REPO, file), join(app, file));
  const [npm, ...npmArgs] = installCommand.split(' ');
  run(npm!, npmArgs, app, { ...process.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' });
  ({ sim, address } = await startSimulator({ reportsPerSecond: 40 }));
}, 180_000);

afterAll(async () => {
  await sim?.stop();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

describe('the image, without Docker', () => {
  it("uses the Dockerfile's own install and start commands", () => {
    // Assess: what this suite runs is read from the Dockerfile, and equals what the stack expects.
    expect(installCommand.split(' ')).toEqual([...RUNTIME_INSTALL]);
    expect(startCommand).toEqual([...RUN_COMMAND]);
  });

  it('installs production dependencies only', () => {
    // Assess
    const installed = (name: string) => existsSync(join(app, 'node_modules', name, 'package.json'));
    expect(
      ['hono', '@hono/node-server', 'pino', '@aws-sdk/client-s3', '@aws-sdk/client-sqs'].filter(
        (name) => !installed(name),
      ),
    ).toEqual([]);
    expect(['vitest', 'typescript', 'aws-cdk-lib', 'aws-cdk', 'jspurefix', 'tsx', 'fauxqs'].filter(installed)).toEqual(
      [],
    );
    expect(existsSync(join(app, 'dist/src/app/cli.js'))).toBe(true);
  });

  it("leaves the simulator out: its code and its certificate package's tree", () => {
    // Assess
    const installed = (name: string) => existsSync(join(app, 'node_modules', name, 'package.json'));
    expect(removedAfterBuild).toEqual(['dist/src/sim']);
    expect(existsSync(join(app, 'dist/src/sim'))).toBe(false);
    expect(['selfsigned', '@peculiar/x509', 'pkijs', 'asn1js', '@noble/hashes', 'tsyringe'].filter(installed)).toEqual(
      [],
    );
  });

  it('says so when asked for demo or sim, in the one refusal shape with exit 2; --help still works there', () => {
    // Act
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['dist/src/app/cli.js', ...args], { cwd: app, encoding: 'utf8', timeout: 30_000 });
    const demo = cli('demo');
    const sim = cli('sim', '--dir', join(root, 'sim'));
    const help = cli('sim', '--help');
    // Assess
    for (const [name, result] of [
      ['demo', demo],
      ['sim', sim],
    ] as const) {
      expect(result.status, result.stderr).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(
        new RegExp(
          `^kalshi-fix-listener ${name}: the Kalshi simulator is not installed here .*npm ci && npm run sim.*\\n$`,
        ),
      );
    }
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: kalshi-fix-listener sim /);
  });

  it(
    'starts with the image CMD, answers /healthz, logs on, publishes fills in the documented schema, and exits 0 on SIGTERM',
    { timeout: 60_000 },
    async () => {
      // Prepare: the Dockerfile's environment, with local paths and what ECS would inject.
      const data = join(root, 'data');
      mkdirSync(data);
      const caFile = join(root, 'ca.pem');
      writeFileSync(caFile, address.ca);
      const pem = testKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const env: NodeJS.ProcessEnv = {
        PATH: process.env['PATH'],
        ...stageEnv(runtime),
        SPOOL_DIR: join(data, 'spool'),
        HTTP_PORT: '0',
        FIX_HOST: address.host,
        FIX_PORT: String(address.ports.KalshiNR),
        FIX_TARGET_COMP_ID: 'KalshiNR',
        FIX_API_KEY: API_KEY,
        FIX_PRIVATE_KEY: pem,
        FIX_TLS_CA_FILE: caFile,
        ARCHIVE_URL: pathToFileURL(join(data, 'archive')).href,
        FILLS_QUEUE_URL: pathToFileURL(join(data, 'fills.jsonl')).href,
        CONTROL_TOKEN: 'smoke-test-control-token-0123456789',
        LOG_LEVEL: 'info',
      };
      const [command, ...args] = startCommand;
      const child = spawn(command === 'node' ? process.execPath : command!, args, {
        cwd: app,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const { output: printed, exited, waitForOutput } = captureOutput(child);
      try {
        // Act
        const port = Number((await waitForOutput(/"httpPort":(\d+)/))[1]);
        const health = await fetch(`http://127.0.0.1:${port}/healthz`);
        let state = '';
        await vi.waitFor(
          async () => {
            // With CONTROL_TOKEN set, every route but /healthz and /readyz needs it.
            const response = await fetch(`http://127.0.0.1:${port}/status`, {
              headers: { authorization: `Bearer ${env['CONTROL_TOKEN']}` },
            });
            state = ((await response.json()) as { session: { state: string } }).session.state;
            expect(state, 'the session to log on').toBe('active');
          },
          { timeout: 20_000, interval: 50 },
        );
        const fillsFile = join(data, 'fills.jsonl');
        await vi.waitFor(
          () => {
            const lines = existsSync(fillsFile) ? readFileSync(fillsFile, 'utf8').split('\n').filter(Boolean) : [];
            expect(lines.length, 'fills').toBeGreaterThanOrEqual(3);
          },
          { timeout: 20_000, interval: 50 },
        );
        child.kill('SIGTERM');
        const code = await exited;
        const output = printed();
        // Assess
        expect(health.status).toBe(200);
        expect(state).toBe('active');
        const fills = readFileSync(fillsFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as unknown);
        expect(fills.flatMap((fill) => validate(FILL_SCHEMA, fill))).toEqual([]);
        expect(code, output.slice(-2000)).toBe(0);
        expect(output).toMatch(/stopped cleanly/);
        expect(output).not.toContain('BEGIN PRIVATE KEY');
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    },
  );
});

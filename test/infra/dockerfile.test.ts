import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  HEALTH_CHECK_SCRIPT,
  HTTP_PORT,
  RUN_COMMAND,
  RUNTIME_INSTALL,
  RUNTIME_USER,
  SPOOL_DIR,
} from '../../infra/image-contract.js';
import { execForm, instruction, readDockerfile, stageEnv } from './dockerfile.js';
import { REPO } from './synth.js';

const packageJson = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

// The stack (EFS owner, mount path, health check, command) depends on these lines of the Dockerfile.
describe('Dockerfile', () => {
  const stages = readDockerfile(REPO);
  const build = stages[0]!;
  const runtime = stages.at(-1)!;

  it('builds in one stage and runs in another, both on the same Node 22 LTS slim image pinned to a full version', () => {
    // Assess
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    expect(build.image).toMatch(/^node:22\.\d+\.\d+-bookworm-slim$/);
    expect(runtime.image).toBe(build.image);
  });

  it('compiles with the dev dependencies and installs only production ones, exactly as the smoke test does', () => {
    // Prepare
    const buildRuns = instruction(build, 'RUN').map((i) => i.args);
    const runtimeRuns = instruction(runtime, 'RUN').map((i) => i.args);
    // Assess
    expect(buildRuns).toContain('npm ci --ignore-scripts --no-audit --no-fund');
    expect(buildRuns.flatMap((r) => r.split(' && '))).toContain('npm run build');
    expect(
      runtimeRuns.some((r) => r.startsWith(`${RUNTIME_INSTALL.join(' ')} `) || r === RUNTIME_INSTALL.join(' ')),
    ).toBe(true);
    expect(instruction(runtime, 'COPY').map((i) => i.args)).toContain('--from=build /app/dist/src ./dist/src');
  });

  it('leaves the simulator out: its compiled code dropped after the build, its certificate package a dev dependency', () => {
    // Prepare
    const build = instruction(stages[0]!, 'RUN').find((i) => i.args.startsWith('npm run build'))!;
    // Assess: the runtime stage copies dist/src, from which src/sim's output is gone.
    expect(build.args.split(' && ')).toEqual(['npm run build', 'rm -r dist/src/sim']);
    expect(packageJson.dependencies).not.toHaveProperty('selfsigned');
    expect(packageJson.devDependencies).toHaveProperty('selfsigned');
  });

  it('runs the package bin with `run` as the non-root node user, from the working directory the command expects', () => {
    // Prepare
    const cmd = execForm(instruction(runtime, 'CMD').at(-1)!.args);
    // Assess
    expect(cmd).toEqual([...RUN_COMMAND]);
    expect(Object.values(packageJson.bin)).toContain(cmd[1]);
    expect(instruction(runtime, 'USER').at(-1)!.args).toBe(RUNTIME_USER.name);
    expect(instruction(runtime, 'WORKDIR').at(-1)!.args).toBe('/app');
    expect(instruction(runtime, 'STOPSIGNAL').at(-1)!.args).toBe('SIGTERM');
  });

  it('keeps the spool on a volume owned by the runtime user and exposes the control plane port', () => {
    // Prepare
    const env = stageEnv(runtime);
    // Assess
    expect(env).toMatchObject({ NODE_ENV: 'production', SPOOL_DIR, HTTP_PORT: String(HTTP_PORT) });
    expect(execForm(instruction(runtime, 'VOLUME').at(-1)!.args)).toEqual([SPOOL_DIR]);
    expect(instruction(runtime, 'RUN').map((i) => i.args)).toContain(
      `mkdir -p ${SPOOL_DIR} && chown ${RUNTIME_USER.name}:${RUNTIME_USER.name} ${SPOOL_DIR}`,
    );
    expect(instruction(runtime, 'EXPOSE').at(-1)!.args).toBe(String(HTTP_PORT));
  });

  it('health-checks /healthz with node itself (no curl in slim), the same probe the ECS task uses', () => {
    // Prepare
    const healthcheck = instruction(runtime, 'HEALTHCHECK').at(-1)!.args;
    const probe = execForm(healthcheck.slice(healthcheck.indexOf('CMD ') + 4));
    // Assess
    expect(probe).toEqual(['node', '-e', HEALTH_CHECK_SCRIPT]);
    expect(HEALTH_CHECK_SCRIPT).toContain('/healthz');
  });
});

describe('.dockerignore', () => {
  it('lets only the manifests, compiler settings and src/ into the build context', () => {
    // Prepare
    const patterns = readFileSync(join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    // Assess: everything is excluded first, then the allow-list.
    expect(patterns[0]).toBe('*');
    expect(patterns.slice(1).sort()).toEqual([
      '!package-lock.json',
      '!package.json',
      '!src',
      '!tsconfig.build.json',
      '!tsconfig.json',
    ]);
  });
});

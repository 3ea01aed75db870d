import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { captureOutput, REPO, type CapturedOutput, type PipedChild } from './spawn.js';

/** The built CLI, as the package's `bin` and the image run it. */
export const CLI = join(REPO, 'dist/src/app/cli.js');

let built = false;

/**
 * Brings dist/ up to date, as `npm start` does (`tsc -b`: nothing written when it already is).
 * Test files run in parallel workers: flock(1) lets one compile while the others wait, so no
 * child ever loads a file another compiler is halfway through writing.
 */
export function ensureBuilt(): void {
  if (built) return;
  mkdirSync(join(REPO, 'dist'), { recursive: true });
  const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
  const result = spawnSync(
    'flock',
    [join(REPO, 'dist/.build.lock'), process.execPath, tsc, '-b', 'tsconfig.build.json'],
    { cwd: REPO, encoding: 'utf8' },
  );
  if (result.status !== 0)
    throw new Error(`tsc -b failed (${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  built = true;
}

/** The built CLI in a child process, both streams captured (and kept apart). */
export function spawnCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CapturedOutput & { child: PipedChild; stdout: () => string; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? REPO,
    env: options.env ?? { PATH: process.env['PATH'] },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, ...captureOutput(child), stdout: () => stdout, stderr: () => stderr };
}

/** A command that ends by itself: its exit code and what it wrote to each stream. */
export async function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = spawnCli(args, options);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { captureOutput, REPO, type CapturedOutput, type PipedChild } from './spawn.js';

/** The built CLI, as the package's `bin` and the image run it (built by test/setup/build.ts). */
export const CLI = join(REPO, 'dist/src/app/cli.js');

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

/** Every `.ts` file under `dir`, as paths. */
function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourcesUnder(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * Whether dist/ holds a build of every file under src/ at least as new as its source, as `tsc -b`
 * leaves it: then the built CLI runs the code as it is. Nothing is built here (the
 * tests' global setup, test/setup/build.ts, builds it).
 */
export function distIsFresh(): boolean {
  return sourcesUnder(join(REPO, 'src')).every((source) => {
    const built = join(REPO, 'dist', relative(REPO, source)).replace(/\.ts$/, '.js');
    return existsSync(built) && statSync(built).mtimeMs >= statSync(source).mtimeMs;
  });
}

/**
 * The CLI as a child process runs it without building first: the built one when dist/ is fresh
 * (as `npx kalshi-fix-listener` and the image run it), else its sources through tsx.
 */
export function cliArgv(): { argv: string[]; fromDist: boolean } {
  if (distIsFresh()) return { argv: [process.execPath, CLI], fromDist: true };
  const tsx = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
  return { argv: [process.execPath, '--import', tsx, join(REPO, 'src/app/cli.ts')], fromDist: false };
}

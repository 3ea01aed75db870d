import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

export const REPO = join(import.meta.dirname, '../..');
const TSX = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;

/**
 * Where the tests' global setup (test/setup/build.ts) built an entry point: `src/app/cli.ts` →
 * dist/src/app/cli.js (`tsc -b`), `test/fixtures/x.ts` → dist/test/fixtures/x.js (transpiled).
 */
export function builtPath(entry: string): string {
  if (!/^(src|test\/fixtures)\/.+\.ts$/.test(entry)) throw new Error(`${entry} is not built for the tests`);
  return join(REPO, 'dist', entry.replace(/\.ts$/, '.js'));
}

/** A child process with both output streams piped. */
export type PipedChild = ChildProcessByStdio<null, Readable, Readable>;

export interface CapturedOutput {
  /** Everything written to stdout and stderr so far, interleaved as it arrived. */
  output: () => string;
  /** The exit code, once the process has exited and both streams are closed (all output read). */
  exited: Promise<number | null>;
  /**
   * Resolves with the first match of `pattern` in the output, checked on every chunk as it arrives
   * (no polling); rejects, with the output, when the process ends or the time runs out first.
   */
  waitForOutput: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
}

/** Collects a child's stdout and stderr and lets a test wait for what it prints. */
export function captureOutput(child: PipedChild): CapturedOutput {
  let output = '';
  let closed = false;
  const listeners = new Set<() => void>();
  const onChunk = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', onChunk);
  child.stderr.on('data', onChunk);
  // 'close' comes after 'exit' and after both streams ended: nothing printed is missed.
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      closed = true;
      for (const listener of listeners) listener();
      resolve(code);
    }),
  );
  const waitForOutput = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      const check = () => {
        const match = pattern.exec(output);
        if (match !== null) {
          done();
          resolve(match);
        } else if (closed) {
          done();
          reject(new Error(`the process ended with no output matching ${pattern}; got:\n${output.slice(-3000)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no output matching ${pattern} within ${timeoutMs} ms; got:\n${output.slice(-3000)}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  return { output: () => output, exited, waitForOutput };
}

/**
 * Runs a TypeScript entry point of the repo (a path such as `src/app/cli.ts`) in a child process,
 * from any working directory. One under src/ or test/fixtures/ runs as built into dist/ by the
 * global setup, as the image runs it: a child starts in ~0.1 s, against ~0.4 s through tsx. Any
 * other (examples/, run with `node --import tsx` as their headers say) runs through tsx.
 */
export function spawnTs(
  entry: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CapturedOutput & { child: PipedChild } {
  const built = /^(src|test\/fixtures)\//.test(entry);
  const command = built ? [builtPath(entry)] : ['--import', TSX, join(REPO, entry)];
  const child = spawn(process.execPath, [...command, ...args], {
    cwd: options.cwd ?? REPO,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { child, ...captureOutput(child) };
}

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

export const REPO = join(import.meta.dirname, '../..');
const TSX = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;

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

/** Runs a TypeScript entry point of the repo in a child process, from any working directory. */
export function spawnTs(
  entry: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CapturedOutput & { child: PipedChild } {
  const child = spawn(process.execPath, ['--import', TSX, join(REPO, entry), ...args], {
    cwd: options.cwd ?? REPO,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { child, ...captureOutput(child) };
}

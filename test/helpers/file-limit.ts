import { spawn } from 'node:child_process';
import { builtPath, captureOutput, REPO } from './spawn.js';

/**
 * A real failed append: runs test/fixtures/append-over-limit.ts (as built into dist/) in a process
 * whose file size limit is one block (`ulimit -f 1`: 512 or 1024 bytes), so an append crossing it
 * is written in part and refused for the rest (EFBIG), as a disk filling up mid-write does.
 * Resolves with what the fixture printed: `{ ok, codes }`.
 */
export async function appendOverLimit(kind: 'holes' | 'fills', path: string, bytes: number): Promise<unknown> {
  const fixture = builtPath('test/fixtures/append-over-limit.ts');
  const child = spawn(
    'bash',
    ['-c', 'ulimit -f 1 && exec "$0" "$@"', process.execPath, fixture, kind, path, String(bytes)],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output = captureOutput(child);
  const line = await output.waitForOutput(/^\{"ok".*\}$/m, 20_000);
  await output.exited;
  return JSON.parse(line[0]);
}

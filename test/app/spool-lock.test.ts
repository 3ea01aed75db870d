import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockSpool, type SpoolLock } from '../../src/app/spool-lock.js';
import { isListenerError, type ListenerError } from '../../src/core/errors.js';
import { tempDir } from '../helpers/records.js';
import { spawnTs } from '../helpers/spawn.js';

/** Whether util-linux flock(1), a process of its own, can take the lock now: the real check. */
function freeForFlock(dir: string): boolean {
  return spawnSync('flock', ['--nonblock', '--exclusive', join(dir, LOCK_FILE), 'true']).status === 0;
}

async function refusal(dir: string): Promise<ListenerError> {
  try {
    (await lockSpool(dir)).release();
  } catch (error) {
    if (isListenerError(error)) return error;
    throw error;
  }
  throw new Error('expected the lock to be refused');
}

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

function held(lock: SpoolLock): SpoolLock {
  cleanups.push(() => lock.release());
  return lock;
}

/** A process of the fixture holding `dir`'s lock; killed after the test. */
async function holderProcess(dir: string): Promise<ReturnType<typeof spawnTs>> {
  const holder = spawnTs('test/fixtures/spool-lock-child.ts', [dir]);
  cleanups.push(async () => {
    holder.child.kill('SIGKILL');
    await holder.exited;
  });
  await holder.waitForOutput(/locked \d+/);
  return holder;
}

describe('lockSpool', () => {
  it('takes an exclusive flock on SPOOL_DIR/.lock and writes who holds it', async () => {
    // Prepare
    const dir = tempDir('lock-');

    // Act
    const lock = held(await lockSpool(dir, { now: () => Date.parse('2026-11-29T10:00:00.000Z') }));

    // Assess: flock(1) in another process is refused; no helper process is left holding it.
    expect(lock.path).toBe(join(dir, '.lock'));
    expect(lock.previous).toBeUndefined();
    expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toEqual({
      pid: process.pid,
      host: hostname(),
      since: '2026-11-29T10:00:00.000Z',
    });
    expect(freeForFlock(dir)).toBe(false);
  });

  it('refuses a second holder with ERR_SPOOL_LOCKED naming the first: pid, host and since', async () => {
    // Prepare
    const dir = tempDir('lock-');
    held(await lockSpool(dir, { now: () => Date.parse('2026-11-29T10:00:00.000Z') }));

    // Act
    const error = await refusal(dir);

    // Assess
    expect(error.code).toBe('ERR_SPOOL_LOCKED');
    expect(error.message).toBe(
      `SPOOL_DIR ${dir} is in use by another listener: pid ${process.pid} on ${hostname()} since 2026-11-29T10:00:00.000Z holds ${join(dir, '.lock')}`,
    );
    expect(error.details).toEqual({
      spoolDir: dir,
      holder: { pid: process.pid, host: hostname(), since: '2026-11-29T10:00:00.000Z' },
    });
  });

  it('is released by a clean release, which empties the file so the next holder hears of no one', async () => {
    // Prepare
    const dir = tempDir('lock-');
    const first = await lockSpool(dir);

    // Act
    first.release();
    first.release(); // a second call does nothing
    const freeAfterRelease = freeForFlock(dir);
    const second = held(await lockSpool(dir));

    // Assess
    expect(freeAfterRelease).toBe(true);
    expect(second.previous).toBeUndefined();
  });

  it('holds against another process until that process is killed; the next one then takes it and names the dead holder', async () => {
    // Prepare: a real process holding the lock.
    const dir = tempDir('lock-');
    const holder = await holderProcess(dir);
    const pid = holder.child.pid!;

    // Act
    const whileAlive = await refusal(dir);
    holder.child.kill('SIGKILL');
    await holder.exited;
    const lock = held(await lockSpool(dir));

    // Assess: refused while it lived; after SIGKILL the lock was free though its file remained.
    expect(whileAlive.code).toBe('ERR_SPOOL_LOCKED');
    expect(whileAlive.message).toContain(`pid ${pid} on ${hostname()} since `);
    expect(lock.previous).toMatchObject({ pid, host: hostname() });
    expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid });
  });

  it('is refused while any other flock user holds the file, even one that wrote no name', async () => {
    // Prepare: util-linux flock(1) holding the file around a shell that says so, then waits on stdin.
    const dir = tempDir('lock-');
    writeFileSync(join(dir, LOCK_FILE), '');
    const other = spawn('flock', ['--exclusive', join(dir, LOCK_FILE), 'sh', '-c', 'echo held; exec cat'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    const otherExited = new Promise((resolve) => other.once('exit', resolve));
    cleanups.push(async () => {
      other.stdin.end();
      await otherExited;
    });
    await new Promise<void>((resolve, reject) => {
      other.once('error', reject);
      other.stdout.once('data', () => resolve());
    });

    // Act
    const error = await refusal(dir);

    // Assess
    expect(error.code).toBe('ERR_SPOOL_LOCKED');
    expect(error.message).toContain('is in use by another listener: a process that has not written its name yet');
  });

  it('fails with ERR_SPOOL_LOCK_FAILED, naming util-linux, when flock(1) is missing', async () => {
    // Prepare
    const dir = tempDir('lock-');

    // Act
    let error: unknown;
    await lockSpool(dir, { flock: 'no-such-flock-program' }).catch((e: unknown) => (error = e));

    // Assess: nothing holds the spool after the failure.
    expect(error).toMatchObject({ code: 'ERR_SPOOL_LOCK_FAILED', cause: { code: 'ENOENT' } });
    expect((error as Error).message).toMatch(
      /no-such-flock-program not found: the lock needs flock\(1\) from util-linux/,
    );
    expect(freeForFlock(dir)).toBe(true);
  });
});

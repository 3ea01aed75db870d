import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ListenerError } from '../core/errors.js';

/** The lock file, in SPOOL_DIR itself (the journal and cursors ignore names they do not know). */
export const LOCK_FILE = '.lock';

/** Who holds a spool, as its lock file says: enough for an operator to find the process. */
export interface SpoolHolder {
  pid: number;
  host: string;
  /** When it took the lock, ISO-8601 UTC. */
  since: string;
}

export interface SpoolLock {
  readonly path: string;
  /**
   * What the lock file held when the lock was taken: a holder that died without releasing it (a
   * crash, SIGKILL, a lost task). The lock itself was free; a clean release empties the file.
   */
  readonly previous: SpoolHolder | string | undefined;
  /**
   * Why our name is not in the lock file (a full disk): the lock is held all the same, and a second
   * listener is still refused, only without being told who holds it. A full spool must not turn a
   * restart into a loop of refusals.
   */
  readonly unnamed: NodeJS.ErrnoException | undefined;
  /** Empties the lock file and lets the lock go (a clean stop). Once only; later calls do nothing. */
  release(): void;
}

export interface LockSpoolOptions {
  /** The flock(1) program (util-linux); tests name a missing one. */
  flock?: string;
  now?: () => number;
  pid?: number;
}

/** flock(1)'s exit code when the lock is held elsewhere (EX_TEMPFAIL), told apart from its errors. */
const HELD = 75;

/**
 * Takes the exclusive lock on `dir` that keeps a second listener off the same spool (DESIGN.md §1),
 * or throws ERR_SPOOL_LOCKED naming the holder.
 *
 * The lock is a real flock(2) on `dir/.lock`, which NFSv4.1 (EFS) honours: Node has no flock, so
 * util-linux's flock(1) takes it on our own open file description, passed to it as fd 3, and
 * exits. A flock belongs to the open file description, not to the process that asked for it, so
 * the lock stays with the descriptor this process keeps open until it exits — however it exits,
 * SIGKILL included, since the kernel closes it then. No helper process stays behind to be killed
 * on its own (a Ctrl-C reaches the whole process group) and leave the spool unguarded.
 */
export async function lockSpool(dir: string, options: LockSpoolOptions = {}): Promise<SpoolLock> {
  const path = join(dir, LOCK_FILE);
  let fd: number;
  try {
    // Read-write without truncating: what a dead holder left is read before it is replaced.
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  } catch (cause) {
    throw lockFailed(dir, `cannot open ${path} (${(cause as NodeJS.ErrnoException).code ?? 'unknown'})`, cause);
  }
  let outcome: 'taken' | 'held';
  try {
    outcome = await flockExclusive(fd, dir, options.flock ?? 'flock');
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  if (outcome === 'held') {
    const holder = readHolder(fd);
    closeSync(fd);
    throw lockedBy(dir, path, holder);
  }
  const previous = readHolder(fd);
  const holder: SpoolHolder = {
    pid: options.pid ?? process.pid,
    host: hostname(),
    since: new Date((options.now ?? Date.now)()).toISOString(),
  };
  let unnamed: NodeJS.ErrnoException | undefined;
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(holder)}\n`, 0);
    // On NFS another client reads it only once it is written back: a second task names us.
    fsyncSync(fd);
  } catch (cause) {
    unnamed = cause as NodeJS.ErrnoException;
  }
  let held = true;
  return {
    path,
    previous,
    unnamed,
    release: () => {
      if (!held) return;
      held = false;
      try {
        ftruncateSync(fd, 0);
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** Runs `flock --exclusive --nonblock 3` on `fd`: `held` when another open file holds it. */
function flockExclusive(fd: number, dir: string, program: string): Promise<'taken' | 'held'> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, ['--exclusive', '--nonblock', '--conflict-exit-code', String(HELD), '3'], {
      stdio: ['ignore', 'ignore', 'pipe', fd],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (cause: NodeJS.ErrnoException) =>
      reject(
        lockFailed(
          dir,
          cause.code === 'ENOENT'
            ? `${program} not found: the lock needs flock(1) from util-linux (Debian: apt-get install util-linux)`
            : `cannot run ${program} (${cause.code ?? cause.message})`,
          cause,
        ),
      ),
    );
    child.once('close', (code, signal) => {
      if (code === 0) resolve('taken');
      else if (code === HELD) resolve('held');
      else
        reject(
          lockFailed(
            dir,
            `${program} failed (${signal ?? `exit ${code}`}${stderr.trim() === '' ? '' : `: ${stderr.trim()}`})`,
          ),
        );
    });
  });
}

/** What the lock file says: a holder, its raw text when it is not one, or undefined when empty. */
function readHolder(fd: number): SpoolHolder | string | undefined {
  const size = Math.min(fstatSync(fd).size, 4096);
  const buffer = Buffer.alloc(size);
  const text = buffer
    .subarray(0, readSync(fd, buffer, 0, size, 0))
    .toString('utf8')
    .trim();
  if (text === '') return undefined;
  try {
    const value = JSON.parse(text) as Partial<SpoolHolder>;
    if (typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.since === 'string')
      return { pid: value.pid, host: value.host, since: value.since };
  } catch {
    // not ours: shown as it is
  }
  return text.slice(0, 200);
}

/** "pid 41 on ip-10-0-1-7 since 2026-11-29T10:00:00.000Z", or what stands in for it. */
export function describeHolder(holder: SpoolHolder | string | undefined): string {
  if (holder === undefined) return 'a process that has not written its name yet';
  if (typeof holder === 'string') return `a process whose lock file says ${JSON.stringify(holder)}`;
  return `pid ${holder.pid} on ${holder.host} since ${holder.since}`;
}

function lockedBy(dir: string, path: string, holder: SpoolHolder | string | undefined): ListenerError {
  return new ListenerError(
    'ERR_SPOOL_LOCKED',
    `SPOOL_DIR ${dir} is in use by another listener: ${describeHolder(holder)} holds ${path}`,
    { details: { spoolDir: dir, holder: holder ?? null } },
  );
}

function lockFailed(dir: string, reason: string, cause?: unknown): ListenerError {
  return new ListenerError('ERR_SPOOL_LOCK_FAILED', `cannot lock SPOOL_DIR ${dir}: ${reason}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { spoolDir: dir },
  });
}

import { readdirSync, readFileSync } from 'node:fs';

/** What this process has in flight that is file-system work: requests (callback or promise) and closes. */
function fsWork(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('FSReq') || r === 'CloseReq');
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Resolves once this process has no file-system work in flight at two turns of the event loop in a
 * row: whatever file operations the code under test had started have ended, and so have the ones
 * it chained on them. For a test that checks something did not happen: it waits until that had
 * every chance to, instead of sleeping a while and hoping that was long enough.
 */
export async function fsIdle(timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let quiet = 0; quiet < 2;) {
    await nextTurn();
    quiet = fsWork().length === 0 ? quiet + 1 : 0;
    if (quiet === 0 && Date.now() > deadline)
      throw new Error(`file-system work still in flight after ${timeoutMs} ms: ${fsWork().join(', ')}`);
  }
}

/** open(2) and openat(2) by architecture: what a thread blocked opening a file shows in /proc. */
const OPEN_SYSCALLS: Partial<Record<NodeJS.Architecture, number[]>> = { x64: [2, 257], arm64: [56] };

/**
 * True while a thread of this process (a libuv thread-pool thread: node:fs works there) is
 * blocked opening a FIFO that has no reader yet. Linux only: read from /proc/self/task, the
 * kernel's wait for the other end (wchan), or, where the kernel hides that, the open system call
 * the thread sits in.
 */
export function blockedOpeningFifo(): boolean {
  const opens = OPEN_SYSCALLS[process.arch] ?? [];
  return readdirSync('/proc/self/task').some((tid) => {
    const read = (name: string) => {
      try {
        return readFileSync(`/proc/self/task/${tid}/${name}`, 'utf8').trim();
      } catch {
        return '';
      }
    };
    const wchan = read('wchan');
    if (wchan === 'wait_for_partner' || wchan === 'fifo_open') return true;
    return (wchan === '' || wchan === '0') && opens.includes(Number(read('syscall').split(' ')[0]));
  });
}

/**
 * CPU of a process's descendants, for the processes the benchmark forks to host one client each
 * (client-process.ts): what that client started (the listener's Parquet builder runs as a child
 * process) is its cost too, but `process.cpuUsage()` sees only the process itself.
 *
 * From /proc (Linux): the live descendants' utime + stime + cutime + cstime (found through
 * /proc/<pid>/task/<pid>/children: children started from a process's main thread, as
 * node:child_process starts them; one started from a worker thread would be missed), plus this
 * process's cutime + cstime, which holds every child that ended and was reaped. Both are running totals, so the difference of two readings is what the
 * descendants spent between them, whether a child ran through, started or ended in the window.
 * Resolution: the kernel's tick (10 ms at USER_HZ = 100).
 */
import { readFileSync } from 'node:fs';

const TICK_US = 10_000;

/** utime, stime, cutime, cstime of a process, in ticks; undefined when it is gone. */
function times(pid: number | 'self'): [number, number, number, number] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name (which may hold spaces): state is field 3; utime 14, stime 15, cutime 16, cstime 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [Number(fields[11]), Number(fields[12]), Number(fields[13]), Number(fields[14])];
  } catch {
    return undefined;
  }
}

/** Children started from the main thread of `pid` (a sample costs a few file reads, not one per thread). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter((child) => child.trim() !== '')
      .map(Number);
  } catch {
    return []; // gone while we looked
  }
}

/**
 * CPU µs spent so far by every descendant of this process (running or ended), or null where
 * /proc is not there. Compare two readings.
 */
export function descendantsCpuUs(): number | null {
  const self = times('self');
  if (self === undefined) return null;
  let ticks = self[2] + self[3];
  const pending = childrenOf(process.pid);
  const seen = new Set<number>();
  while (pending.length > 0) {
    const pid = pending.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const t = times(pid);
    if (t === undefined) continue; // ended and reaped between the listing and the read: in cutime next time
    ticks += t[0] + t[1] + t[2] + t[3];
    pending.push(...childrenOf(pid));
  }
  return ticks * TICK_US;
}

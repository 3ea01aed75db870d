import { accessSync, constants, mkdtempSync, rmSync, statfsSync } from 'node:fs';

const MIN_FREE_BYTES = 2 * 1024 ** 3;

/**
 * Global setup of `npm test`: the tests' scratch directories (tempDir(), anything under
 * os.tmpdir()) on a tmpfs when the machine has one (/dev/shm), in a folder of this run that is
 * removed after it. The spools the tests write fsync at every commit; on a disk those syncs were
 * most of the time of the damage and exactly-once property suites (40 s against 11 s), and what
 * they check (file contents after restarts, damage, kills of the process) does not depend on the
 * disk. The suites that need a real filesystem's limits mount their own (`npm run test:system`).
 */
export default function setup(): (() => void) | undefined {
  // Once a run: the configuration and each of its projects call it.
  if (process.env['KFL_TEST_SCRATCH'] !== undefined) return undefined;
  try {
    accessSync('/dev/shm', constants.W_OK);
    // A container's default /dev/shm (64 MiB) is too small for the suites' spools: the disk then.
    const { bavail, bsize } = statfsSync('/dev/shm');
    if (bavail * bsize < MIN_FREE_BYTES) return undefined;
  } catch {
    return undefined;
  }
  const dir = mkdtempSync('/dev/shm/kfl-test-');
  // The workers start after this and inherit it; os.tmpdir() reads it at each call.
  process.env['KFL_TEST_SCRATCH'] = dir;
  process.env['TMPDIR'] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}

import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { tempDir } from './records.js';

/**
 * A spool folder on a tmpfs of `size` (as mount's `-o size=` takes it: `8m`, `64k`), mounted before
 * the file's tests and unmounted and removed after them: a disk that really fills up, with the
 * kernel's own ENOSPC. Mounting needs root (CI runs `npm run test:system` as root). Call it at the
 * top of a test file: the mount and unmount are hooks of that file.
 */
export function tmpfsSpool(rootPrefix: string, size: string): string {
  const root = tempDir(rootPrefix);
  const spool = join(root, 'spool');
  beforeAll(() => {
    mkdirSync(spool);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', spool], { encoding: 'utf8' });
    if (mounted.status !== 0)
      throw new Error(`npm run test:system mounts a tmpfs and needs root: mount said ${mounted.stderr.trim()}`);
  });
  afterAll(() => {
    spawnSync('umount', [spool]);
    rmSync(root, { recursive: true, force: true });
  });
  return spool;
}

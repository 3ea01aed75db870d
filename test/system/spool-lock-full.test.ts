import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockSpool } from '../../src/app/spool-lock.js';
import { tempDir } from '../helpers/records.js';

// The spool lock on a really full disk: a 64 KiB tmpfs filled to ENOSPC (mounting needs root, as
// for disk-full.test.ts). A restart on a full spool must not become a loop of refusals.
const root = tempDir('lock-tmpfs-');
const spool = join(root, 'spool');

beforeAll(() => {
  mkdirSync(spool);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', spool], { encoding: 'utf8' });
  if (mounted.status !== 0)
    throw new Error(`npm run test:system mounts a tmpfs and needs root: mount said ${mounted.stderr.trim()}`);
});

afterAll(() => {
  spawnSync('umount', [spool]);
  rmSync(root, { recursive: true, force: true });
});

describe('lockSpool on a full spool', () => {
  it('holds the lock without writing its name, and still refuses a second holder', async () => {
    // Prepare: the lock file exists (an earlier start made it), then the disk fills up.
    writeFileSync(join(spool, LOCK_FILE), '');
    const fill = spawnSync('dd', ['if=/dev/zero', `of=${join(spool, 'fill')}`, 'bs=4k', 'count=64'], {
      encoding: 'utf8',
    });
    expect(fill.stderr).toMatch(/No space left on device/);

    // Act
    const lock = await lockSpool(spool);
    const second = await lockSpool(spool).catch((error: unknown) => error);
    lock.release();

    // Assess
    expect(lock.unnamed).toMatchObject({ code: 'ENOSPC' });
    expect(second).toMatchObject({ code: 'ERR_SPOOL_LOCKED' });
    expect((second as Error).message).toContain('a process that has not written its name yet');
  });
});

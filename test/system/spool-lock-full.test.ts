import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_FILE, lockSpool } from '../../src/app/spool-lock.js';
import { tmpfsSpool } from '../helpers/tmpfs.js';

// The spool lock on a really full disk: a 64 KiB tmpfs filled to ENOSPC (mounting needs root, as
// for disk-full.test.ts). A restart on a full spool must not become a loop of refusals.
const spool = tmpfsSpool('lock-tmpfs-', '64k');

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

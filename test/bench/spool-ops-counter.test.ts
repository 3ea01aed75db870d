import { closeSync, constants, fsyncSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/core/atomic-file.js';
import {
  installSpoolOpsCounter,
  isSpoolOpsCounterInstalled,
  OP_KINDS,
  resetSpoolOps,
  setSpoolRoot,
  spoolOps,
  uninstallSpoolOpsCounter,
  type OpCounts,
} from '../../bench/spool-ops-counter.js';
import { tempDir } from '../helpers/records.js';

/**
 * The bench's spool-operations section rests on this counter: it must count each operation on the
 * spool exactly once, through the named imports src uses, and nothing outside the spool.
 */

let spool: string;
let outside: string;

/** Every kind at 0 but those given. */
const only = (counts: Partial<OpCounts>): OpCounts => ({
  ...(Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as OpCounts),
  ...counts,
});

/** open (creating the file), write, datasync, close, rename, unlink. */
async function knownSequence(dir: string): Promise<void> {
  const handle = await open(join(dir, 'state.json.tmp'), 'w');
  await handle.write(Buffer.from('{"through":1}\n'));
  await handle.datasync();
  await handle.close();
  await rename(join(dir, 'state.json.tmp'), join(dir, 'state.json'));
  await unlink(join(dir, 'state.json'));
}

beforeAll(() => {
  const dir = tempDir();
  spool = join(dir, 'spool');
  outside = join(dir, 'spool-not'); // shares the spool's name as a prefix: still outside it
  mkdirSync(spool);
  mkdirSync(outside);
  installSpoolOpsCounter();
  setSpoolRoot(spool);
});

beforeEach(() => resetSpoolOps());

afterAll(() => {
  setSpoolRoot(undefined);
  uninstallSpoolOpsCounter();
});

describe('spool operations counter', () => {
  it('counts a known sequence under the spool exactly, each operation once', async () => {
    // Act
    await knownSequence(spool);

    // Assess
    const ops = spoolOps();
    expect(ops.counts).toEqual(only({ creates: 1, writes: 1, fsyncs: 1, closes: 1, renames: 1, unlinks: 1 }));
    expect(ops.writtenBytes).toBe(14);
    expect(ops.meteredWriteBytes).toBe(32 * 1024);
    expect(ops.byFile).toEqual({
      'state.json.tmp': { data: 1, metadata: 3 },
      'state.json': { data: 0, metadata: 2 },
    });
  });

  it('ignores the same sequence outside the spool', async () => {
    // Act
    await knownSequence(outside);

    // Assess
    expect(spoolOps().counts).toEqual(only({}));
  });

  it('counts writes on a handle opened with O_DSYNC apart, and an open of an existing file as an open', async () => {
    // Prepare
    const path = join(spool, 'seg-000001.log');
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC;

    // Act
    const first = await open(path, flags);
    await first.write(Buffer.from('a\n'));
    await first.writev([Buffer.from('b\n'), Buffer.from('c\n')]);
    await first.close();
    const again = await open(path, flags);
    await again.truncate(2);
    await again.close();

    // Assess
    expect(spoolOps().counts).toEqual(only({ creates: 1, opens: 1, dsyncWrites: 2, truncates: 1, closes: 2 }));
    expect(spoolOps().byFile).toEqual({ 'seg-#.log': { data: 2, metadata: 5 } });
  });

  it('counts the synchronous fd calls, and what writeFile does for a path once', async () => {
    // Act
    const fd = openSync(join(spool, 'lock'), 'w');
    writeSync(fd, 'pid 1\n');
    fsyncSync(fd);
    closeSync(fd);
    writeFileSync(join(spool, 'a'), 'x');
    await writeFile(join(spool, 'b'), 'y');
    writeFileSync(join(outside, 'c'), 'z');

    // Assess: writeFile is an open that creates, a write and a close (not its inner open again).
    expect(spoolOps().counts).toEqual(only({ creates: 3, writes: 3, fsyncs: 1, closes: 3 }));
  });

  it("counts rm as Node's lstat and the unlink when there was a file, a recursive mkdir of a folder there as mkdir and stat", async () => {
    // Prepare
    writeFileSync(join(spool, 'reserve'), 'r');
    resetSpoolOps();

    // Act
    await rm(join(spool, 'reserve'), { force: true });
    await rm(join(spool, 'reserve'), { force: true });
    await mkdir(join(spool, 'journal'), { recursive: true });
    await mkdir(join(spool, 'journal'), { recursive: true });

    // Assess
    expect(spoolOps().counts).toEqual(only({ stats: 3, unlinks: 1, mkdirs: 2 }));
  });

  it("sees src's own imports: the atomic save is a create, a write, two fsyncs, a folder open, a rename", async () => {
    // Act
    await writeFileAtomic(join(spool, 'cursor-fills.json'), 'kfl-cursor 2\n');

    // Assess
    expect(spoolOps().counts).toEqual(only({ creates: 1, writes: 1, fsyncs: 2, closes: 2, opens: 1, renames: 1 }));
  });

  it('puts every original back when uninstalled', async () => {
    // Act
    uninstallSpoolOpsCounter();
    await knownSequence(spool);
    installSpoolOpsCounter();

    // Assess
    expect(spoolOps().counts).toEqual(only({}));
    expect(isSpoolOpsCounterInstalled()).toBe(true);
  });
});

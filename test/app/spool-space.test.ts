import { describe, expect, it } from 'vitest';
import { SpoolSpace } from '../../src/app/spool-space.js';
import { tempDir } from '../helpers/records.js';

/** A statfs that counts its calls and answers what the test says. */
function fakeStatfs(answer: () => { bavail: number; blocks: number; bsize: number }) {
  const calls: string[] = [];
  return {
    calls,
    statfs: (dir: string) => {
      calls.push(dir);
      return Promise.resolve(answer());
    },
  };
}

describe('SpoolSpace', () => {
  it("reads a real directory's file system", async () => {
    // Prepare
    const dir = tempDir('spool-space-');
    const space = new SpoolSpace(dir);
    // Act
    await space.settled();
    const view = space.current();
    // Assess
    expect(view.dir).toBe(dir);
    expect(view.freeBytes).toBeGreaterThan(0);
    expect(view.totalBytes).toBeGreaterThanOrEqual(view.freeBytes!);
    expect(view.sampledAt).toBeGreaterThan(0);
    expect(view.error).toBeNull();
  });

  it('samples at most once per interval however often it is read, and then again', async () => {
    // Prepare
    let now = 1_000_000;
    let free = 10;
    const fake = fakeStatfs(() => ({ bavail: free, blocks: 100, bsize: 4096 }));
    const space = new SpoolSpace('/spool', { intervalMs: 5000, now: () => now, statfs: fake.statfs });
    await space.settled();
    // Act
    free = 9;
    const reads = Array.from({ length: 50 }, () => space.current());
    await space.settled();
    now += 4999;
    const beforeInterval = space.current();
    await space.settled();
    now += 1;
    space.current();
    await space.settled();
    const after = space.current();
    // Assess
    expect(fake.calls).toEqual(['/spool', '/spool']);
    expect(reads.every((r) => r.freeBytes === 10 * 4096)).toBe(true);
    expect(beforeInterval).toEqual({
      dir: '/spool',
      freeBytes: 10 * 4096,
      totalBytes: 100 * 4096,
      sampledAt: 1_000_000,
      error: null,
    });
    expect(after).toMatchObject({ freeBytes: 9 * 4096, sampledAt: 1_005_000 });
  });

  it('keeps the last figures and says why when a sample fails', async () => {
    // Prepare
    let now = 0;
    let fail = false;
    const space = new SpoolSpace('/spool', {
      intervalMs: 1000,
      now: () => now,
      statfs: () =>
        fail
          ? Promise.reject(Object.assign(new Error('gone'), { code: 'ENOENT' }))
          : Promise.resolve({ bavail: 1, blocks: 2, bsize: 512 }),
    });
    await space.settled();
    // Act
    fail = true;
    now = 1000;
    space.current();
    await space.settled();
    const view = space.current();
    // Assess
    expect(view).toEqual({ dir: '/spool', freeBytes: 512, totalBytes: 1024, sampledAt: 0, error: 'ENOENT' });
  });

  it('asks again when the clock steps back, rather than waiting for it to catch up', async () => {
    // Prepare
    let now = 1_000_000;
    const fake = fakeStatfs(() => ({ bavail: 1, blocks: 1, bsize: 1 }));
    const space = new SpoolSpace('/spool', { now: () => now, statfs: fake.statfs });
    await space.settled();
    // Act
    now -= 3_600_000;
    space.current();
    await space.settled();
    // Assess
    expect(fake.calls).toHaveLength(2);
  });
});

import type * as fsPromises from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { describe, expect, it, vi } from 'vitest';
import { SegmentLog } from '../../src/pipeline/segment-log.js';
import { makeRecord, tempDir } from '../helpers/records.js';
import { fsIdle } from '../helpers/wait.js';

// The real fs, with `rm` observable: a test holds one deletion at its rm to order two requests
// exactly (a real disk cannot be made to pause there on cue).
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof fsPromises>();
  return { ...actual, rm: vi.fn(actual.rm) };
});

const segmentName = (firstLsn: number) => `seg-${String(firstLsn).padStart(16, '0')}.log`;
const segmentsOf = (dir: string) =>
  readdirSync(dir)
    .filter((n) => /^seg-\d{16}\.log$/.test(n))
    .sort();

describe('SegmentLog', () => {
  describe('deleteThrough', () => {
    it('drops no unpassed segment when a second request arrives while the first is deleting a file', async () => {
      // Prepare: one record per segment (1..6); the next rm waits for the test's go.
      const dir = tempDir();
      const log = await SegmentLog.open({ dir, floor: 0, segmentBytes: 1, cacheBytes: 1 });
      for (let n = 1; n <= 6; n++) log.append(JSON.stringify(makeRecord(n)));
      await log.flush();
      const realRm = (await vi.importActual<typeof fsPromises>('node:fs/promises')).rm;
      let release!: () => void;
      const go = new Promise<void>((resolve) => (release = resolve));
      let reached!: () => void;
      const atRm = new Promise<void>((resolve) => (reached = resolve));
      vi.mocked(rm).mockImplementationOnce(async (...args) => {
        reached();
        await go;
        return realRm(...args);
      });
      // Act: the first request is held at its rm of segment 1; a second asks for the same, and has
      // every chance to run to its end (it did, and shifted segment 1, before the first shifted
      // "the first segment", segment 2) before the first is let go: until no file work is in flight.
      const first = log.deleteThrough(1);
      await atRm;
      const second = log.deleteThrough(1);
      await fsIdle();
      release();
      await Promise.all([first, second]);
      // Assess: segment 2 is still listed and read.
      expect(segmentsOf(dir)).toEqual([2, 3, 4, 5, 6].map(segmentName));
      expect(log.firstLsn).toBe(2);
      expect((await log.read(1, 10)).map((e) => e.lsn)).toEqual([2, 3, 4, 5, 6]);
      await log.close();
    });
  });
});

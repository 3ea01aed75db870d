import type * as fsPromises from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppendLog } from '../../src/core/append-log.js';
import { tempDir } from '../helpers/records.js';

// The real fs, with `open` observable: a test makes one file's writes fail part-way (a real full
// disk fails both copies alike, and test/pipeline/hole-log.test.ts makes that fault for real; the
// mirror alone, or a truncate that fails too, cannot be had on cue).
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof fsPromises>();
  return { ...actual, open: vi.fn(actual.open) };
});

const realOpen = (await vi.importActual<typeof fsPromises>('node:fs/promises')).open;
const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

/** The next open of a path ending in `suffix` gives a handle whose first write lands half and fails. */
function failNextWrite(suffix: string, options: { truncateFails?: boolean } = {}): void {
  vi.mocked(open).mockImplementation(async (...args: Parameters<typeof open>) => {
    const handle = await realOpen(...args);
    if (!String(args[0]).endsWith(suffix)) return handle;
    vi.mocked(open).mockImplementation(realOpen);
    const write = handle.write.bind(handle) as (b: Buffer, o: number, l: number) => Promise<{ bytesWritten: number }>;
    let failed = false;
    const faulty = handle as unknown as {
      write: (buffer: Buffer, offset: number, length: number) => Promise<{ bytesWritten: number }>;
      truncate: (size: number) => Promise<void>;
    };
    faulty.write = async (buffer: Buffer, offset: number, length: number) => {
      if (failed) return write(buffer, offset, length);
      failed = true;
      await write(buffer, offset, Math.ceil(length / 2));
      throw enospc();
    };
    if (options.truncateFails === true) {
      const truncate = handle.truncate.bind(handle);
      let refused = false;
      faulty.truncate = async (size: number) => {
        if (refused) return truncate(size);
        refused = true;
        throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
      };
    }
    return handle;
  });
}

async function values(path: string): Promise<{ values: object[]; log: AppendLog }> {
  const read: object[] = [];
  const log = await AppendLog.open(path, (v) => read.push(v));
  return { values: read, log };
}

afterEach(() => {
  vi.mocked(open).mockImplementation(realOpen);
});

describe('AppendLog', () => {
  describe('append', () => {
    it('takes the line back from the primary when the mirror write fails, so a retry writes it once in each', async () => {
      // Prepare
      const path = join(tempDir(), 'log.jsonl');
      failNextWrite('.mirror');
      const log = await AppendLog.open(path, () => undefined);

      // Act
      const failed = await log.append(JSON.stringify({ n: 1 })).catch((error: unknown) => error);
      const afterFailure = readFileSync(path).length;
      await log.append(JSON.stringify({ n: 1 }));
      await log.append(JSON.stringify({ n: 2 }));
      await log.close();

      // Assess
      expect(failed).toMatchObject({ code: 'ENOSPC' });
      expect(afterFailure).toBe(0);
      const again = await values(path);
      expect(again.values).toEqual([{ n: 1 }, { n: 2 }]);
      expect(again.log.damage).toEqual([]);
      expect(readFileSync(`${path}.mirror`)).toEqual(readFileSync(path));
    });

    it('cuts a failed write at the next append when the cut itself failed', async () => {
      // Prepare: one line in; the next write lands half, and the truncate after it fails once.
      const path = join(tempDir(), 'log.jsonl');
      const first = await AppendLog.open(path, () => undefined);
      await first.append(JSON.stringify({ n: 1 }));
      await first.close();
      const sizeBefore = readFileSync(path).length;
      failNextWrite('log.jsonl', { truncateFails: true });
      const log = await AppendLog.open(path, () => undefined);

      // Act
      const failed = await log.append(JSON.stringify({ n: 2, text: 'x'.repeat(100) })).catch((error: unknown) => error);
      const leftByFailure = readFileSync(path).length;
      await log.append(JSON.stringify({ n: 3 }));
      await log.close();

      // Assess: the half line stayed until the next append cut it; it did not swallow that line.
      expect(failed).toBeInstanceOf(AggregateError);
      expect((failed as AggregateError).errors.map((e) => (e as { code: string }).code)).toEqual(['ENOSPC', 'EIO']);
      expect(leftByFailure).toBeGreaterThan(sizeBefore);
      const again = await values(path);
      expect(again.values).toEqual([{ n: 1 }, { n: 3 }]);
      expect(again.log.damage).toEqual([]);
    });
  });
});

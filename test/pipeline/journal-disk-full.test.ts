import type * as FsPromises from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { describe, expect, it, vi } from 'vitest';
import { makeRecord, tempDir } from '../helpers/records.js';

/** Once set, every write to a journal segment fails the way a full disk makes it fail. */
const disk = { full: false };

// The kernel's ENOSPC, injected at the one call that meets it: writes to a segment file.
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof FsPromises>();
  const open: typeof fs.open = async (...args: Parameters<typeof fs.open>) => {
    const handle: FileHandle = await fs.open(...args);
    if (!String(args[0]).includes('seg-')) return handle;
    const write = handle.write.bind(handle) as (...a: unknown[]) => Promise<unknown>;
    return Object.assign(handle, {
      write: (...a: unknown[]) =>
        disk.full
          ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))
          : write(...a),
    });
  };
  return { ...fs, open };
});

const { Journal } = await import('../../src/pipeline/journal.js');

describe('Journal', () => {
  describe('on a full disk', () => {
    it('names the failure ERR_JOURNAL_DISK_FULL with the spool path and the free bytes, and refuses appends', async () => {
      // Prepare
      const dir = tempDir();
      const journal = await Journal.open({ dir });
      journal.append(makeRecord(0));
      await journal.flush();

      // Act
      disk.full = true;
      journal.append(makeRecord(1));
      const flushed = await journal.flush().then(
        () => undefined,
        (error: unknown) => error,
      );

      // Assess
      expect(flushed).toMatchObject({
        code: 'ERR_JOURNAL_DISK_FULL',
        details: { path: dir },
        cause: { code: 'ENOSPC' },
      });
      expect((flushed as { details: { freeBytes: unknown } }).details.freeBytes).toBeTypeOf('number');
      expect((flushed as Error).message).toMatch(/no space left on the spool/);
      expect(journal.failure?.code).toBe('ERR_JOURNAL_DISK_FULL');
      expect(() => journal.append(makeRecord(2))).toThrow(expect.objectContaining({ code: 'ERR_JOURNAL_DISK_FULL' }));
      // What was durable before stays durable.
      expect(journal.durableLsn).toBe(1);
      disk.full = false;
      await journal.close();
    });
  });
});

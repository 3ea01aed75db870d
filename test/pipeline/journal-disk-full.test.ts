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
    it('stalls: names ERR_JOURNAL_DISK_FULL with the path and free bytes, holds appends, reports nothing durable', async () => {
      // Prepare
      const dir = tempDir();
      const journal = await Journal.open({ dir, retry: { initialMs: 20, maxMs: 20 } });
      const stalls: Array<string | undefined> = [];
      journal.onStall((stall) => stalls.push(stall?.error.code));
      journal.append(makeRecord(0));
      await journal.flush();

      // Act
      disk.full = true;
      journal.append(makeRecord(1));
      const flushed = await journal.flush().then(
        () => undefined,
        (error: unknown) => error,
      );
      const held = journal.append(makeRecord(2));

      // Assess
      expect(flushed).toMatchObject({
        code: 'ERR_JOURNAL_DISK_FULL',
        details: { path: dir },
        cause: { code: 'ENOSPC' },
      });
      expect((flushed as { details: { freeBytes: unknown } }).details.freeBytes).toBeTypeOf('number');
      expect((flushed as Error).message).toMatch(/no space left on the spool/);
      expect(journal.failure?.code).toBe('ERR_JOURNAL_DISK_FULL');
      expect(held).toEqual({ lsn: 3, duplicate: false });
      expect(journal.durableLsn).toBe(1); // what was durable stays durable; nothing more is claimed
      expect(journal.stats().integrity.stalled).toMatchObject({ code: 'ERR_JOURNAL_DISK_FULL', path: dir });
      expect(journal.stats().integrity.pendingBytes).toBeGreaterThan(0);
      expect(stalls).toEqual(['ERR_JOURNAL_DISK_FULL']);
      disk.full = false;
      await journal.close();
    });

    it('resumes by itself when space returns: the held records become durable once, in order', async () => {
      // Prepare: a stalled journal holding two records.
      const dir = tempDir();
      const journal = await Journal.open({ dir, retry: { initialMs: 20, maxMs: 20 } });
      const stalls: Array<string | undefined> = [];
      journal.onStall((stall) => stalls.push(stall?.error.code));
      journal.append(makeRecord(0));
      await journal.flush();
      disk.full = true;
      journal.append(makeRecord(1));
      journal.append(makeRecord(2));
      await expect.poll(() => journal.failure?.code).toBe('ERR_JOURNAL_DISK_FULL');

      // Act
      disk.full = false;
      await expect.poll(() => journal.durableLsn).toBe(3);
      await journal.flush();
      await journal.close();

      // Assess: after a restart, each record is there exactly once, in LSN order.
      const reopened = await Journal.open({ dir });
      const entries = await reopened.read(0, 10);
      expect(entries.map((e) => [e.lsn, e.record.exec_id])).toEqual([
        [1, makeRecord(0).exec_id],
        [2, makeRecord(1).exec_id],
        [3, makeRecord(2).exec_id],
      ]);
      expect(reopened.damage).toEqual([]);
      expect(stalls).toEqual(['ERR_JOURNAL_DISK_FULL', undefined]);
      await reopened.close();
    });

    it('refuses appends with ERR_JOURNAL_STALLED once the memory budget is held, and takes them again after', async () => {
      // Prepare
      const dir = tempDir();
      const journal = await Journal.open({ dir, maxPendingBytes: 1, retry: { initialMs: 20, maxMs: 20 } });
      disk.full = true;
      journal.append(makeRecord(1));
      await expect.poll(() => journal.failure?.code).toBe('ERR_JOURNAL_DISK_FULL');

      // Act
      const refused = (() => {
        try {
          journal.append(makeRecord(2));
        } catch (error) {
          return error;
        }
      })();
      disk.full = false;
      await expect.poll(() => journal.durableLsn).toBe(1);

      // Assess: refused, not numbered, not remembered: the same report is taken when it comes again.
      expect(refused).toMatchObject({ code: 'ERR_JOURNAL_STALLED', cause: { code: 'ERR_JOURNAL_DISK_FULL' } });
      expect(journal.append(makeRecord(2))).toEqual({ lsn: 2, duplicate: false });
      await journal.close();
    });
  });
});

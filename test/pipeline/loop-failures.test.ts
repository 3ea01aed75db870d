import { describe, expect, it, vi } from 'vitest';
import type { ListenerError } from '../../src/core/errors.js';
import { ArchiveWriter } from '../../src/pipeline/archive-writer.js';
import { DeadLetterBox } from '../../src/pipeline/dead-letters.js';
import { FillPublisher } from '../../src/pipeline/fill-publisher.js';
import { Journal } from '../../src/pipeline/journal.js';
import { LocalFileQueue } from '../../src/sinks/local-file-queue.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { makeRecord, tempDir } from '../helpers/records.js';
import { join } from 'node:path';

/** A journal with fills in it whose cursor saves fail as a broken spool makes them fail. */
async function journalThatCannotSaveCursors(): Promise<Journal> {
  const journal = await Journal.open({ dir: tempDir() });
  for (let n = 0; n < 6; n++) journal.append(makeRecord(n * 2, { transact_time: '2026-11-23T10:15:00.000Z' }));
  await journal.flush();
  // An error path a root-run test cannot make the file system produce on demand.
  vi.spyOn(journal, 'saveCursor').mockRejectedValue(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
  return journal;
}

describe('a sink loop that fails', () => {
  describe('ArchiveWriter', () => {
    it('reports the failure, coded and with its cause, to onFailure and in its status', async () => {
      // Prepare
      const journal = await journalThatCannotSaveCursors();
      const failures: ListenerError[] = [];
      const writer = new ArchiveWriter({
        journal,
        store: new LocalFolderStore(tempDir()),
        graceMs: 0,
        now: () => Date.parse('2026-11-23T12:00:00Z'),
        onFailure: (error) => failures.push(error),
      });

      // Act
      await writer.start();
      await expect.poll(() => failures.length).toBe(1);
      await writer.stop({ flush: false });

      // Assess
      expect(failures[0]).toMatchObject({ code: 'ERR_LOOP_FAILED', cause: { code: 'EIO' } });
      expect(writer.status().lastError).toMatchObject({ code: 'ERR_LOOP_FAILED' });
      await journal.close();
    });
  });

  describe('FillPublisher', () => {
    it('reports the failure, coded and with its cause, to onFailure and in its status', async () => {
      // Prepare
      const journal = await journalThatCannotSaveCursors();
      const failures: ListenerError[] = [];
      const dir = tempDir();
      const publisher = new FillPublisher({
        journal,
        queue: new LocalFileQueue(join(dir, 'fills.jsonl')),
        deadLetters: await DeadLetterBox.open({ dir }),
        onFailure: (error) => failures.push(error),
      });

      // Act
      await publisher.start();
      await expect.poll(() => failures.length).toBe(1);
      await publisher.stop({ drainMs: 0 }).catch(() => undefined);

      // Assess
      expect(failures[0]).toMatchObject({ code: 'ERR_LOOP_FAILED', cause: { code: 'EIO' } });
      expect(publisher.status().lastError).toMatchObject({ code: 'ERR_LOOP_FAILED' });
      await journal.close();
    });
  });
});

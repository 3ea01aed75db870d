import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isListenerError } from '../../src/core/errors.js';
import { ArchiveWriter } from '../../src/pipeline/archive-writer.js';
import { Journal } from '../../src/pipeline/journal.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import type { ObjectStore } from '../../src/sinks/types.js';
import { archivedIds } from '../helpers/archive.js';
import { makeRecord, tempDir } from '../helpers/records.js';
import { tmpfsSpool } from '../helpers/tmpfs.js';

// A spool the journal fills by itself: an 8 MiB tmpfs (root mounts it; CI runs as root), the
// default 64 MiB segment size, and an archive that is down while reports arrive at ~600/s. The
// journal must stall, not die, and drain by itself once the archive is back: a segment as big as
// the disk could never be passed and deleted, and a cursor a full disk refuses could never free one.
const spool = tmpfsSpool('small-spool-', '8m');

/** The local folder store, refusing every write while `down` is set (an S3 outage). */
class OutageStore implements ObjectStore {
  down = true;
  readonly #inner: LocalFolderStore;
  readonly location: string;
  constructor(dir: string) {
    this.#inner = new LocalFolderStore(dir);
    this.location = this.#inner.location;
  }
  putIfAbsent(key: string, body: Buffer): Promise<'created' | 'exists'> {
    if (this.down)
      return Promise.reject(Object.assign(new Error('S3 is down'), { $metadata: { httpStatusCode: 503 } }));
    return this.#inner.putIfAbsent(key, body);
  }
}

describe('Journal on a small spool', { timeout: 120_000 }, () => {
  it('fills it while the archive is down, stalls without losing an accepted report, and drains by itself', async () => {
    // Prepare: the journal on the tmpfs, the archive outside it and down.
    const archive = tempDir('small-spool-archive-');
    const store = new OutageStore(archive);
    const journal = await Journal.open({
      dir: join(spool, 'journal'),
      maxPendingBytes: 2 * 1024 * 1024,
      retry: { initialMs: 50, maxMs: 200 },
    });
    const writer = new ArchiveWriter({
      journal,
      store,
      flushMs: 200,
      graceMs: 0,
      retry: { initialMs: 50, maxMs: 200 },
    });
    await writer.start();
    const accepted: string[] = [];
    let stalled = false;
    journal.onStall((stall) => {
      if (stall !== undefined) stalled = true;
    });

    // Act: ~600 reports a second until the journal has stalled and refused for a while.
    let n = 0;
    let refusedSince: number | undefined;
    while (refusedSince === undefined || Date.now() - refusedSince < 1000) {
      for (let i = 0; i < 60; i++) {
        const record = makeRecord(++n, { raw: 'x'.repeat(600) });
        try {
          journal.append(record);
          accepted.push(record.exec_id);
        } catch (error) {
          expect(isListenerError(error, 'ERR_JOURNAL_STALLED')).toBe(true);
          refusedSince ??= Date.now();
        }
      }
      // The generator's pace (60 reports every 100 ms), not a wait for a condition: the rate is
      // what fills the spool as an account would.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(stalled).toBe(true);
    // Catch-up starts: the memory it takes is sampled until the backlog is archived.
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
    store.down = false;

    // Assess: the journal writes again by itself, every accepted report is durable and archived.
    await expect.poll(() => journal.failure, { timeout: 60_000, interval: 200 }).toBeUndefined();
    await journal.flush();
    await expect.poll(() => journal.backlog('archive').records, { timeout: 60_000, interval: 200 }).toBe(0);
    clearInterval(sampler);
    await writer.stop({ flush: true });
    // The whole test process, vitest included: catch-up holds no more than its read batches.
    console.log(
      `small spool: ${accepted.length} reports accepted, peak RSS in catch-up ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(peakRss / 2 ** 20).toBeLessThan(300);
    expect(new Set(archivedIds(archive))).toEqual(new Set(accepted));
    expect(archivedIds(archive)).toHaveLength(accepted.length);
    // And it takes reports again.
    journal.append(makeRecord(n + 1));
    await journal.flush();
    await journal.close();
  });
});

import type * as FsPromises from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JournalEvent } from '../../src/app/service.js';
import { readiness } from '../../src/http/readiness.js';
import { tempDir } from '../helpers/records.js';
import { simulatorPerTest } from '../helpers/simulated-service.js';
import { API_KEY } from '../helpers/sim.js';

/** While `full`, every write under `root` fails as a full disk makes it fail (the sinks' folders are elsewhere). */
const disk = { full: false, root: '' };

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

// The kernel's ENOSPC at the calls that meet it: writes through a file handle under the spool.
// (test/system/disk-full.test.ts does the same with a real tmpfs that fills up.)
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof FsPromises>();
  const open: typeof fs.open = async (...args: Parameters<typeof fs.open>) => {
    const handle: FileHandle = await fs.open(...args);
    if (disk.root === '' || !String(args[0]).startsWith(disk.root)) return handle;
    const write = handle.write.bind(handle) as (...a: unknown[]) => Promise<unknown>;
    const writeFile = handle.writeFile.bind(handle) as (...a: unknown[]) => Promise<void>;
    return Object.assign(handle, {
      write: (...a: unknown[]) => (disk.full ? Promise.reject(enospc()) : write(...a)),
      writeFile: (...a: unknown[]) => (disk.full ? Promise.reject(enospc()) : writeFile(...a)),
    });
  };
  return { ...fs, open };
});

const { ListenerService } = await import('../../src/app/service.js');

const onSimulator = simulatorPerTest();
// Registered after the simulator's stop, so it runs before it (after-hooks run last first): the
// disk has room again while the simulator and anything still on the spool wind down.
afterEach(() => {
  disk.full = false;
});

describe('ListenerService', () => {
  describe('when the spool disk fills up (KalshiRT)', () => {
    it(
      'stays up and not ready, acknowledges nothing it could not keep, and once space returns resumes by itself with every report journaled exactly once',
      { timeout: 60_000 },
      async () => {
        // Prepare: a resumable session receiving reports, a small memory budget for a stalled journal.
        const { sim, options, root } = await onSimulator('KalshiRT', { root: tempDir('disk-full-') });
        disk.root = join(root, 'spool');
        const events: JournalEvent[] = [];
        const fatal: unknown[] = [];
        const service = await ListenerService.start({
          ...options,
          journal: { retry: { initialMs: 50, maxMs: 200 }, maxPendingBytes: 16 * 1024 },
          onJournalEvent: (event) => events.push(event),
          onFatal: (error) => fatal.push(error),
        });
        await expect.poll(() => service.session.state, { timeout: 10_000 }).toBe('active');
        sim.setRate(200);
        await expect.poll(() => service.journal.durableLsn, { timeout: 10_000 }).toBeGreaterThan(50);

        // Act 1: the disk fills while reports keep coming.
        disk.full = true;
        await expect.poll(() => events.some((e) => e.kind === 'refusing'), { timeout: 10_000 }).toBe(true);
        const processedWhileFull = service.session.status().processedThrough;
        const durableWhileFull = service.journal.durableLsn;
        await expect
          .poll(() => service.status().counters.executionReports, { timeout: 10_000 })
          .toBeGreaterThan(service.status().counters.executionReports + 100);

        // Assess 1: up, not ready with the cause, nothing more acknowledged or claimed durable.
        const status = service.status();
        expect(fatal).toEqual([]);
        expect(service.session.state).toBe('active');
        expect(status.journal.integrity.stalled).toMatchObject({
          code: 'ERR_JOURNAL_DISK_FULL',
          path: join(disk.root, 'journal'),
        });
        expect(readiness(status).ready).toBe(false);
        expect(readiness(status).reasons.join('\n')).toMatch(/journal not writing .*ERR_JOURNAL_DISK_FULL/);
        expect(service.session.status().processedThrough).toBe(processedWhileFull);
        expect(service.journal.durableLsn).toBe(durableWhileFull);
        expect(events.map((e) => e.kind).slice(0, 2)).toEqual(['stalled', 'refusing']);

        // Act 2: space returns; a little later the exchange goes quiet and one last report is sent.
        const logons = service.session.status().counters.logons;
        disk.full = false;
        await expect.poll(() => events.some((e) => e.kind === 'resumed'), { timeout: 10_000 }).toBe(true);
        await expect.poll(() => readiness(service.status()).ready, { timeout: 15_000 }).toBe(true);
        sim.setRate(0);
        const [last] = sim.emitReports(API_KEY, 1);
        await expect.poll(() => service.journal.maxExecId, { timeout: 15_000 }).toBe(last!.execId);
        await service.journal.flush();

        // Assess 2: every report the exchange generated is journaled, each exactly once.
        const generated = sim.generated(API_KEY).map((r) => r.execId);
        const journaled = (await service.journal.read(0, 1_000_000)).map((e) => e.record.exec_id);
        expect(new Set(journaled).size).toBe(journaled.length);
        expect(new Set(journaled)).toEqual(new Set(generated));
        expect(service.status().journal.integrity.stalled).toBeNull();
        // The refused reports came back through a resumed logon (a resend), not a reset.
        expect(service.session.status().counters.logons).toBe(logons + 1);
        expect(service.session.status().counters.resendRequests).toBeGreaterThan(0);
        expect(fatal).toEqual([]);
        await service.stop();
      },
    );
  });
});

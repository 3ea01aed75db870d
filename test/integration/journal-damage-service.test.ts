import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ListenerService, type ServiceOptions } from '../../src/app/service.js';
import type { JournalDamage } from '../../src/core/status.js';
import { FileSequenceStore } from '../../src/fix/sequence-store.js';
import { CursorStore } from '../../src/pipeline/cursor-store.js';
import { Journal } from '../../src/pipeline/journal.js';
import { LocalFileQueue } from '../../src/sinks/local-file-queue.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { readiness } from '../../src/http/readiness.js';
import { makeRecord, tempDir } from '../helpers/records.js';
import { runUntilJournaled, simulatorPerTest } from '../helpers/simulated-service.js';

const onSimulator = simulatorPerTest();

const journalDir = (options: ServiceOptions) => join(options.spoolDir, 'journal');

/** Flips one bit in the middle of the journal's segment: the record holding it is lost. */
function flipMiddleByte(dir: string): void {
  const segment = join(
    dir,
    readdirSync(dir).find((n) => /^seg-\d+\.log$/.test(n))!,
  );
  const bytes = readFileSync(segment);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = bytes[middle]! ^ 0x04;
  writeFileSync(segment, bytes);
}

/**
 * A first run of the service on the simulator journals 30 reports and stops with the archive
 * behind (its cursor set back to the start, as when it waits for its minute); then one byte flips
 * in the middle of the segment: one report is lost to damage before the archive had it. (Damage
 * of what every sink had delivered is no loss to recover: see the 'delivered' test below.)
 */
async function journalThenFlipAByte(target: 'KalshiNR' | 'KalshiRT', extra: { dropCopy?: boolean } = {}) {
  const exchange = await onSimulator(target, extra);
  const { generated } = await runUntilJournaled(exchange, 30);
  const dir = journalDir(exchange.options);
  await (await CursorStore.open(dir)).save('archive', { through: 0 });
  flipMiddleByte(dir);
  return { options: exchange.options, generated, dir };
}

/** Starts the service on the spool, keeping each journal damage it reports as it stood then. */
async function startKeepingDamage(options: ServiceOptions) {
  const reported: JournalDamage[] = [];
  const service = await ListenerService.start({ ...options, onJournalDamage: (d) => reported.push({ ...d }) });
  return { service, reported };
}

/**
 * Starts the service on the damaged spool and waits until the damage is recovered: the service
 * (still running), what it reported, and its readiness at start.
 */
async function restartUntilRecovered(options: ServiceOptions) {
  const { service, reported } = await startKeepingDamage(options);
  const atStart = readiness(service.status());
  await expect.poll(() => service.status().journal.integrity.damage[0]?.state, { timeout: 20_000 }).toBe('recovered');
  return { service, reported, atStart };
}

/** The ExecIDs in the journal at `dir`, in LSN order. */
async function journaledIds(dir: string): Promise<string[]> {
  const journal = await Journal.open({ dir });
  const ids = (await journal.read(0, 1000)).map((e) => e.record.exec_id);
  await journal.close();
  return ids;
}

// Services on the simulator; a stop waits out the fill publisher's drain (5 s) on a spool that lost records.
describe('ListenerService', { timeout: 30_000 }, () => {
  describe('start on a damaged spool', () => {
    it('reports the damage, records it as a hole naming LSNs and ExecIDs, and shows it on /status', async () => {
      // Prepare: a spool whose journal lost its last records to a flipped byte.
      const spool = tempDir();
      const dir = join(spool, 'journal');
      const journal = await Journal.open({ dir });
      for (let n = 1; n <= 40; n++) journal.append(makeRecord(n));
      await journal.flush();
      await journal.close();
      const segment = join(
        dir,
        readdirSync(dir).find((n) => /^seg-\d+\.log$/.test(n))!,
      );
      const bytes = readFileSync(segment);
      bytes[bytes.length - 300] = bytes[bytes.length - 300]! ^ 0x10;
      writeFileSync(segment, bytes);
      const reported: JournalDamage[] = [];
      const holesLogged: unknown[] = [];

      // Act: start (the exchange is unreachable: the session just retries meanwhile).
      const service = await ListenerService.start({
        fix: {
          host: '127.0.0.1',
          port: 9,
          targetCompId: 'KalshiRT',
          apiKey: randomUUID(),
          privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
          heartbeatS: 30,
          reconnect: { initialMs: 1000, maxMs: 1000 },
        },
        spoolDir: spool,
        store: new LocalFolderStore(join(spool, 'archive')),
        queue: new LocalFileQueue(join(spool, 'fills.jsonl')),
        onJournalDamage: (damage) => reported.push(damage),
        onBackfillEvent: (event) => holesLogged.push(event),
      });
      const status = service.status();
      await service.stop();

      // Assess
      expect(reported).toEqual([expect.objectContaining({ kind: 'corrupt' })]);
      const [first, last] = reported[0]!.lsns!;
      expect(last).toBe(40);
      expect(status.journal.integrity.damage).toEqual(reported);
      expect(reported[0]!.state).toBe('hole');
      expect(status.backfill.holes).toHaveLength(1);
      expect(status.backfill.holes[0]!.reason).toContain(`journal corrupt: LSNs ${first}..40 lost`);
      expect(status.backfill.holes[0]!.reason).toContain(makeRecord(40).exec_id);
      expect(holesLogged).toEqual([expect.objectContaining({ kind: 'hole' })]);
      expect(readFileSync(join(spool, 'holes.jsonl'), 'utf8')).toContain(`LSNs ${first}..40`);
      expect(status.journal.lastLsn).toBe(40);
    });

    it(
      'on KalshiRT asks the exchange again for the lost record: not ready until it is back, then recovered, no hole',
      { timeout: 60_000 },
      async () => {
        // Prepare: a first run journals 30 reports from the simulator, then a byte flips in one of them.
        const { options, generated, dir } = await journalThenFlipAByte('KalshiRT');

        // Act
        const { service: second, reported, atStart } = await restartUntilRecovered(options);
        await expect.poll(() => readiness(second.status()).ready, { timeout: 10_000 }).toBe(true);
        const status = second.status();
        await second.stop();

        // Assess: one record lost and named; asked for again by MsgSeqNum; back in the journal once.
        expect(reported.map((d) => [d.kind, d.state])).toEqual([
          ['corrupt', 'recovering'],
          ['corrupt', 'recovered'],
        ]);
        const [lost] = reported[0]!.execIds!;
        expect(reported[0]!.execIds).toHaveLength(1);
        expect(reported[0]!.msgSeqNums).toEqual([expect.any(Number), expect.any(Number)]);
        // One record lost between two kept: named by the MsgSeqNum it came in on.
        expect(reported[0]!.msgSeqNums![0]).toBe(reported[0]!.msgSeqNums![1]);
        expect(atStart.ready).toBe(false);
        expect(atStart.reasons.join('\n')).toMatch(/lost to damage, being replayed/);
        expect(status.backfill.holes).toEqual([]);
        expect(status.session.counters.resendRequests).toBeGreaterThan(0);
        const ids = await journaledIds(dir);
        expect(ids.filter((id) => id === lost)).toHaveLength(1);
        expect(new Set(ids)).toEqual(new Set(generated.map((r) => r.execId)));
        expect(ids).toHaveLength(30);
      },
    );

    it(
      'on KalshiRT with the session saved before the damaged range, waits for the resend that covers it: recovered, no hole',
      { timeout: 60_000 },
      async () => {
        // Prepare: as above, and the session's saved position is back at the start, as when the
        // process stopped before its last reports were acknowledged (seen under load).
        const { options, generated, dir } = await journalThenFlipAByte('KalshiRT');
        const store = new FileSequenceStore(
          join(options.spoolDir, `session-${options.fix.targetCompId}-${options.fix.apiKey}.json`),
        );
        await store.save({ ...store.load()!, nextInbound: 2 });

        // Act
        const { service: second, reported } = await restartUntilRecovered(options);
        const status = second.status();
        await second.stop();

        // Assess: recovering from the start (not a hole at once), then recovered; every report journaled once.
        expect(reported.map((d) => [d.kind, d.state])).toEqual([
          ['corrupt', 'recovering'],
          ['corrupt', 'recovered'],
        ]);
        expect(status.backfill.holes).toEqual([]);
        const ids = await journaledIds(dir);
        expect(ids).toHaveLength(30);
        expect(new Set(ids)).toEqual(new Set(generated.map((r) => r.execId)));
      },
    );

    it(
      'on KalshiNR replays the lost record from the drop copy: not ready until it is back, then recovered, no hole',
      { timeout: 60_000 },
      async () => {
        // Prepare: as above, on a session that cannot resend, with a drop copy configured.
        const { options, generated: emitted, dir } = await journalThenFlipAByte('KalshiNR', { dropCopy: true });
        // The drop copy never replays rejects: a lost one could only become a hole.
        const generated = emitted.filter((r) => r.execType !== '8');

        // Act
        const { service: second, reported, atStart } = await restartUntilRecovered(options);
        const status = second.status();
        await second.stop();

        // Assess
        expect(reported.map((d) => [d.kind, d.state])).toEqual([
          ['corrupt', 'recovering'],
          ['corrupt', 'recovered'],
        ]);
        expect(atStart.reasons.join('\n')).toMatch(/lost to damage, being replayed/);
        expect(status.backfill.holes).toEqual([]);
        expect(status.backfill.recovered).toBeGreaterThanOrEqual(1);
        const [lost] = reported[0]!.execIds!;
        const ids = await journaledIds(dir);
        expect(ids.filter((id) => id === lost)).toHaveLength(1);
        expect(new Set(ids)).toEqual(new Set(generated.map((r) => r.execId)));
      },
    );

    it(
      'after a clean stop, damage of what every sink had delivered is reported as delivered: nothing asked for, nothing journaled twice',
      { timeout: 60_000 },
      async () => {
        // Prepare: the first run delivers everything and stops cleanly; then a byte flips.
        const exchange = await onSimulator('KalshiRT');
        await runUntilJournaled(exchange, 30);
        const dir = journalDir(exchange.options);
        flipMiddleByte(dir);

        // Act
        const { service: second, reported } = await startKeepingDamage(exchange.options);
        await expect.poll(() => second.session.state, { timeout: 10_000 }).toBe('active');
        const status = second.status();
        await second.stop();

        // Assess: one damage, delivered; ready; no hole; the lost record not journaled again.
        expect(reported.map((d) => [d.kind, d.state])).toEqual([['corrupt', 'delivered']]);
        expect(readiness(status).ready).toBe(true);
        expect(status.backfill.holes).toEqual([]);
        const [lost] = reported[0]!.execIds!;
        expect(await journaledIds(dir)).not.toContain(lost);
      },
    );

    it(
      'on KalshiRT with a journal older than the session file, resumes from the journal and gets the rest resent',
      { timeout: 60_000 },
      async () => {
        // Prepare: a first run journals 10 reports; its journal is copied aside; a second run
        // journals 20 more; then the old journal is put back (a restore from elsewhere): the
        // session file is ahead of everything the journal holds or names.
        const exchange = await onSimulator('KalshiRT');
        const dir = journalDir(exchange.options);
        const { generated: early } = await runUntilJournaled(exchange, 10);
        const aside = tempDir();
        cpSync(dir, aside, { recursive: true });
        const { generated: late } = await runUntilJournaled(exchange, 20);
        rmSync(dir, { recursive: true });
        cpSync(aside, dir, { recursive: true });

        // Act
        const { service: third, reported } = await startKeepingDamage(exchange.options);
        await expect.poll(() => third.journal.maxExecId, { timeout: 10_000 }).toBe(late.at(-1)!.execId);
        await third.stop();

        // Assess: told, with the code; every report of both runs journaled once.
        expect(reported).toMatchObject([{ kind: 'session', code: 'ERR_SEQUENCE_UNVOUCHED' }]);
        const ids = await journaledIds(dir);
        const expected = [...early, ...late].map((r) => r.execId);
        expect(new Set(ids)).toEqual(new Set(expected));
        expect(ids).toHaveLength(expected.length);
      },
    );
  });
});

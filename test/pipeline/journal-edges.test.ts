import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JournalDamage } from '../../src/core/status.js';
import { Journal, type ExecIdConflict } from '../../src/pipeline/journal.js';
import { makeRecord, tempDir } from '../helpers/records.js';

const segmentsOf = (dir: string) =>
  readdirSync(dir)
    .filter((n) => /^seg-\d{16}\.log$/.test(n))
    .sort();

/** A journal of records 1..n, with the given sinks' cursors saved at the given positions, closed. */
async function spoolWith(n: number, cursors: Record<string, number>, options: { segmentBytes?: number } = {}) {
  const dir = tempDir();
  const journal = await Journal.open({ dir, checkEveryMs: 0, ...options });
  for (let i = 1; i <= n; i++) journal.append(makeRecord(i));
  await journal.flush();
  for (const sink of Object.keys(cursors)) await journal.loadCursor(sink);
  for (const [sink, through] of Object.entries(cursors)) await journal.saveCursor(sink, { through });
  await journal.close();
  return dir;
}

describe('Journal', () => {
  describe('open, after damage of records every sink had delivered', () => {
    it('reports them as lost locally and delivered, and drops a resend of them as a duplicate', async () => {
      // Prepare: both sinks through 10, then the only segment cut mid-way (a clean stop, then a cut).
      const dir = await spoolWith(10, { archive: 10, fills: 10 });
      const [segment] = segmentsOf(dir);
      const bytes = readFileSync(join(dir, segment!));
      writeFileSync(join(dir, segment!), bytes.subarray(0, bytes.length - 5));
      // Act
      const journal = await Journal.open({ dir, checkEveryMs: 0 });
      const resend = journal.append({ ...makeRecord(10), poss_dup: true, source: 'resend' });
      // Assess
      expect(journal.damage).toMatchObject([
        { kind: 'corrupt', lsns: [10, 10], execIds: [makeRecord(10).exec_id], state: 'delivered' },
      ]);
      expect(resend.duplicate).toBe(true);
      await journal.close();
    });
  });

  describe('open, after a segment was deleted by someone else', () => {
    it('reports the records after the slowest sink as missing, naming their ExecIDs', async () => {
      // Prepare: the archive is behind (through 4), the fills sink through 9; the only segment is deleted.
      const dir = await spoolWith(9, { archive: 4, fills: 9 });
      for (const name of segmentsOf(dir)) rmSync(join(dir, name));
      // Act
      const journal = await Journal.open({ dir, checkEveryMs: 0 });
      // Assess: 5..9 were on disk for the archive; none reached it; the fills sink steps over
      // them when the exchange brings them back.
      expect(journal.damage).toMatchObject([
        { kind: 'missing', lsns: [1, 9], execIds: Array.from({ length: 9 }, (_, i) => makeRecord(i + 1).exec_id) },
      ]);
      const back = journal.append({ ...makeRecord(7), source: 'resend' });
      await journal.flush();
      const [entry] = await journal.read(back.lsn - 1, 1);
      expect(journal.delivered('fills', entry!)).toBe(true);
      expect(journal.delivered('archive', entry!)).toBe(false);
      await journal.close();
    });

    it('reports a deleted first segment that a sink had not passed', async () => {
      // Prepare: small segments; both sinks through 3 (the segments they passed are deleted); then
      // the first segment still needed is deleted too.
      const dir = await spoolWith(30, { archive: 3, fills: 3 }, { segmentBytes: 3000 });
      const [first] = segmentsOf(dir);
      expect(Number(first!.slice(4, 20))).toBeGreaterThan(1);
      rmSync(join(dir, first!));
      // Act
      const journal = await Journal.open({ dir, segmentBytes: 3000, checkEveryMs: 0 });
      // Assess: what the deleted file held, from its first LSN to the next file's.
      const firstLeft = Number(segmentsOf(dir)[0]!.slice(4, 20));
      expect(journal.damage).toMatchObject([{ kind: 'missing', lsns: [Number(first!.slice(4, 20)), firstLeft - 1] }]);
      await journal.close();
    });

    it('does not report a range twice: a second open after the first reported it finds nothing new', async () => {
      // Prepare
      const dir = await spoolWith(9, { archive: 4, fills: 9 });
      for (const name of segmentsOf(dir)) rmSync(join(dir, name));
      const first = await Journal.open({ dir, checkEveryMs: 0 });
      first.append(makeRecord(20));
      await first.close();
      // Act
      const second = await Journal.open({ dir, checkEveryMs: 0 });
      // Assess
      expect(second.damage).toEqual([]);
      await second.close();
    });
  });

  describe('while running, the active segment deleted under the open file', () => {
    it('is noticed within the check interval, written back whole, reported, and loses nothing', async () => {
      // Prepare
      const dir = tempDir();
      const seen: JournalDamage[] = [];
      const journal = await Journal.open({ dir, checkEveryMs: 20, cacheBytes: 1 });
      journal.onDamage((damage) => seen.push(damage));
      for (let i = 1; i <= 5; i++) journal.append(makeRecord(i));
      await journal.flush();
      const [segment] = segmentsOf(dir);
      // Act: unlinked, as `rm` would; more reports arrive.
      rmSync(join(dir, segment!));
      await expect.poll(() => seen.length, { timeout: 5000 }).toBe(1);
      for (let i = 6; i <= 8; i++) journal.append(makeRecord(i));
      await journal.flush();
      // Assess: every record reads back from the file on disk; the damage names the segment.
      expect(seen[0]).toMatchObject({ kind: 'missing', segment, lsns: null, state: 'reported' });
      expect(segmentsOf(dir)).toEqual([segment]);
      expect((await journal.read(0, 100)).map((e) => e.lsn)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      await journal.close();
      const reopened = await Journal.open({ dir, checkEveryMs: 0 });
      expect(reopened.damage).toEqual([]);
      expect((await reopened.read(0, 100)).map((e) => e.record.exec_id)).toEqual(
        Array.from({ length: 8 }, (_, i) => makeRecord(i + 1).exec_id),
      );
      await reopened.close();
    });
  });

  describe('open, after an ExecID index chunk header was flipped', () => {
    it('starts, reports the chunk, and still drops a resend of an id the segments hold', async () => {
      // Prepare: chunks of 4 ids; the first chunk's header damaged.
      const dir = tempDir();
      const journal = await Journal.open({ dir, dedupeChunkIds: 4, checkEveryMs: 0 });
      for (let i = 1; i <= 20; i++) journal.append(makeRecord(i));
      await journal.flush();
      await journal.close();
      const chunks = readdirSync(join(dir, 'dedupe')).sort();
      expect(chunks.length).toBeGreaterThan(0);
      const path = join(dir, 'dedupe', chunks[0]!);
      const bytes = readFileSync(path);
      bytes[1] = 0x7b ^ 0xff; // the header's JSON no longer parses
      writeFileSync(path, bytes);
      // Act
      const reopened = await Journal.open({ dir, dedupeChunkIds: 4, checkEveryMs: 0 });
      const resend = reopened.append(makeRecord(2));
      // Assess
      expect(reopened.damage).toMatchObject([{ kind: 'index', segment: `dedupe/${chunks[0]}`, state: 'reported' }]);
      expect(resend.duplicate).toBe(true);
      await reopened.close();
    });
  });

  describe('append, of an ExecID journaled already', () => {
    it('tells a report with different content as a conflict, and a resend of the same execution not', async () => {
      // Prepare
      const journal = await Journal.open({ dir: tempDir(), checkEveryMs: 0 });
      const conflicts: ExecIdConflict[] = [];
      journal.onConflict((conflict) => conflicts.push(conflict));
      journal.append(makeRecord(2));
      await journal.flush();
      // Act: a resend of the same execution (transport fields differ), then a different report
      // reusing the ExecID.
      const resend = journal.append({ ...makeRecord(2), poss_dup: true, msg_seq_num: 99, source: 'resend' });
      const other = journal.append({ ...makeRecord(2), last_qty: '5.00', cum_qty: '5.00' });
      await expect.poll(() => conflicts.length).toBe(1);
      // Assess: both dropped from the journal; the second told, with the fields that differ.
      expect([resend.duplicate, other.duplicate]).toEqual([true, true]);
      expect(conflicts[0]).toMatchObject({ execId: makeRecord(2).exec_id, lsn: 1, fields: ['last_qty', 'cum_qty'] });
      expect(conflicts[0]!.record.last_qty).toBe('5.00');
      expect(journal.conflicts).toBe(1);
      await journal.close();
    });
  });
});

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dedupeLogLine, ExecIdIndex } from '../../src/pipeline/exec-id-index.js';
import { tempDir } from '../helpers/records.js';

const HOUR = 3600_000;
/** A moment with milliseconds: dedupe.log keeps whole seconds. */
const T0 = Date.parse('2026-11-24T00:00:00.750Z');
const T0_SECOND = Date.parse('2026-11-24T00:00:00.000Z');
const nothingLost: Array<[number, number]> = [];
/** dedupe.log's line for an id journaled at T0 (whole seconds) at `lsn`. */
const line = (lsn: number, execId: string) => dedupeLogLine(T0_SECOND, lsn, execId);
/** Every record added is durable (the tests of the log itself, not of its order with the segments). */
const ALL_DURABLE = Number.MAX_SAFE_INTEGER;

/** An index over `dir`, restored with no segments (nothing journaled beyond the log). */
async function restoredIndex(
  dir: string,
  options: { now?: () => number; windowMs?: number; lastLsn?: number; chunkIds?: number } = {},
): Promise<ExecIdIndex> {
  const index = await ExecIdIndex.open({
    dir,
    now: options.now ?? (() => T0),
    windowMs: options.windowMs ?? HOUR,
    ...(options.chunkIds === undefined ? {} : { chunkIds: options.chunkIds }),
  });
  await index.restore(new Map(), options.lastLsn ?? index.maxLsn, nothingLost);
  return index;
}

/** Logs `ids` at LSNs 1, 2, … and closes the index (which seals them `chunkIds` a chunk, if given). */
async function logIds(
  dir: string,
  ids: string[],
  options: { now?: () => number; chunkIds?: number } = {},
): Promise<void> {
  const index = await restoredIndex(dir, options);
  ids.forEach((id, i) => index.add(id, i + 1));
  await index.close(ALL_DURABLE);
}

/**
 * An index reopened over ids 1001;1..1005;5 at LSNs 1..5, sealed in chunks of two and in the log:
 * small chunks, so a lookup over the range has to read several of them as well as the log.
 */
async function reopenedInChunksOfTwo(): Promise<ExecIdIndex> {
  const dir = tempDir();
  await logIds(dir, ['1001;1', '1002;2', '1003;3', '1004;4', '1005;5'], { chunkIds: 2 });
  return restoredIndex(dir, { chunkIds: 2 });
}

describe('ExecIdIndex', () => {
  describe('open', () => {
    it('starts empty when there is no dedupe.log', async () => {
      // Prepare
      const dir = tempDir();
      // Act
      const index = await ExecIdIndex.open({ dir });
      await index.restore(new Map(), 0, nothingLost);
      // Assess
      expect(index.remembered).toEqual([]);
      expect(index.maxLsn).toBe(0);
      expect(index.size).toBe(0);
      expect(index.maxExecId).toBeUndefined();
      expect(existsSync(join(dir, 'dedupe.log'))).toBe(true); // opened for appends
      await index.close(ALL_DURABLE);
    });

    it('reads back each logged id with when (to the second) and at which LSN it was journaled', async () => {
      // Prepare
      const dir = tempDir();
      await logIds(dir, ['1001;1', '1002;2', '1003;3']);
      // Act
      const index = await ExecIdIndex.open({ dir, now: () => T0, windowMs: HOUR });
      // Assess
      expect(index.remembered).toEqual([
        { at: T0_SECOND, lsn: 1, execId: '1001;1' },
        { at: T0_SECOND, lsn: 2, execId: '1002;2' },
        { at: T0_SECOND, lsn: 3, execId: '1003;3' },
      ]);
      expect(index.maxLsn).toBe(3);
    });

    it('ignores a torn last line', async () => {
      // Prepare: a crash while writing the third line, cut right after its LSN.
      const dir = tempDir();
      writeFileSync(join(dir, 'dedupe.log'), `${line(1, '1001;1')}${line(2, '1002;2')}${T0_SECOND}\t3\t`);
      // Act
      const index = await ExecIdIndex.open({ dir, now: () => T0, windowMs: HOUR });
      // Assess
      expect(index.remembered.map((r) => r.execId)).toEqual(['1001;1', '1002;2']);
      expect(index.maxLsn).toBe(2);
      expect(index.damage).toEqual([]); // a crash's shape, not damage
    });

    it('takes no id from a line whose digits changed (its checksum), and reports the log', async () => {
      // Prepare: LSN 2's id 1002;2 made 1003;2 on disk, every byte still a valid line's.
      const dir = tempDir();
      const good = `${line(1, '1001;1')}${line(2, '1002;2')}${line(3, '1004;3')}`;
      writeFileSync(join(dir, 'dedupe.log'), good.replace('1002;2', '1003;2'));
      // Act: the segments still hold LSN 2's record.
      const index = await ExecIdIndex.open({ dir, now: () => T0, windowMs: HOUR });
      await index.restore(new Map([['1002;2', 2]]), 3, nothingLost);
      const known = ['1001;1', '1002;2', '1003;2', '1004;3'].map((id) => index.has(id));
      await index.close(ALL_DURABLE);
      // Assess: the changed line is not believed; its id comes back from the segment; reported.
      expect(index.remembered.map((r) => r.execId)).toEqual(['1001;1', '1004;3']);
      expect(known).toEqual([true, true, false, true]);
      expect(index.damage).toEqual([
        expect.objectContaining({
          kind: 'index',
          segment: 'dedupe.log',
          offset: line(1, '1001;1').length,
          lsns: null,
          note: expect.stringMatching(/^dedupe\.log: 1 line\(s\) damaged/) as unknown,
        }),
      ]);
    });

    it('does not take an ExecID cut short by a crash for a whole one', async () => {
      // Prepare: '999;9' logged at LSN 2, the write cut after its first two characters.
      const dir = tempDir();
      writeFileSync(join(dir, 'dedupe.log'), `${line(1, '1005;5')}${T0_SECOND}\t2\t99`);
      // Act
      const index = await ExecIdIndex.open({ dir, now: () => T0, windowMs: HOUR });
      await index.restore(new Map([['999;9', 2]]), 2, nothingLost);
      const known = ['999;9', '99'].map((id) => index.has(id));
      await index.close(ALL_DURABLE);
      // Assess: the id read from the segments is known; no id '99' was ever journaled, so it
      // neither counts as seen nor becomes the highest ExecID (where a drop-copy backfill starts).
      expect(index.maxExecId).toBe('1005;5');
      expect(known).toEqual([true, false]);
    });

    it('remembers the id logged right after a torn last line at the next open', async () => {
      // Prepare: a crash left the second line cut after its LSN; the index restarts and logs LSN 2 again.
      const dir = tempDir();
      writeFileSync(join(dir, 'dedupe.log'), `${line(1, '1001;1')}${T0_SECOND}\t2\t`);
      const index = await restoredIndex(dir, { lastLsn: 1 });
      index.add('1002;2', 2);
      await index.close(ALL_DURABLE);
      // Act
      const reopened = await ExecIdIndex.open({ dir, now: () => T0, windowMs: HOUR });
      // Assess
      expect(reopened.remembered.map((r) => [r.lsn, r.execId])).toEqual([
        [1, '1001;1'],
        [2, '1002;2'],
      ]);
    });

    it('takes no id from a line with LSN 0 (an unreleased dedupe.log) and none from a chunk sealed from one', async () => {
      // Prepare: a log line at LSN 0 beside a good one, and a chunk whose ids have LSN 0.
      const dir = tempDir();
      writeFileSync(join(dir, 'dedupe.log'), `${line(0, '1001;1')}${line(0, '1003;3')}${line(2, '1002;2')}`);
      mkdirSync(join(dir, 'dedupe'));
      const header = { v: 1, count: 1, minLsn: 0, maxLsn: 0, newest: T0, lo: '1000;9', hi: '1000;9', others: [] };
      writeFileSync(join(dir, 'dedupe', 'ids-0000000001.txt'), `${JSON.stringify(header)}\n1000;9\t0\n`);
      // Act: the segments still hold LSN 1's record, not the others.
      const index = await ExecIdIndex.open({ dir, now: () => T0, windowMs: HOUR });
      await index.restore(new Map([['1001;1', 1]]), 2, nothingLost);
      const known = ['1001;1', '1002;2', '1003;3', '1000;9'].map((id) => index.has(id));
      await index.close(ALL_DURABLE);
      // Assess: the log's lines are skipped and reported as any line that does not read (the
      // segments give its id back); the chunk is reported as an unreadable one and kept aside.
      expect(index.remembered.map((r) => [r.lsn, r.execId])).toEqual([[2, '1002;2']]);
      expect(known).toEqual([true, true, false, false]);
      expect(index.damage).toEqual([
        expect.objectContaining({
          kind: 'index',
          segment: 'dedupe.log',
          offset: 0,
          note: expect.stringMatching(/^dedupe\.log: 2 line\(s\) damaged/) as unknown,
        }),
        expect.objectContaining({
          kind: 'index',
          segment: 'dedupe/ids-0000000001.txt',
          lsns: null,
          note: expect.stringMatching(
            /^ExecID index chunk unreadable \(.*\); kept aside as ids-0000000001\.txt\.damaged-/,
          ) as unknown,
        }),
      ]);
      expect(readdirSync(join(dir, 'dedupe'))).toEqual([`ids-0000000001.txt.damaged-${T0}`]);
    });

    it('knows the highest LSN logged even when every id has left the window', async () => {
      // Prepare
      const dir = tempDir();
      await logIds(dir, ['1001;1', '1002;2', '1003;3']);
      // Act
      const index = await ExecIdIndex.open({ dir, now: () => T0 + 2 * HOUR, windowMs: HOUR });
      // Assess
      expect(index.remembered).toEqual([]);
      expect(index.maxLsn).toBe(3);
    });
  });

  describe('restore', () => {
    it('remembers the logged ids and those read from the segments', async () => {
      // Prepare: ids 1..3 logged; the segments also hold LSN 4, which the log never got.
      const dir = tempDir();
      await logIds(dir, ['1001;1', '1002;2', '1003;3']);
      const index = await ExecIdIndex.open({ dir, now: () => T0, windowMs: HOUR });
      // Act
      await index.restore(new Map([['1004;4', 4]]), 4, nothingLost);
      // Assess
      expect(['1001;1', '1002;2', '1003;3', '1004;4'].map((id) => index.has(id))).toEqual([true, true, true, true]);
      expect(index.size).toBe(4);
      expect(index.loggedLsn).toBe(4);
      expect(index.maxExecId).toBe('1004;4');
      await index.close(ALL_DURABLE);
    });

    it('forgets an id whose record was lost, and one logged past the last LSN the segments hold', async () => {
      // Prepare: ids at LSNs 1..5 logged; LSN 2 lost to damage, the segments end at 4.
      const dir = tempDir();
      const ids = ['1001;1', '1002;2', '1003;3', '1004;4', '1005;5'];
      await logIds(dir, ids);
      const index = await ExecIdIndex.open({ dir, now: () => T0, windowMs: HOUR });
      // Act
      await index.restore(new Map(), 4, [[2, 2]]);
      // Assess: the forgotten ids can be journaled again when the exchange resends them.
      expect(ids.map((id) => index.has(id))).toEqual([true, false, true, true, false]);
      expect(index.size).toBe(3);
      expect(index.maxExecId).toBe('1004;4');
      await index.close(ALL_DURABLE);
    });
  });

  describe('add and has', () => {
    it('knows an id as soon as it is added, before it is written', async () => {
      // Prepare
      const dir = tempDir();
      const index = await restoredIndex(dir);
      // Act
      index.add('1001;1', 1);
      // Assess
      expect(index.has('1001;1')).toBe(true);
      expect(index.has('1002;2')).toBe(false);
      expect(readFileSync(join(dir, 'dedupe.log'), 'utf8')).toBe('');
      expect(index.loggedLsn).toBe(0);
      await index.close(ALL_DURABLE);
    });
  });

  describe('persist', () => {
    it('logs no id ahead of its record: only those at or below the durable LSN', async () => {
      // Prepare
      const dir = tempDir();
      const index = await ExecIdIndex.open({ dir, now: () => T0 });
      await index.restore(new Map(), 0, nothingLost);
      index.add('1001;1', 1);
      index.add('1002;2', 2);
      index.add('1003;3', 3);

      // Act
      await index.persist(2);
      const logged = readFileSync(join(dir, 'dedupe.log'), 'utf8');
      await index.persist(3);

      // Assess: a record still pending when the log was written is not taken for a durable one.
      expect(
        logged
          .trim()
          .split('\n')
          .map((l) => l.split('\t')[2]),
      ).toEqual(['1001;1', '1002;2']);
      expect(index.loggedLsn).toBe(3);
      expect((await ExecIdIndex.open({ dir, now: () => T0 })).maxLsn).toBe(3);
      await index.close(3);
    });

    it('appends one line per id: when (whole seconds, in ms), the LSN, the ExecID and their CRC32', async () => {
      // Prepare
      const dir = tempDir();
      const index = await restoredIndex(dir);
      index.add('1001;1', 1);
      index.add('noexecid:ab12', 2);
      // Act
      await index.persist(ALL_DURABLE);
      // Assess
      const fields = [`${T0_SECOND}\t1\t1001;1`, `${T0_SECOND}\t2\tnoexecid:ab12`];
      expect(readFileSync(join(dir, 'dedupe.log'), 'utf8')).toBe(
        fields.map((f) => `${f}\t${crc32(f).toString(16).padStart(8, '0')}\n`).join(''),
      );
      expect(index.loggedLsn).toBe(2);
      expect(index.failure).toBeUndefined();
      await index.close(ALL_DURABLE);
    });

    it('remembers every id across a reopen, and knows a resend as a duplicate', async () => {
      // Prepare
      const dir = tempDir();
      await logIds(dir, ['1001;1', '1002;2']);
      // Act
      const index = await restoredIndex(dir);
      // Assess
      expect(index.has('1002;2')).toBe(true);
      expect(index.has('1003;3')).toBe(false);
      expect(index.size).toBe(2);
      await index.close(ALL_DURABLE);
    });

    it('writes the ids of several persists in order, one write at a time', async () => {
      // Prepare
      const dir = tempDir();
      const index = await restoredIndex(dir);
      // Act: persists not awaited one by one, as the journal calls them after each group commit.
      const writes = [1, 2, 3, 4].map((n) => {
        index.add(`${1000 + n};${n}`, n);
        return index.persist(ALL_DURABLE);
      });
      await Promise.all(writes);
      // Assess
      const lsns = readFileSync(join(dir, 'dedupe.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => Number(l.split('\t')[1]));
      expect(lsns).toEqual([1, 2, 3, 4]);
      expect(index.loggedLsn).toBe(4);
      await index.close(ALL_DURABLE);
    });

    it('writes and syncs at most every syncEveryMs, and whenever asked to sync', async () => {
      // Prepare
      const dir = tempDir();
      const index = await ExecIdIndex.open({ dir, now: () => T0, syncEveryMs: 60_000 });
      await index.restore(new Map(), 0, nothingLost);
      index.add('1001;1', 1);
      await index.persist(1); // the first write syncs
      index.add('1002;2', 2);
      // Act
      await index.persist(2);
      const beforeSync = index.loggedLsn;
      const written = readFileSync(join(dir, 'dedupe.log'), 'utf8').split('\n').filter(Boolean).length;
      await index.persist(2, { sync: true });
      const after = readFileSync(join(dir, 'dedupe.log'), 'utf8').split('\n').filter(Boolean).length;
      // Assess: segments above loggedLsn are kept until the id is in the log.
      expect([beforeSync, written, index.loggedLsn, after]).toEqual([1, 1, 2, 2]);
      await index.close(ALL_DURABLE);
    });

    it('sets failure when the log cannot be written, keeping the ids known and loggedLsn where it was', async () => {
      // Prepare: dedupe.log is the full-disk device, so every write fails with ENOSPC.
      const dir = tempDir();
      const index = await ExecIdIndex.open({ dir, now: () => T0 });
      symlinkSync('/dev/full', join(dir, 'dedupe.log'));
      await index.restore(new Map(), 0, nothingLost);
      index.add('1001;1', 1);
      // Act
      await index.persist(ALL_DURABLE);
      // Assess
      expect(index.failure).toMatchObject({ code: 'ERR_JOURNAL_DISK_FULL', cause: { code: 'ENOSPC' } });
      expect(index.has('1001;1')).toBe(true);
      expect(index.loggedLsn).toBe(0);
      await index.close(ALL_DURABLE);
    });

    it(
      'compacts the log to the ids still in the window once it holds over 100 000 lines',
      { timeout: 30_000 },
      async () => {
        // Prepare: 100 001 ids logged (fewer than a chunk), then all of them out of the window.
        const dir = tempDir();
        let now = T0;
        const index = await restoredIndex(dir, { now: () => now, chunkIds: 200_000 });
        for (let n = 1; n <= 100_001; n++) index.add(`${n};${n}`, n);
        await index.persist(ALL_DURABLE);
        const before = readFileSync(join(dir, 'dedupe.log'), 'utf8').length;
        now += 2 * HOUR;
        index.add('200000;1', 100_002);
        // Act
        await index.persist(ALL_DURABLE);
        // Assess: one line left; a reopen still knows the id.
        const after = readFileSync(join(dir, 'dedupe.log'), 'utf8');
        expect(before).toBeGreaterThan(100_000 * 10);
        expect(after).toBe(dedupeLogLine(T0_SECOND + 2 * HOUR, 100002, '200000;1'));
        expect(index.size).toBe(1);
        await index.close(ALL_DURABLE);
        const reopened = await restoredIndex(dir, { now: () => now, lastLsn: 100_002 });
        expect(reopened.has('200000;1')).toBe(true);
        expect(reopened.has('100001;100001')).toBe(false);
        await reopened.close(ALL_DURABLE);
      },
    );
  });

  describe('sealing', () => {
    it('moves the oldest logged ids into a sorted chunk file, keeping the newest in memory and in the log', async () => {
      // Prepare
      const dir = tempDir();
      const index = await restoredIndex(dir, { chunkIds: 4 });
      ['1005;5', '1001;1', '1003;3', '1002;2', '1004;4', '1006;6'].forEach((id, i) => index.add(id, i + 1));
      // Act
      await index.persist(ALL_DURABLE);
      // Assess: four ids sealed (lines sorted), two left in memory and in the log.
      const chunk = readFileSync(join(dir, 'dedupe', 'ids-0000000001.txt'), 'utf8').split('\n');
      const body = '1001;1\t2\n1002;2\t4\n1003;3\t3\n1005;5\t1\n';
      // The header a checked line (`<crc32> <json>`), sealing the body's length and CRC32.
      expect(chunk[0]!.slice(0, 8)).toBe(crc32(chunk[0]!.slice(9)).toString(16).padStart(8, '0'));
      expect(JSON.parse(chunk[0]!.slice(9))).toMatchObject({
        v: 2,
        count: 4,
        minLsn: 1,
        maxLsn: 4,
        lo: '1001;1',
        hi: '1005;5',
        seal: { bytes: body.length, crc: crc32(body) },
      });
      expect(chunk.slice(1).join('\n')).toBe(body);
      expect(readFileSync(join(dir, 'dedupe.log'), 'utf8')).toBe(`${line(5, '1004;4')}${line(6, '1006;6')}`);
      expect([index.size, index.inMemory, index.chunkCount]).toEqual([6, 2, 1]);
      expect(['1001;1', '1002;2', '1003;3', '1004;4', '1005;5', '1006;6'].every((id) => index.has(id))).toBe(true);
      expect(['1000;9', '1002;3', '1005;4', '1007;7', 'noexecid:x'].some((id) => index.has(id))).toBe(false);
      await index.close(ALL_DURABLE);
    });

    it('knows sealed ids after a reopen, and where the highest ExecID is', async () => {
      // Prepare
      const dir = tempDir();
      await logIds(dir, ['1001;1', 'noexecid:ab', '1003;3', '1004;4'], { chunkIds: 3 });
      // Act
      const index = await restoredIndex(dir, { chunkIds: 3 });
      // Assess
      expect(['1001;1', 'noexecid:ab', '1003;3', '1004;4'].map((id) => index.has(id))).toEqual([
        true,
        true,
        true,
        true,
      ]);
      expect(['1002;2', 'noexecid:cd'].map((id) => index.has(id))).toEqual([false, false]);
      expect([index.size, index.inMemory, index.chunkCount, index.maxLsn]).toEqual([4, 1, 1, 4]);
      expect(index.maxExecId).toBe('1004;4');
      await index.close(ALL_DURABLE);
    });

    it('reads ids sealed by a seal whose log rewrite a crash stopped once (they are in both)', async () => {
      // Prepare: the log as it was before the seal rewrote it.
      const dir = tempDir();
      await logIds(dir, ['1001;1', '1002;2', '1003;3'], { chunkIds: 100 });
      const fullLog = readFileSync(join(dir, 'dedupe.log'), 'utf8');
      const sealing = await restoredIndex(dir, { chunkIds: 2 });
      await sealing.close(ALL_DURABLE);
      writeFileSync(join(dir, 'dedupe.log'), fullLog);
      // Act
      const index = await restoredIndex(dir, { chunkIds: 2 });
      // Assess: counted once each.
      expect(existsSync(join(dir, 'dedupe', 'ids-0000000001.txt'))).toBe(true);
      expect([index.size, index.inMemory, index.chunkCount]).toEqual([3, 1, 1]);
      await index.close(ALL_DURABLE);
    });

    it('forgets a sealed id whose record was lost, rewriting its chunk', async () => {
      // Prepare
      const dir = tempDir();
      await logIds(dir, ['1001;1', '1002;2', '1003;3', '1004;4'], { chunkIds: 3 });
      const index = await ExecIdIndex.open({ dir, now: () => T0, windowMs: HOUR, chunkIds: 3 });
      // Act
      await index.restore(new Map(), 4, [[2, 2]]);
      // Assess
      expect(['1001;1', '1002;2', '1003;3', '1004;4'].map((id) => index.has(id))).toEqual([true, false, true, true]);
      expect(index.size).toBe(3);
      expect(await index.idsBetween(1, 4)).toEqual(['1001;1', '1003;3', '1004;4']);
      await index.close(ALL_DURABLE);
    });

    it('names the ids of an LSN range and the last id before it from chunks and the log', async () => {
      // Prepare
      const index = await reopenedInChunksOfTwo();
      // Act / Assess
      expect(await index.idsBetween(2, 5)).toEqual(['1002;2', '1003;3', '1004;4', '1005;5']);
      expect(await index.lastIdBefore(3)).toBe('1002;2');
      expect(await index.lastIdBefore(6)).toBe('1005;5');
      expect(await index.lastIdBefore(1)).toBeUndefined();
      await index.close(ALL_DURABLE);
    });

    it('names at most `limit` ids of a range, in LSN order, so a huge lost range never stops the start', async () => {
      // Prepare
      const index = await reopenedInChunksOfTwo();
      // Act
      const named = await index.entriesBetween(1, 5, 3);
      // Assess
      expect(named).toEqual([
        ['1001;1', 1],
        ['1002;2', 2],
        ['1003;3', 3],
      ]);
      await index.close(ALL_DURABLE);
    });

    it('deletes a chunk once its newest id has left the window', async () => {
      // Prepare
      const dir = tempDir();
      let now = T0;
      const index = await restoredIndex(dir, { now: () => now, chunkIds: 2 });
      index.add('1001;1', 1);
      index.add('1002;2', 2);
      await index.persist(ALL_DURABLE);
      const sealed = existsSync(join(dir, 'dedupe', 'ids-0000000001.txt'));
      now = T0 + HOUR + 2000;
      index.add('1003;3', 3);
      // Act
      await index.persist(ALL_DURABLE);
      // Assess
      expect(sealed).toBe(true);
      expect(existsSync(join(dir, 'dedupe', 'ids-0000000001.txt'))).toBe(false);
      expect(['1001;1', '1002;2', '1003;3'].map((id) => index.has(id))).toEqual([false, false, true]);
      expect(index.size).toBe(1);
      await index.close(ALL_DURABLE);
    });

    it('keeps the ids in memory and the log when a chunk cannot be written, and seals them later', async () => {
      // Prepare: the chunk folder is a file, so the seal fails.
      const dir = tempDir();
      const index = await restoredIndex(dir, { chunkIds: 2 });
      writeFileSync(join(dir, 'dedupe'), '');
      index.add('1001;1', 1);
      index.add('1002;2', 2);
      // Act
      await index.persist(ALL_DURABLE);
      // Assess
      expect(index.failure).toMatchObject({ code: 'ERR_JOURNAL_WRITE' });
      expect([index.inMemory, index.chunkCount]).toEqual([2, 0]);
      expect(readFileSync(join(dir, 'dedupe.log'), 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
      rmSync(join(dir, 'dedupe'));
      index.add('1003;3', 3);
      await index.persist(ALL_DURABLE);
      expect(index.failure).toBeUndefined();
      expect([index.inMemory, index.chunkCount]).toEqual([1, 1]);
      await index.close(ALL_DURABLE);
    });
  });

  describe('a damaged or deleted chunk', () => {
    /** Ids 1001;1..1008;8 at LSNs 1..8, sealed four a chunk: ids-0000000001.txt holds 1..4. */
    async function sealedDir(): Promise<{ dir: string; chunk: string }> {
      const dir = tempDir();
      const index = await restoredIndex(dir, { chunkIds: 4 });
      for (let n = 1; n <= 8; n++) index.add(`100${n};${n}`, n);
      await index.persist(ALL_DURABLE);
      await index.close(ALL_DURABLE);
      return { dir, chunk: join(dir, 'dedupe', 'ids-0000000001.txt') };
    }
    /** Raises one digit of the chunk's body: the file still reads, as JSON and as lines. */
    function raiseDigit(path: string, of: string, to: string): void {
      const text = readFileSync(path, 'utf8');
      const at = text.indexOf(of, text.indexOf('\n'));
      writeFileSync(path, text.slice(0, at) + to + text.slice(at + of.length));
    }

    it('reports a header whose JSON still reads after a change (its checksum does not match), and keeps it aside', async () => {
      // Prepare: "minLsn":1 made "minLsn":2, still valid JSON.
      const { dir, chunk } = await sealedDir();
      writeFileSync(chunk, readFileSync(chunk, 'utf8').replace('"minLsn":1', '"minLsn":2'));
      // Act
      const index = await ExecIdIndex.open({ dir, now: () => T0, windowMs: HOUR });
      await index.restore(new Map(), 8, nothingLost);
      await index.close(ALL_DURABLE);
      // Assess
      expect(index.damage).toEqual([
        expect.objectContaining({
          kind: 'index',
          segment: 'dedupe/ids-0000000001.txt',
          note: expect.stringMatching(
            /^ExecID index chunk unreadable \(cannot read the dedupe chunk .*ids-0000000001\.txt: dedupe chunk header checksum\); kept aside/,
          ) as unknown,
        }),
      ]);
      expect(readdirSync(join(dir, 'dedupe'))).toEqual([`ids-0000000001.txt.damaged-${T0}`, 'ids-0000000002.txt']);
    });

    it('rebuilds at open the ids of a chunk whose body changed from the segments that still hold them', async () => {
      // Prepare: 1003;3 made 1004;3 in the chunk (it would name a wrong id and lose the real one).
      const { dir, chunk } = await sealedDir();
      raiseDigit(chunk, '1003;3', '1004;3');
      const segments = new Map(
        Array.from({ length: 8 }, (_, i) => [`100${i + 1};${i + 1}`, i + 1] as [string, number]),
      );
      const reported: unknown[] = [];
      // Act
      const index = await ExecIdIndex.open({ dir, now: () => T0, windowMs: HOUR, onDamage: (d) => reported.push(d) });
      await index.restore(segments, 8, nothingLost);
      const known = [1, 2, 3, 4].map((n) => index.has(`100${n};${n}`));
      await index.close(ALL_DURABLE);
      // Assess: every id known again (from the segments), the chunk reported and kept aside.
      expect(known).toEqual([true, true, true, true]);
      expect(index.has('1004;3')).toBe(false);
      expect(reported).toEqual([
        expect.objectContaining({
          kind: 'index',
          segment: 'dedupe/ids-0000000001.txt',
          note: expect.stringMatching(/^ExecID index chunk damaged \(its ids do not match the checksum/) as unknown,
        }),
      ]);
      expect(index.damage).toEqual(reported);
      // Kept aside, beside the other chunk (5..8); the ids it held are in memory again.
      expect(readdirSync(join(dir, 'dedupe'))).toEqual([`ids-0000000001.txt.damaged-${T0}`, 'ids-0000000002.txt']);
    });

    it('reports a chunk found changed or deleted by a lookup after open, and answers instead of throwing', async () => {
      for (const harm of ['raise a digit', 'delete'] as const) {
        // Prepare: the segments no longer hold the sealed ids' records (their chunk is checked
        // only when a lookup reads it).
        const { dir, chunk } = await sealedDir();
        const reported: Array<{ note?: string }> = [];
        const index = await ExecIdIndex.open({ dir, now: () => T0, windowMs: HOUR, onDamage: (d) => reported.push(d) });
        await index.restore(new Map([['1008;8', 8]]), 8, nothingLost);
        if (harm === 'delete') rmSync(chunk);
        else raiseDigit(chunk, '1002;2', '1002;7');
        // Act: a resend of a sealed id.
        const known = index.has('1002;2');
        // Assess: not believed (its ids are forgotten, as the report says), and reported once.
        expect(known, harm).toBe(false);
        expect(reported, harm).toEqual([
          expect.objectContaining({
            kind: 'index',
            segment: 'dedupe/ids-0000000001.txt',
            note: expect.stringMatching(harm === 'delete' ? /unreadable \(ENOENT/ : /damaged/) as unknown,
          }),
        ]);
        expect(index.has('1003;3'), harm).toBe(false);
        expect(reported, harm).toHaveLength(1);
        expect(index.chunkCount, harm).toBe(1); // the other chunk, 5..8
        expect(index.has('1006;6'), harm).toBe(true);
        await index.close(ALL_DURABLE);
      }
    });
  });

  describe('has', () => {
    it('finds a resent sequenced id when odd, unsequenced ids moved the highest id in string order', async () => {
      // Prepare: '2' sorts above '10;1' and '15;1' as strings, '3;0' above '2'; '15;1' is known.
      const index = await restoredIndex(tempDir());
      ['10;1', '2', '15;1', '3;0'].forEach((id, i) => index.add(id, i + 1));
      // Act / Assess
      expect(['10;1', '2', '15;1', '3;0'].map((id) => index.has(id))).toEqual([true, true, true, true]);
      expect(['16;0', '1;0', '3'].map((id) => index.has(id))).toEqual([false, false, false]);
      await index.close(ALL_DURABLE);
    });

    it('answers as an exact set would, through seals, reopens and any mix of ids (property)', async () => {
      const id = fc.oneof(
        { weight: 6, arbitrary: fc.tuple(fc.nat(40), fc.nat(9)).map(([c, e]) => `${c};${e}`) },
        { weight: 1, arbitrary: fc.constantFrom('2', '10', 'noexecid:a', 'noexecid:b', 'x;1', '07;1') },
      );
      const step = fc.oneof(
        { weight: 8, arbitrary: id.map((execId) => ({ kind: 'offer' as const, execId })) },
        { weight: 1, arbitrary: fc.constant({ kind: 'persist' as const }) },
        { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
      );
      await fc.assert(
        fc.asyncProperty(fc.array(step, { maxLength: 60 }), fc.integer({ min: 1, max: 5 }), async (steps, chunkIds) => {
          const dir = tempDir();
          const reference = new Set<string>();
          let lsn = 0;
          let index = await restoredIndex(dir, { chunkIds });
          for (const s of steps) {
            if (s.kind === 'persist') await index.persist(ALL_DURABLE);
            else if (s.kind === 'reopen') {
              await index.close(ALL_DURABLE);
              index = await restoredIndex(dir, { chunkIds, lastLsn: lsn });
            } else {
              // The journal's use: ask, and journal what is new.
              expect(index.has(s.execId)).toBe(reference.has(s.execId));
              if (!reference.has(s.execId)) {
                reference.add(s.execId);
                index.add(s.execId, ++lsn);
              }
            }
          }
          expect(index.size).toBe(reference.size);
          await index.close(ALL_DURABLE);
        }),
        { numRuns: 150 },
      );
    }, 60_000);
  });

  describe('window', () => {
    it('forgets an id once the window has passed, at the next persist', async () => {
      // Prepare
      let now = T0;
      const index = await restoredIndex(tempDir(), { now: () => now, windowMs: HOUR });
      index.add('1001;1', 1);
      await index.persist(ALL_DURABLE);
      now = T0 + HOUR / 2;
      index.add('1002;2', 2);
      await index.persist(ALL_DURABLE);
      const insideWindow = index.has('1001;1');
      // Act
      now = T0 + HOUR + 2000;
      index.add('1003;3', 3);
      await index.persist(ALL_DURABLE);
      // Assess
      expect(insideWindow).toBe(true);
      expect(index.has('1001;1')).toBe(false);
      expect(index.has('1002;2')).toBe(true);
      expect(index.has('1003;3')).toBe(true);
      expect(index.size).toBe(2);
      await index.close(ALL_DURABLE);
    });

    it('does not bring back at open an id logged before the window', async () => {
      // Prepare: one id at T0, one two hours later.
      const dir = tempDir();
      let now = T0;
      const first = await restoredIndex(dir, { now: () => now });
      first.add('1001;1', 1);
      await first.persist(ALL_DURABLE);
      now = T0 + 2 * HOUR;
      first.add('1002;2', 2);
      await first.close(ALL_DURABLE);
      // Act
      const index = await restoredIndex(dir, { now: () => now + 1000, windowMs: HOUR });
      // Assess
      expect(index.remembered.map((r) => r.execId)).toEqual(['1002;2']);
      expect(index.has('1001;1')).toBe(false);
      expect(index.has('1002;2')).toBe(true);
      expect(index.maxLsn).toBe(2);
      await index.close(ALL_DURABLE);
    });
  });

  describe('maxExecId', () => {
    it('orders ExecIDs as clock;event integers, not as strings, and ignores noexecid: ids', async () => {
      // Prepare
      const index = await restoredIndex(tempDir());
      // Act
      ['999;9', '1005;5', 'noexecid:zzz', '1005;4', '1000;99'].forEach((id, i) => index.add(id, i + 1));
      // Assess
      expect(index.maxExecId).toBe('1005;5');
      await index.close(ALL_DURABLE);
    });

    it('keeps the highest ExecID across a restart', async () => {
      // Prepare
      const dir = tempDir();
      await logIds(dir, ['999;9', '1005;5', 'noexecid:zzz', '1001;1']);
      // Act
      const index = await restoredIndex(dir);
      // Assess
      expect(index.maxExecId).toBe('1005;5');
      await index.close(ALL_DURABLE);
    });
  });
});

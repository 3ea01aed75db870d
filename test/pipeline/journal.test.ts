import { existsSync, readdirSync, readFileSync, statSync, truncateSync, appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal } from '../../src/pipeline/journal.js';
import { makeRecord, tempDir } from '../helpers/records.js';

function segmentPath(dir: string): string {
  return join(
    dir,
    readdirSync(dir).find((n) => n.startsWith('seg-') && n.endsWith('.log'))!,
  );
}

/** What a crash between a segment's fsync and the dedupe log's append leaves behind. */
function dropLastDedupeLine(dir: string): void {
  const path = join(dir, 'dedupe.log');
  const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
  writeFileSync(
    path,
    lines
      .slice(0, -1)
      .map((l) => `${l}\n`)
      .join(''),
  );
}

async function appendAll(journal: Journal, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) journal.append(makeRecord(n));
  await journal.flush();
}

describe('Journal', () => {
  describe('append', () => {
    it('numbers records from 1 and makes them durable together (group commit)', async () => {
      // Prepare
      const journal = await Journal.open({ dir: tempDir() });
      const durable: number[] = [];
      journal.onDurable((lsn) => durable.push(lsn));
      // Act
      const results = [1, 2, 3, 4, 5].map((n) => journal.append(makeRecord(n)));
      await journal.flush();
      // Assess
      expect(results.map((r) => r.lsn)).toEqual([1, 2, 3, 4, 5]);
      expect(journal.durableLsn).toBe(5);
      expect(durable.length).toBeLessThan(5); // fewer fsyncs than records
      expect(durable.at(-1)).toBe(5);
      await journal.close();
    });

    it('drops a second record with the same ExecID and counts it', async () => {
      const journal = await Journal.open({ dir: tempDir() });
      journal.append(makeRecord(1));
      const again = journal.append(makeRecord(1, { poss_dup: true, source: 'resend' }));
      await journal.flush();
      expect(again.duplicate).toBe(true);
      expect(journal.lastLsn).toBe(1);
      expect(journal.stats().duplicatesDropped).toBe(1);
      await journal.close();
    });

    it('remembers ExecIDs across a restart, and forgets them after the window', async () => {
      // Prepare
      const dir = tempDir();
      let now = Date.parse('2026-11-24T00:00:00Z');
      const first = await Journal.open({ dir, now: () => now, dedupeWindowMs: 3600_000 });
      await appendAll(first, 1, 3);
      await first.close();
      // Act
      const second = await Journal.open({ dir, now: () => now, dedupeWindowMs: 3600_000 });
      const duplicate = second.append(makeRecord(2));
      now += 2 * 3600_000;
      const third = await Journal.open({ dir: tempDir(), now: () => now });
      await second.close();
      const later = await Journal.open({ dir, now: () => now, dedupeWindowMs: 3600_000 });
      // Assess
      expect(duplicate.duplicate).toBe(true);
      expect(later.stats().dedupeEntries).toBe(3); // still in segments, which sinks have not passed
      await later.close();
      await third.close();
    });
  });

  describe('deduplication beyond memory', () => {
    it('drops a resend of an id sealed in a chunk file, running and after a restart', async () => {
      // Prepare: 4 ids per chunk, so ids 1..8 are sealed once 10 are logged.
      const dir = tempDir();
      const journal = await Journal.open({ dir, dedupeChunkIds: 4 });
      await appendAll(journal, 1, 10);
      // Act
      const resent = [1, 6, 9].map((n) => journal.append(makeRecord(n, { poss_dup: true, source: 'resend' })));
      const fresh = journal.append(makeRecord(11));
      await journal.close();
      const reopened = await Journal.open({ dir, dedupeChunkIds: 4 });
      const replayed = [2, 7, 11].map((n) => reopened.append(makeRecord(n, { source: 'backfill' })));
      // Assess
      expect(existsSync(join(dir, 'dedupe', 'ids-0000000002.txt'))).toBe(true);
      expect(resent.map((r) => r.duplicate)).toEqual([true, true, true]);
      expect(fresh.duplicate).toBe(false);
      expect(replayed.map((r) => r.duplicate)).toEqual([true, true, true]);
      expect(reopened.stats().dedupeEntries).toBe(11);
      expect(reopened.maxExecId).toBe(makeRecord(11).exec_id);
      await reopened.close();
    });
  });

  describe('deduplication window', () => {
    it('drops a resend inside the window and forgets the ExecID once the window has passed, while running', async () => {
      // Prepare
      let now = Date.parse('2026-11-24T00:00:00.750Z');
      const journal = await Journal.open({ dir: tempDir(), now: () => now, dedupeWindowMs: 3600_000 });
      await appendAll(journal, 1, 1);
      // Act
      now += 3599_000;
      const inside = journal.append(makeRecord(1));
      await appendAll(journal, 2, 2); // a commit evicts what has expired
      now += 2000;
      await appendAll(journal, 3, 3);
      const after = journal.append(makeRecord(1));
      const stillRemembered = journal.append(makeRecord(2));
      await journal.flush();
      // Assess
      expect(inside.duplicate).toBe(true);
      expect(after.duplicate).toBe(false);
      expect(stillRemembered.duplicate).toBe(true);
      expect(journal.stats().dedupeEntries).toBe(3);
      await journal.close();
    });
  });

  describe('open', () => {
    it('cuts a torn tail after a crash and keeps every complete record', async () => {
      // Prepare: a crash in the middle of the last write: half a record on disk, and the dedupe
      // log (written after the segment's fsync) never got to it.
      const dir = tempDir();
      const journal = await Journal.open({ dir });
      await appendAll(journal, 1, 10);
      await journal.close();
      const segment = segmentPath(dir);
      truncateSync(segment, statSync(segment).size - 7); // half of the last record
      dropLastDedupeLine(dir);
      // Act
      const reopened = await Journal.open({ dir });
      // Assess: reported as a torn tail, and the unacknowledged LSN is free again.
      expect(reopened.lastLsn).toBe(9);
      expect(reopened.stats().truncatedTailBytes).toBeGreaterThan(0);
      expect(reopened.damage).toEqual([expect.objectContaining({ kind: 'torn_tail', lsns: [10, 10] })]);
      const entries = await reopened.read(0, 100);
      expect(entries.map((e) => e.record.exec_id)).toEqual(
        [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => makeRecord(n).exec_id),
      );
      // The record whose tail was cut can be journaled again (the resend brings it back).
      expect(reopened.append(makeRecord(10)).duplicate).toBe(false);
      await reopened.close();
    });

    it('reports a durable record cut from the end as lost, names it, and never reuses its LSN', async () => {
      // Prepare: the probe's 5-byte truncation of a journal closed cleanly (every record durable).
      const dir = tempDir();
      const journal = await Journal.open({ dir });
      await appendAll(journal, 1, 10);
      await journal.close();
      const segment = segmentPath(dir);
      truncateSync(segment, statSync(segment).size - 5);
      // Act
      const reopened = await Journal.open({ dir });
      // Assess
      expect(reopened.damage).toEqual([
        expect.objectContaining({ kind: 'corrupt', lsns: [10, 10], execIds: [makeRecord(10).exec_id] }),
      ]);
      expect(reopened.lastLsn).toBe(10);
      expect(reopened.append(makeRecord(11)).lsn).toBe(11);
      // Its ExecID is forgotten, so a replay from the exchange is journaled, under a new LSN.
      expect(reopened.append(makeRecord(10))).toEqual({ lsn: 12, duplicate: false });
      await reopened.flush();
      expect((await reopened.read(9, 10)).map((e) => e.lsn)).toEqual([11, 12]);
      expect(readdirSync(dir).some((n) => n.includes('.damaged-'))).toBe(true);
      await reopened.close();
    });

    it('treats garbage appended after the last record as a torn tail, never as data', async () => {
      const dir = tempDir();
      const journal = await Journal.open({ dir });
      await appendAll(journal, 1, 3);
      await journal.close();
      const segment = join(
        dir,
        readdirSync(dir).find((n) => n.startsWith('seg-'))!,
      );
      appendFileSync(segment, Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, 123, 34]));
      const reopened = await Journal.open({ dir });
      expect(reopened.lastLsn).toBe(3);
      expect((await reopened.read(0, 10)).length).toBe(3);
      await reopened.close();
    });

    it('steps over a damaged record in a segment that is not the last, losing that record only', async () => {
      // Prepare: one flipped byte inside the second record of the first of several segments.
      const dir = tempDir();
      const journal = await Journal.open({ dir, segmentBytes: 2000 });
      await appendAll(journal, 1, 20);
      await journal.close();
      const names = readdirSync(dir)
        .filter((n) => n.startsWith('seg-'))
        .sort();
      const first = join(dir, names[0]!);
      const bytes = readFileSync(first);
      // File header (8 bytes), then records of a 16-byte header (length, crc, LSN) and the line.
      const second = 8 + 16 + bytes.readUInt32LE(8);
      bytes[second + 30] = bytes[second + 30]! ^ 0xff;
      writeFileSync(first, bytes);

      // Act
      const reopened = await Journal.open({ dir, segmentBytes: 2000 });

      // Assess: LSN 2 lost and named; every other record readable; the damaged file kept aside.
      expect(reopened.damage).toEqual([expect.objectContaining({ kind: 'corrupt', segment: names[0], lsns: [2, 2] })]);
      expect(reopened.damage[0]!.execIds).toEqual([makeRecord(2).exec_id]);
      const entries = await reopened.read(0, 100);
      expect(entries.map((e) => e.lsn)).toEqual([1, ...Array.from({ length: 18 }, (_, i) => i + 3)]);
      expect(readdirSync(dir).filter((n) => n.startsWith(`${names[0]}.damaged-`))).toHaveLength(1);
      expect(reopened.append(makeRecord(21)).lsn).toBe(21);
      await reopened.close();
    });
  });

  describe('read', () => {
    it('serves a sink far behind from the segment files, across segments', async () => {
      // Prepare: tiny segments and cache, so reads go to disk.
      const dir = tempDir();
      const journal = await Journal.open({ dir, segmentBytes: 4000, cacheBytes: 1000 });
      await appendAll(journal, 1, 600);
      // Act
      const fromDisk = await journal.read(0, 600);
      const middle = await journal.read(299, 5);
      // Assess
      expect(journal.stats().segments).toBeGreaterThan(10);
      expect(fromDisk.map((e) => e.lsn)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
      expect(middle.map((e) => e.record.exec_id)).toEqual([300, 301, 302, 303, 304].map((n) => makeRecord(n).exec_id));
      // Lines come back byte for byte, as bytes and as text; a record parsed from one equals the one appended.
      const lines = Array.from({ length: 600 }, (_, i) => JSON.stringify(makeRecord(i + 1)));
      expect(fromDisk.map((e) => e.line)).toEqual(lines);
      expect(fromDisk.map((e) => e.bytes.toString('utf8'))).toEqual(lines);
      expect(fromDisk[42]!.record).toEqual(makeRecord(43));
      await journal.close();
    });

    it('serves the newest records from its cache, and older ones from disk, after many evictions', async () => {
      // Prepare: a cache of a few dozen lines, thousands of appends (it evicts and compacts often).
      const journal = await Journal.open({ dir: tempDir(), cacheBytes: 50_000 });
      const appended = Array.from({ length: 6000 }, (_, i) => makeRecord(i + 1));
      for (let at = 0; at < appended.length; at += 500) {
        for (const record of appended.slice(at, at + 500)) journal.append(record);
        await journal.flush();
      }
      // Act
      const newest = await journal.read(5990, 10);
      const older = await journal.read(99, 5);
      // Assess: both give back the lines appended, byte for byte.
      expect(newest.map((e) => e.lsn)).toEqual(Array.from({ length: 10 }, (_, i) => 5991 + i));
      expect(newest.map((e) => e.line)).toEqual(appended.slice(5990).map((r) => JSON.stringify(r)));
      expect(older.map((e) => e.record)).toEqual(appended.slice(99, 104));
      await journal.close();
    });

    it('never returns records that are not yet durable', async () => {
      const journal = await Journal.open({ dir: tempDir() });
      journal.append(makeRecord(1));
      expect(await journal.read(0, 10)).toEqual([]);
      await journal.flush();
      expect((await journal.read(0, 10)).length).toBe(1);
      await journal.close();
    });
  });

  describe('saveCursor', () => {
    it('deletes segments once every sink has passed them, and keeps numbering after', async () => {
      // Prepare
      const dir = tempDir();
      const journal = await Journal.open({ dir, segmentBytes: 4000 });
      await journal.loadCursor('a');
      await journal.loadCursor('b');
      await appendAll(journal, 1, 200);
      const before = journal.stats().segments;
      // Act
      await journal.saveCursor('a', { through: 200 });
      const afterA = journal.stats().segments;
      await journal.saveCursor('b', { through: 200 });
      // Assess
      expect(afterA).toBe(before);
      expect(journal.stats().segments).toBeLessThan(before);
      expect(journal.backlog('b').records).toBe(0);
      await journal.close();
      const reopened = await Journal.open({ dir, segmentBytes: 4000 });
      expect(reopened.append(makeRecord(500)).lsn).toBe(201);
      expect((await reopened.loadCursor<{ through: number }>('a'))?.through).toBe(200);
      await reopened.close();
    });

    it('reports the backlog of a sink in records and bytes', async () => {
      const journal = await Journal.open({ dir: tempDir() });
      await journal.loadCursor('s');
      await appendAll(journal, 1, 50);
      await journal.saveCursor('s', { through: 10 });
      const backlog = journal.backlog('s');
      expect(backlog.records).toBe(40);
      expect(backlog.bytes).toBeGreaterThan(40 * 500);
      await journal.close();
    });
  });
});

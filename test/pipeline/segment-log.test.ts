import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  openSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ListenerError } from '../../src/core/errors.js';
import { SegmentLog, type LogStall } from '../../src/pipeline/segment-log.js';
import { spoolWriteFailure } from '../../src/pipeline/spool-failure.js';
import { makeRecord, tempDir } from '../helpers/records.js';
import { blockedOpeningFifo } from '../helpers/wait.js';

const MAGIC = 'KFLJSEG2';
const lineOf = (n: number) => JSON.stringify(makeRecord(n));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const segmentName = (firstLsn: number) => `seg-${String(firstLsn).padStart(16, '0')}.log`;
const segmentsOf = (dir: string) =>
  readdirSync(dir)
    .filter((n) => /^seg-\d{16}\.log$/.test(n))
    .sort();
const damagedCopiesOf = (dir: string, segment: string) =>
  readdirSync(dir).filter((n) => n.startsWith(`${segment}.damaged-`));

/** Appends records `from`..`to` (record n's line is lineOf(n)) and waits until they are durable. */
async function appendAll(log: SegmentLog, from: number, to: number): Promise<number[]> {
  const lsns = range(from, to).map((n) => log.append(lineOf(n)));
  await log.flush();
  return lsns;
}

/** Each record's LSN and byte span in a format-2 segment (8-byte file header, 16-byte record headers). */
function recordSpans(bytes: Buffer): Array<{ lsn: number; start: number; end: number }> {
  const spans: Array<{ lsn: number; start: number; end: number }> = [];
  for (let at = 8; at < bytes.length;) {
    const end = at + 16 + bytes.readUInt32LE(at);
    spans.push({ lsn: bytes.readDoubleLE(at + 8), start: at, end });
    at = end;
  }
  return spans;
}

/** A segment in format 1, which no release wrote: no file header, each record u32 length + u32 crc32 of the line. */
function legacySegment(lines: string[]): Buffer {
  return Buffer.concat(
    lines.flatMap((line) => {
      const payload = Buffer.from(line, 'utf8');
      const header = Buffer.alloc(8);
      header.writeUInt32LE(payload.length, 0);
      header.writeUInt32LE(crc32(payload), 4);
      return [header, payload];
    }),
  );
}

/** A closed log of records 1..count in `dir`, one segment (or one per record with segmentBytes 1). */
async function closedLog(dir: string, count: number, segmentBytes?: number): Promise<void> {
  const log = await SegmentLog.open({ dir, floor: 0, segmentBytes });
  await appendAll(log, 1, count);
  await log.close();
}

describe('SegmentLog', () => {
  describe('append and flush', () => {
    it('writes the active segment through O_DSYNC by default, and without it when asked for fdatasync', async () => {
      // Prepare: Linux shows an open file's flags in /proc/self/fdinfo.
      const flagsOf = (path: string): number => {
        for (const fd of readdirSync('/proc/self/fd')) {
          let target: string;
          try {
            target = readlinkSync(`/proc/self/fd/${fd}`);
          } catch {
            continue;
          }
          if (target !== path) continue;
          const line = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/^flags:\s+([0-7]+)/m)!;
          return parseInt(line[1]!, 8);
        }
        throw new Error(`${path} is not open`);
      };
      const dsyncDir = tempDir();
      const syncDir = tempDir();
      const dsync = await SegmentLog.open({ dir: dsyncDir, floor: 0 });
      const fdatasync = await SegmentLog.open({ dir: syncDir, floor: 0, sync: 'fdatasync' });
      // Act
      await appendAll(dsync, 1, 3);
      await appendAll(fdatasync, 1, 3);
      // Assess: the flag, and the same durable records either way.
      expect(flagsOf(join(dsyncDir, segmentName(1))) & constants.O_DSYNC).toBe(constants.O_DSYNC);
      expect(flagsOf(join(syncDir, segmentName(1))) & constants.O_DSYNC).toBe(0);
      expect(dsync.durableLsn).toBe(3);
      expect((await fdatasync.read(0, 10)).map((e) => e.line)).toEqual((await dsync.read(0, 10)).map((e) => e.line));
      await dsync.close();
      await fdatasync.close();
    });

    it('numbers records from 1, makes them durable together in a group commit, and reads them back', async () => {
      // Prepare
      const log = await SegmentLog.open({ dir: tempDir(), floor: 0 });
      const durable: number[] = [];
      log.onDurable((lsn) => durable.push(lsn));
      // Act
      const lsns = range(1, 5).map((n) => log.append(lineOf(n)));
      const beforeFlush = await log.read(0, 10);
      await log.flush();
      const entries = await log.read(0, 10);
      // Assess
      expect(lsns).toEqual([1, 2, 3, 4, 5]);
      expect(beforeFlush).toEqual([]); // nothing is read before it is durable
      expect(durable.length).toBeLessThan(5); // fewer fsyncs than records
      expect(durable.at(-1)).toBe(5);
      expect(log.durableLsn).toBe(5);
      expect(entries.map((e) => [e.lsn, e.line])).toEqual(range(1, 5).map((n) => [n, lineOf(n)]));
      await log.close();
    });

    it('counts appended bytes as pending until they are durable', async () => {
      // Prepare
      const log = await SegmentLog.open({ dir: tempDir(), floor: 0 });
      const expected = range(1, 3).reduce((sum, n) => sum + 16 + Buffer.byteLength(lineOf(n), 'utf8'), 0);
      // Act
      range(1, 3).forEach((n) => log.append(lineOf(n)));
      const pending = log.pendingBytes;
      await log.flush();
      // Assess
      expect(pending).toBe(expected);
      expect(log.pendingBytes).toBe(0);
      await log.close();
    });

    it('continues numbering above the floor, in a segment named after its first LSN', async () => {
      // Prepare: a cursor (outside the segments) has seen LSN 41.
      const dir = tempDir();
      const log = await SegmentLog.open({ dir, floor: 41 });
      // Act
      const lsns = await appendAll(log, 1, 2);
      // Assess
      expect(lsns).toEqual([42, 43]);
      expect(log.damage).toEqual([]); // an empty spool lost nothing
      expect(segmentsOf(dir)).toEqual([segmentName(42)]);
      expect((await log.read(41, 10)).map((e) => e.lsn)).toEqual([42, 43]);
      await log.close();
    });

    it('writes the file header once, then checksummed records carrying their LSN', async () => {
      // Prepare
      const dir = tempDir();
      const log = await SegmentLog.open({ dir, floor: 0 });
      // Act
      await appendAll(log, 1, 3);
      await log.close();
      // Assess
      const bytes = readFileSync(join(dir, segmentName(1)));
      expect(bytes.subarray(0, 8).toString('latin1')).toBe(MAGIC);
      const spans = recordSpans(bytes);
      expect(spans.map((s) => s.lsn)).toEqual([1, 2, 3]);
      for (const [i, s] of spans.entries()) {
        expect(bytes.readUInt32LE(s.start + 4)).toBe(crc32(bytes.subarray(s.start + 8, s.end)));
        expect(bytes.toString('utf8', s.start + 16, s.end)).toBe(lineOf(i + 1));
      }
      expect(spans.at(-1)!.end).toBe(bytes.length);
    });

    it('starts a new segment once one is full, and accounts for every byte on disk', async () => {
      // Prepare
      const dir = tempDir();
      const log = await SegmentLog.open({ dir, floor: 0, segmentBytes: 2000 });
      // Act
      await appendAll(log, 1, 12);
      // Assess: the spans cover 1..12 without a gap, one file each.
      const spans = log.spans();
      expect(log.segmentCount).toBeGreaterThan(3);
      expect(spans).toHaveLength(segmentsOf(dir).length);
      expect(spans[0]![0]).toBe(1);
      expect(spans.at(-1)![1]).toBe(12);
      for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBe(spans[i - 1]![1] + 1);
      // Each segment's records after the first start below segmentBytes: a segment starts past it.
      for (const name of segmentsOf(dir).slice(0, -1)) {
        const starts = recordSpans(readFileSync(join(dir, name))).map((r) => r.start);
        expect(starts.at(-1)).toBeLessThan(2000);
      }
      const onDisk = segmentsOf(dir).reduce((sum, n) => sum + statSync(join(dir, n)).size, 0);
      expect(log.bytesOnDisk).toBe(onDisk);
      await log.close();
    });
  });

  describe('append with a linger', () => {
    it('makes the reports of one linger durable in a single commit', async () => {
      // Prepare: a 40 ms linger; four reports arrive within it, spaced like a slow feed.
      const log = await SegmentLog.open({ dir: tempDir(), floor: 0, lingerMs: 40, checkEveryMs: 0 });
      const durable: number[] = [];
      log.onDurable((lsn) => durable.push(lsn));
      // Act
      for (const n of range(1, 4)) {
        log.append(lineOf(n));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const durableWhileLingering = log.durableLsn;
      await log.flush();
      // Assess: one durable write served all four.
      expect(durableWhileLingering).toBe(0);
      expect(durable).toEqual([4]);
      await log.close();
    });

    it('ends the linger when close is called, writing what waits', async () => {
      // Prepare: a linger far longer than the test may take.
      const dir = tempDir();
      const log = await SegmentLog.open({ dir, floor: 0, lingerMs: 60_000, checkEveryMs: 0 });
      log.append(lineOf(1));
      // Act
      await log.close();
      const reopened = await SegmentLog.open({ dir, floor: 0, checkEveryMs: 0 });
      // Assess
      expect((await reopened.read(0, 10)).map((e) => e.line)).toEqual([lineOf(1)]);
      await reopened.close();
    });

    it('writes a group at once when it outgrows the linger, without waiting it out', async () => {
      // Prepare: a linger far longer than the test may take, then more than 256 KiB of reports.
      const log = await SegmentLog.open({ dir: tempDir(), floor: 0, lingerMs: 60_000, checkEveryMs: 0 });
      const big = JSON.stringify({ ...makeRecord(1), raw: 'x'.repeat(64 * 1024) });
      // Act
      for (let n = 0; n < 5; n++) log.append(big);
      await log.flush();
      // Assess
      expect(log.durableLsn).toBe(5);
      await log.close();
    });
  });

  describe('read', () => {
    it('serves a reader far behind from the segment files, across segments, byte for byte', async () => {
      // Prepare: tiny segments and cache, so reads go to disk.
      const log = await SegmentLog.open({ dir: tempDir(), floor: 0, segmentBytes: 2000, cacheBytes: 500 });
      await appendAll(log, 1, 30);
      // Act
      const all = await log.read(0, 100);
      const middle = await log.read(10, 5);
      // Assess
      expect(log.segmentCount).toBeGreaterThan(5);
      expect(all.map((e) => e.line)).toEqual(range(1, 30).map(lineOf));
      expect(all.map((e) => e.lsn)).toEqual(range(1, 30));
      expect(middle.map((e) => e.lsn)).toEqual([11, 12, 13, 14, 15]);
      expect(middle[0]!.record).toEqual(makeRecord(11)); // parsed from the line on first use
      await log.close();
    });

    it('steps over no segment while passed segments are deleted during the read', { timeout: 30_000 }, async () => {
      // Prepare: one record per segment, read from disk; segment 1 is deleted (another sink passed
      // it) while the read of 2.. is under way. Its timing varies, so it is tried many times.
      for (let round = 0; round < 10; round++) {
        const log = await SegmentLog.open({ dir: tempDir(), floor: 0, segmentBytes: 1, cacheBytes: 1 });
        await appendAll(log, 1, 60);
        // Act
        const [entries] = await Promise.all([log.read(1, 100), log.deleteThrough(1)]);
        // Assess: every LSN after 1, in order.
        expect(entries.map((e) => e.lsn)).toEqual(range(2, 60));
        await log.close();
      }
    });

    it('stops at throughLsn, from disk and from memory alike', async () => {
      // Prepare: one log reading from disk (tiny cache), one from memory (large cache).
      const fromDisk = await SegmentLog.open({ dir: tempDir(), floor: 0, segmentBytes: 2000, cacheBytes: 500 });
      const fromMemory = await SegmentLog.open({ dir: tempDir(), floor: 0 });
      await appendAll(fromDisk, 1, 20);
      await appendAll(fromMemory, 1, 20);
      // Act
      const results = await Promise.all(
        [fromDisk, fromMemory].map(async (log) => [
          (await log.read(0, 100, 12)).map((e) => e.lsn),
          (await log.read(5, 3, 12)).map((e) => e.lsn),
          (await log.read(10, 100, 12)).map((e) => e.lsn),
          (await log.read(12, 100, 12)).map((e) => e.lsn),
        ]),
      );
      // Assess
      for (const [through, capped, tail, none] of results) {
        expect(through).toEqual(range(1, 12));
        expect(capped).toEqual([6, 7, 8]);
        expect(tail).toEqual([11, 12]);
        expect(none).toEqual([]);
      }
      await fromDisk.close();
      await fromMemory.close();
    });

    it('keeps written lines as the bytes it wrote, not as strings, and reads them back alike from disk', async () => {
      // Prepare: a cache of about one line, and a line that is not ASCII.
      const log = await SegmentLog.open({ dir: tempDir(), floor: 0, cacheBytes: 1000 });
      const lines = range(1, 5).map((n) => JSON.stringify(makeRecord(n, { text: n === 5 ? 'prix ≥ 0,50 € 𝄞' : null })));
      lines.forEach((line) => log.append(line));
      await log.flush();
      // Act
      const [newest] = await log.read(4, 10);
      const [older] = await log.read(1, 1);
      // Assess: the cached entry is a view on the commit's buffer (one allocation for the group),
      // the one from disk a view on the read window; both decode to the lines appended.
      expect(newest!.bytes.equals(Buffer.from(lines[4]!, 'utf8'))).toBe(true);
      expect(newest!.bytes.byteLength).toBeLessThan(newest!.bytes.buffer.byteLength);
      expect(newest!.line).toBe(lines[4]);
      expect(newest!.record).toEqual(JSON.parse(lines[4]!));
      expect(older!.lsn).toBe(2);
      expect(older!.bytes.toString('utf8')).toBe(lines[1]);
      expect(older!.record).toEqual(makeRecord(2));
      await log.close();
    });

    it('finds records deep inside a large segment after a reopen (the rebuilt offset index)', async () => {
      // Prepare: 600 records in one segment; reading back at positions past several index points.
      const dir = tempDir();
      await closedLog(dir, 600);
      const log = await SegmentLog.open({ dir, floor: 0, cacheBytes: 1000 });
      // Act
      const deep = await log.read(520, 3);
      const atIndexPoint = await log.read(256, 2);
      // Assess
      expect(segmentsOf(dir)).toHaveLength(1);
      expect(deep.map((e) => [e.lsn, e.line])).toEqual([521, 522, 523].map((n) => [n, lineOf(n)]));
      expect(atIndexPoint.map((e) => [e.lsn, e.line])).toEqual([257, 258].map((n) => [n, lineOf(n)]));
      await log.close();
    });
  });

  describe('open', () => {
    it('reports every record found to onRecovered, in LSN order, and continues numbering after them', async () => {
      // Prepare
      const dir = tempDir();
      await closedLog(dir, 5, 2000);
      const recovered: Array<[number, string]> = [];
      // Act
      const log = await SegmentLog.open({
        dir,
        floor: 0,
        segmentBytes: 2000,
        onRecovered: (l, s) => recovered.push([l, s]),
      });
      const next = await appendAll(log, 6, 6);
      // Assess
      expect(recovered).toEqual(range(1, 5).map((n) => [n, lineOf(n)]));
      expect(log.damage).toEqual([]);
      expect(next).toEqual([6]);
      expect((await log.read(0, 10)).map((e) => e.line)).toEqual(range(1, 6).map(lineOf));
      await log.close();
    });

    it('loses exactly the record holding a flipped byte, keeps the damaged file aside, and reads every other', async () => {
      // Prepare: one flipped byte inside the line of record 5 of 10.
      const dir = tempDir();
      await closedLog(dir, 10);
      const name = segmentName(1);
      const path = join(dir, name);
      const bytes = readFileSync(path);
      const fifth = recordSpans(bytes)[4]!;
      bytes[fifth.start + 40] = bytes[fifth.start + 40]! ^ 0x04;
      writeFileSync(path, bytes);
      // Act
      const log = await SegmentLog.open({ dir, floor: 0 });
      const entries = await log.read(0, 100);
      const afterLost = await log.read(4, 1);
      // Assess
      expect(log.damage).toEqual([
        { kind: 'corrupt', segment: name, offset: fifth.start, lsns: [5, 5], bytes: fifth.end - fifth.start },
      ]);
      expect(entries.map((e) => e.lsn)).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 10]);
      expect(entries.map((e) => e.line)).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 10].map(lineOf));
      expect(afterLost.map((e) => e.lsn)).toEqual([6]); // the read steps over the lost LSN
      const kept = damagedCopiesOf(dir, name);
      expect(kept).toHaveLength(1);
      expect(readFileSync(join(dir, kept[0]!))).toEqual(bytes);
      expect(await appendAll(log, 11, 11)).toEqual([11]);
      await log.close();
    });

    it('rewrites a damaged segment without the bad bytes, so the next open finds nothing wrong', async () => {
      // Prepare: record 3 of 6 damaged, and one recovery already done.
      const dir = tempDir();
      await closedLog(dir, 6);
      const path = join(dir, segmentName(1));
      const bytes = readFileSync(path);
      const third = recordSpans(bytes)[2]!;
      bytes[third.start + 100] = bytes[third.start + 100]! ^ 0x10;
      writeFileSync(path, bytes);
      await (await SegmentLog.open({ dir, floor: 0 })).close();
      // Act
      const log = await SegmentLog.open({ dir, floor: 0 });
      // Assess
      expect(log.damage).toEqual([]);
      expect(recordSpans(readFileSync(path)).map((s) => s.lsn)).toEqual([1, 2, 4, 5, 6]);
      expect((await log.read(0, 10)).map((e) => e.lsn)).toEqual([1, 2, 4, 5, 6]);
      await log.close();
    });

    it('resynchronises on the next good record after garbage between records, losing no record', async () => {
      // Prepare: five stray bytes between records 3 and 4.
      const dir = tempDir();
      await closedLog(dir, 6);
      const path = join(dir, segmentName(1));
      const bytes = readFileSync(path);
      const fourth = recordSpans(bytes)[3]!;
      writeFileSync(
        path,
        Buffer.concat([bytes.subarray(0, fourth.start), Buffer.from([1, 2, 3, 4, 5]), bytes.subarray(fourth.start)]),
      );
      // Act
      const log = await SegmentLog.open({ dir, floor: 0 });
      // Assess
      expect(log.damage).toEqual([
        { kind: 'corrupt', segment: segmentName(1), offset: fourth.start, lsns: null, bytes: 5 },
      ]);
      expect((await log.read(0, 10)).map((e) => e.line)).toEqual(range(1, 6).map(lineOf));
      expect(await appendAll(log, 7, 7)).toEqual([7]);
      await log.close();
    });

    it('loses no record to a damaged file header, and writes the header again', async () => {
      // Prepare: one byte of the magic flipped.
      const dir = tempDir();
      await closedLog(dir, 4);
      const name = segmentName(1);
      const path = join(dir, name);
      const bytes = readFileSync(path);
      bytes[2] = bytes[2]! ^ 0x01;
      writeFileSync(path, bytes);
      // Act
      const log = await SegmentLog.open({ dir, floor: 0 });
      // Assess
      expect(log.damage).toEqual([{ kind: 'corrupt', segment: name, offset: 0, lsns: null, bytes: 8 }]);
      expect((await log.read(0, 10)).map((e) => e.line)).toEqual(range(1, 4).map(lineOf));
      expect(readFileSync(path).subarray(0, 8).toString('latin1')).toBe(MAGIC);
      expect(damagedCopiesOf(dir, name)).toHaveLength(1);
      await log.close();
    });

    it('cuts a torn tail nothing outside had seen, and gives its LSN to the next record', async () => {
      // Prepare: a crash in the middle of writing record 10 (never durable, never acknowledged).
      const dir = tempDir();
      await closedLog(dir, 10);
      const path = join(dir, segmentName(1));
      const size = statSync(path).size;
      const tenth = recordSpans(readFileSync(path))[9]!;
      truncateSync(path, size - 7);
      // Act
      const log = await SegmentLog.open({ dir, floor: 0 });
      const lastAfterOpen = log.lastLsn;
      const next = await appendAll(log, 100, 100);
      // Assess
      expect(log.damage).toEqual([
        {
          kind: 'torn_tail',
          segment: segmentName(1),
          offset: tenth.start,
          lsns: [10, 10],
          bytes: size - 7 - tenth.start,
        },
      ]);
      expect(log.truncatedTailBytes).toBe(size - 7 - tenth.start);
      expect(lastAfterOpen).toBe(9);
      expect(next).toEqual([10]);
      expect((await log.read(0, 20)).map((e) => e.line)).toEqual([...range(1, 9).map(lineOf), lineOf(100)]);
      expect(damagedCopiesOf(dir, segmentName(1))).toEqual([]); // a torn tail is cut, not kept
      await log.close();
    });

    it('reports the same cut as a lost record when the floor says it was durable, and never reuses its LSN', async () => {
      // Prepare: the same truncation, but a cursor has passed LSN 10.
      const dir = tempDir();
      await closedLog(dir, 10);
      const path = join(dir, segmentName(1));
      truncateSync(path, statSync(path).size - 7);
      // Act
      const log = await SegmentLog.open({ dir, floor: 10 });
      const next = await appendAll(log, 11, 11);
      // Assess
      expect(log.damage).toEqual([
        expect.objectContaining({ kind: 'corrupt', segment: segmentName(1), lsns: [10, 10] }),
      ]);
      expect(log.truncatedTailBytes).toBe(0);
      expect(next).toEqual([11]);
      expect(segmentsOf(dir)).toEqual([segmentName(1), segmentName(11)]);
      expect((await log.read(0, 20)).map((e) => e.lsn)).toEqual([...range(1, 9), 11]);
      expect(damagedCopiesOf(dir, segmentName(1))).toHaveLength(1);
      await log.close();
    });

    it('never gives a new record the LSN of a record it reports lost at the end of the last segment', async () => {
      // Prepare: a flipped byte inside the last record (its length intact: not a torn write).
      const dir = tempDir();
      await closedLog(dir, 10);
      const path = join(dir, segmentName(1));
      const bytes = readFileSync(path);
      const tenth = recordSpans(bytes)[9]!;
      bytes[tenth.start + 40] = bytes[tenth.start + 40]! ^ 0x04;
      writeFileSync(path, bytes);
      // Act
      const log = await SegmentLog.open({ dir, floor: 0 });
      const reported = log.damage.map((d) => [d.kind, d.lsns]);
      const next = await appendAll(log, 11, 11);
      await log.close();
      // Assess: LSN 10 is reported lost ("never given to a new record"), so the next is 11.
      expect(reported).toEqual([['corrupt', [10, 10]]]);
      expect(next).toEqual([11]);
    });

    it('reports a missing middle segment with the LSNs it held, and reads the rest', async () => {
      // Prepare: one record per segment; segments 3 and 4 gone.
      const dir = tempDir();
      await closedLog(dir, 6, 1);
      rmSync(join(dir, segmentName(3)));
      rmSync(join(dir, segmentName(4)));
      // Act
      const log = await SegmentLog.open({ dir, floor: 0, segmentBytes: 1 });
      // Assess
      expect(log.damage).toEqual([{ kind: 'missing', segment: null, offset: 0, lsns: [3, 4] }]);
      expect((await log.read(0, 10)).map((e) => e.lsn)).toEqual([1, 2, 5, 6]);
      expect(await appendAll(log, 7, 7)).toEqual([7]);
      await log.close();
    });

    it('reports records past the last segment that the floor says existed as missing, and numbers above them', async () => {
      // Prepare: 5 records on disk, but a cursor passed LSN 8.
      const dir = tempDir();
      await closedLog(dir, 5);
      // Act
      const log = await SegmentLog.open({ dir, floor: 8 });
      const next = await appendAll(log, 9, 9);
      // Assess
      expect(log.damage).toEqual([{ kind: 'missing', segment: null, offset: 0, lsns: [6, 8] }]);
      expect(next).toEqual([9]);
      expect((await log.read(0, 20)).map((e) => e.lsn)).toEqual([1, 2, 3, 4, 5, 9]);
      await log.close();
    });

    it('reports a format-1 segment as corrupt like any unreadable one: kept aside, its LSNs lost, none given again', async () => {
      // Prepare: a segment in the unreleased format 1 starting at LSN 5, and a cursor past LSN 7.
      const dir = tempDir();
      const name = segmentName(5);
      const bytes = legacySegment([5, 6, 7].map(lineOf));
      writeFileSync(join(dir, name), bytes);
      const recovered: number[] = [];
      // Act
      const log = await SegmentLog.open({ dir, floor: 7, onRecovered: (lsn) => recovered.push(lsn) });
      const next = await appendAll(log, 8, 8);
      // Assess: no byte of it reads as a record; the whole file is damage, not an empty segment.
      // (No lsn-base beside it either: that is reported too.)
      expect(log.damage).toEqual([
        { kind: 'corrupt', segment: name, offset: 0, lsns: [5, 7], bytes: bytes.length },
        expect.objectContaining({ kind: 'lsn_base', lsns: null }),
      ]);
      expect(recovered).toEqual([]);
      expect(next).toEqual([8]);
      expect((await log.read(0, 10)).map((e) => e.lsn)).toEqual([8]);
      expect(readFileSync(join(dir, name)).toString('latin1')).toBe(MAGIC);
      const kept = damagedCopiesOf(dir, name);
      expect(kept).toHaveLength(1);
      expect(readFileSync(join(dir, kept[0]!))).toEqual(bytes);
      await log.close();
    });

    it('refuses to open when a segment overlaps the one before it', async () => {
      // Prepare: segment 1 replaced by one holding LSNs 1 and 2, while segment 2 starts at LSN 2.
      const dir = tempDir();
      await closedLog(dir, 3, 1);
      const other = tempDir();
      await closedLog(other, 2);
      copyFileSync(join(other, segmentName(1)), join(dir, segmentName(1)));
      // Act
      const opened = SegmentLog.open({ dir, floor: 0, segmentBytes: 1 });
      // Assess
      await expect(opened).rejects.toMatchObject({
        code: 'ERR_JOURNAL_CORRUPT',
        details: { segment: segmentName(2) },
      });
    });
  });

  describe('deleteThrough', () => {
    it('deletes the segments a reader has passed, never the last one, and records where numbering stands', async () => {
      // Prepare: one record per segment.
      const dir = tempDir();
      const log = await SegmentLog.open({ dir, floor: 0, segmentBytes: 1, cacheBytes: 1 });
      await appendAll(log, 1, 5);
      // Act
      await log.deleteThrough(3);
      const afterThree = segmentsOf(dir);
      const firstAfterThree = log.firstLsn;
      await log.deleteThrough(100);
      // Assess
      expect(afterThree).toEqual([segmentName(4), segmentName(5)]);
      expect(firstAfterThree).toBe(4);
      expect(segmentsOf(dir)).toEqual([segmentName(5)]);
      expect(log.segmentCount).toBe(1);
      // Where numbering stands, and that the segments left start after LSN 4 (checksummed).
      expect(readFileSync(join(dir, 'lsn-base'), 'utf8')).toMatch(
        /^kfl-lsn-base 2 [0-9a-f]{8} \{"lsn":5,"deletedThrough":4,"vacant":\[\]\}\n$/,
      );
      expect((await log.read(0, 10)).map((e) => e.lsn)).toEqual([5]); // what is left on disk
      await log.close();
    });

    it('deletes each passed segment once when two sinks ask at about the same time, and keeps the rest readable', async () => {
      // The second request starts at a different point of the first each round (event-loop turns).
      for (let turns = 0; turns < 40; turns += 2) {
        // Prepare: one record per segment.
        const dir = tempDir();
        const log = await SegmentLog.open({ dir, floor: 0, segmentBytes: 1, cacheBytes: 1 });
        await appendAll(log, 1, 6);
        // Act: two cursor saves ask to delete what both have passed (segment 1).
        const first = log.deleteThrough(1);
        for (let t = 0; t < turns; t++) await new Promise((resolve) => setImmediate(resolve));
        await Promise.all([first, log.deleteThrough(1)]);
        // Assess: segment 2 is still listed and read, not dropped by the second request.
        expect(segmentsOf(dir)).toEqual([2, 3, 4, 5, 6].map(segmentName));
        expect(log.firstLsn).toBe(2);
        expect((await log.read(1, 10)).map((e) => e.lsn)).toEqual([2, 3, 4, 5, 6]);
        await log.close();
      }
    });

    it('keeps numbering from lsn-base when every segment file is gone, and reports the one it did not delete', async () => {
      // Prepare: segments passed and deleted (1..4), then the last one (5) removed by someone else.
      const dir = tempDir();
      const log = await SegmentLog.open({ dir, floor: 0, segmentBytes: 1 });
      await appendAll(log, 1, 5);
      await log.deleteThrough(5);
      await log.close();
      for (const name of segmentsOf(dir)) rmSync(join(dir, name));
      // Act
      const reopened = await SegmentLog.open({ dir, floor: 0, segmentBytes: 1 });
      const next = await appendAll(reopened, 6, 6);
      // Assess: LSN 5 was on disk after the last deletion: it is missing, and never given again.
      expect(reopened.damage).toEqual([{ kind: 'missing', segment: null, offset: 0, lsns: [5, 5] }]);
      expect(next).toEqual([6]);
      expect((await reopened.read(0, 10)).map((e) => e.line)).toEqual([lineOf(6)]);
      await reopened.close();
    });
  });

  describe('vacantThrough', () => {
    it('moves a reader past a lost tail to the durable LSN, and nowhere else', async () => {
      // Prepare: records 1..5 in one segment; 4 and 5 cut off below a cursor that had passed them.
      const dir = tempDir();
      const log = await SegmentLog.open({ dir, floor: 0 });
      await appendAll(log, 1, 5);
      await log.close();
      const [name] = segmentsOf(dir);
      const spans = recordSpans(readFileSync(join(dir, name!)));
      truncateSync(join(dir, name!), spans[3]!.start);
      const reopened = await SegmentLog.open({ dir, floor: 5 });
      // Act
      const fromTail = reopened.vacantThrough(3);
      const fromMiddle = reopened.vacantThrough(2);
      // Assess: 4..5 are lost (reported), so a reader at 3 has nothing left; one at 2 still has 3.
      expect(reopened.damage).toEqual([expect.objectContaining({ kind: 'missing', lsns: [4, 5] })]);
      expect(reopened.durableLsn).toBe(5);
      expect(fromTail).toBe(5);
      expect(fromMiddle).toBe(2);
      expect(reopened.vacantThrough(5)).toBe(5);
      await reopened.close();
    });
  });

  describe('open, with lsn-base damaged or gone', () => {
    it.each([
      ['deleted', (path: string) => rmSync(path), 'lsn-base is missing; rewritten from the segments and cursors'],
      [
        'changed',
        (path: string) => writeFileSync(path, readFileSync(path, 'utf8').replace('"lsn":0', '"lsn":9')),
        expect.stringMatching(/^lsn-base is damaged/) as unknown,
      ],
    ])(
      'reports an lsn-base %s under a journal that has run, and numbers on from the segments',
      async (_how, harm, note) => {
        // Prepare: records 1..3 on disk, then lsn-base harmed.
        const dir = tempDir();
        const log = await SegmentLog.open({ dir, floor: 0 });
        await appendAll(log, 1, 3);
        await log.close();
        harm(join(dir, 'lsn-base'));
        // Act
        const reopened = await SegmentLog.open({ dir, floor: 0 });
        const next = await appendAll(reopened, 4, 4);
        // Assess: reported (no record lost), rewritten, and numbering goes on.
        expect(reopened.damage).toEqual([
          {
            kind: 'lsn_base',
            segment: join(dir, 'lsn-base'),
            offset: 0,
            lsns: null,
            note,
            code: 'ERR_JOURNAL_CORRUPT',
          },
        ]);
        expect(next).toEqual([4]);
        expect(readFileSync(join(dir, 'lsn-base'), 'utf8')).toMatch(/^kfl-lsn-base 2 /);
        await reopened.close();
      },
    );

    it('reports nothing on a first start, where no lsn-base was ever written', async () => {
      // Act
      const log = await SegmentLog.open({ dir: tempDir(), floor: 0 });
      // Assess
      expect(log.damage).toEqual([]);
      await log.close();
    });
  });

  describe('when writes fail', () => {
    /** A log of records 1..2, one per segment, whose next segment file cannot be created (a directory is in the way). */
    async function blockedLog(dir: string): Promise<SegmentLog> {
      const log = await SegmentLog.open({ dir, floor: 0, segmentBytes: 1, retry: { initialMs: 5, maxMs: 10 } });
      await appendAll(log, 1, 2);
      mkdirSync(join(dir, segmentName(3)));
      return log;
    }

    it('stalls: holds the appends, reports nothing more durable, tells listeners once and rejects flush', async () => {
      // Prepare
      const dir = tempDir();
      const log = await blockedLog(dir);
      const events: Array<[LogStall | undefined, LogStall | undefined]> = [];
      log.onStall((stall, ended) => events.push([stall, ended]));
      // Act
      const held = [3, 4].map((n) => log.append(lineOf(n)));
      const flushed = await log.flush().then(
        () => undefined,
        (error: unknown) => error as ListenerError,
      );
      await expect.poll(() => log.stall?.attempts ?? 0).toBeGreaterThan(2); // it keeps retrying
      // Assess
      expect(held).toEqual([3, 4]);
      expect(flushed).toMatchObject({ code: 'ERR_JOURNAL_WRITE', cause: { code: 'EISDIR' } });
      expect(log.stall).toMatchObject({ error: { code: 'ERR_JOURNAL_WRITE' }, since: expect.any(Number) as unknown });
      expect(log.durableLsn).toBe(2);
      expect(log.pendingBytes).toBe([3, 4].reduce((sum, n) => sum + 16 + Buffer.byteLength(lineOf(n)), 0));
      expect((await log.read(0, 10)).map((e) => e.lsn)).toEqual([1, 2]);
      expect(events).toHaveLength(1); // told once, not at every attempt
      expect(events[0]![0]).toMatchObject({
        error: { code: 'ERR_JOURNAL_WRITE' },
        attempts: 1,
        since: log.stall!.since,
      });
      expect(events[0]![1]).toBeUndefined();
      await expect(log.flush()).rejects.toMatchObject({ code: 'ERR_JOURNAL_WRITE' });
      // Clean up: let the retry land before closing (closing while stalled is tested below).
      rmdirSync(join(dir, segmentName(3)));
      await expect.poll(() => log.stall, { timeout: 10_000 }).toBeUndefined();
      await log.close();
    });

    it('resumes by itself once the write goes through: the held records become durable once, in order', async () => {
      // Prepare: a stalled log holding records 3 and 4.
      const dir = tempDir();
      const log = await blockedLog(dir);
      const events: Array<[string | undefined, string | undefined]> = [];
      log.onStall((stall, ended) => events.push([stall?.error.code, ended?.error.code]));
      [3, 4].forEach((n) => log.append(lineOf(n)));
      await expect.poll(() => log.stall).toBeDefined();
      // Act
      rmdirSync(join(dir, segmentName(3)));
      await expect.poll(() => log.durableLsn).toBe(4);
      await log.flush();
      await log.close();
      // Assess
      expect(log.stall).toBeUndefined();
      expect(log.pendingBytes).toBe(0);
      expect(events).toEqual([
        ['ERR_JOURNAL_WRITE', undefined],
        [undefined, 'ERR_JOURNAL_WRITE'],
      ]);
      const reopened = await SegmentLog.open({ dir, floor: 0, segmentBytes: 1 });
      expect(reopened.damage).toEqual([]);
      expect((await reopened.read(0, 10)).map((e) => [e.lsn, e.line])).toEqual(range(1, 4).map((n) => [n, lineOf(n)]));
      await reopened.close();
    });

    it('closes while stalled without writing what it held, says so, and a restart does not find it', async () => {
      // Prepare
      const dir = tempDir();
      const log = await blockedLog(dir);
      log.append(lineOf(3));
      await expect.poll(() => log.stall).toBeDefined();
      // Act: the close rejects with the stall's error (what it held is not silently dropped).
      await expect(log.close()).rejects.toMatchObject({ code: log.stall!.error.code });
      rmdirSync(join(dir, segmentName(3)));
      // Assess
      const reopened = await SegmentLog.open({ dir, floor: 0, segmentBytes: 1 });
      expect(reopened.lastLsn).toBe(2);
      expect(reopened.damage).toEqual([]);
      expect(existsSync(join(dir, segmentName(3)))).toBe(false);
      await reopened.close();
    });

    /** Records 1..2, one per segment, and a minute between write attempts: only a close retries sooner. */
    async function minuteRetryLog(dir: string, sync?: 'fdatasync'): Promise<SegmentLog> {
      const log = await SegmentLog.open({
        dir,
        floor: 0,
        ...(sync === undefined ? {} : { sync }),
        segmentBytes: 1,
        retry: { initialMs: 60_000, maxMs: 60_000 },
      });
      await appendAll(log, 1, 2);
      return log;
    }

    it('gives a close an attempt of its own when the one under way began before the disk came back', async () => {
      // Prepare: the next segment's path is a FIFO, so the write attempt blocks in open() until a
      // reader comes, and then fails at fdatasync (a pipe cannot be synced; a write + fdatasync
      // log, since an O_DSYNC write into a pipe would not fail). That attempt is under way when
      // close() is called; the disk "comes back" (the FIFO goes) before it fails.
      const dir = tempDir();
      const log = await minuteRetryLog(dir, 'fdatasync');
      const fifo = join(dir, segmentName(3));
      execFileSync('mkfifo', [fifo]);
      log.append(lineOf(3));
      // Act
      const closed = log.close().then(
        () => 'closed',
        (error: unknown) => error,
      );
      await expect.poll(blockedOpeningFifo).toBe(true);
      const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      unlinkSync(fifo);
      // Assess: the attempt under way fails, the close's own attempt (no 60 s back-off) lands.
      expect(await closed).toBe('closed');
      closeSync(reader);
      expect(log.durableLsn).toBe(3);
      const reopened = await SegmentLog.open({ dir, floor: 0, segmentBytes: 1 });
      expect(reopened.damage).toEqual([]);
      expect((await reopened.read(0, 10)).map((e) => [e.lsn, e.line])).toEqual(range(1, 3).map((n) => [n, lineOf(n)]));
      await reopened.close();
    });

    it('gives a stalled close one attempt at once, not after its back-off, and rejects when it fails too', async () => {
      // Prepare: stalled, with a minute to wait before the next attempt.
      const dir = tempDir();
      const log = await minuteRetryLog(dir);
      mkdirSync(join(dir, segmentName(3)));
      log.append(lineOf(3));
      await expect.poll(() => log.stall?.attempts).toBe(1);
      // Act
      const started = Date.now();
      const outcome = await log.close().then(
        () => undefined,
        (error: unknown) => error as ListenerError,
      );
      // Assess: one more attempt was made, and its failure is the close's answer.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(log.stall?.attempts).toBe(2);
      expect(outcome).toMatchObject({ code: 'ERR_JOURNAL_WRITE', cause: { code: 'EISDIR' } });
    });
  });

  describe('spoolWriteFailure', () => {
    it('names a full disk ERR_JOURNAL_DISK_FULL, with the spool path and its free bytes', async () => {
      // Prepare
      const dir = tempDir();
      const cause = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      // Act
      const error = await spoolWriteFailure(dir, 'journal write failed', cause);
      // Assess
      expect(error).toMatchObject({ code: 'ERR_JOURNAL_DISK_FULL', cause, details: { path: dir } });
      expect(error.details?.freeBytes).toBeTypeOf('number');
      expect(error.message).toContain(`no space left on the spool (${dir})`);
    });

    it('names any other failure ERR_JOURNAL_WRITE and keeps its cause', async () => {
      // Prepare
      const cause = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      // Act
      const error = await spoolWriteFailure(tempDir(), 'journal write failed', cause);
      // Assess
      expect(error).toMatchObject({ code: 'ERR_JOURNAL_WRITE', message: 'journal write failed', cause });
      expect(error.details).toEqual({ path: expect.any(String) as unknown });
    });
  });
});

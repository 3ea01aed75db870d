import { cpSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionReportRecord } from '../../src/core/record.js';
import { ArchiveWriter } from '../../src/pipeline/archive-writer.js';
import { DeadLetterBox } from '../../src/pipeline/dead-letters.js';
import { FillPublisher } from '../../src/pipeline/fill-publisher.js';
import { Journal } from '../../src/pipeline/journal.js';
import { LocalFileQueue } from '../../src/sinks/local-file-queue.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { archivedIds } from '../helpers/archive.js';
import { everyFileDamaged, propertyTimeout } from '../helpers/property.js';
import { makeRecord, tempDir } from '../helpers/records.js';

const HOUR = '2026-11-23T10:15:00.000Z';
const record = (n: number) => makeRecord(n, { transact_time: HOUR });
const segmentsOf = (dir: string) =>
  readdirSync(dir)
    .filter((n) => /^seg-\d{16}\.log$/.test(n))
    .sort();

function publishedIds(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as ExecutionReportRecord).exec_id);
}

/** Both sinks over the journal until each has handled everything durable, then stopped. */
async function drainSinks(journal: Journal, spool: string, archive: string, fills: string): Promise<void> {
  const writer = new ArchiveWriter({
    journal,
    store: new LocalFolderStore(archive),
    graceMs: 0,
    now: () => Date.parse('2026-11-23T12:00:00Z'),
  });
  const box = await DeadLetterBox.open({ dir: spool });
  const queue = new LocalFileQueue(fills);
  const publisher = new FillPublisher({ journal, queue, deadLetters: box });
  await writer.start();
  await publisher.start();
  // Both stops hand over everything already durable (the archive its open hours as objects).
  await writer.stop({ flush: true });
  await publisher.stop();
  const behind = journal.backlog('archive').records + journal.backlog('fills').records;
  if (behind > 0) throw new Error(`sinks stopped ${behind} records behind`);
  await box.close();
  await queue.close();
}

/** Each record's LSN and byte span in a format-2 segment (an 8-byte file header, then 16-byte record headers). */
function recordSpans(bytes: Buffer): Array<{ lsn: number; start: number; end: number }> {
  const spans: Array<{ lsn: number; start: number; end: number }> = [];
  for (let at = 8; at < bytes.length;) {
    const end = at + 16 + bytes.readUInt32LE(at);
    spans.push({ lsn: bytes.readDoubleLE(at + 8), start: at, end });
    at = end;
  }
  return spans;
}

describe('Journal recovery from damage', () => {
  it('after a flipped byte mid-segment, every new report reaches both sinks once and no LSN is reused (the probe)', async () => {
    // Prepare: 200 reports journaled and handed to both sinks, then a clean stop.
    const spool = tempDir();
    const dir = join(spool, 'journal');
    const archive = join(spool, 'archive');
    const fills = join(spool, 'fills.jsonl');
    const first = await Journal.open({ dir });
    for (let n = 1; n <= 200; n++) first.append(record(n));
    await first.flush();
    await drainSinks(first, spool, archive, fills);
    await first.close();
    const segment = join(dir, segmentsOf(dir).at(-1)!);
    const bytes = readFileSync(segment);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0x01;
    writeFileSync(segment, bytes);

    // Act: start again, and more traffic arrives.
    const reopened = await Journal.open({ dir });
    const appended = Array.from({ length: 60 }, (_, i) => reopened.append(record(201 + i)));
    await reopened.flush();
    await drainSinks(reopened, spool, archive, fills);

    // Assess: the damage is reported with its range; the new reports got fresh LSNs and reached
    // both sinks exactly once, as did everything delivered before the damage.
    expect(reopened.damage).toHaveLength(1);
    const [damage] = reopened.damage;
    // The record holding the flipped byte is the only one lost: recovery resynchronises after it.
    expect(damage).toMatchObject({ kind: 'corrupt', lsns: [expect.any(Number) as unknown, expect.any(Number)] });
    expect(damage!.lsns![1]).toBe(damage!.lsns![0]);
    expect(damage!.execIds).toEqual([record(damage!.lsns![0]).exec_id]);
    expect(appended.map((a) => a.lsn)).toEqual(Array.from({ length: 60 }, (_, i) => 201 + i));
    const all = Array.from({ length: 260 }, (_, i) => record(i + 1));
    expect(archivedIds(archive).sort()).toEqual(all.map((r) => r.exec_id).sort());
    expect(publishedIds(fills).sort()).toEqual(
      all
        .filter((r) => r.exec_type === 'F')
        .map((r) => r.exec_id)
        .sort(),
    );
    await reopened.close();
  });

  describe('for any single flipped byte or truncation of any segment', () => {
    const RECORDS = 30;
    let base: string;
    let lines: string[];
    beforeAll(async () => {
      // One journal of several segments, closed cleanly: every record durable, every id logged.
      base = tempDir();
      const journal = await Journal.open({ dir: base, segmentBytes: 2500 });
      for (let n = 1; n <= RECORDS; n++) journal.append(record(n));
      await journal.flush();
      lines = (await journal.read(0, RECORDS)).map((e) => e.line);
      await journal.close();
    });

    // Every segment flipped and cut mid-file, then random offsets and bits: ~15 ms a run.
    it(
      'reads back every undamaged record as written, reports every damaged one by LSN, and reuses no LSN',
      { timeout: propertyTimeout(120_000) },
      async () => {
        const segments = segmentsOf(base);
        expect(segments.length).toBeGreaterThan(3);
        const damage = fc.record({
          segment: fc.integer({ min: 0, max: segments.length - 1 }),
          at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
          kind: fc.constantFrom('flip' as const, 'truncate' as const),
          bit: fc.integer({ min: 0, max: 7 }),
        });
        await fc.assert(
          fc.asyncProperty(damage, async ({ segment, at, kind, bit }) => {
            // Prepare: a copy of the journal with the damage applied.
            const dir = tempDir();
            cpSync(base, dir, { recursive: true });
            const path = join(dir, segments[segment]!);
            const size = statSync(path).size;
            const offset = Math.floor(at * size);
            if (kind === 'truncate') truncateSync(path, offset);
            else {
              const bytes = readFileSync(path);
              bytes[offset] = bytes[offset]! ^ (1 << bit);
              writeFileSync(path, bytes);
            }

            // Act
            const journal = await Journal.open({ dir, segmentBytes: 2500 });
            const read = await journal.read(0, 1000);
            const next = journal.append(record(1000));
            await journal.close();

            // Assess: a flip costs the record holding the byte (none in the file header); a
            // truncation costs the records from the cut to the end of that segment. Every other
            // record reads back as written; every lost one is reported with its ExecID.
            const spans = recordSpans(readFileSync(join(base, segments[segment]!)));
            const hit = (s: { start: number; end: number }) =>
              kind === 'truncate' ? s.end > offset : offset >= s.start && offset < s.end;
            const damaged = new Set(spans.filter(hit).map((s) => s.lsn));
            const lost = (lsn: number) => journal.isLost(lsn);
            const readLsns = new Set(read.map((e) => e.lsn));
            for (const entry of read) expect(entry.line).toBe(lines[entry.lsn - 1]);
            for (let lsn = 1; lsn <= RECORDS; lsn++) {
              expect(readLsns.has(lsn), `LSN ${lsn} read`).toBe(!damaged.has(lsn));
              expect(lost(lsn), `LSN ${lsn} reported`).toBe(damaged.has(lsn));
            }
            for (const d of journal.damage) {
              expect(d.kind).not.toBe('torn_tail'); // all of it was durable
              if (d.lsns === null) continue; // bad bytes that held no record (the file header)
              expect(d.execIds).toEqual(
                Array.from({ length: d.lsns[1] - d.lsns[0] + 1 }, (_, i) => record(d.lsns![0] + i).exec_id),
              );
            }
            expect(next.lsn).toBe(RECORDS + 1);
          }),
          everyFileDamaged(150, { segment: segments }, ['flip', 'truncate']),
        );
      },
    );
  });

  describe('for any single flipped byte or truncation of any segment or cursor file, with both sinks', () => {
    const DELIVERED = 24;
    const JOURNALED = 36;
    const LATER = 6;
    let base: string;
    beforeAll(async () => {
      // A spool where both sinks handled 1..24 and 25..36 wait in the journal: cursors mid-way.
      base = tempDir();
      const journal = await Journal.open({ dir: join(base, 'journal'), segmentBytes: 3000 });
      for (let n = 1; n <= DELIVERED; n++) journal.append(record(n));
      await journal.flush();
      await drainSinks(journal, base, join(base, 'archive'), join(base, 'fills.jsonl'));
      for (let n = DELIVERED + 1; n <= JOURNALED; n++) journal.append(record(n));
      await journal.close();
    });

    it(
      'every undamaged record reaches each sink exactly once; every lost one is reported by LSN; no LSN is reused',
      { timeout: propertyTimeout(120_000) },
      async () => {
        const dir = join(base, 'journal');
        const files = readdirSync(dir)
          .filter((n) => /^seg-\d{16}\.log$|^cursor-/.test(n))
          .sort();
        expect(files.filter((n) => n.startsWith('cursor-'))).toHaveLength(4); // two sinks, two copies each
        const damage = fc.record({
          file: fc.integer({ min: 0, max: files.length - 1 }),
          at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
          kind: fc.constantFrom('flip' as const, 'truncate' as const),
          bit: fc.integer({ min: 0, max: 7 }),
        });
        await fc.assert(
          fc.asyncProperty(damage, async ({ file, at, kind, bit }) => {
            // Prepare: a copy of the spool (journal, archive, fills) with the damage applied.
            const spool = tempDir();
            cpSync(base, spool, { recursive: true });
            const path = join(spool, 'journal', files[file]!);
            const offset = Math.floor(at * statSync(path).size);
            if (kind === 'truncate') truncateSync(path, offset);
            else {
              const bytes = readFileSync(path);
              bytes[offset] = bytes[offset]! ^ (1 << bit);
              writeFileSync(path, bytes);
            }

            // Act: restart, deliver, more traffic, deliver.
            const journal = await Journal.open({ dir: join(spool, 'journal'), segmentBytes: 3000 });
            const fresh = Array.from({ length: LATER }, (_, i) => journal.append(record(JOURNALED + 1 + i)));
            await journal.flush();
            await drainSinks(journal, spool, join(spool, 'archive'), join(spool, 'fills.jsonl'));
            await journal.close();

            // Assess
            expect(fresh.map((a) => a.lsn)).toEqual(Array.from({ length: LATER }, (_, i) => JOURNALED + 1 + i));
            const count = (ids: string[]) =>
              ids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>());
            const archived = count(archivedIds(join(spool, 'archive')));
            const published = count(publishedIds(join(spool, 'fills.jsonl')));
            for (let lsn = 1; lsn <= JOURNALED + LATER; lsn++) {
              const r = record(lsn);
              // Delivered before the damage, or not lost: exactly once. Lost before delivery: reported.
              const expected = lsn <= DELIVERED || !journal.isLost(lsn) ? 1 : 0;
              expect(archived.get(r.exec_id) ?? 0, `archive, LSN ${lsn}`).toBe(expected);
              if (r.exec_type === 'F') expect(published.get(r.exec_id) ?? 0, `fills, LSN ${lsn}`).toBe(expected);
            }
            for (const d of journal.damage)
              if (d.lsns !== null && d.kind !== 'torn_tail') expect(d.lsns[1]).toBeLessThanOrEqual(JOURNALED);
          }),
          everyFileDamaged(60, { file: files }, ['flip', 'truncate']),
        );
      },
    );
  });
});

import { cpSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionReportRecord } from '../../src/core/record.js';
import { ArchiveWriter } from '../../src/pipeline/archive-writer.js';
import { DeadLetterBox } from '../../src/pipeline/dead-letters.js';
import { FillPublisher } from '../../src/pipeline/fill-publisher.js';
import { Journal } from '../../src/pipeline/journal.js';
import { LocalFileQueue } from '../../src/sinks/local-file-queue.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { makeRecord, tempDir } from '../helpers/records.js';

const HOUR = '2026-11-23T10:15:00.000Z';
const record = (n: number) => makeRecord(n, { transact_time: HOUR });
const segmentsOf = (dir: string) =>
  readdirSync(dir)
    .filter((n) => /^seg-\d{16}\.log$/.test(n))
    .sort();

function archivedIds(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.jsonl.gz'))
        for (const line of gunzipSync(readFileSync(path)).toString('utf8').split('\n').filter(Boolean))
          out.push((JSON.parse(line) as ExecutionReportRecord).exec_id);
    }
  };
  walk(dir);
  return out;
}

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
  const publisher = new FillPublisher({ journal, queue: new LocalFileQueue(fills), deadLetters: box });
  await writer.start();
  await publisher.start();
  await expect.poll(() => journal.backlog('archive').records + journal.backlog('fills').records).toBe(0);
  await writer.stop();
  await publisher.stop();
  await box.close();
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
    expect(damage).toMatchObject({ kind: 'corrupt', lsns: [expect.any(Number) as unknown, 200] });
    expect(damage!.execIds!.length).toBe(200 - damage!.lsns[0] + 1);
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

    it('reads back every undamaged record as written, reports every damaged one by LSN, and reuses no LSN', async () => {
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

          // Assess
          const lost = (lsn: number) => journal.damage.some((d) => lsn >= d.lsns[0] && lsn <= d.lsns[1]);
          for (const entry of read) {
            expect(entry.line).toBe(lines[entry.lsn - 1]);
            expect(lost(entry.lsn)).toBe(false);
          }
          const readLsns = new Set(read.map((e) => e.lsn));
          for (let lsn = 1; lsn <= RECORDS; lsn++) expect(readLsns.has(lsn) || lost(lsn), `LSN ${lsn}`).toBe(true);
          for (const d of journal.damage) {
            expect(d.kind).not.toBe('torn_tail'); // all of it was durable
            expect(d.lsns[0]).toBeGreaterThanOrEqual(1);
            expect(d.lsns[1]).toBeLessThanOrEqual(RECORDS);
            expect(d.execIds).toEqual(
              Array.from({ length: d.lsns[1] - d.lsns[0] + 1 }, (_, i) => record(d.lsns[0] + i).exec_id),
            );
          }
          expect(next.lsn).toBe(RECORDS + 1);
        }),
        { numRuns: 500 },
      );
    });
  });
});

import { cpSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionReportRecord } from '../../src/core/record.js';
import { ArchiveWriter } from '../../src/pipeline/archive-writer.js';
import { DeadLetterBox } from '../../src/pipeline/dead-letters.js';
import { FillPublisher } from '../../src/pipeline/fill-publisher.js';
import { Journal, type JournalOptions } from '../../src/pipeline/journal.js';
import { LocalFileQueue } from '../../src/sinks/local-file-queue.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { archivedIds } from '../helpers/archive.js';
import { everyFileDamaged, propertyTimeout } from '../helpers/property.js';
import { makeRecord, tempDir } from '../helpers/records.js';

// The exchange's reports, numbered as they were sent (record n is journaled at LSN n).
const report = (n: number) => makeRecord(n, { transact_time: '2026-11-23T10:15:00.000Z' });
const FILL = (n: number) => report(n).exec_type === 'F';
// 1..24 reached both sinks; 25..30 one sink only (the archive waits for its minute, or the queue
// is down); 31..36 were journaled and reached no sink; 37..42 arrive after the restart.
const BOTH = 24;
const ONE_SINK = 30;
const JOURNALED = 36;
const LATER = 42;
const journalOptions = (dir: string): JournalOptions => ({
  dir,
  segmentBytes: 3000,
  // Small chunks, so the index has sealed chunk files to damage too.
  dedupeChunkIds: 8,
  checkEveryMs: 0,
});

/**
 * Every fill sent, as SQS delivers them once its 5-minute deduplication window has passed (the
 * local queue's own deduplication of a recent id is a window too: counted here before it).
 */
class SentFills extends LocalFileQueue {
  static readonly sent = new Map<string, string[]>();
  readonly #spool: string;
  constructor(spool: string) {
    super(join(spool, 'fills.jsonl'));
    this.#spool = spool;
  }
  override sendBatch(messages: Parameters<LocalFileQueue['sendBatch']>[0]): ReturnType<LocalFileQueue['sendBatch']> {
    const sent = SentFills.sent.get(this.#spool) ?? [];
    for (const m of messages) sent.push((JSON.parse(m.body) as ExecutionReportRecord).exec_id);
    SentFills.sent.set(this.#spool, sent);
    return super.sendBatch(messages);
  }
}

async function run(journal: Journal, spool: string, sinks: { archive: boolean; fills: boolean }): Promise<void> {
  const box = await DeadLetterBox.open({ dir: spool });
  const queue = new SentFills(spool);
  const writer = new ArchiveWriter({
    journal,
    store: new LocalFolderStore(join(spool, 'archive')),
    graceMs: 0,
    now: () => Date.parse('2026-11-23T12:00:00Z'),
  });
  const publisher = new FillPublisher({ journal, queue, deadLetters: box });
  if (sinks.archive) await writer.start();
  if (sinks.fills) await publisher.start();
  if (sinks.archive) await writer.stop({ flush: true });
  if (sinks.fills) await publisher.stop();
  await box.close();
  await queue.close();
}

const count = (ids: string[]) => ids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>());

describe.each([
  ['the fills queue', { archive: false, fills: true }],
  ['the archive', { archive: true, fills: false }],
])('Journal exactly once through damage of any spool file, with %s ahead', (_, ahead) => {
  let base: string;
  let files: string[];
  beforeAll(async () => {
    base = tempDir();
    SentFills.sent.set(base, []);
    const dir = join(base, 'journal');
    const journal = await Journal.open(journalOptions(dir));
    for (let n = 1; n <= BOTH; n++) journal.append(report(n));
    await journal.flush();
    await run(journal, base, { archive: true, fills: true });
    for (let n = BOTH + 1; n <= ONE_SINK; n++) journal.append(report(n));
    await journal.flush();
    await run(journal, base, ahead);
    for (let n = ONE_SINK + 1; n <= JOURNALED; n++) journal.append(report(n));
    await journal.close();
    files = [
      ...readdirSync(dir).filter((n) => /^seg-|^cursor-|^dedupe\.log$|^lsn-base$/.test(n)),
      ...readdirSync(join(dir, 'dedupe')).map((n) => `dedupe/${n}`),
    ].sort();
  });

  it('has every kind of file to damage', () => {
    expect(files.filter((f) => f.startsWith('seg-')).length).toBeGreaterThan(1);
    expect(files.filter((f) => f.startsWith('cursor-'))).toHaveLength(4);
    expect(files.filter((f) => f.startsWith('dedupe/')).length).toBeGreaterThan(0);
    expect(files).toContain('dedupe.log');
    expect(files).toContain('lsn-base');
  });

  // One run restarts the journal, hears the exchange resend and delivers through both sinks: ~30 ms.
  // Every file gets every kind of damage (mid-file, a low bit); the random runs vary where.
  it(
    'after one flipped byte, truncation, zeroed block or deletion of any file and a resend, every report is in each sink once or reported lost',
    { timeout: propertyTimeout(180_000) },
    async () => {
      const damage = fc.record({
        file: fc.integer({ min: 0, max: files.length - 1 }),
        at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        kind: fc.constantFrom('flip' as const, 'truncate' as const, 'zero' as const, 'delete' as const),
        bit: fc.integer({ min: 0, max: 7 }),
      });
      await fc.assert(
        fc.asyncProperty(damage, async ({ file, at, kind, bit }) => {
          // Prepare: a copy of the spool with the damage done.
          const spool = tempDir();
          cpSync(base, spool, { recursive: true });
          SentFills.sent.set(spool, [...(SentFills.sent.get(base) ?? [])]);
          const dir = join(spool, 'journal');
          const path = join(dir, files[file]!);
          const size = statSync(path).size;
          const offset = Math.floor(at * size);
          const bytes = readFileSync(path);
          if (kind === 'delete') rmSync(path);
          else if (kind === 'truncate') truncateSync(path, offset);
          else if (kind === 'zero')
            writeFileSync(
              path,
              Buffer.concat([
                bytes.subarray(0, offset),
                Buffer.alloc(Math.min(4096, size - offset)),
                bytes.subarray(offset + 4096),
              ]),
            );
          else {
            bytes[offset] = bytes[offset]! ^ (1 << bit);
            writeFileSync(path, bytes);
          }

          // Act: the restart, the exchange resending what the journal names lost and the
          // reports around each lost range (a resend starts before a range and runs past it),
          // new reports, then both sinks.
          const journal = await Journal.open(journalOptions(dir));
          const resent = new Set<number>();
          for (const d of journal.damage)
            if (d.lsns !== null && d.kind !== 'torn_tail')
              for (let n = Math.max(1, d.lsns[0] - 3); n <= Math.min(JOURNALED, d.lsns[1] + 3); n++) resent.add(n);
          for (const n of [...resent].sort((a, b) => a - b))
            journal.append({ ...report(n), poss_dup: true, source: 'resend' });
          for (let n = JOURNALED + 1; n <= LATER; n++) journal.append(report(n));
          await journal.flush();
          await run(journal, spool, { archive: true, fills: true });
          const lost = journal.damage.filter((d) => d.lsns !== null && d.kind !== 'torn_tail');
          await journal.close();

          // Assess: each report once in the archive and (a fill) once on the queue: never twice;
          // never missing unless a damage report names its range and it was not resent.
          const inArchive = count(archivedIds(join(spool, 'archive')));
          const onQueue = count(SentFills.sent.get(spool) ?? []);
          const reportedLost = (n: number) => lost.some((d) => n >= d.lsns![0] && n <= d.lsns![1]);
          for (let n = 1; n <= LATER; n++) {
            const id = report(n).exec_id;
            const expected = reportedLost(n) && !resent.has(n) ? 0 : 1;
            expect(inArchive.get(id) ?? 0, `archive, report ${n} (${kind} ${files[file]} @${offset})`).toBe(expected);
            if (FILL(n))
              expect(onQueue.get(id) ?? 0, `fills, report ${n} (${kind} ${files[file]} @${offset})`).toBe(expected);
          }
        }),
        everyFileDamaged(60, { file: files }, ['flip', 'truncate', 'zero', 'delete']),
      );
    },
  );
});

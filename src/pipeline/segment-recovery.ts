import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.js';
import { asListenerError, ListenerError } from '../core/errors.js';
import type { JournalDamage } from '../core/status.js';
import { addRange, Vacancies, type LsnRange } from './lsn-ranges.js';
import {
  encodeSegment,
  HEADER_BYTES,
  INDEX_EVERY,
  isIncompleteTail,
  MAGIC,
  parseLsnBase,
  scanSegment,
  uncovered,
} from './segment-format.js';

/** A segment file as the log keeps it in memory. */
export interface Segment {
  firstLsn: number;
  lastLsn: number; // firstLsn - 1 while empty
  path: string;
  bytes: number;
  /** [LSN, byte offset] of every INDEX_EVERY-th record, so a sink far behind reads without a full scan. */
  index: Array<[number, number]>;
  records: number;
}

export interface RecoveryInput {
  dir: string;
  /** The highest LSN anything outside the segments has seen (see SegmentLogOptions.floor). */
  floor: number;
  /** Where the segments must start when lsn-base cannot say (see SegmentLogOptions.keptAbove). */
  keptAbove: number | undefined;
  /** Names the `.damaged-*` copies. */
  now: number;
  onRecovered: ((lsn: number, line: string) => void) | undefined;
}

/** What the segments held, as plain data: the log starts from it. */
export interface RecoveredLog {
  segments: Segment[];
  /** What was found damaged, cut or missing, in the order found. */
  damage: JournalDamage[];
  /** The good records on either side of each damaged range (JSON lines). */
  neighbours: Map<JournalDamage, { prior: string | undefined; next: string | undefined }>;
  /** LSNs holding no record, for the read guard. */
  vacancies: Vacancies;
  /** The same as runs, earlier opens' included: what lsn-base keeps. */
  vacant: LsnRange[];
  deletedThrough: number;
  /** The LSN numbering continues after. */
  lastLsn: number;
  truncatedTailBytes: number;
  /** lsn-base could not be read or was damaged (it is rewritten). */
  lsnBaseProblem: ListenerError | undefined;
}

/**
 * Reads every segment file of `dir`, checks each record and LSN continuity against lsn-base and
 * the floor, rewrites damaged segments without their bad bytes (the damaged file kept aside as
 * `.damaged-<now>`), cuts a torn tail, and says what it found. It opens no segment for appending.
 */
export async function recoverSegments(input: RecoveryInput): Promise<RecoveredLog> {
  const segments: Segment[] = [];
  const damage: JournalDamage[] = [];
  const neighbours = new Map<JournalDamage, { prior: string | undefined; next: string | undefined }>();
  const vacancies = new Vacancies();
  const vacant: LsnRange[] = [];
  let truncatedTailBytes = 0;
  await mkdir(input.dir, { recursive: true });
  const names = (await readdir(input.dir, { withFileTypes: true }))
    .filter((d: Dirent) => d.isFile() && /^seg-\d{16}\.log$/.test(d.name))
    .map((d) => d.name)
    .sort();
  const read = await readLsnBase(input.dir);
  const { base } = read;
  // Gone while segments are there: deleted, not a first start.
  const lsnBaseProblem =
    read.problem ??
    (read.missing && names.length > 0
      ? new ListenerError('ERR_JOURNAL_CORRUPT', 'lsn-base is missing; rewritten from the segments and cursors')
      : undefined);
  const floor = Math.max(input.floor, base.lsn);
  const now = input.now;
  // Runs earlier opens found holding no record (lost and reported then, or never given): what
  // lies there now is no news. Records after the last deleted segment must be on disk.
  const known = base.vacant;
  // Unknown (no lsn-base, no sink positions given): the first segment found is taken as the first.
  const firstOnDisk = names.length === 0 ? undefined : Number(names[0]!.slice(4, 20));
  const deletedThrough = base.deletedThrough ?? input.keptAbove ?? (firstOnDisk ?? floor + 1) - 1;
  const expectedFrom = deletedThrough + 1;
  // The last good record read so far: a damaged range found next lies after it.
  let lastLine: string | undefined;
  let lastRecovered: number | undefined;
  const report = (found: JournalDamage) => {
    damage.push(found);
    if (found.lsns !== null && found.kind !== 'torn_tail') {
      neighbours.set(found, { prior: lastLine, next: undefined });
      addRange(vacant, found.lsns);
    }
  };
  // LSNs [a, b] no segment holds: each run that no earlier open accounted for is missing.
  const reportMissing = (a: number, b: number) => {
    for (const [first, last] of uncovered(a, b, known))
      report({ kind: 'missing', segment: null, offset: 0, lsns: [first, last] });
  };
  // The first segment left must start right after the last one deleted (a sink may still need
  // what lay between: someone else deleted it).
  if (firstOnDisk !== undefined) reportMissing(expectedFrom, firstOnDisk - 1);
  for (let s = 0; s < names.length; s++) {
    const name = names[s]!;
    const firstLsn = Number(name.slice(4, 20));
    const path = join(input.dir, name);
    const data = await readFile(path);
    const previous = segments.at(-1);
    const lastSeen = Math.max(previous?.lastLsn ?? 0, ...damage.map((d) => d.lsns?.[1] ?? 0));
    if (previous !== undefined && firstLsn > lastSeen + 1) reportMissing(lastSeen + 1, firstLsn - 1);
    else if (previous !== undefined && firstLsn <= previous.lastLsn)
      throw new ListenerError('ERR_JOURNAL_CORRUPT', `journal segment ${name} overlaps the one before it`, {
        details: { segment: name },
      });
    const isLast = s === names.length - 1;
    const nextFirst = isLast ? undefined : Number(names[s + 1]!.slice(4, 20));
    const scan = scanSegment(data, firstLsn);
    // Where the records after the last good one would have ended: the next segment's start, or
    // for the last segment the floor (something outside saw them), at least one record.
    let tornAt: number | undefined;
    let damaged = false;
    for (const bad of scan.bad) {
      const before = scan.records.filter((r) => r.offset < bad.offset).at(-1)?.lsn ?? firstLsn - 1;
      const after = scan.records.find((r) => r.offset >= bad.end)?.lsn;
      const atEnd = after === undefined;
      const torn =
        isLast && atEnd && bad.end === data.length && isIncompleteTail(data, bad.offset) && before + 1 > floor;
      if (torn) {
        // A header cut short goes too: the first write of the segment writes it again.
        tornAt = scan.magic ? bad.offset : 0;
        truncatedTailBytes = data.length - bad.offset;
        report({
          kind: 'torn_tail',
          segment: name,
          offset: bad.offset,
          lsns: [before + 1, before + 1],
          bytes: data.length - bad.offset,
        });
        continue;
      }
      damaged = true;
      const until =
        after !== undefined ? after - 1 : nextFirst !== undefined ? nextFirst - 1 : Math.max(floor, before + 1);
      report({
        kind: 'corrupt',
        segment: name,
        offset: bad.offset,
        lsns: until >= before + 1 ? [before + 1, until] : null,
        bytes: bad.end - bad.offset,
      });
    }
    const segment: Segment = { firstLsn, lastLsn: firstLsn - 1, path, bytes: 0, index: [], records: 0 };
    const kept = damaged ? encodeSegment(scan.records) : undefined;
    if (damaged) await writeFileAtomic(`${path}.damaged-${now}`, data);
    if (kept !== undefined) await writeFileAtomic(path, kept);
    else if (tornAt !== undefined) {
      const handle = await open(path, 'r+');
      await handle.truncate(tornAt);
      await handle.sync();
      await handle.close();
    }
    let offset = MAGIC.length;
    for (const record of scan.records) {
      if (segment.records++ % INDEX_EVERY === 0) segment.index.push([record.lsn, offset]);
      offset += HEADER_BYTES + Buffer.byteLength(record.line, 'utf8');
      segment.lastLsn = record.lsn;
      if (lastRecovered === undefined) vacancies.below = record.lsn - 1;
      else if (record.lsn > lastRecovered + 1) {
        vacancies.add(lastRecovered + 1, record.lsn - 1);
        addRange(vacant, [lastRecovered + 1, record.lsn - 1]);
      }
      lastRecovered = record.lsn;
      input.onRecovered?.(record.lsn, record.line);
      if (neighbours.size > 0)
        for (const [damage, around] of neighbours) {
          if (around.next !== undefined) continue;
          if (record.lsn < damage.lsns![0]) around.prior = record.line;
          else if (record.lsn > damage.lsns![1]) around.next = record.line;
        }
      lastLine = record.line;
    }
    segment.bytes = kept?.length ?? tornAt ?? data.length;
    if (segment.bytes > 0 && segment.bytes !== offset)
      throw new ListenerError('ERR_JOURNAL_CORRUPT', `journal segment ${name} does not add up after recovery`);
    segments.push(segment);
  }
  // Numbering never goes back below an LSN something outside the segments has seen, even when
  // the segments lost it: a cursor past it would make the sink skip the new record given it.
  const lastOnDisk = segments.at(-1)?.lastLsn;
  const reported = reportedLoss(damage);
  // With no segment left at all, everything after the last deletion up to the floor is gone.
  if (Math.max(lastOnDisk ?? deletedThrough, reported) < floor)
    reportMissing(Math.max(lastOnDisk ?? deletedThrough, reported) + 1, floor);
  const lastSegment = segments.at(-1);
  // Never below an LSN reported lost either: a report names it, a new record must not take it.
  const lastLsn = Math.max(lastSegment?.lastLsn ?? 0, floor, reportedLoss(damage));
  // What holds no record among the LSNs given so far: numbering resumes after them.
  if (lastRecovered === undefined) vacancies.below = lastLsn;
  else vacancies.add(lastRecovered + 1, lastLsn);
  for (const run of known) addRange(vacant, run);
  if (lastRecovered !== undefined && lastLsn > lastRecovered) addRange(vacant, [lastRecovered + 1, lastLsn]);
  else if (lastRecovered === undefined && lastLsn > deletedThrough) addRange(vacant, [deletedThrough + 1, lastLsn]);
  return {
    segments,
    damage,
    neighbours,
    vacancies,
    vacant,
    deletedThrough,
    lastLsn,
    truncatedTailBytes,
    lsnBaseProblem,
  };
}

/** The highest LSN a report of lost records names (0 when none does; a torn tail was never durable). */
function reportedLoss(damage: readonly JournalDamage[]): number {
  let last = 0;
  for (const d of damage) if (d.kind !== 'torn_tail' && d.lsns !== null && d.lsns[1] > last) last = d.lsns[1];
  return last;
}

/**
 * lsn-base: the LSN numbering had reached when it was last written (0 when never), the last LSN
 * of the newest segment deleted, and the runs known to hold no record. Missing or damaged, it is
 * rebuilt: the segments, the cursors and the ExecID log still bound numbering from below, and the
 * sinks' positions say where the segments must start.
 */
async function readLsnBase(dir: string): Promise<{
  base: { lsn: number; deletedThrough: number | undefined; vacant: LsnRange[] };
  problem: ListenerError | undefined;
  missing: boolean;
}> {
  const unknown = { lsn: 0, deletedThrough: undefined, vacant: [] };
  let text: string;
  try {
    text = await readFile(join(dir, 'lsn-base'), 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return { base: unknown, problem: undefined, missing: true };
    return {
      base: unknown,
      problem: asListenerError(cause, 'ERR_JOURNAL_CORRUPT', 'cannot read lsn-base; rewritten'),
      missing: false,
    };
  }
  const base = parseLsnBase(text);
  if (base !== undefined) return { base, problem: undefined, missing: false };
  return {
    base: unknown,
    missing: false,
    problem: new ListenerError(
      'ERR_JOURNAL_CORRUPT',
      `lsn-base is damaged (${JSON.stringify(text.slice(0, 40))}); rewritten from the segments and cursors`,
    ),
  };
}

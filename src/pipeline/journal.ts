import { constants, type Dirent } from 'node:fs';
import { mkdir, open, readdir, rm, readFile, statfs, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { fsyncDir, writeFileAtomic as writeAtomic } from '../core/atomic-file.js';
import { ListenerError } from '../core/errors.js';
import { HeadQueue } from '../core/head-queue.js';
import type { JournalDamage, JournalStats } from '../core/status.js';

export type { JournalDamage };
import { compareExecIds } from '../core/exec-id.js';
import type { ExecutionReportRecord } from '../core/record.js';

/** One durable journal entry: its position (LSN), the record and its JSON line as archived. */
export interface JournalEntry {
  readonly lsn: number;
  readonly record: ExecutionReportRecord;
  /** The record serialised once, exactly as every sink writes it. */
  readonly line: string;
}

/**
 * An entry read back from a segment. Its record is parsed only when a sink asks for it: a sink
 * catching up reads every line but, like the fill publisher, may need few of the records.
 */
class StoredEntry implements JournalEntry {
  readonly lsn: number;
  readonly line: string;
  #record: ExecutionReportRecord | undefined;

  constructor(lsn: number, line: string) {
    this.lsn = lsn;
    this.line = line;
  }

  get record(): ExecutionReportRecord {
    return (this.#record ??= JSON.parse(this.line) as ExecutionReportRecord);
  }
}

export interface JournalOptions {
  dir: string;
  /** A new segment file starts past this size (default 64 MiB). */
  segmentBytes?: number;
  /** How long an ExecID is remembered for deduplication (default 72 h, the RT retention maximum). */
  dedupeWindowMs?: number;
  /** Durable entries kept in memory for sinks that are keeping up (default 32 MiB of lines). */
  cacheBytes?: number;
  now?: () => number;
}

export interface AppendResult {
  /** The entry's LSN, or the LSN it will be durable behind when it was a duplicate. */
  lsn: number;
  duplicate: boolean;
}

interface PendingEntry {
  entry: JournalEntry;
  /** Header + UTF-8 bytes of the line. */
  size: number;
}

const HEADER_BYTES = 8; // u32 length + u32 crc32, little-endian
const INDEX_EVERY = 256;
const READ_WINDOW = 1024 * 1024;

interface Segment {
  firstLsn: number;
  lastLsn: number; // firstLsn - 1 while empty
  path: string;
  bytes: number;
  /** Byte offset of every INDEX_EVERY-th record, so a sink far behind reads without a full scan. */
  offsets: number[];
}

/**
 * The append-only, checksummed, fsynced journal every ExecutionReport passes through before any
 * sink sees it (DESIGN.md §1). Appends are group-committed: all appends made while a write+fsync is
 * in flight go out together in the next one, so throughput does not collapse to one fsync per
 * report. A torn tail left by a crash fails its checksum and is cut on open, never parsed as data.
 * Deduplication by ExecID survives restarts (dedupe.log). Each sink keeps its own cursor file;
 * a segment is deleted once every sink has passed it.
 */
export class Journal {
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #windowMs: number;
  readonly #cacheBytes: number;
  readonly #now: () => number;
  readonly #segments: Segment[] = [];
  /** ExecID → when it was journaled, as a stamp (stampOf); insertion order is time order. */
  readonly #seen = new Map<string, number>();
  #active: FileHandle | undefined;
  #dedupeLog: FileHandle | undefined;
  #dedupeLogEntries = 0;
  #lastLsn = 0;
  #durableLsn = 0;
  #dedupeDurableLsn = 0;
  #pending: PendingEntry[] = [];
  #flushing: Promise<void> | undefined;
  #flushError: ListenerError | undefined;
  // The dedupe log trails the segments on its own chain: a group commit waits for one fsync, not
  // two. Safe because recovery also rebuilds the ids from the segments, and no segment is deleted
  // before the dedupe log covers it.
  #dedupeChain: Promise<void> = Promise.resolve();
  // Evicted entries' slots are cleared at once, so the cache never holds more than its budget.
  readonly #cache = new HeadQueue<JournalEntry>();
  #cachedBytes = 0;
  #duplicates = 0;
  #truncated = 0;
  readonly #damage: JournalDamage[] = [];
  #maxExecId: string | undefined;
  #closed = false;
  readonly #durableListeners = new Set<(lsn: number) => void>();
  readonly #cursors = new Map<string, number>();

  private constructor(options: JournalOptions) {
    this.#dir = options.dir;
    this.#segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.#windowMs = options.dedupeWindowMs ?? 72 * 3600 * 1000;
    this.#cacheBytes = options.cacheBytes ?? 32 * 1024 * 1024;
    this.#now = options.now ?? Date.now;
  }

  /** Opens (creating if needed) and recovers the journal in `dir`. */
  static async open(options: JournalOptions): Promise<Journal> {
    const journal = new Journal(options);
    await journal.#recover();
    return journal;
  }

  get lastLsn(): number {
    return this.#lastLsn;
  }

  get durableLsn(): number {
    return this.#durableLsn;
  }

  /**
   * What the last open found damaged or cut: each entry names the LSN range and the ExecIDs the
   * dedupe log can name. Torn tails were never durable; corrupt and missing ranges were.
   */
  get damage(): readonly JournalDamage[] {
    return this.#damage;
  }

  /** Set when a write or fsync failed: the journal refuses further appends (the process must restart). */
  get failure(): ListenerError | undefined {
    return this.#flushError;
  }

  /**
   * Appends a record unless its ExecID was seen within the window. Returns at once; the entry is
   * durable when `onDurable` reports an LSN ≥ the returned one.
   */
  append(record: ExecutionReportRecord): AppendResult {
    if (this.#closed) throw new ListenerError('ERR_JOURNAL_CLOSED', 'journal is closed');
    if (this.#flushError !== undefined) throw this.#flushError;
    if (this.#seen.has(record.exec_id)) {
      this.#duplicates++;
      return { lsn: this.#lastLsn, duplicate: true };
    }
    const now = this.#now();
    this.#seen.set(record.exec_id, stampOf(now));
    this.#noteExecId(record.exec_id);
    const line = JSON.stringify(record);
    // The bytes are written at commit time into one buffer for the whole group; a buffer per
    // record cost more than encoding it.
    const size = HEADER_BYTES + Buffer.byteLength(line, 'utf8');
    const entry: JournalEntry = { lsn: ++this.#lastLsn, record, line };
    this.#pending.push({ entry, size });
    if (this.#flushing === undefined) this.#flushing = this.#flushLoop();
    return { lsn: entry.lsn, duplicate: false };
  }

  /** Resolves when everything appended so far is durable. */
  async flush(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    await this.#dedupeChain;
    if (this.#flushError !== undefined) throw this.#flushError;
  }

  /**
   * The highest ExecID journaled (Kalshi's `clock;event` order), remembered across restarts for
   * the dedupe window: where a drop-copy backfill starts.
   */
  get maxExecId(): string | undefined {
    return this.#maxExecId;
  }

  #noteExecId(execId: string): void {
    if (execId.startsWith('noexecid:')) return;
    if (this.#maxExecId === undefined || compareExecIds(execId, this.#maxExecId) > 0) this.#maxExecId = execId;
  }

  /** Called with the new durable LSN after every group commit. */
  onDurable(listener: (lsn: number) => void): () => void {
    this.#durableListeners.add(listener);
    return () => this.#durableListeners.delete(listener);
  }

  /**
   * Durable entries after `afterLsn`, at most `max`. Served from memory when the sink is keeping
   * up, from the segment files otherwise (after a restart or a long outage).
   */
  async read(afterLsn: number, max: number): Promise<JournalEntry[]> {
    // LSNs lost to damage have no entries: a read that starts in such a gap starts after it.
    const from = this.#nextStoredLsn(afterLsn + 1);
    const to = Math.min(this.#durableLsn, from + max - 1);
    if (to < from) return [];
    const cacheFirst = this.#cache.peek()?.lsn ?? Infinity;
    if (from >= cacheFirst) return this.#cache.slice(from - cacheFirst, to - cacheFirst + 1);
    return this.#readFromDisk(from, to);
  }

  // ── cursors ─────────────────────────────────────────────────────────────────────────────────

  /** Loads a sink's saved state (undefined on first start). The sink registers with its LSN. */
  async loadCursor<T extends { through: number }>(sink: string): Promise<T | undefined> {
    let state: T | undefined;
    try {
      state = JSON.parse(await readFile(this.#cursorPath(sink), 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new ListenerError('ERR_JOURNAL_CURSOR', `cannot read cursor of ${sink}`, { cause: error });
    }
    this.#cursors.set(sink, state?.through ?? this.#firstLsn() - 1);
    return state;
  }

  /**
   * Saves a sink's state atomically (temp file, fsync, rename). `through` is the LSN every entry
   * up to which the sink has fully handled; segments below every sink's `through` are deleted.
   */
  async saveCursor(sink: string, state: { through: number }): Promise<void> {
    await writeAtomic(this.#cursorPath(sink), JSON.stringify(state));
    this.#cursors.set(sink, state.through);
    await this.#deletePassedSegments();
  }

  /** Records waiting for a sink: count and approximate bytes. */
  backlog(sink: string): { records: number; bytes: number } {
    const through = this.#cursors.get(sink) ?? 0;
    const records = Math.max(0, this.#durableLsn - through);
    let bytes = 0;
    for (const segment of this.#segments) {
      if (segment.lastLsn <= through) continue;
      const span = segment.lastLsn - segment.firstLsn + 1;
      const share = span <= 0 ? 0 : (segment.lastLsn - Math.max(through, segment.firstLsn - 1)) / span;
      bytes += Math.round(segment.bytes * share);
    }
    return { records, bytes };
  }

  stats(): JournalStats {
    return {
      lastLsn: this.#lastLsn,
      durableLsn: this.#durableLsn,
      segments: this.#segments.length,
      bytesOnDisk: this.#segments.reduce((sum, s) => sum + s.bytes, 0),
      dedupeEntries: this.#seen.size,
      duplicatesDropped: this.#duplicates,
      truncatedTailBytes: this.#truncated,
      damage: this.#damage,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush().catch(() => undefined);
    this.#closed = true;
    await this.#active?.close();
    await this.#dedupeLog?.close();
  }

  // ── group commit ────────────────────────────────────────────────────────────────────────────

  async #flushLoop(): Promise<void> {
    try {
      while (this.#pending.length > 0 && this.#flushError === undefined) {
        const batch = this.#pending;
        this.#pending = [];
        await this.#writeBatch(batch);
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  async #writeBatch(batch: PendingEntry[]): Promise<void> {
    try {
      let i = 0;
      while (i < batch.length) {
        let segment = this.#segments.at(-1)!;
        if (segment.bytes >= this.#segmentBytes && segment.lastLsn >= segment.firstLsn)
          segment = await this.#roll(batch[i]!.entry.lsn);
        // Fill this segment up to its size (at least one record), then roll for the rest.
        let bytes = segment.bytes;
        const first = i;
        while (i < batch.length && (i === first || bytes + batch[i]!.size <= this.#segmentBytes)) {
          const { entry, size } = batch[i]!;
          if ((entry.lsn - segment.firstLsn) % INDEX_EVERY === 0) segment.offsets.push(bytes);
          bytes += size;
          i++;
        }
        const data = Buffer.allocUnsafe(bytes - segment.bytes);
        for (let k = first, at = 0; k < i; k++) {
          const { entry, size } = batch[k]!;
          data.writeUInt32LE(size - HEADER_BYTES, at);
          data.write(entry.line, at + HEADER_BYTES, 'utf8');
          data.writeUInt32LE(crc32(data.subarray(at + HEADER_BYTES, at + size)), at + 4);
          at += size;
        }
        // A regular-file write may in principle stop short: finish it.
        for (let written = 0; written < data.length;)
          written += (await this.#active!.write(data, written, data.length - written)).bytesWritten;
        await this.#active!.datasync();
        segment.bytes = bytes;
        segment.lastLsn = batch[i - 1]!.entry.lsn;
      }
    } catch (cause) {
      // A write that may or may not have landed cannot be retried in place: stop taking appends.
      this.#flushError = await writeFailure(
        this.#dir,
        'journal write or fsync failed; refusing further appends',
        cause,
      );
      throw this.#flushError;
    }
    const last = batch.at(-1)!.entry.lsn;
    this.#durableLsn = last;
    for (const { entry } of batch) this.#cacheAdd(entry);
    for (const listener of this.#durableListeners) listener(last);
    this.#dedupeChain = this.#dedupeChain
      .then(() => (this.#flushError === undefined ? this.#appendDedupe(batch) : undefined))
      .catch((cause: unknown) => {
        this.#flushError ??= new ListenerError(
          'ERR_JOURNAL_WRITE',
          'journal dedupe log write or fsync failed; refusing further appends',
          { cause },
        );
      });
  }

  #cacheAdd(entry: JournalEntry): void {
    this.#cache.push(entry);
    this.#cachedBytes += entry.line.length;
    while (this.#cachedBytes > this.#cacheBytes && this.#cache.length > 1)
      this.#cachedBytes -= this.#cache.shift()!.line.length;
  }

  async #roll(firstLsn: number): Promise<Segment> {
    await this.#active?.close();
    const segment: Segment = {
      firstLsn,
      lastLsn: firstLsn - 1,
      path: join(this.#dir, segmentName(firstLsn)),
      bytes: 0,
      offsets: [],
    };
    this.#active = await open(segment.path, constants.O_CREAT | constants.O_WRONLY | constants.O_APPEND, 0o644);
    await fsyncDir(this.#dir);
    this.#segments.push(segment);
    return segment;
  }

  // ── deduplication log ───────────────────────────────────────────────────────────────────────

  async #appendDedupe(batch: Array<{ entry: JournalEntry }>): Promise<void> {
    const now = this.#now();
    let text = '';
    for (const { entry } of batch)
      text += `${msOfStamp(this.#seen.get(entry.record.exec_id) ?? stampOf(now))}\t${entry.lsn}\t${entry.record.exec_id}\n`;
    await this.#dedupeLog!.write(text);
    await this.#dedupeLog!.datasync();
    this.#dedupeLogEntries += batch.length;
    this.#dedupeDurableLsn = batch.at(-1)!.entry.lsn;
    this.#evictExpired(now);
    if (this.#dedupeLogEntries > 100_000 && this.#dedupeLogEntries > 2 * this.#seen.size) await this.#compactDedupe();
  }

  #evictExpired(now: number): void {
    const horizon = stampOf(now - this.#windowMs);
    for (const [execId, at] of this.#seen) {
      if (at >= horizon) break; // insertion order = time order
      this.#seen.delete(execId);
    }
  }

  async #compactDedupe(): Promise<void> {
    let text = '';
    for (const [execId, at] of this.#seen) text += `${msOfStamp(at)}\t0\t${execId}\n`;
    const path = join(this.#dir, 'dedupe.log');
    await this.#dedupeLog!.close();
    await writeAtomic(path, text);
    this.#dedupeLog = await open(path, 'a');
    this.#dedupeLogEntries = this.#seen.size;
  }

  // ── recovery ────────────────────────────────────────────────────────────────────────────────

  async #recover(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const names = (await readdir(this.#dir, { withFileTypes: true }))
      .filter((d: Dirent) => d.isFile() && /^seg-\d{16}\.log$/.test(d.name))
      .map((d) => d.name)
      .sort();
    // 1. ExecIDs remembered from earlier runs.
    const now = this.#now();
    const horizon = now - this.#windowMs;
    let dedupeText = '';
    try {
      dedupeText = await readFile(join(this.#dir, 'dedupe.log'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new ListenerError('ERR_JOURNAL_READ', 'cannot read dedupe.log', { cause: error });
    }
    const remembered: Array<{ at: number; lsn: number; execId: string }> = [];
    let dedupeMaxLsn = 0;
    for (const line of dedupeText.split('\n')) {
      const tab1 = line.indexOf('\t');
      const tab2 = tab1 < 0 ? -1 : line.indexOf('\t', tab1 + 1);
      if (tab1 <= 0 || tab2 < 0) continue; // includes a torn last line
      const at = Number(line.slice(0, tab1));
      const lsn = Number(line.slice(tab1 + 1, tab2));
      if (Number.isSafeInteger(lsn) && lsn > dedupeMaxLsn) dedupeMaxLsn = lsn;
      if (Number.isFinite(at) && at >= horizon && Number.isFinite(lsn))
        remembered.push({ at, lsn, execId: line.slice(tab2 + 1) });
      this.#dedupeLogEntries++;
    }
    // 2. Segments: verify every record. An incomplete record at the very end of the last segment,
    //    above every cursor, is a torn write (never durable, never acknowledged): cut it, with a
    //    warning. Anything else that fails its checksum, or a segment missing between two, is
    //    damage: the damaged file is kept aside, the lost LSN range reported, never reused.
    const floor = Math.max(await this.#lsnBase(), await cursorFloor(this.#dir), dedupeMaxLsn);
    for (let s = 0; s < names.length; s++) {
      const name = names[s]!;
      const firstLsn = Number(name.slice(4, 20));
      const path = join(this.#dir, name);
      const data = await readFile(path);
      const segment: Segment = { firstLsn, lastLsn: firstLsn - 1, path, bytes: 0, offsets: [] };
      const previous = this.#segments.at(-1);
      const reported = this.#damage.at(-1)?.lsns[1] ?? 0;
      if (previous !== undefined && firstLsn > Math.max(previous.lastLsn, reported) + 1)
        this.#damage.push({ kind: 'missing', segment: name, offset: 0, lsns: [previous.lastLsn + 1, firstLsn - 1] });
      else if (previous !== undefined && firstLsn <= previous.lastLsn)
        throw new ListenerError('ERR_JOURNAL_CORRUPT', `journal segment ${name} overlaps the one before it`, {
          details: { segment: name },
        });
      let offset = 0;
      while (offset < data.length) {
        const valid = recordAt(data, offset);
        if (valid === undefined) break;
        if ((segment.lastLsn + 1 - firstLsn) % INDEX_EVERY === 0) segment.offsets.push(offset);
        segment.lastLsn++;
        const record = JSON.parse(valid.line) as ExecutionReportRecord;
        if (!this.#seen.has(record.exec_id)) this.#seen.set(record.exec_id, stampOf(now));
        offset = valid.next;
      }
      if (offset < data.length) {
        const last = s === names.length - 1;
        const nextLsn = segment.lastLsn + 1;
        const torn = last && isIncompleteTail(data, offset) && nextLsn > floor;
        // Damage is kept as found, for whoever looks into it; the segment goes on from the last good record.
        if (torn) this.#truncated = data.length - offset;
        else await writeAtomic(`${path}.damaged-${now}`, data);
        const until = torn ? nextLsn : last ? Math.max(floor, nextLsn) : Number(names[s + 1]!.slice(4, 20)) - 1;
        this.#damage.push({
          kind: torn ? 'torn_tail' : 'corrupt',
          segment: name,
          offset,
          lsns: [nextLsn, until],
          bytes: data.length - offset,
        });
        const handle = await open(path, 'r+');
        await handle.truncate(offset);
        await handle.sync();
        await handle.close();
      }
      segment.bytes = offset;
      this.#segments.push(segment);
    }
    const lastOnDisk = this.#segments.at(-1)?.lastLsn;
    // Numbering never goes back below an LSN a sink or the dedupe log has seen, even when the
    // segments lost it: a cursor past it would make the sink skip the new record given it.
    if (lastOnDisk !== undefined && lastOnDisk < floor && !this.#damage.some((d) => d.lsns[1] >= floor))
      this.#damage.push({ kind: 'missing', segment: null, offset: 0, lsns: [lastOnDisk + 1, floor] });
    const lost = (lsn: number) => this.#damage.some((d) => lsn >= d.lsns[0] && lsn <= d.lsns[1]);
    for (const d of this.#damage)
      d.execIds = remembered.filter((r) => r.lsn >= d.lsns[0] && r.lsn <= d.lsns[1]).map((r) => r.execId);
    const lastSegment = this.#segments.at(-1);
    this.#lastLsn = this.#durableLsn = this.#dedupeDurableLsn = Math.max(lastSegment?.lastLsn ?? 0, floor);
    // An id is remembered only if its record survived: one cut from a damaged tail must be
    // journaled again when the exchange resends it.
    const fromSegments = new Map(this.#seen);
    this.#seen.clear();
    // (An id whose record was lost to damage is forgotten too: a replay from the exchange must land.)
    for (const { at, lsn, execId } of remembered)
      if (lsn <= this.#lastLsn && !lost(lsn)) this.#seen.set(execId, stampOf(at));
    for (const [execId, at] of fromSegments) if (!this.#seen.has(execId)) this.#seen.set(execId, at);
    for (const execId of this.#seen.keys()) this.#noteExecId(execId);
    // A segment's LSNs are its position: after a gap, appends start a segment of their own.
    if (lastSegment === undefined || lastSegment.bytes >= this.#segmentBytes || lastSegment.lastLsn < this.#lastLsn) {
      await this.#roll(this.#lastLsn + 1);
    } else {
      this.#active = await open(lastSegment.path, constants.O_WRONLY | constants.O_APPEND);
    }
    this.#dedupeLog = await open(join(this.#dir, 'dedupe.log'), 'a');
    // 3. Remember where numbering stands even when every segment gets deleted.
    await writeAtomic(join(this.#dir, 'lsn-base'), String(this.#lastLsn));
  }

  /** When all segments were deleted, numbering continues from the last LSN ever written. */
  async #lsnBase(): Promise<number> {
    try {
      return Number(await readFile(join(this.#dir, 'lsn-base'), 'utf8')) || 0;
    } catch {
      return 0;
    }
  }

  /** `lsn`, or the first LSN after it that has an entry when it falls in a gap between segments. */
  #nextStoredLsn(lsn: number): number {
    for (const segment of this.#segments) {
      if (lsn > segment.lastLsn) continue;
      return Math.max(lsn, segment.firstLsn);
    }
    return lsn;
  }

  /** The oldest LSN still on disk (or the next one when the journal is empty). */
  get firstLsn(): number {
    return this.#firstLsn();
  }

  #firstLsn(): number {
    return this.#segments[0]?.firstLsn ?? this.#lastLsn + 1;
  }

  #cursorPath(sink: string): string {
    return join(this.#dir, `cursor-${sink}.json`);
  }

  async #deletePassedSegments(): Promise<void> {
    if (this.#cursors.size === 0) return;
    const through = Math.min(...this.#cursors.values(), this.#dedupeDurableLsn);
    while (this.#segments.length > 1 && this.#segments[0]!.lastLsn <= through) {
      const segment = this.#segments.shift()!;
      await writeAtomic(join(this.#dir, 'lsn-base'), String(Math.max(this.#durableLsn, segment.lastLsn)));
      await rm(segment.path, { force: true });
    }
  }

  async #readFromDisk(from: number, to: number): Promise<JournalEntry[]> {
    const out: JournalEntry[] = [];
    for (const segment of this.#segments) {
      if (segment.lastLsn < from || segment.firstLsn > to) continue;
      const indexSlot = Math.max(0, Math.floor((Math.max(from, segment.firstLsn) - segment.firstLsn) / INDEX_EVERY));
      let lsn = segment.firstLsn + indexSlot * INDEX_EVERY;
      let position = segment.offsets[indexSlot] ?? 0;
      const last = Math.min(to, segment.lastLsn);
      const handle = await open(segment.path, 'r');
      try {
        // Read a window at a time, not the rest of the segment: a sink a few records behind must
        // not pay for the megabytes after them.
        let window = Buffer.allocUnsafe(0);
        let offset = 0;
        while (lsn <= last) {
          let valid = recordAt(window, offset);
          if (valid === undefined) {
            const need =
              offset + HEADER_BYTES <= window.length ? HEADER_BYTES + window.readUInt32LE(offset) : HEADER_BYTES;
            const size = Math.min(segment.bytes - position, Math.max(READ_WINDOW, need));
            if (size < need)
              throw new ListenerError('ERR_JOURNAL_READ', `journal segment ${segment.path} unreadable at LSN ${lsn}`);
            window = Buffer.allocUnsafe(size);
            const { bytesRead } = await handle.read(window, 0, size, position);
            if (bytesRead < size)
              throw new ListenerError(
                'ERR_JOURNAL_READ',
                `journal segment ${segment.path} is shorter than recorded at LSN ${lsn}`,
              );
            offset = 0;
            valid = recordAt(window, offset);
            if (valid === undefined)
              throw new ListenerError('ERR_JOURNAL_READ', `journal segment ${segment.path} unreadable at LSN ${lsn}`);
          }
          if (lsn >= from) out.push(new StoredEntry(lsn, valid.line));
          position += valid.next - offset;
          offset = valid.next;
          lsn++;
        }
      } finally {
        await handle.close();
      }
      if (out.length >= to - from + 1) break;
    }
    return out;
  }
}

function segmentName(firstLsn: number): string {
  return `seg-${String(firstLsn).padStart(16, '0')}.log`;
}

/** The record at `offset` if its header and checksum hold, else undefined (torn or corrupt). */
function recordAt(data: Buffer, offset: number): { line: string; next: number } | undefined {
  if (offset + HEADER_BYTES > data.length) return undefined;
  const length = data.readUInt32LE(offset);
  const end = offset + HEADER_BYTES + length;
  if (length === 0 || end > data.length) return undefined;
  const payload = data.subarray(offset + HEADER_BYTES, end);
  if (crc32(payload) !== data.readUInt32LE(offset + 4)) return undefined;
  return { line: payload.toString('utf8'), next: end };
}

// The dedupe map holds one entry per ExecID for 72 h, so its value is a stamp: whole seconds
// since 2020, a small integer V8 stores in the entry itself. Epoch milliseconds would be a
// separate 16-byte heap number per id, about a fifth of the entry. dedupe.log keeps milliseconds.
const STAMP_EPOCH_MS = Date.UTC(2020, 0, 1);

function stampOf(epochMs: number): number {
  return Math.floor((epochMs - STAMP_EPOCH_MS) / 1000);
}

function msOfStamp(stamp: number): number {
  return STAMP_EPOCH_MS + stamp * 1000;
}

/**
 * A failed write, coded: a full disk is named as such, with the path and the bytes left, so an
 * operator reads the cause in the first line rather than in a stack.
 */
async function writeFailure(dir: string, message: string, cause: unknown): Promise<ListenerError> {
  if ((cause as NodeJS.ErrnoException).code !== 'ENOSPC')
    return new ListenerError('ERR_JOURNAL_WRITE', message, { cause });
  const freeBytes = await statfs(dir).then(
    (s) => s.bavail * s.bsize,
    () => null,
  );
  return new ListenerError('ERR_JOURNAL_DISK_FULL', `no space left on the spool (${dir}): ${message}`, {
    cause,
    details: { path: dir, freeBytes },
  });
}

/** The highest LSN any sink's cursor file has passed or holds (an archive's uploaded ranges and intent). */
async function cursorFloor(dir: string): Promise<number> {
  let floor = 0;
  for (const name of await readdir(dir)) {
    if (!/^cursor-.+\.json$/.test(name)) continue;
    try {
      const state = JSON.parse(await readFile(join(dir, name), 'utf8')) as {
        through?: unknown;
        uploaded?: Array<[number, number]>;
        intent?: { ranges?: Array<[number, number]> };
      };
      const ranges = [...(state.uploaded ?? []), ...(state.intent?.ranges ?? [])];
      const ends: unknown[] = [state.through, ...ranges.map((range) => range[1])];
      for (const end of ends) if (typeof end === 'number' && Number.isSafeInteger(end) && end > floor) floor = end;
    } catch {
      // An unreadable cursor is the sink's to report when it loads it (ERR_JOURNAL_CURSOR).
    }
  }
  return floor;
}

/**
 * True for a record cut short by a crash mid-write: its header or its declared body runs past the
 * end of the file, and no intact record follows (a flipped length would look the same, but then
 * good records come after it).
 */
function isIncompleteTail(data: Buffer, offset: number): boolean {
  const runsPastEnd =
    offset + HEADER_BYTES > data.length || offset + HEADER_BYTES + data.readUInt32LE(offset) > data.length;
  if (!runsPastEnd) return false;
  for (let at = offset + 1; at + HEADER_BYTES < data.length; at++) if (recordAt(data, at) !== undefined) return false;
  return true;
}

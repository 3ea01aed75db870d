import { constants } from 'node:fs';
import { open, rm, stat, statfs, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Backoff, type BackoffPolicy } from '../core/backoff.js';
import { fsyncDir, O_DSYNC, writeFileAtomic } from '../core/atomic-file.js';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { asListenerError, ListenerError } from '../core/errors.js';
import { HeadQueue } from '../core/head-queue.js';
import type { JournalDamage } from '../core/status.js';
import type { ExecutionReportRecord } from '../core/record.js';
import { unaccountedGap, Vacancies, type LsnRange } from './lsn-ranges.js';
import { recoverSegments, type Segment } from './segment-recovery.js';
import { checksum } from '../core/slot-pair.js';
import {
  HEADER_BYTES,
  INDEX_EVERY,
  LSN_BASE_TAG,
  MAGIC,
  recordAt,
  segmentName,
  writeRecord,
} from './segment-format.js';
import { spoolWriteFailure } from './spool-failure.js';

/** One durable journal entry: its position (LSN) and its record, as the JSON line every sink writes. */
export interface JournalEntry {
  readonly lsn: number;
  /**
   * The line as UTF-8, exactly as archived: a view on the bytes the journal wrote or read (copy
   * it to keep it). Sinks that file lines (the archive) take these, without a string in between.
   */
  readonly bytes: Buffer;
  /** The line as a string, decoded on each use: a sink that needs it more than once keeps it. */
  readonly line: string;
  /** The record parsed from the line, on each use. */
  readonly record: ExecutionReportRecord;
}

/**
 * A journal entry. Until its group commit it holds the line as the string it was appended as;
 * from then on only the bytes written (a view on the commit's buffer), so the cache keeps bytes
 * off the JS heap rather than strings on it: lines alive for seconds were promoted, and tens of
 * megabytes of them made old-generation GC the largest cost on the FIX thread. A sink reading a
 * line as a string gets one that dies young.
 */
class StoredEntry implements JournalEntry {
  readonly lsn: number;
  #line: string | undefined;
  #bytes: Buffer | undefined;

  private constructor(lsn: number, line: string | undefined, bytes: Buffer | undefined) {
    this.lsn = lsn;
    this.#line = line;
    this.#bytes = bytes;
  }

  /** An entry appended and not yet written. */
  static appended(lsn: number, line: string): StoredEntry {
    return new StoredEntry(lsn, line, undefined);
  }

  /** An entry whose line is `bytes` (written, or read back from a segment). */
  static stored(lsn: number, bytes: Buffer): StoredEntry {
    return new StoredEntry(lsn, undefined, bytes);
  }

  get bytes(): Buffer {
    return this.#bytes ?? Buffer.from(this.#line!, 'utf8');
  }

  get line(): string {
    return this.#line ?? this.#bytes!.toString('utf8');
  }

  get record(): ExecutionReportRecord {
    return JSON.parse(this.line) as ExecutionReportRecord;
  }

  /** The entry's line now lives in `bytes` (its group commit wrote them): the string goes. */
  written(bytes: Buffer): void {
    this.#bytes = bytes;
    this.#line = undefined;
  }
}

export interface SegmentLogOptions {
  dir: string;
  /** A new segment file starts past this size (default 64 MiB). */
  segmentBytes?: number;
  /** Durable entries kept in memory for sinks that are keeping up (default 32 MiB of lines). */
  cacheBytes?: number;
  /**
   * The highest LSN anything outside the segments has seen (a cursor, the ExecID log): numbering
   * continues above it, and a segment ending below it lost records rather than never had them.
   */
  floor: number;
  /**
   * Where the records that must still be on disk start when lsn-base cannot say (it is missing or
   * damaged): every sink's saved position, below which segments may have been deleted.
   */
  keptAbove?: number;
  /**
   * How often the active segment is checked for having been deleted or replaced under the open
   * file (default 1000 ms; 0 turns the check off). A deleted one is written back from the open file.
   */
  checkEveryMs?: number;
  /** Told of damage found while running (the active segment deleted or replaced, and restored). */
  onDamage?: (damage: JournalDamage) => void;
  /** Waits between attempts while a write fails (a full disk): default 250 ms doubling to 10 s. */
  retry?: BackoffPolicy;
  /**
   * How a group commit is made durable: `dsync` (the default where the platform has O_DSYNC)
   * opens the active segment O_DSYNC, so each write returns once its bytes are durable, as write +
   * fdatasync would, in one thread-pool job instead of two: at a few reports per commit those
   * hand-offs, not the disk, were most of the cost. `fdatasync` writes, then syncs.
   */
  sync?: 'dsync' | 'fdatasync';
  /**
   * How long a commit waits after the first append that starts it (default 0: at once), so one
   * durable write serves every report that arrives meanwhile (JOURNAL_LINGER_MS). At evenly spaced
   * low rates each report is otherwise its own write; every millisecond here is a millisecond of
   * fill latency, since nothing leaves the spool before it is durable.
   */
  lingerMs?: number;
  /** The linger, the retry waits and the active segment's check (default the system clock). */
  clock?: Clock;
  /** Called for every record found on open, in LSN order (the ExecID index is rebuilt from them). */
  onRecovered?: (lsn: number, line: string) => void;
  now?: () => number;
}

/** Told when writes start failing (`stall`) and when they go through again (`ended`). */
export type StallListener = (stall: LogStall | undefined, ended: LogStall | undefined) => void;

/** Why the log is not writing: the write's error, since when, and how many attempts failed. */
export interface LogStall {
  error: ListenerError;
  since: number;
  attempts: number;
}

interface Pending {
  entry: StoredEntry;
  /** Header + UTF-8 bytes of the line. */
  size: number;
}

const MIN_SEGMENT_BYTES = 64 * 1024;
const READ_WINDOW = 1024 * 1024;
/** A lingering group this large is written at once: waiting longer saves no write. */
const LINGER_CUT_BYTES = 256 * 1024;

/**
 * The journal's storage: numbered, checksummed records in segment files, appended by group commit
 * (every append made while a write+fsync is in flight goes out in the next one, so throughput does
 * not collapse to one fsync per report). On open it verifies every record: a torn tail left by a
 * crash is cut; damaged bytes anywhere else are kept aside, stepped over to the next good record,
 * and reported as LSN ranges. A write that fails (a full disk) stalls the log instead of killing
 * it: what was appended stays in memory, nothing more is reported durable, and the write is
 * retried until it succeeds.
 */
export class SegmentLog {
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #cacheBytes: number;
  readonly #floor: number;
  /** O_DSYNC when each write makes itself durable, else 0 (a write is followed by fdatasync). */
  readonly #dsync: number;
  readonly #lingerMs: number;
  /** Ends the linger early: close, or a group already large enough to write. */
  #endLinger: (() => void) | undefined;
  readonly #now: () => number;
  readonly #backoff: Backoff;
  readonly #segments: Segment[] = [];
  readonly #damage: JournalDamage[] = [];
  // Evicted entries' slots are cleared at once, so the cache never holds more than its budget.
  readonly #cache = new HeadQueue<StoredEntry>();
  #deleting: Promise<void> = Promise.resolve();
  /** LSNs that hold no record (deleted, lost, never given): the only ones a read may step over. */
  #vacancies = new Vacancies();
  readonly #durableListeners = new Set<(lsn: number) => void>();
  readonly #stallListeners = new Set<StallListener>();
  #cachedBytes = 0;
  #active: FileHandle | undefined;
  #needsRoll = false;
  #lastLsn = 0;
  #durableLsn = 0;
  #pending: Pending[] = [];
  #pendingBytes = 0;
  #flushing: Promise<void> | undefined;
  #stall: LogStall | undefined;
  /** Write attempts started and finished (a batch's attempt ends in success or a stall). */
  #attemptsStarted = 0;
  #attemptsFinished = 0;
  /** Set by close(): the attempt whose outcome decides the close. */
  #finalAttempt: number | undefined;
  #wakeRetry: (() => void) | undefined;
  #changed = deferred();
  #truncatedTailBytes = 0;
  #closed = false;
  #housekeeping: ListenerError | undefined;
  /** Runs of LSNs known to hold no record, kept in lsn-base so no later open reports them again. */
  #vacant: LsnRange[] = [];
  /** The last LSN of the newest segment deleted (lsn-base keeps it): records after it must be on disk. */
  #deletedThrough = 0;
  readonly #keptAbove: number | undefined;
  readonly #checkEveryMs: number;
  readonly #onDamage: ((damage: JournalDamage) => void) | undefined;
  #checkTimer: TimerHandle | undefined;
  readonly #clock: Clock;
  #checkDue = false;
  /** The size the active segment rolls at: `segmentBytes`, or less when the spool is short of space. */
  #activeLimit: number;
  /** The good records on either side of each damaged range, as read on open (JSON lines). */
  readonly #neighbours = new Map<JournalDamage, { prior: string | undefined; next: string | undefined }>();

  private constructor(options: SegmentLogOptions) {
    this.#dir = options.dir;
    this.#segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.#activeLimit = this.#segmentBytes;
    this.#cacheBytes = options.cacheBytes ?? 32 * 1024 * 1024;
    this.#floor = options.floor;
    this.#keptAbove = options.keptAbove;
    this.#checkEveryMs = options.checkEveryMs ?? 1000;
    this.#onDamage = options.onDamage;
    this.#dsync = options.sync === 'fdatasync' ? 0 : (O_DSYNC ?? 0);
    this.#lingerMs = options.lingerMs ?? 0;
    this.#clock = options.clock ?? systemClock;
    this.#now = options.now ?? Date.now;
    this.#backoff = new Backoff({ initialMs: 250, maxMs: 10_000, floorMs: 50, ...options.retry });
  }

  static async open(options: SegmentLogOptions): Promise<SegmentLog> {
    const log = new SegmentLog(options);
    await log.#recover(options.onRecovered);
    if (log.#checkEveryMs > 0) {
      log.#checkTimer = log.#clock.setInterval(() => log.#checkSoon(), log.#checkEveryMs, { ref: false });
    }
    return log;
  }

  get lastLsn(): number {
    return this.#lastLsn;
  }

  get durableLsn(): number {
    return this.#durableLsn;
  }

  /** The oldest LSN still on disk (or the next one when the log is empty). */
  get firstLsn(): number {
    return this.#segments[0]?.firstLsn ?? this.#lastLsn + 1;
  }

  /** What open found damaged or cut. Torn tails were never durable; corrupt and missing ranges were. */
  get damage(): readonly JournalDamage[] {
    return this.#damage;
  }

  /** Set while writes fail; cleared by the first write that succeeds. */
  get stall(): LogStall | undefined {
    return this.#stall;
  }

  /** Bytes appended and not yet durable (they grow while the log is stalled). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  get truncatedTailBytes(): number {
    return this.#truncatedTailBytes;
  }

  get segmentCount(): number {
    return this.#segments.length;
  }

  get bytesOnDisk(): number {
    let sum = 0;
    for (const segment of this.#segments) sum += segment.bytes;
    return sum;
  }

  /** Numbers the record and queues it for the next group commit. */
  append(line: string): number {
    const entry = StoredEntry.appended(++this.#lastLsn, line);
    // The bytes are written at commit time into one buffer for the whole group; a buffer per
    // record cost more than encoding it.
    const size = HEADER_BYTES + Buffer.byteLength(line, 'utf8');
    this.#pending.push({ entry, size });
    this.#pendingBytes += size;
    if (this.#flushing === undefined) this.#flushing = this.#flushLoop();
    else if (this.#pendingBytes >= LINGER_CUT_BYTES) this.#endLinger?.();
    return entry.lsn;
  }

  /**
   * Resolves when everything appended so far is durable; rejects with the stall's error when the
   * log is stalled (it keeps retrying: a later flush may succeed).
   */
  async flush(): Promise<void> {
    for (;;) {
      if (this.#stall !== undefined) throw this.#stall.error;
      if (this.#flushing === undefined) return;
      await this.#changed.promise;
    }
  }

  /** Called with the new durable LSN after every group commit. */
  onDurable(listener: (lsn: number) => void): () => void {
    this.#durableListeners.add(listener);
    return () => this.#durableListeners.delete(listener);
  }

  /** Called when writes start failing and when they go through again. */
  onStall(listener: StallListener): () => void {
    this.#stallListeners.add(listener);
    return () => this.#stallListeners.delete(listener);
  }

  /**
   * Up to `max` durable entries after `afterLsn` and at most `throughLsn`, in LSN order. LSNs lost
   * to damage have no entry: the result steps over them. Served from memory when the reader is
   * keeping up, from the segment files otherwise.
   */
  /**
   * Where a reader that stands at `afterLsn` and finds nothing more stands in truth: the durable
   * LSN when every LSN after its position holds no record (lost to damage, never given), else its
   * position. Without it a reader behind a lost tail would count the lost LSNs as pending forever.
   */
  vacantThrough(afterLsn: number): number {
    return afterLsn < this.#durableLsn && this.#vacancies.covers(afterLsn + 1, this.#durableLsn)
      ? this.#durableLsn
      : afterLsn;
  }

  async read(afterLsn: number, max: number, throughLsn = this.#durableLsn): Promise<JournalEntry[]> {
    const to = Math.min(throughLsn, this.#durableLsn);
    if (to <= afterLsn || max <= 0) return [];
    const cacheFirst = this.#cache.peek()?.lsn ?? Infinity;
    const from = afterLsn + 1;
    const entries =
      from >= cacheFirst
        ? this.#cache.slice(from - cacheFirst, Math.min(to, from + max - 1) - cacheFirst + 1)
        : await this.#readFromDisk(from, to, max);
    // A reader takes a jump in LSNs for records lost to damage and moves past them: a jump over
    // records that exist (a segment missing from the list, a bug) would lose them silently. Loud
    // instead: the sink stops, the service with it, and the restart's open reads every segment.
    const gap = unaccountedGap(entries, from, to, entries.length < max, this.#vacancies);
    if (gap !== undefined)
      throw new ListenerError(
        'ERR_JOURNAL_READ',
        `journal read after LSN ${afterLsn} would step over LSNs ${gap[0]}..${gap[1]}, which no loss report or deletion accounts for`,
        { details: { afterLsn, gap, firstLsn: this.firstLsn, segments: this.#segments.length } },
      );
    return entries;
  }

  /**
   * Deletes every segment whose records all lie at or below `lsn` (never the active one). A
   * deletion the disk refuses is left for the next call and shown as `housekeepingFailure`.
   */
  deleteThrough(lsn: number): Promise<void> {
    // One deletion at a time: every sink's cursor save asks for one, and two running together
    // each shifted "the first segment" off the list after their awaits, the second dropping a
    // segment nobody had passed (its file stayed, its records vanished from reads).
    const run = this.#deleting.then(() => this.#deleteThrough(lsn));
    // The caller gets this run's rejection from `run`; the chain only has to go on after it.
    this.#deleting = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #deleteThrough(lsn: number): Promise<void> {
    while (this.#segments.length > 1 && this.#segments[0]!.lastLsn <= lsn) {
      const segment = this.#segments[0]!;
      // Numbering survives even when every segment is gone: lsn-base first, then the file. It
      // also says where the segments left must start, so a segment deleted by anyone else is seen.
      const deletedBefore = this.#deletedThrough;
      this.#deletedThrough = Math.max(this.#deletedThrough, segment.lastLsn);
      if (!(await this.#writeLsnBase(Math.max(this.#durableLsn, segment.lastLsn)))) {
        this.#deletedThrough = deletedBefore;
        return;
      }
      try {
        await rm(segment.path, { force: true });
      } catch (cause) {
        this.#housekeeping = await spoolWriteFailure(segment.path, 'cannot delete a passed segment', cause);
        return;
      }
      if (this.#vacancies.below < segment.lastLsn) this.#vacancies.below = segment.lastLsn;
      if (this.#segments[0] === segment) this.#segments.shift();
    }
  }

  /** Flags the active segment is opened with for appending. */
  #appendFlags(): number {
    return constants.O_WRONLY | constants.O_APPEND | this.#dsync;
  }

  /** The last write outside the records that failed (lsn-base, a segment deletion); cleared by the next that works. */
  get housekeepingFailure(): ListenerError | undefined {
    return this.#housekeeping;
  }

  async #writeLsnBase(lsn: number): Promise<boolean> {
    // Runs below the deleted segments need no keeping: nothing is expected there any more.
    const vacant = this.#vacant.filter(([, b]) => b > this.#deletedThrough);
    const body = JSON.stringify({ lsn, deletedThrough: this.#deletedThrough, vacant });
    try {
      await writeFileAtomic(join(this.#dir, 'lsn-base'), `${LSN_BASE_TAG} ${checksum(body)} ${body}\n`);
    } catch (cause) {
      this.#housekeeping = await spoolWriteFailure(join(this.#dir, 'lsn-base'), 'cannot write lsn-base', cause);
      return false;
    }
    this.#housekeeping = undefined;
    return true;
  }

  /** Records per segment span, for the backlog estimate: [first, last, bytes] of each segment. */
  spans(): Array<[number, number, number]> {
    return this.#segments.map((s) => [s.firstLsn, s.lastLsn, s.bytes]);
  }

  /**
   * Makes what it can durable and closes. What a stalled log still holds is not written (it was
   * never reported durable, so never acknowledged, and the exchange's resend or the drop copy
   * brings it back): the log closes all the same, then rejects with the stall's error.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#clock.clearInterval(this.#checkTimer);
    this.#endLinger?.();
    if (this.#flushing !== undefined) {
      // The attempt that decides is one that starts now. An attempt already under way may have
      // begun before the disk came back, so its failure is not the last word, and a stalled log
      // does not wait out its back-off either.
      const final = (this.#finalAttempt = this.#attemptsStarted + 1);
      this.#wakeRetry?.();
      while (this.#flushing !== undefined && this.#attemptsFinished < final) await this.#changed.promise;
    }
    const unwritten = await this.flush().then(
      () => undefined,
      (error: unknown) => asListenerError(error, 'ERR_JOURNAL_WRITE', 'journal appends not written at close'),
    );
    this.#closed = true;
    this.#wakeRetry?.();
    await this.#flushing;
    await this.#active?.close();
    if (unwritten !== undefined) throw unwritten;
  }

  // ── group commit ────────────────────────────────────────────────────────────────────────────

  async #flushLoop(): Promise<void> {
    try {
      if (this.#lingerMs > 0 && this.#pending.length > 0 && !this.#closed && this.#stall === undefined)
        await this.#linger();
      if (this.#checkDue) await this.#checkActive();
      while (this.#pending.length > 0 && !this.#closed) {
        const batch = this.#pending;
        this.#pending = [];
        let written = 0;
        const attempt = ++this.#attemptsStarted;
        try {
          while (written < batch.length) written = await this.#writeChunk(batch, written);
          this.#attemptsFinished = attempt;
          const ended = this.#stall;
          if (ended !== undefined) {
            this.#stall = undefined;
            this.#backoff.reset();
            for (const listener of this.#stallListeners) listener(undefined, ended);
          }
        } catch (cause) {
          // Nothing of the failed chunk counts as written: the file goes back to its last good
          // size and the entries wait, in order, for the next attempt.
          this.#pending = batch.slice(written).concat(this.#pending);
          await this.#onWriteFailure(cause, attempt);
        }
        this.#signal();
        if (this.#checkDue) await this.#checkActive();
      }
    } finally {
      this.#flushing = undefined;
      this.#signal();
    }
  }

  /** Writes one segment's share of the batch from `start`; returns the index after it. */
  async #writeChunk(batch: Pending[], start: number): Promise<number> {
    let segment = this.#segments.at(-1);
    if (
      this.#needsRoll ||
      segment === undefined ||
      (segment.lastLsn >= segment.firstLsn && segment.bytes + batch[start]!.size > this.#activeLimit)
    )
      segment = await this.#roll(batch[start]!.entry.lsn);
    // Fill this segment up to its size (at least one record), then roll for the rest.
    const header = segment.bytes === 0 ? MAGIC.length : 0;
    let bytes = segment.bytes + header;
    let records = segment.records;
    const index: Array<[number, number]> = [];
    let i = start;
    while (i < batch.length && (i === start || bytes + batch[i]!.size <= this.#activeLimit)) {
      const { entry, size } = batch[i]!;
      if (records++ % INDEX_EVERY === 0) index.push([entry.lsn, bytes]);
      bytes += size;
      i++;
    }
    const data = Buffer.allocUnsafe(bytes - segment.bytes);
    let at = 0;
    if (header > 0) at += MAGIC.copy(data, 0);
    for (let k = start; k < i; k++) {
      const { entry, size } = batch[k]!;
      writeRecord(data, at, entry.lsn, entry.line, size);
      at += size;
    }
    // A regular-file write may in principle stop short: finish it.
    for (let written = 0; written < data.length;)
      written += (await this.#active!.write(data, written, data.length - written)).bytesWritten;
    if (this.#dsync === 0) await this.#active!.datasync();
    segment.bytes = bytes;
    segment.records = records;
    segment.lastLsn = batch[i - 1]!.entry.lsn;
    for (const entry of index) segment.index.push(entry);
    const last = segment.lastLsn;
    this.#durableLsn = last;
    at = header;
    for (let k = start; k < i; k++) {
      const { entry, size } = batch[k]!;
      entry.written(data.subarray(at + HEADER_BYTES, at + size));
      at += size;
      this.#pendingBytes -= size;
      this.#cacheAdd(entry);
    }
    for (const listener of this.#durableListeners) listener(last);
    return i;
  }

  async #onWriteFailure(cause: unknown, attempt: number): Promise<void> {
    const error = await spoolWriteFailure(
      this.#dir,
      'journal write or fsync failed; holding appends and retrying',
      cause,
    );
    const first = this.#stall === undefined;
    this.#stall = { error, since: this.#stall?.since ?? this.#now(), attempts: (this.#stall?.attempts ?? 0) + 1 };
    if (first) for (const listener of this.#stallListeners) listener(this.#stall, undefined);
    this.#attemptsFinished = attempt;
    this.#signal();
    const segment = this.#segments.at(-1);
    if (segment !== undefined && this.#active !== undefined && !this.#needsRoll) {
      // Bytes of the failed write may have landed: cut them so the retry does not follow them.
      await this.#active.truncate(segment.bytes).catch(() => {
        this.#needsRoll = true; // cannot cut: the retry starts a segment of its own
      });
    }
    // A close waiting for an attempt that starts after it retries now, without a back-off.
    if (this.#closed || attempt < (this.#finalAttempt ?? 0)) return;
    await new Promise<void>((resolve) => {
      const timer = this.#clock.setTimeout(resolve, this.#backoff.next());
      this.#wakeRetry = () => {
        this.#clock.clearTimeout(timer);
        resolve();
      };
    });
    this.#wakeRetry = undefined;
  }

  /** Waits out the linger, or less: close() and a full group end it early. */
  async #linger(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = this.#clock.setTimeout(resolve, this.#lingerMs);
      this.#endLinger = () => {
        this.#clock.clearTimeout(timer);
        resolve();
      };
    });
    this.#endLinger = undefined;
  }

  /**
   * The timer's turn: the check runs in the flush loop's slot (now when the loop is idle, else
   * between its batches), so it never races a write to the active segment.
   */
  #checkSoon(): void {
    this.#checkDue = true;
    if (this.#flushing === undefined && !this.#closed) this.#flushing = this.#flushLoop();
  }

  /**
   * Whether the active segment is still the file at its path. Deleted (or replaced) by someone
   * else, its records are still readable through the open file: they are written back to the
   * path, appends go on there, and the damage is reported; nothing is lost. EFS has no inotify,
   * so this looks (an fstat and a stat) rather than listens.
   */
  async #checkActive(): Promise<void> {
    this.#checkDue = false;
    const segment = this.#segments.at(-1);
    const handle = this.#active;
    if (segment === undefined || handle === undefined || this.#needsRoll) return;
    try {
      const held = await handle.stat();
      const atPath = await stat(segment.path).catch(() => undefined);
      if (held.nlink > 0 && atPath !== undefined && atPath.ino === held.ino && atPath.dev === held.dev) return;
      // The handle is write-only; Linux reopens the file behind it for reading through /proc,
      // deleted or not (elsewhere this fails, and the catch below rolls a new segment instead).
      const reader = await open(`/proc/self/fd/${handle.fd}`, 'r');
      const data = Buffer.allocUnsafe(segment.bytes);
      try {
        for (let at = 0; at < data.length;) {
          const { bytesRead } = await reader.read(data, at, data.length - at, at);
          if (bytesRead === 0) throw new Error(`the open segment ends at byte ${at} of ${data.length}`);
          at += bytesRead;
        }
      } finally {
        await reader.close();
      }
      await writeFileAtomic(segment.path, data);
      this.#active = await open(segment.path, this.#appendFlags());
      // The old descriptor names a deleted file: a failure to close it loses nothing, but is shown.
      await handle.close().catch((cause: unknown) => {
        this.#housekeeping = asListenerError(cause, 'ERR_JOURNAL_WRITE', 'cannot close the replaced segment');
      });
      this.#report({
        kind: 'missing',
        segment: segmentName(segment.firstLsn),
        offset: 0,
        lsns: null,
        bytes: data.length,
        state: 'reported',
        note: `the active segment was ${atPath === undefined ? 'deleted' : 'replaced'} while open; written back from the open file (LSNs ${segment.firstLsn}..${segment.lastLsn}), nothing lost`,
      });
    } catch (cause) {
      // Cannot restore it here: the next write starts a segment of its own, and what only the
      // lost file held is found missing (and recovered) at the next open.
      this.#needsRoll = true;
      this.#housekeeping = asListenerError(cause, 'ERR_JOURNAL_WRITE', `cannot restore ${segment.path}`);
      this.#report({
        kind: 'missing',
        segment: segmentName(segment.firstLsn),
        offset: 0,
        lsns: null,
        state: 'reported',
        note: `the active segment was deleted or replaced while open and could not be written back (${this.#housekeeping.message}); its records are checked again at the next start`,
      });
    }
  }

  /** Damage found while running: kept with what open found, and told. */
  #report(damage: JournalDamage): void {
    this.#damage.push(damage);
    this.#onDamage?.(damage);
  }

  #signal(): void {
    const current = this.#changed;
    this.#changed = deferred();
    current.resolve();
  }

  #cacheAdd(entry: StoredEntry): void {
    this.#cache.push(entry);
    this.#cachedBytes += entry.bytes.length;
    while (this.#cachedBytes > this.#cacheBytes && this.#cache.length > 1)
      this.#cachedBytes -= this.#cache.shift()!.bytes.length;
  }

  async #roll(firstLsn: number): Promise<Segment> {
    // A segment is deleted only whole, once every sink has passed it: on a small spool one
    // segment as big as the disk would never be passed, and the disk never freed. A new segment
    // takes at most an eighth of the free space (never under 64 KiB), so a full spool drains.
    const free = await statfs(this.#dir).then(
      (s) => s.bavail * s.bsize,
      () => Number.POSITIVE_INFINITY,
    );
    this.#activeLimit = Math.min(this.#segmentBytes, Math.max(MIN_SEGMENT_BYTES, Math.floor(free / 8)));
    const previous = this.#segments.at(-1);
    const path = join(this.#dir, segmentName(firstLsn));
    const handle = await open(path, constants.O_CREAT | constants.O_TRUNC | this.#appendFlags(), 0o644);
    try {
      await fsyncDir(this.#dir);
    } catch (error) {
      await handle.close();
      throw error;
    }
    const finished = this.#active;
    this.#active = handle;
    this.#needsRoll = false;
    const segment: Segment = { firstLsn, lastLsn: firstLsn - 1, path, bytes: 0, index: [], records: 0 };
    // An empty segment left by a roll that failed before its first record is replaced, not kept.
    if (previous !== undefined && previous.firstLsn === firstLsn) this.#segments.pop();
    this.#segments.push(segment);
    // The finished segment is synced already; a close that fails is still a write failure (a stall
    // the retry goes past, with the new segment in place).
    await finished?.close();
    return segment;
  }

  // ── recovery ────────────────────────────────────────────────────────────────────────────────

  async #recover(onRecovered: SegmentLogOptions['onRecovered']): Promise<void> {
    const found = await recoverSegments({
      dir: this.#dir,
      floor: this.#floor,
      keptAbove: this.#keptAbove,
      now: this.#now(),
      onRecovered,
    });
    this.#segments.push(...found.segments);
    this.#damage.push(...found.damage);
    for (const [damage, around] of found.neighbours) this.#neighbours.set(damage, around);
    this.#vacancies = found.vacancies;
    this.#vacant = found.vacant;
    this.#deletedThrough = found.deletedThrough;
    this.#truncatedTailBytes = found.truncatedTailBytes;
    // Rewritten below from what the segments and cursors hold; reported, never passed over.
    if (found.lsnBaseProblem !== undefined)
      this.#damage.push({
        kind: 'lsn_base',
        segment: join(this.#dir, 'lsn-base'),
        offset: 0,
        lsns: null,
        note: found.lsnBaseProblem.message,
        code: 'ERR_JOURNAL_CORRUPT',
      });
    this.#lastLsn = this.#durableLsn = found.lastLsn;
    const lastSegment = this.#segments.at(-1);
    // A segment's first LSN is in its name: after a gap, appends start a segment of their own.
    if (
      lastSegment === undefined ||
      lastSegment.bytes === 0 ||
      lastSegment.bytes >= this.#segmentBytes ||
      lastSegment.lastLsn < this.#lastLsn
    ) {
      // Rolled at the first write, where a failure (a full disk) stalls instead of failing the start.
      this.#needsRoll = true;
      if (lastSegment !== undefined && lastSegment.bytes === 0) {
        this.#segments.pop();
        await rm(lastSegment.path, { force: true });
      }
    } else {
      this.#active = await open(lastSegment.path, this.#appendFlags());
    }
    // Where numbering stands, for when every segment is deleted. Refreshed at each deletion too;
    // a full disk here must not stop the start (the failure shows as housekeepingFailure).
    await this.#writeLsnBase(this.#lastLsn);
  }

  /**
   * The good records on either side of a damaged range (JSON lines as journaled), where open
   * found any: what a replay starts after, and the MsgSeqNums the range lay between.
   */
  neighbours(damage: JournalDamage): { prior: string | undefined; next: string | undefined } {
    return this.#neighbours.get(damage) ?? { prior: undefined, next: undefined };
  }

  async #readFromDisk(from: number, to: number, max: number): Promise<JournalEntry[]> {
    const out: JournalEntry[] = [];
    // A snapshot: deleteThrough shifts passed segments off the live array while this awaits, and
    // iterating the live array would then step over the segment after the one being read (a gap
    // the reader takes for lost LSNs). Segments deleted meanwhile lie below `from` here.
    for (const segment of [...this.#segments]) {
      if (segment.lastLsn < from || segment.firstLsn > to) continue;
      let position = MAGIC.length;
      for (const [lsn, offset] of segment.index) {
        if (lsn > from) break;
        position = offset;
      }
      const handle = await open(segment.path, 'r');
      try {
        // Read a window at a time, not the rest of the segment: a reader a few records behind
        // must not pay for the megabytes after them.
        let window = Buffer.allocUnsafe(0);
        let offset = 0;
        while (position < segment.bytes && out.length < max) {
          let valid = recordAt(window, offset);
          if (valid === undefined) {
            const need =
              offset + HEADER_BYTES <= window.length ? HEADER_BYTES + window.readUInt32LE(offset) : HEADER_BYTES;
            const size = Math.min(segment.bytes - position, Math.max(READ_WINDOW, need));
            if (size < need)
              throw new ListenerError(
                'ERR_JOURNAL_READ',
                `journal segment ${segment.path} unreadable at byte ${position}`,
              );
            window = Buffer.allocUnsafe(size);
            const { bytesRead } = await handle.read(window, 0, size, position);
            if (bytesRead < size)
              throw new ListenerError(
                'ERR_JOURNAL_READ',
                `journal segment ${segment.path} is shorter than recorded (byte ${position})`,
              );
            offset = 0;
            valid = recordAt(window, offset);
            if (valid === undefined)
              throw new ListenerError(
                'ERR_JOURNAL_READ',
                `journal segment ${segment.path} failed its checksum at byte ${position} after recovery`,
              );
          }
          if (valid.lsn > to) return out;
          if (valid.lsn >= from) out.push(StoredEntry.stored(valid.lsn, window.subarray(valid.start, valid.next)));
          position += valid.next - offset;
          offset = valid.next;
        }
      } finally {
        await handle.close();
      }
      if (out.length >= max) break;
    }
    return out;
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

import { Backoff, type BackoffPolicy } from '../core/backoff.js';
import type { Clock } from '../core/clock.js';
import { asListenerError, ListenerError } from '../core/errors.js';
import type { ExecutionReportRecord } from '../core/record.js';
import type { ObjectStore } from '../sinks/types.js';
import { jsonlFormat, type ArchiveFormat } from './archive-format.js';
import { DEFAULT_TIME_OUTLIER_MS, hourKeyOf, LinePartitioner, type OutlierField } from './archive-partition.js';
import { ConsumerLoop } from './consumer-loop.js';
import type { DeadLetterBox } from './dead-letters.js';
import type { Journal, JournalEntry } from './journal.js';
import type { SinkStatus } from '../core/status.js';
import { LineBuffer } from '../core/line-buffer.js';
import { addRange, normalize, rangesOf, type LsnRange } from './lsn-ranges.js';
import { pendingReason } from './pending-reason.js';

export interface ArchiveWriterOptions {
  journal: Journal;
  store: ObjectStore;
  /** Hours close this long after their end (default 5 min), so late reports still make it in. */
  graceMs?: number;
  /**
   * An object is written at most this long after its first record arrived (default 60 s,
   * ARCHIVE_FLUSH_S), so an hour is several objects and none waits for its hour to close.
   */
  flushMs?: number;
  /**
   * Late reports of an hour already closed are written at most this long after the first of them
   * arrived, batched like any other (default `flushMs`, or 60 s when that is infinite, as for the
   * Parquet copy, which otherwise writes an hour only once it closes).
   */
  lateFlushMs?: number;
  /**
   * A TransactTime (else SendingTime) further than this from the record's receipt is filed under
   * the receive hour instead, with a `time_outlier` event (default 24 h; ARCHIVE_TIME_OUTLIER_S).
   */
  timeOutlierMs?: number;
  /** What the objects are (default JSONL, gzipped unless `gzip` is false). */
  format?: ArchiveFormat;
  /**
   * A Hive partition before `dt`/`hour` in every key (`listener=NAME`): several listeners write
   * under one table (DESIGN.md §3). Unset: `{table}/dt=…/hour=…/`.
   */
  partition?: string;
  /** A bucket is written early past this many uncompressed bytes (default 64 MiB). */
  maxObjectBytes?: number;
  /** Memory held in open buckets before reading from the journal pauses (default 2 × maxObjectBytes). */
  maxBufferedBytes?: number;
  /** JSONL only: gzip the objects (default true). */
  gzip?: boolean;
  now?: () => number;
  /** Its loop's tick and waits (default the system clock). */
  clock?: Clock;
  /** Upload retry back-off (default 1 s doubling to 60 s, forever). */
  retry?: BackoffPolicy;
  onEvent?: (event: ArchiveEvent) => void;
  /**
   * Where an object the store refuses for good (ERR_S3_OBJECT_REFUSED: too large, key too long)
   * is parked so the archive goes on. Without it such an object is retried like any failure.
   */
  deadLetters?: DeadLetterBox;
  /** The writer's loop failed (a cursor it cannot save, a journal it cannot read): it has stopped. */
  onFailure?: (error: ListenerError) => void;
}

export type ArchiveEvent =
  | { kind: 'uploaded'; key: string; records: number; bytes: number; result: 'created' | 'exists' }
  | { kind: 'upload_failed'; key: string; attempt: number; retryInMs: number; error: ListenerError }
  | { kind: 'replayed_intent'; key: string }
  | { kind: 'spool_refused'; retryInMs: number; attempt: number; error: ListenerError }
  | { kind: 'dead_letter_copy_failed'; key: string; error: Error }
  | {
      /** Filed under its receive hour: its own time was too far from its receipt (or no time at all). */
      kind: 'time_outlier';
      code: 'ERR_ARCHIVE_TIME_OUTLIER';
      sink: string;
      lsn: number;
      execId: string | null;
      field: OutlierField;
      /** The record's value, as received (the record keeps it). */
      value: string;
      receivedAt: string;
      /** The partition it went to: `dt=…/hour=…`. */
      partition: string;
      /** Outliers this sink has met since the start, this one included. */
      count: number;
    }
  | {
      kind: 'dead_lettered';
      key: string;
      records: number;
      lsns: LsnRange[];
      code: string;
      reason: string;
      path: string;
    };

/** What the cursor file holds: everything ≤ through is archived; `uploaded` are ranges beyond it. */
interface ArchiveCursor {
  through: number;
  uploaded: LsnRange[];
  /** An object being written: redone byte for byte after a crash, before anything else. */
  intent?: { key: string; ranges: LsnRange[] };
}

interface Bucket {
  hourKey: string;
  hourEndMs: number;
  /** When the bucket's first record was received (epoch ms). */
  firstReceivedMs: number;
  /**
   * When the bucket must be written: first record + flush, or the hour's end + grace; for late
   * reports of an hour already closed, first record + late flush.
   */
  dueMs: number;
  lines: LineBuffer;
  lsns: number[];
  bytes: number;
  /**
   * Set once the bucket's object is built. Every retry sends these bytes under this key, and the
   * lines are let go: through an S3 outage memory holds one compressed object, not its JSONL.
   */
  object?: { key: string; ranges: LsnRange[]; data: Buffer };
}

const READ_BATCH = 2000;
/** Batches read in one round before due buckets are written: a backlog makes big objects. */
const READS_PER_ROUND = 16;

/**
 * Groups journaled records into hour buckets (by TransactTime, else SendingTime, else receipt) and
 * writes each as one JSONL object at most `flushMs` after its first record arrived, when its hour
 * closes (plus grace), or when it grows past the cap; the hour's next records start a new object.
 * An object's key names the journal range it holds, and an intent is saved before the write, so a
 * crash at any point leads to the same object again — never to the same record in two objects.
 */
export class ArchiveWriter {
  readonly #o: ArchiveWriterOptions;
  readonly #graceMs: number;
  readonly #flushMs: number;
  readonly #lateFlushMs: number;
  readonly #partitioner: LinePartitioner;
  #timeOutliers = 0;
  readonly #maxObjectBytes: number;
  readonly #maxBufferedBytes: number;
  readonly #format: ArchiveFormat;
  readonly #partition: string | undefined;
  #lastHourMs = Number.NaN;
  #lastHourKey = '';
  readonly #sink: string;
  readonly #now: () => number;
  readonly #backoff: Backoff;
  readonly #buckets = new Map<string, Bucket>();
  readonly #status: SinkStatus;
  #cursor: ArchiveCursor = { through: 0, uploaded: [] };
  #readLsn = 0;
  #buffered = 0;
  readonly #loop: ConsumerLoop;
  #flushAllRequested = false;
  /** A built object whose upload failed: retried before anything is read, so it never changes. */
  #stalled: Bucket | undefined;
  /** When the stalled object's first attempt failed: it has been overdue since then. */
  #stalledSince: number | undefined;

  constructor(options: ArchiveWriterOptions) {
    this.#o = options;
    this.#graceMs = options.graceMs ?? 5 * 60_000;
    this.#flushMs = options.flushMs ?? 60_000;
    this.#lateFlushMs = options.lateFlushMs ?? (Number.isFinite(this.#flushMs) ? this.#flushMs : 60_000);
    this.#partitioner = new LinePartitioner(options.timeOutlierMs ?? DEFAULT_TIME_OUTLIER_MS);
    this.#maxObjectBytes = options.maxObjectBytes ?? 64 * 1024 * 1024;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? 2 * this.#maxObjectBytes;
    this.#format = options.format ?? jsonlFormat(options.gzip ?? true);
    this.#partition = options.partition;
    this.#sink = this.#format.sink;
    this.#now = options.now ?? (options.clock === undefined ? Date.now : () => options.clock!.now());
    this.#backoff = new Backoff({ initialMs: 1000, maxMs: 60_000, floorMs: 50, ...options.retry });
    this.#loop = new ConsumerLoop({
      journal: options.journal,
      tickMs: 1000,
      body: () => this.#run(),
      sink: { name: this.#sink, location: options.store.location },
      onFailure: options.onFailure,
      onRetry: (error, retryInMs, attempt) => options.onEvent?.({ kind: 'spool_refused', retryInMs, attempt, error }),
      now: this.#now,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    this.#status = this.#loop.status;
  }

  async start(): Promise<void> {
    const saved = await this.#o.journal.loadCursor<ArchiveCursor>(this.#sink);
    if (saved !== undefined)
      this.#cursor = {
        through: saved.through,
        uploaded: saved.uploaded ?? [],
        ...(saved.intent ? { intent: saved.intent } : {}),
      };
    else this.#cursor.through = this.#o.journal.firstLsn - 1;
    this.#readLsn = this.#cursor.through;
    this.#loop.start();
  }

  /** Writes every open bucket now as a partial object (shutdown), then stops. */
  async stop(options: { flush: boolean } = { flush: true }): Promise<void> {
    this.#flushAllRequested = options.flush;
    // A stop ends a back-off pause at once: it must not wait out a retry delay of up to a minute.
    await this.#loop.stop();
  }

  /** JSONL bytes held in open buckets: bounded by maxBufferedBytes (+ one read batch). */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** The last LSN read from the journal (into a bucket, or passed). */
  get readLsn(): number {
    return this.#readLsn;
  }

  status(): SinkStatus {
    const now = this.#now();
    let pending = 0;
    let overdueSince: number | undefined;
    let oldest: number | undefined;
    for (const bucket of this.#buckets.values()) {
      pending += bucket.lsns.length;
      const due = bucket.dueMs;
      if (due < now && (overdueSince === undefined || due < overdueSince)) overdueSince = due;
      if (oldest === undefined || bucket.firstReceivedMs < oldest) oldest = bucket.firstReceivedMs;
    }
    // An object S3 keeps refusing was due when its first attempt failed, even if its hour is open.
    if (this.#stalledSince !== undefined && (overdueSince === undefined || this.#stalledSince < overdueSince))
      overdueSince = this.#stalledSince;
    const unread = this.#o.journal.durableLsn - this.#readLsn;
    const why = pendingReason(this.#buckets.values(), {
      graceMs: this.#graceMs,
      now,
      stalledSince: this.#stalledSince,
      unread,
    });
    return {
      ...this.#status,
      deadLetters: this.#o.deadLetters?.count(this.#sink) ?? 0,
      timeOutliers: this.#timeOutliers,
      pendingRecords: pending + unread,
      // Lag: how long the oldest record that should be in S3 by now has waited past that moment.
      lagSeconds: overdueSince === undefined ? 0 : Math.max(0, (now - overdueSince) / 1000),
      // Records not read yet are younger than any read (the journal is in arrival order).
      oldestPendingAgeSeconds: oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000),
      pendingReason: why?.reason ?? null,
      nextWriteAt: why?.nextWriteAt ?? null,
    };
  }

  async #run(): Promise<void> {
    // Nothing else may be written before an interrupted object is redone byte for byte (or a
    // record could land in two objects); a stop during that leaves it for the next start.
    if (this.#cursor.intent !== undefined && !(await this.#replayIntent(this.#cursor.intent))) return;
    while (this.#loop.running || this.#flushAllRequested) {
      const progressed = await this.#step();
      if (!this.#loop.running) {
        if (this.#flushAllRequested) await this.#flushAll();
        return;
      }
      if (!progressed) await this.#loop.sleep();
    }
  }

  /** One round: read what fits in memory, close due buckets. True when it did something. */
  async #step(): Promise<boolean> {
    let progressed = false;
    // While S3 refuses the last object, reading on would only move the backlog from the journal
    // into memory: retry that object (after its back-off) and nothing else.
    if (this.#stalled !== undefined) {
      if (!(await this.#write(this.#stalled))) return true;
      progressed = true;
    }
    // Read what is there (a backlog a few batches at a time, so it makes big objects, not many
    // small ones), then write what is due.
    for (let round = 0; round < READS_PER_ROUND && this.#buffered < this.#maxBufferedBytes; round++) {
      const entries = await this.#o.journal.read(this.#readLsn, READ_BATCH);
      for (const entry of entries) {
        const bucket = this.#add(entry);
        this.#readLsn = entry.lsn;
        progressed = true;
        // A bucket past the cap goes out before more is read, so no object grows beyond it.
        // (#write already waited out its back-off when it fails: go round again at once.)
        if (bucket !== undefined && bucket.bytes >= this.#maxObjectBytes && !(await this.#write(bucket))) return true;
      }
      if (entries.length < READ_BATCH) {
        // A lost tail (reported by the journal) holds nothing to archive: passed, not pending.
        const past = this.#o.journal.vacantThrough(this.#readLsn);
        if (past > this.#readLsn) {
          this.#readLsn = past;
          progressed = true;
        }
        break;
      }
    }
    const now = this.#now();
    for (const bucket of [...this.#buckets.values()]) {
      if (bucket.bytes >= this.#maxObjectBytes || bucket.dueMs <= now) {
        if (!(await this.#write(bucket))) return true;
        progressed = true;
      }
    }
    await this.#settle();
    return progressed;
  }

  /** The bucket key of an hour; the last one is kept, since consecutive records share their hour. */
  #hourKey(hourStartMs: number): string {
    if (hourStartMs !== this.#lastHourMs) {
      this.#lastHourMs = hourStartMs;
      const hour = hourKeyOf(hourStartMs);
      this.#lastHourKey = this.#partition === undefined ? hour : `${this.#partition}/${hour}`;
    }
    return this.#lastHourKey;
  }

  #add(entry: JournalEntry): Bucket | undefined {
    if (
      entry.lsn <= this.#cursor.through ||
      this.#cursor.uploaded.some(([a, b]) => entry.lsn >= a && entry.lsn <= b) ||
      // Archived before the journal lost it, and brought back by a resend: not archived twice.
      this.#o.journal.delivered(this.#sink, entry)
    )
      return undefined;
    // From the line's bytes: filing a record needs neither a parse nor a string of the line.
    const line = entry.bytes;
    const hourStartMs = this.#partitioner.hourOf(line, this.#now);
    const hourKey = this.#hourKey(hourStartMs);
    if (this.#partitioner.outlier !== undefined) this.#outlier(entry, hourKey);
    let bucket = this.#buckets.get(hourKey);
    if (bucket === undefined) {
      const hourEndMs = hourStartMs + 3600_000;
      const firstReceivedMs = this.#partitioner.receivedMs;
      const closesAt = hourEndMs + this.#graceMs;
      // Late reports of a closed hour wait for more like any bucket: due at once, each went out
      // alone (301 late reports made 297 objects, and as many Parquet objects). A receive time
      // ahead of the clock (a clock stepped back) cannot time that wait: the hour's close does.
      const late = firstReceivedMs >= closesAt && firstReceivedMs <= this.#now();
      const dueMs = late ? firstReceivedMs + this.#lateFlushMs : Math.min(firstReceivedMs + this.#flushMs, closesAt);
      bucket = { hourKey, hourEndMs, firstReceivedMs, dueMs, lines: new LineBuffer(), lsns: [], bytes: 0 };
      this.#buckets.set(hourKey, bucket);
    }
    bucket.lines.addBytes(line);
    bucket.lsns.push(entry.lsn);
    bucket.bytes += line.length + 1;
    this.#buffered += line.length + 1;
    return bucket;
  }

  /** A record filed under its receive hour: counted, and a warning (rare, so it may make strings). */
  #outlier(entry: JournalEntry, partition: string): void {
    this.#timeOutliers++;
    const p = this.#partitioner;
    this.#o.onEvent?.({
      kind: 'time_outlier',
      code: 'ERR_ARCHIVE_TIME_OUTLIER',
      sink: this.#sink,
      lsn: entry.lsn,
      execId: stringValue(entry.bytes, EXEC_ID),
      field: p.outlier!,
      value: p.outlierValue(entry.bytes),
      receivedAt: new Date(p.receivedMs).toISOString(),
      partition,
      count: this.#timeOutliers,
    });
  }

  async #flushAll(): Promise<void> {
    // The store is failing: every write would fail too, slowly. The journal keeps it all and the
    // next start resumes from the cursor; a shutdown must stay within its bound.
    if (this.#status.consecutiveFailures > 0) return;
    // Read what is left (as much as memory allows, like the running loop), then write every bucket
    // regardless of its hour; the first failure ends the attempt for the same reason.
    while (this.#buffered < this.#maxBufferedBytes) {
      const entries = await this.#o.journal.read(this.#readLsn, READ_BATCH);
      if (entries.length === 0) break;
      for (const entry of entries) {
        const bucket = this.#add(entry);
        this.#readLsn = entry.lsn;
        if (bucket !== undefined && bucket.bytes >= this.#maxObjectBytes && !(await this.#writeOnce(bucket))) return;
      }
    }
    for (const bucket of [...this.#buckets.values()]) if (!(await this.#writeOnce(bucket))) return;
    await this.#settle();
  }

  /** Saves the cursor when records read but never bucketed (all uploaded before) moved it. */
  async #settle(): Promise<void> {
    const before = this.#cursor.through;
    normalize(this.#cursor, this.#floor());
    if (this.#cursor.through !== before) await this.#o.journal.saveCursor(this.#sink, this.#cursor);
  }

  /** Every LSN at or below this is archived: read, and not waiting in an open bucket. */
  #floor(): number {
    let floor = this.#readLsn;
    for (const bucket of this.#buckets.values()) floor = Math.min(floor, bucket.lsns[0]! - 1);
    return floor;
  }

  /** Shutdown path: one attempt per bucket; what fails stays in the journal for the next start. */
  async #writeOnce(bucket: Bucket): Promise<boolean> {
    return this.#write(bucket).catch(() => false);
  }

  /**
   * Intent → object → cursor. Returns false (after recording the failure) when the store fails;
   * the bucket then stays sealed with its built object until a retry lands it.
   */
  async #write(bucket: Bucket): Promise<boolean> {
    let object = bucket.object;
    if (object === undefined) {
      const ranges = rangesOf(bucket.lsns);
      const key = objectKey(bucket.hourKey, ranges, bucket.lsns.length, this.#format);
      this.#cursor.intent = { key, ranges };
      // No object goes out before its intent is durable (a restart redoes it byte for byte).
      await this.#o.journal.saveCursor(this.#sink, this.#cursor).catch((error: unknown) => {
        delete this.#cursor.intent;
        throw error;
      });
      const data = await this.#encode(key, bucket.lines, ranges);
      if (data === 'retry') {
        this.#stalled = bucket;
        this.#stalledSince ??= this.#now();
        return false;
      }
      if (data === 'parked') {
        if (this.#stalled === bucket) this.#stalled = this.#stalledSince = undefined;
        this.#buffered -= bucket.bytes;
        this.#buckets.delete(bucket.hourKey);
        this.#complete(ranges);
        await this.#o.journal.saveCursor(this.#sink, this.#cursor);
        return true;
      }
      object = { key, ranges, data };
      bucket.object = object;
      bucket.lines = new LineBuffer();
      this.#buffered -= bucket.bytes;
    }
    if (!(await this.#put(object.key, object.data, bucket.lsns.length, object.ranges))) {
      this.#stalled = bucket;
      this.#stalledSince ??= this.#now();
      return false;
    }
    if (this.#stalled === bucket) this.#stalled = this.#stalledSince = undefined;
    this.#buckets.delete(bucket.hourKey);
    this.#complete(object.ranges);
    await this.#o.journal.saveCursor(this.#sink, this.#cursor);
    return true;
  }

  /** True when the object is written; false when a stop came first. */
  async #replayIntent(intent: { key: string; ranges: LsnRange[] }): Promise<boolean> {
    this.#o.onEvent?.({ kind: 'replayed_intent', key: intent.key });
    const lines = new LineBuffer();
    for (const [a, b] of intent.ranges) {
      let after = a - 1;
      while (after < b) {
        const entries = await this.#o.journal.read(after, READ_BATCH, b);
        if (entries.length === 0) {
          // The rest of the range was lost to damage the journal reported (and settles): write the rest.
          if (this.#o.journal.isLost(after + 1)) break;
          throw new ListenerError(
            'ERR_JOURNAL_READ',
            `archive intent ${intent.key} refers to LSNs ${a}..${b} the journal no longer has`,
          );
        }
        for (const entry of entries) lines.addBytes(entry.bytes);
        after = entries.at(-1)!.lsn;
      }
    }
    let data: Buffer | 'retry' | 'parked';
    while ((data = await this.#encode(intent.key, lines, intent.ranges)) === 'retry')
      if (!this.#loop.running) return false;
    if (data !== 'parked')
      while (!(await this.#put(intent.key, data, lines.count, intent.ranges))) {
        if (!this.#loop.running) return false;
      }
    this.#complete(intent.ranges);
    await this.#o.journal.saveCursor(this.#sink, this.#cursor);
    return true;
  }

  /**
   * The object's bytes. An encoder failure is the records' own (the Parquet writer refused them),
   * not the store's: they are parked as JSONL in the dead letters and the sink moves on. Without
   * a dead-letter box, or when parking fails too, it is retried after a back-off.
   */
  async #encode(key: string, lines: LineBuffer, ranges: LsnRange[]): Promise<Buffer | 'retry' | 'parked'> {
    try {
      return await this.#format.encode(lines);
    } catch (cause) {
      let error = asListenerError(cause, 'ERR_ARCHIVE_ENCODE', `archive object ${key} could not be encoded`);
      if (this.#o.deadLetters !== undefined) {
        const parked = await this.#park(
          this.#o.deadLetters,
          `${key}.jsonl`,
          lines.toBuffer(),
          ranges,
          lines.count,
          error,
        );
        if (parked === true) return 'parked';
        error = parked;
      }
      this.#status.consecutiveFailures++;
      this.#status.lastError = { code: error.code, message: error.message, at: this.#now() };
      const retryInMs = this.#backoff.next();
      this.#o.onEvent?.({ kind: 'upload_failed', key, attempt: this.#status.consecutiveFailures, retryInMs, error });
      await this.#loop.pause(retryInMs);
      return 'retry';
    }
  }

  async #put(key: string, data: Buffer, records: number, ranges: LsnRange[]): Promise<boolean> {
    try {
      const result = await this.#o.store.putIfAbsent(key, data, {
        contentType: this.#format.contentType,
        ...(this.#format.contentEncoding === undefined ? {} : { contentEncoding: this.#format.contentEncoding }),
      });
      this.#status.lastSuccessAt = this.#now();
      this.#status.consecutiveFailures = 0;
      this.#backoff.reset();
      this.#o.onEvent?.({ kind: 'uploaded', key, records, bytes: data.length, result });
      return true;
    } catch (cause) {
      let error = asListenerError(cause, 'ERR_S3_PUT', `archive object ${key} could not be written`);
      if (error.code === 'ERR_S3_OBJECT_REFUSED' && this.#o.deadLetters !== undefined) {
        const parked = await this.#park(this.#o.deadLetters, key, data, ranges, records, error);
        if (parked === true) return true;
        error = parked; // not even parked (a full spool): retried like any failed write, and shown as such
      }
      this.#status.consecutiveFailures++;
      this.#status.lastError = { code: error.code, message: error.message, at: this.#now() };
      const retryInMs = this.#backoff.next();
      this.#o.onEvent?.({ kind: 'upload_failed', key, attempt: this.#status.consecutiveFailures, retryInMs, error });
      await this.#loop.pause(retryInMs);
      return false;
    }
  }

  /**
   * An object the store will never take: kept whole in the dead letters (the spool, and a copy in
   * the store where it takes one), named in the log, counted; the archive moves past it. When even
   * that fails (a full spool), the coded failure to retry with, like any failed write.
   */
  async #park(
    box: DeadLetterBox,
    key: string,
    data: Buffer,
    ranges: LsnRange[],
    records: number,
    error: ListenerError,
  ): Promise<true | ListenerError> {
    let path: string;
    try {
      path = await box.parkObject({
        sink: this.#sink,
        key,
        ranges,
        records,
        code: error.code,
        reason: error.message,
        data,
      });
    } catch (cause) {
      return new ListenerError(
        'ERR_DEAD_LETTER_WRITE',
        `archive object ${key} refused by the store (${error.message}) and not parked in the dead letters`,
        { cause },
      );
    }
    this.#status.lastError = {
      code: error.code,
      message: `${key} parked in dead letters: ${error.message}`,
      at: this.#now(),
    };
    this.#o.onEvent?.({
      kind: 'dead_lettered',
      key,
      records,
      lsns: ranges,
      code: error.code,
      reason: error.message,
      path,
    });
    return true;
  }

  #complete(ranges: LsnRange[]): void {
    delete this.#cursor.intent;
    for (const range of ranges) addRange(this.#cursor.uploaded, range);
    normalize(this.#cursor, this.#floor());
  }
}

/**
 * Hive partition of a record: `dt=YYYY-MM-DD/hour=HH` from TransactTime, else SendingTime, else
 * receipt, the receive hour when the record's own time is further than `timeOutlierMs` from it
 * (as the writer files its line).
 */
export function partitionOf(
  record: ExecutionReportRecord,
  timeOutlierMs = DEFAULT_TIME_OUTLIER_MS,
): { hourKey: string; hourEndMs: number } {
  const line = Buffer.from(
    JSON.stringify({
      transact_time: record.transact_time,
      sending_time: record.sending_time,
      received_at: record.received_at,
    }),
  );
  const hourStartMs = new LinePartitioner(timeOutlierMs).hourOf(line, Date.now);
  return { hourKey: hourKeyOf(hourStartMs), hourEndMs: hourStartMs + 3600_000 };
}

const EXEC_ID = Buffer.from('"exec_id":"', 'latin1');

/** A top-level string value of a record line (null when absent), decoded by JSON.parse of it alone. */
function stringValue(line: Buffer, key: Buffer): string | null {
  const at = line.indexOf(key);
  if (at < 0) return null;
  let end = at + key.length;
  while (end < line.length && line[end] !== 0x22) end += line[end] === 0x5c ? 2 : 1;
  return JSON.parse(line.toString('utf8', at + key.length - 1, end + 1)) as string;
}

/** `{table}/[listener=…/]dt=…/hour=…/{first}-{last}-{count}{extension}`: deterministic for the LSNs held. */
export function objectKey(hourKey: string, ranges: LsnRange[], count: number, format: ArchiveFormat): string {
  const first = ranges[0]![0];
  const last = ranges.at(-1)![1];
  const name = `${String(first).padStart(12, '0')}-${String(last).padStart(12, '0')}-${count}`;
  return `${format.table}/${hourKey}/${name}${format.extension}`;
}

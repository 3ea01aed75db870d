import { spoolWriteFailure } from './spool-failure.js';
import type { Clock } from '../core/clock.js';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackoffPolicy } from '../core/backoff.js';
import { asListenerError, ListenerError } from '../core/errors.js';
import { stringOfLine, type ExecutionReportRecord } from '../core/record.js';
import type { JournalDamage, JournalStats } from '../core/status.js';
import { CursorStore, type CursorState } from './cursor-store.js';
import { ExecIdIndex } from './exec-id-index.js';
import { SegmentLog, type JournalEntry, type StallListener } from './segment-log.js';

/** Lost ExecIDs a damage report names at most (the rest of a huge range is replayed unnamed). */
const NAMED_LOST_IDS = 1_000_000;

export type { JournalDamage, JournalEntry };

export interface JournalOptions {
  dir: string;
  /** A new segment file starts past this size (default 64 MiB). */
  segmentBytes?: number;
  /** How long an ExecID is remembered for deduplication (default 72 h, the RT retention maximum). */
  dedupeWindowMs?: number;
  /** Logged ExecIDs kept in memory before the oldest are sealed in a file (default 65,536). */
  dedupeChunkIds?: number;
  /**
   * dedupe.log is synced at most this often (default 1000 ms), not with every group commit: it
   * only lets segments be deleted, and the segments hold every id it has not synced yet.
   */
  dedupeSyncMs?: number;
  /** Durable entries kept in memory for sinks that are keeping up (default 32 MiB of lines). */
  cacheBytes?: number;
  /**
   * While the spool refuses writes, appends wait in memory up to this many bytes (default
   * 64 MiB); past it `append` refuses with ERR_JOURNAL_STALLED and the caller must get the report
   * again later (the exchange's resend, the drop copy).
   */
  maxPendingBytes?: number;
  /** Waits between write attempts while the spool refuses writes. */
  retry?: BackoffPolicy;
  /** How often the active segment is checked for deletion under the open file (default 1000 ms). */
  checkEveryMs?: number;
  /** A group commit waits this long for more reports (default 0; JOURNAL_LINGER_MS). */
  lingerMs?: number;
  /** The segment log's timers (default the system clock). */
  clock?: Clock;
  /**
   * Bytes kept aside in `reserve` (default 256 KiB; 0 for none): given up when a full spool
   * refuses a cursor save, so the save lands and the segments it passes are deleted. Without it a
   * spool the journal filled itself could never free a byte.
   */
  reserveBytes?: number;
  now?: () => number;
}

/**
 * Ids whose records the journal lost after some sinks (not all) had handled them: when the
 * exchange's resend or the drop copy brings one back, those sinks step over it. Kept with each
 * such sink's cursor as [execId, ms when found], until the dedupe window forgets the id.
 */
type Redelivered = Map<string, number>;

/**
 * A report whose ExecID was journaled already with different content: not a resend of the same
 * execution. It is not journaled (the ExecID is taken), so it is told, never dropped silently.
 */
export interface ExecIdConflict {
  execId: string;
  /** Where the first report with this ExecID is. */
  lsn: number;
  /** The fields whose values differ (transport fields such as MsgSeqNum and PossDup excluded). */
  fields: string[];
  /** The report that came second, as it would have been journaled. */
  record: ExecutionReportRecord;
}

/** Fields a resend or a drop-copy replay of the same execution may change: never a conflict. */
const TRANSPORT_FIELDS: ReadonlySet<string> = new Set([
  'poss_dup',
  'received_at',
  'sending_time',
  'msg_seq_num',
  'source',
  'raw',
  'session_id',
]);

export interface AppendResult {
  /** The entry's LSN, or the LSN it will be durable behind when it was a duplicate. */
  lsn: number;
  duplicate: boolean;
}

/**
 * The append-only, checksummed, fsynced journal every ExecutionReport passes through before any
 * sink sees it (DESIGN.md §1), made of three parts: the segment log (records, group commit,
 * recovery), the ExecID index (deduplication that survives restarts) and the cursor store (each
 * sink's position). A segment is deleted once every sink's saved cursor and the ExecID log have
 * passed it.
 */
export class Journal {
  readonly #log: SegmentLog;
  readonly #index: ExecIdIndex;
  readonly #cursors: CursorStore;
  readonly #maxPendingBytes: number;
  readonly #damage: JournalDamage[];
  /** Each registered sink's latest position, and the one on disk (segments go below the latter only). */
  readonly #positions = new Map<string, number>();
  readonly #saved = new Map<string, number>();
  /** Per sink: ids it had handled before the journal lost them (see Redelivered). */
  readonly #redelivered = new Map<string, Redelivered>();
  /** Records appended at or below this LSN were journaled before this open: never redeliveries. */
  readonly #openedAt: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #damageListeners: Set<(damage: JournalDamage) => void>;
  readonly #conflictListeners = new Set<(conflict: ExecIdConflict) => void>();
  /** Duplicates waiting to be compared with the report journaled first (off the append path). */
  #toCompare: ExecutionReportRecord[] = [];
  #comparing: Promise<void> | undefined;
  #conflicts = 0;
  readonly #reservePath: string;
  /** Why the reserve could not be made (a full spool), until a save makes it. */
  #reserveFailure: ListenerError | undefined;
  readonly #reserveBytes: number;
  /** False while the reserve is given up (or could not be made): the next save that lands remakes it. */
  #reserved = false;
  #duplicates = 0;
  #closed = false;
  /** received_at of the newest record journaled (from open, then each append): where a gap opens. */
  #lastReceivedAt: string | undefined;
  /** MsgSeqNum of the newest record that came over the session itself (not a drop-copy replay). */
  #lastSessionSeq: number | undefined;

  private constructor(
    log: SegmentLog,
    index: ExecIdIndex,
    cursors: CursorStore,
    options: JournalOptions,
    damage: JournalDamage[],
    damageListeners: Set<(damage: JournalDamage) => void>,
  ) {
    this.#damageListeners = damageListeners;
    this.#log = log;
    this.#index = index;
    this.#cursors = cursors;
    this.#maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
    this.#windowMs = options.dedupeWindowMs ?? 72 * 3600 * 1000;
    this.#now = options.now ?? Date.now;
    this.#damage = damage;
    this.#openedAt = log.lastLsn;
    this.#reservePath = join(options.dir, 'reserve');
    this.#reserveBytes = options.reserveBytes ?? 256 * 1024;
    log.onDurable((lsn) => void index.persist(lsn));
  }

  /** Opens (creating if needed) and recovers the journal in `dir`. */
  static async open(options: JournalOptions): Promise<Journal> {
    await mkdir(options.dir, { recursive: true });
    const cursors = await CursorStore.open(options.dir);
    const damage: JournalDamage[] = [];
    const damageListeners = new Set<(damage: JournalDamage) => void>();
    const reportDamage = (d: JournalDamage) => {
      damage.push(d);
      for (const listener of damageListeners) listener(d);
    };
    const index = await ExecIdIndex.open({
      dir: options.dir,
      onDamage: reportDamage,
      ...(options.dedupeWindowMs === undefined ? {} : { windowMs: options.dedupeWindowMs }),
      ...(options.dedupeChunkIds === undefined ? {} : { chunkIds: options.dedupeChunkIds }),
      syncEveryMs: options.dedupeSyncMs ?? 1000,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    const fromSegments = new Map<string, number>();
    let lastReceivedAt: string | undefined;
    let lastSessionSeq: number | undefined;
    const sinks = cursors.sinks();
    const log = await SegmentLog.open({
      dir: options.dir,
      floor: Math.max(cursors.floor(), index.maxLsn),
      // Segments are deleted only below every sink's saved position.
      keptAbove: sinks.length === 0 ? 0 : Math.min(...sinks.map((sink) => cursors.load(sink)!.through)),
      ...(options.checkEveryMs === undefined ? {} : { checkEveryMs: options.checkEveryMs }),
      ...(options.lingerMs === undefined ? {} : { lingerMs: options.lingerMs }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      onDamage: reportDamage,
      onRecovered: (lsn, line) => {
        const record = JSON.parse(line) as ExecutionReportRecord;
        fromSegments.set(record.exec_id, lsn);
        lastReceivedAt = record.received_at;
        if (record.source !== 'backfill') lastSessionSeq = record.msg_seq_num;
      },
      ...(options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }),
      ...(options.cacheBytes === undefined ? {} : { cacheBytes: options.cacheBytes }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    // What each part found while opening (found later, it comes through reportDamage).
    damage.push(...log.damage, ...cursors.damage, ...index.damage);
    const journal = new Journal(log, index, cursors, options, damage, damageListeners);
    journal.#lastReceivedAt = lastReceivedAt;
    journal.#lastSessionSeq = lastSessionSeq;
    const lostRanges = log.damage.flatMap((d) => (d.lsns === null || d.kind === 'torn_tail' ? [] : [d.lsns]));
    // Lost records every sink had handled stay known (a resend of one is a duplicate); those
    // some sinks had handled are stepped over by those sinks when they come back.
    const delivered = new Set<number>();
    const redelivered = new Map<string, string[]>();
    for (const d of log.damage) {
      if (d.lsns === null || d.kind === 'torn_tail') continue;
      const [a, b] = d.lsns;
      // Name what was lost (the dedupe log knows the ids), and where a replay would start: the
      // last record kept before it, else the last id the dedupe log has before it.
      const entries = await index.entriesBetween(a, b, NAMED_LOST_IDS);
      d.execIds = entries.map(([execId]) => execId);
      if (entries.length === NAMED_LOST_IDS)
        d.note = `more records lost than are named: ${NAMED_LOST_IDS} of their ExecIDs (the drop copy's replay of the range brings the rest)`;
      for (const [execId, lsn] of entries) {
        const handledBy = sinks.filter((sink) => cursors.handled(sink, lsn));
        if (sinks.length > 0 && handledBy.length === sinks.length) delivered.add(lsn);
        else for (const sink of handledBy) redelivered.set(sink, [...(redelivered.get(sink) ?? []), execId]);
      }
      // Every sink had handled the whole range: lost here, delivered already, nothing to ask for.
      if (sinks.length > 0 && sinks.every((sink) => cursors.handled(sink, b))) {
        d.state = 'delivered';
        d.note = `lost locally after every sink (${sinks.join(', ')}) had delivered it: nothing to recover`;
        continue;
      }
      const around = log.neighbours(d);
      const prior = around.prior === undefined ? undefined : (JSON.parse(around.prior) as ExecutionReportRecord);
      const next = around.next === undefined ? undefined : (JSON.parse(around.next) as ExecutionReportRecord);
      const before = prior?.exec_id ?? (await index.lastIdBefore(a));
      if (before !== undefined) d.lastGoodExecId = before;
      d.receivedBetween = [prior?.received_at ?? null, next?.received_at ?? null];
      // The session's MsgSeqNums around the range, when both came over the session itself (not a
      // drop-copy replay) in increasing order: a resumable session can ask the exchange again.
      const live = (r: ExecutionReportRecord | undefined) => r !== undefined && r.source !== 'backfill';
      if (live(prior) && (next === undefined || (live(next) && next.msg_seq_num > prior!.msg_seq_num))) {
        d.msgSeqNums = [prior!.msg_seq_num + 1, next === undefined ? null : next.msg_seq_num - 1];
      }
    }
    await index.restore(fromSegments, log.lastLsn, lostRanges, delivered);
    await journal.#loadRedelivered(sinks, redelivered);
    await journal.#keepReserve();
    return journal;
  }

  /**
   * Each sink's redelivered ids: those its cursor kept, less the expired, plus those this open
   * found, saved with its cursor before anything is appended (a crash must not forget them).
   */
  async #loadRedelivered(sinks: readonly string[], found: ReadonlyMap<string, string[]>): Promise<void> {
    const horizon = this.#now() - this.#windowMs;
    for (const sink of sinks) {
      const state = this.#cursors.load<CursorState & { redelivered?: unknown }>(sink)!;
      const ids: Redelivered = new Map();
      if (Array.isArray(state.redelivered))
        for (const item of state.redelivered as unknown[])
          if (Array.isArray(item) && typeof item[0] === 'string' && typeof item[1] === 'number' && item[1] >= horizon)
            ids.set(item[0], item[1]);
      const fresh = found.get(sink) ?? [];
      for (const execId of fresh) ids.set(execId, this.#now());
      if (ids.size > 0) this.#redelivered.set(sink, ids);
      if (fresh.length > 0) await this.#saveState(sink, state);
    }
  }

  /** A sink's state as saved: its own, plus the ids it must step over (when it has any). */
  async #saveState(sink: string, state: CursorState): Promise<boolean> {
    const ids = this.#redelivered.get(sink);
    const { redelivered: _, ...own } = state as CursorState & { redelivered?: unknown };
    const full = ids === undefined || ids.size === 0 ? own : { ...own, redelivered: [...ids] };
    return this.#cursors.save(sink, full);
  }

  /**
   * True when `entry` is a record this sink delivered before the journal lost it, brought back by
   * a resend or the drop copy: the sink steps over it (it must not deliver it twice). Free unless
   * damage after a partial delivery left such ids.
   */
  delivered(sink: string, entry: JournalEntry): boolean {
    if (entry.lsn <= this.#openedAt) return false;
    const ids = this.#redelivered.get(sink);
    if (ids === undefined || ids.size === 0) return false;
    const execId = stringOfLine(entry.line, 'exec_id');
    return execId !== null && ids.has(execId);
  }

  /**
   * Damage found at start in a file of the spool the journal does not own (the session file):
   * kept with what open found, and settled and reported with it.
   */
  reportDamage(damage: JournalDamage): void {
    this.#damage.push(damage);
  }

  /**
   * Called when a duplicate ExecID turns out to carry different content from the report journaled
   * first (compared after the append returned, against the journal's copy).
   */
  onConflict(listener: (conflict: ExecIdConflict) => void): () => void {
    this.#conflictListeners.add(listener);
    return () => this.#conflictListeners.delete(listener);
  }

  /** Duplicates found to carry different content (see onConflict). */
  get conflicts(): number {
    return this.#conflicts;
  }

  /**
   * Compares queued duplicates with the first report of their ExecID, read back from the journal.
   * One whose first report is no longer in memory or on disk (sealed and passed) cannot be
   * compared: it stays a duplicate, as before.
   */
  async #compareDuplicates(): Promise<void> {
    try {
      while (this.#toCompare.length > 0) {
        const batch = this.#toCompare;
        this.#toCompare = [];
        for (const record of batch) {
          const lsn = this.#index.lsnOf(record.exec_id);
          if (lsn === undefined || lsn > this.#log.durableLsn || this.#closed) continue;
          const [first] = await this.#log.read(lsn - 1, 1, lsn).catch(() => []);
          if (first === undefined || first.lsn !== lsn) continue;
          const original = first.record as unknown as Record<string, unknown>;
          const second = record as unknown as Record<string, unknown>;
          const fields = Object.keys(second).filter(
            (key) => !TRANSPORT_FIELDS.has(key) && JSON.stringify(second[key]) !== JSON.stringify(original[key]),
          );
          if (fields.length === 0) continue;
          this.#conflicts++;
          for (const listener of this.#conflictListeners) listener({ execId: record.exec_id, lsn, fields, record });
        }
      }
    } finally {
      this.#comparing = undefined;
    }
  }

  /** Called with damage found while running (the active segment deleted under the open file). */
  onDamage(listener: (damage: JournalDamage) => void): () => void {
    this.#damageListeners.add(listener);
    return () => this.#damageListeners.delete(listener);
  }

  get lastLsn(): number {
    return this.#log.lastLsn;
  }

  get durableLsn(): number {
    return this.#log.durableLsn;
  }

  /** The oldest LSN still on disk (or the next one when the journal is empty). */
  get firstLsn(): number {
    return this.#log.firstLsn;
  }

  /**
   * What the last open found damaged or cut: each entry names the LSN range and the ExecIDs the
   * dedupe log can name. Torn tails were never durable; corrupt and missing ranges were.
   */
  get damage(): readonly JournalDamage[] {
    return this.#damage;
  }

  /** True for an LSN whose record was lost to damage (reported in `damage`). */
  isLost(lsn: number): boolean {
    return this.#damage.some((d) => d.kind !== 'torn_tail' && d.lsns !== null && lsn >= d.lsns[0] && lsn <= d.lsns[1]);
  }

  /**
   * The MsgSeqNum from which the session that delivered a damaged range would deliver it again
   * (the one after the last record kept before it), when the records around it say so.
   */
  resendFrom(damage: JournalDamage): number | undefined {
    return damage.lsns === null ? undefined : damage.msgSeqNums?.[0];
  }

  /**
   * When the newest record journaled was received (epoch ms; undefined when the journal holds
   * none): a gap in the stream opened after it, so a hole starts there, not when it was noticed.
   */
  get lastReceivedMs(): number | undefined {
    const ms = this.#lastReceivedAt === undefined ? Number.NaN : Date.parse(this.#lastReceivedAt);
    return Number.isNaN(ms) ? undefined : ms;
  }

  /**
   * The MsgSeqNum the newest report the journal holds from the session itself came in on (not a
   * drop-copy replay), as found at open: what the session file's position must agree with.
   */
  get lastSessionSeqAtOpen(): number | undefined {
    return this.#lastSessionSeq;
  }

  /** Set while the spool refuses writes: appends are held in memory and retried. */
  get failure(): ListenerError | undefined {
    return this.#log.stall?.error;
  }

  /**
   * The highest ExecID journaled (Kalshi's `clock;event` order), remembered across restarts for
   * the dedupe window: where a drop-copy backfill starts.
   */
  get maxExecId(): string | undefined {
    return this.#index.maxExecId;
  }

  /**
   * Appends a record unless its ExecID was seen within the window. Returns at once; the entry is
   * durable when `onDurable` reports an LSN ≥ the returned one.
   */
  append(record: ExecutionReportRecord): AppendResult {
    if (this.#closed) throw new ListenerError('ERR_JOURNAL_CLOSED', 'journal is closed');
    if (this.#index.has(record.exec_id)) {
      this.#duplicates++;
      if (this.#conflictListeners.size > 0) {
        this.#toCompare.push(record);
        this.#comparing ??= Promise.resolve().then(() => this.#compareDuplicates());
      }
      return { lsn: this.#log.lastLsn, duplicate: true };
    }
    const stall = this.#log.stall;
    if (stall !== undefined && this.#log.pendingBytes >= this.#maxPendingBytes)
      throw new ListenerError(
        'ERR_JOURNAL_STALLED',
        `journal not writing (${stall.error.code}) and ${this.#log.pendingBytes} bytes already held: report not taken`,
        { cause: stall.error },
      );
    const line = JSON.stringify(record);
    const lsn = this.#log.append(line);
    this.#lastReceivedAt = record.received_at;
    this.#index.add(record.exec_id, lsn);
    return { lsn, duplicate: false };
  }

  /** Resolves when everything appended so far is durable; rejects while the spool refuses writes. */
  async flush(): Promise<void> {
    await this.#log.flush();
    await this.#index.persist(this.#log.durableLsn, { sync: true });
  }

  /** Called when the spool starts refusing writes, and when it takes them again. */
  onStall(listener: StallListener): () => void {
    return this.#log.onStall(listener);
  }

  /** True when the ExecID is journaled (within the dedupe window). */
  knows(execId: string): boolean {
    return this.#index.has(execId);
  }

  /** Called with the new durable LSN after every group commit. */
  onDurable(listener: (lsn: number) => void): () => void {
    return this.#log.onDurable(listener);
  }

  /**
   * Up to `max` durable entries after `afterLsn` (and at most `throughLsn`), stepping over LSNs
   * lost to damage. From memory when the sink is keeping up, from the segment files otherwise.
   */
  read(afterLsn: number, max: number, throughLsn?: number): Promise<JournalEntry[]> {
    return this.#log.read(afterLsn, max, throughLsn);
  }

  /** The durable LSN when nothing after `afterLsn` holds a record (a lost tail), else `afterLsn`. */
  vacantThrough(afterLsn: number): number {
    return this.#log.vacantThrough(afterLsn);
  }

  // ── cursors ─────────────────────────────────────────────────────────────────────────────────

  /** A sink's saved state (undefined on its first start). The sink is registered at its position. */
  loadCursor<T extends CursorState>(sink: string): Promise<T | undefined> {
    const saved = this.#cursors.load<T & { redelivered?: unknown }>(sink);
    const through = saved?.through ?? this.#log.firstLsn - 1;
    this.#positions.set(sink, through);
    this.#saved.set(sink, through);
    if (saved === undefined) return Promise.resolve(undefined);
    // The journal's own part of the cursor is not the sink's to see.
    const { redelivered: _, ...state } = saved;
    return Promise.resolve(state as unknown as T);
  }

  /**
   * Saves a sink's state: `through` is the LSN through which it has handled every entry. Throws
   * (ERR_JOURNAL_DISK_FULL, ERR_JOURNAL_CURSOR) when the disk refuses: a sink must not deliver
   * past a position it could not save (its loop waits and tries again). Segments below every
   * sink's saved position and the ExecID log's are deleted.
   */
  async saveCursor(sink: string, state: CursorState): Promise<void> {
    this.#positions.set(sink, state.through);
    if (!(await this.#saveState(sink, state))) {
      // A full spool: give up the reserve and try once more, so the segments this position passes
      // can go and the spool drains by itself.
      if (this.#cursors.failure?.code !== 'ERR_JOURNAL_DISK_FULL' || !(await this.#releaseReserve()))
        throw this.#cursors.failure!;
      if (!(await this.#saveState(sink, state))) throw this.#cursors.failure;
    }
    this.#saved.set(sink, state.through);
    if (this.#saved.size === 0) return;
    const through = Math.min(...this.#saved.values(), this.#index.loggedLsn);
    // A deletion the disk refuses is tried again at the next save (stats: lastWriteError).
    await this.#log.deleteThrough(through);
    if (!this.#reserved) await this.#keepReserve();
  }

  /** Makes the reserve file when it is not there (best effort: a full spool makes it later). */
  async #keepReserve(): Promise<void> {
    if (this.#reserveBytes <= 0) return;
    try {
      // A reserve that is not there (or not whole) reads as undefined: it is written below.
      if ((await stat(this.#reservePath).catch(() => undefined))?.size !== this.#reserveBytes)
        await writeFile(this.#reservePath, Buffer.alloc(this.#reserveBytes), { flush: true });
      this.#reserved = true;
      this.#reserveFailure = undefined;
    } catch (cause) {
      // Shown in stats().lastWriteError until a later save makes it; the partial file goes (its
      // removal failing leaves the same state, already reported here).
      this.#reserveFailure = await spoolWriteFailure(this.#reservePath, 'cannot keep the spool reserve', cause);
      await rm(this.#reservePath, { force: true }).catch(() => undefined);
      this.#reserved = false;
    }
  }

  /** Deletes the reserve file; false when there was none to give up. */
  async #releaseReserve(): Promise<boolean> {
    if (!this.#reserved) return false;
    this.#reserved = false;
    return rm(this.#reservePath).then(
      () => true,
      () => false,
    );
  }

  /** Records waiting for a sink: count and approximate bytes. */
  backlog(sink: string): { records: number; bytes: number } {
    const through = this.#positions.get(sink) ?? 0;
    const records = Math.max(0, this.#log.durableLsn - through);
    let bytes = 0;
    for (const [first, last, size] of this.#log.spans()) {
      if (last <= through) continue;
      const span = last - first + 1;
      const share = span <= 0 ? 0 : (last - Math.max(through, first - 1)) / span;
      bytes += Math.round(size * share);
    }
    return { records, bytes };
  }

  stats(): JournalStats {
    const stall = this.#log.stall;
    const details = stall?.error.details as { path?: string; freeBytes?: number | null } | undefined;
    const writeError =
      this.#cursors.failure ?? this.#index.failure ?? this.#log.housekeepingFailure ?? this.#reserveFailure;
    return {
      lastLsn: this.#log.lastLsn,
      durableLsn: this.#log.durableLsn,
      segments: this.#log.segmentCount,
      bytesOnDisk: this.#log.bytesOnDisk,
      dedupeEntries: this.#index.size,
      duplicatesDropped: this.#duplicates,
      truncatedTailBytes: this.#log.truncatedTailBytes,
      integrity: {
        damage: this.#damage,
        recovering: this.#damage.filter((d) => d.state === 'recovering').length,
        stalled:
          stall === undefined
            ? null
            : {
                code: stall.error.code,
                message: stall.error.message,
                since: stall.since,
                attempts: stall.attempts,
                ...(details?.path === undefined ? {} : { path: details.path, freeBytes: details.freeBytes ?? null }),
              },
        pendingBytes: this.#log.pendingBytes,
        lastWriteError: writeError === undefined ? null : { code: writeError.code, message: writeError.message },
      },
    };
  }

  /** Closes every part; rejects with the stall's error when appends could not all be written. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#comparing;
    this.#closed = true;
    const unwritten = await this.#log.close().then(
      () => undefined,
      (error: unknown) => asListenerError(error, 'ERR_JOURNAL_WRITE', 'journal appends not written at close'),
    );
    await this.#index.close(this.#log.durableLsn);
    await this.#cursors.close();
    if (unwritten !== undefined) throw unwritten;
  }
}

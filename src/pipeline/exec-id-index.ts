import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.js';
import { compareExecIds } from '../core/exec-id.js';
import { asListenerError, ListenerError } from '../core/errors.js';
import { spoolWriteFailure } from './spool-failure.js';

export interface ExecIdIndexOptions {
  dir: string;
  /** How long an ExecID is remembered (default 72 h, the KalshiRT retention maximum). */
  windowMs?: number;
  now?: () => number;
}

/** A line of dedupe.log: when the id was journaled, at which LSN (0 after compaction). */
export interface RememberedId {
  at: number;
  lsn: number;
  execId: string;
}

/**
 * The ExecIDs journaled within the window, so a report the exchange resends (or the drop copy
 * replays) is journaled once. Kept in memory and in `dedupe.log`, one line per id, appended behind
 * the segments: a write that fails is retried with the next one, and the log is never needed
 * ahead of the segments (recovery also takes the ids from them).
 */
export class ExecIdIndex {
  readonly #path: string;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** ExecID → when it was journaled, as a stamp (stampOf); insertion order is time order. */
  readonly #seen = new Map<string, number>();
  #log: FileHandle | undefined;
  #logBytes = 0;
  #logEntries = 0;
  #unlogged: Array<{ lsn: number; execId: string }> = [];
  #loggedLsn = 0;
  #maxExecId: string | undefined;
  #maxLsn = 0;
  #failure: ListenerError | undefined;
  #cutPending = false;
  #chain: Promise<void> = Promise.resolve();
  /** What the log held on open, for recovery to name the ids of lost LSNs. */
  readonly remembered: readonly RememberedId[];

  private constructor(options: ExecIdIndexOptions, remembered: RememberedId[]) {
    this.#path = join(options.dir, 'dedupe.log');
    this.#windowMs = options.windowMs ?? 72 * 3600 * 1000;
    this.#now = options.now ?? Date.now;
    this.remembered = remembered;
  }

  /** Reads dedupe.log (ids within the window). Call `restore` once the segments are read. */
  static async open(options: ExecIdIndexOptions): Promise<ExecIdIndex> {
    const path = join(options.dir, 'dedupe.log');
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new ListenerError('ERR_JOURNAL_READ', 'cannot read dedupe.log', { cause: error });
    }
    // A last line without its newline was cut by a crash: not an id (its end may be missing), and
    // cut from the file at restore so the next line does not run into it.
    text = text.slice(0, text.lastIndexOf('\n') + 1);
    const horizon = (options.now ?? Date.now)() - (options.windowMs ?? 72 * 3600 * 1000);
    const remembered: RememberedId[] = [];
    let maxLsn = 0;
    let entries = 0;
    for (const line of text.split('\n')) {
      const tab1 = line.indexOf('\t');
      const tab2 = tab1 < 0 ? -1 : line.indexOf('\t', tab1 + 1);
      if (tab1 <= 0 || tab2 < 0 || tab2 === line.length - 1) continue;
      const at = Number(line.slice(0, tab1));
      const lsn = Number(line.slice(tab1 + 1, tab2));
      if (!Number.isSafeInteger(lsn) || lsn < 0 || !Number.isFinite(at)) continue;
      if (lsn > maxLsn) maxLsn = lsn;
      entries++;
      if (at >= horizon) remembered.push({ at, lsn, execId: line.slice(tab2 + 1) });
    }
    const index = new ExecIdIndex(options, remembered);
    index.#maxLsn = maxLsn;
    index.#logEntries = entries;
    index.#logBytes = Buffer.byteLength(text, 'utf8');
    return index;
  }

  /** The highest LSN the log names: records up to it were durable once, whatever the segments say. */
  get maxLsn(): number {
    return this.#maxLsn;
  }

  get size(): number {
    return this.#seen.size;
  }

  /** LSN up to which every id is in the log: segments are deleted only below it. */
  get loggedLsn(): number {
    return this.#loggedLsn;
  }

  /** Set while the log cannot be written (cleared by the next write that succeeds). */
  get failure(): ListenerError | undefined {
    return this.#failure;
  }

  /**
   * The highest ExecID known (Kalshi's `clock;event` order), remembered across restarts for the
   * window: where a drop-copy backfill starts.
   */
  get maxExecId(): string | undefined {
    return this.#maxExecId;
  }

  /**
   * Builds the index: the logged ids whose records were not lost, then the ids read from the
   * segments. `lost` tells an LSN whose record is gone: its id is forgotten, so the exchange's
   * resend or the drop copy can journal it again.
   */
  async restore(
    fromSegments: ReadonlyMap<string, number>,
    lastLsn: number,
    lost: (lsn: number) => boolean,
  ): Promise<void> {
    const now = this.#now();
    for (const { at, lsn, execId } of this.remembered)
      if (lsn <= lastLsn && !lost(lsn)) this.#seen.set(execId, stampOf(at));
    for (const execId of fromSegments.keys()) if (!this.#seen.has(execId)) this.#seen.set(execId, stampOf(now));
    for (const execId of this.#seen.keys()) this.#noteMax(execId);
    this.#loggedLsn = lastLsn;
    this.#log = await open(this.#path, 'a');
    if ((await this.#log.stat()).size > this.#logBytes) await this.#log.truncate(this.#logBytes);
  }

  has(execId: string): boolean {
    return this.#seen.has(execId);
  }

  /** Remembers an id journaled at `lsn` (logged with the next `persist`). */
  add(execId: string, lsn: number): void {
    this.#seen.set(execId, stampOf(this.#now()));
    this.#noteMax(execId);
    this.#unlogged.push({ lsn, execId });
  }

  /**
   * Appends the ids added so far whose records are durable (LSN ≤ `durableLsn`) to the log,
   * chained: one write at a time, in order. An id is never logged ahead of its record: the log's
   * highest LSN is taken on open for one that was durable once.
   */
  persist(durableLsn: number): Promise<void> {
    this.#chain = this.#chain
      .then(() => this.#write(durableLsn))
      .catch((cause: unknown) => {
        // Reopening the log after compaction failed: shown, and the next batch tries again.
        this.#failure = asListenerError(cause, 'ERR_JOURNAL_WRITE', 'dedupe.log could not be reopened');
      });
    return this.#chain;
  }

  async close(durableLsn: number): Promise<void> {
    await this.persist(durableLsn);
    await this.#log?.close();
    this.#log = undefined;
  }

  async #write(durableLsn: number): Promise<void> {
    // A failed write whose bytes could not be cut is cut first: a line never runs into another.
    if (this.#cutPending && this.#log !== undefined) {
      try {
        await this.#log.truncate(this.#logBytes);
      } catch (cause) {
        this.#failure = await spoolWriteFailure(
          this.#path,
          'dedupe.log cannot be cut back after a failed write',
          cause,
        );
        return;
      }
      this.#cutPending = false;
    }
    let count = 0;
    while (count < this.#unlogged.length && this.#unlogged[count]!.lsn <= durableLsn) count++;
    if (count === 0 || this.#log === undefined) return;
    const batch = count === this.#unlogged.length ? this.#unlogged : this.#unlogged.slice(0, count);
    this.#unlogged = count === this.#unlogged.length ? [] : this.#unlogged.slice(count);
    const now = this.#now();
    let text = '';
    for (const { lsn, execId } of batch)
      text += `${msOfStamp(this.#seen.get(execId) ?? stampOf(now))}\t${lsn}\t${execId}\n`;
    try {
      await this.#log.write(text);
      await this.#log.datasync();
    } catch (cause) {
      this.#unlogged = batch.concat(this.#unlogged);
      this.#failure = await spoolWriteFailure(
        this.#path,
        'dedupe.log write failed; retrying with the next batch',
        cause,
      );
      // A partial line would run into the next one: cut back to the last whole write (or, when
      // even that fails, before the next one).
      this.#cutPending = true;
      return;
    }
    this.#failure = undefined;
    this.#logBytes += Buffer.byteLength(text, 'utf8');
    this.#logEntries += batch.length;
    this.#loggedLsn = batch.at(-1)!.lsn;
    this.#evictExpired(now);
    if (this.#logEntries > 100_000 && this.#logEntries > 2 * this.#seen.size) await this.#compact();
  }

  #noteMax(execId: string): void {
    if (execId.startsWith('noexecid:')) return;
    if (this.#maxExecId === undefined || compareExecIds(execId, this.#maxExecId) > 0) this.#maxExecId = execId;
  }

  #evictExpired(now: number): void {
    const horizon = stampOf(now - this.#windowMs);
    for (const [execId, at] of this.#seen) {
      if (at >= horizon) break; // insertion order = time order
      this.#seen.delete(execId);
    }
  }

  /** Rewrites the log with the ids still in the window (the old log stays until the new is in place). */
  async #compact(): Promise<void> {
    let text = '';
    for (const [execId, at] of this.#seen) text += `${msOfStamp(at)}\t0\t${execId}\n`;
    try {
      await writeFileAtomic(this.#path, text);
    } catch (cause) {
      // The old log is still whole; compaction is tried again after the next batch.
      this.#failure = await spoolWriteFailure(this.#path, 'dedupe.log compaction failed; the old log is kept', cause);
      return;
    }
    await this.#log?.close();
    this.#log = await open(this.#path, 'a');
    this.#logEntries = this.#seen.size;
    this.#logBytes = Buffer.byteLength(text, 'utf8');
  }
}

// The index holds one entry per ExecID for 72 h, so its value is a stamp: whole seconds since
// 2020, a small integer V8 stores in the entry itself. Epoch milliseconds would be a separate
// 16-byte heap number per id, about a fifth of the entry. dedupe.log keeps milliseconds.
const STAMP_EPOCH_MS = Date.UTC(2020, 0, 1);

function stampOf(epochMs: number): number {
  return Math.floor((epochMs - STAMP_EPOCH_MS) / 1000);
}

function msOfStamp(stamp: number): number {
  return STAMP_EPOCH_MS + stamp * 1000;
}

import { readFileSync, renameSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { writeFileAtomic } from '../core/atomic-file.js';
import { compareExecIds, isSequencedExecId } from '../core/exec-id.js';
import { encodeLine, scanLines } from '../core/checked-lines.js';
import { checksum } from '../core/slot-pair.js';
import { asListenerError, ListenerError } from '../core/errors.js';
import type { JournalDamage } from '../core/status.js';
import { spoolWriteFailure } from './spool-failure.js';

export interface ExecIdIndexOptions {
  dir: string;
  /** How long an ExecID is remembered (default 72 h, the KalshiRT retention maximum). */
  windowMs?: number;
  /** Logged ids kept in memory before the oldest of them are sealed in a file (default 65,536). */
  chunkIds?: number;
  /**
   * dedupe.log is written and fdatasync'ed at most this often (default 0: at every persist). It
   * only gates segment deletion (`loggedLsn` moves at a sync) and the segments hold every id it
   * has not got yet, so it need not cost a second write and fsync per group commit.
   */
  syncEveryMs?: number;
  now?: () => number;
  /** A chunk found damaged after `open` returned (by `restore`, or a lookup that read it). */
  onDamage?: (damage: JournalDamage) => void;
}

/** A line of dedupe.log: when the id was journaled, at which LSN. */
export interface RememberedId {
  at: number;
  lsn: number;
  execId: string;
}

/**
 * A sealed file of ids (`dedupe/ids-N.txt`): a header line, then `execId\tlsn` lines in string
 * order. The header is a checked line (`<crc32> <json>`, core/checked-lines.ts) and carries the
 * body's length and CRC32, so a changed digit anywhere in the file is found rather than believed:
 * the header at every open, the body when it is read. Only the header stays in memory.
 */
interface Chunk {
  file: string;
  count: number;
  minLsn: number;
  maxLsn: number;
  /** When its newest id was journaled (ms): the file is deleted once that leaves the window. */
  newest: number;
  /** Lowest and highest sequenced id (ExecID order), when it holds any. */
  lo: string | null;
  hi: string | null;
  /** Ids that are not `clock;event` tuples (rare: `noexecid:` hashes) are listed in the header. */
  others: string[];
  /** The body's length and CRC32, checked whenever the body is read. */
  seal: BodySeal;
}

interface ChunkHeader extends Omit<Chunk, 'file'> {
  v: 2;
}

/** What the header says of the body (the lines after it). */
interface BodySeal {
  bytes: number;
  crc: number;
}

/** A chunk read for a lookup: its bytes and where each line starts. */
interface LoadedChunk {
  file: string;
  bytes: Buffer;
  starts: Int32Array;
}

const CHUNK_DIR = 'dedupe';
const CHUNK_PATTERN = /^ids-(\d{10})\.txt$/;
/** Chunk files read for lookups kept in memory: a replay reads ids in order, mostly from one file. */
const LOADED_CHUNKS = 2;

/**
 * The ExecIDs journaled within the window, so a report the exchange resends (or the drop copy
 * replays) is journaled once, exactly: no probabilistic check decides, since a false positive
 * would drop a fill.
 *
 * Memory does not grow with history. The newest ids (at most `chunkIds` logged, plus those not yet
 * durable) are an exact set in memory, also appended to `dedupe.log` behind the segments. Older
 * ones are sealed, `chunkIds` at a time, into sorted files under `dedupe/`, of which only a header
 * stays in memory: the LSN range, the lowest and highest id. Kalshi ExecIDs are sequenced, so a
 * live id above every sealed one needs no lookup; an id inside a file's range (a resend of
 * something older than the in-memory set) is looked up in that file.
 */
export class ExecIdIndex {
  readonly #dir: string;
  readonly #path: string;
  readonly #windowMs: number;
  readonly #chunkIds: number;
  readonly #syncEveryMs: number;
  readonly #now: () => number;
  /** The in-memory ids, membership; the arrays below hold them in journal order from #head. */
  readonly #known = new Set<string>();
  #ids: string[] = [];
  /** When each was journaled, in whole seconds (stampOf): small integers held in the array. */
  #stamps: number[] = [];
  #lsns: number[] = [];
  #head = 0;
  /** Entries before this position are in dedupe.log (or a chunk). */
  #logged = 0;
  readonly #chunks: Chunk[] = [];
  #chunkSeq = 0;
  #loaded: LoadedChunk[] = [];
  /** The highest sequenced id in any chunk: a sequenced id above it is in none. */
  #sealedHi: string | null = null;
  #sealedCount = 0;
  #log: FileHandle | undefined;
  #logBytes = 0;
  #logEntries = 0;
  #loggedLsn = 0;
  /** The last LSN written to dedupe.log, synced or not, and the log's size at the last sync. */
  #writtenLsn = 0;
  #syncedBytes = 0;
  #lastSyncAt = -Infinity;
  #maxExecId: string | undefined;
  /** The highest sequenced id known (in memory or sealed): a sequenced id above it is new. */
  #maxSequenced: string | undefined;
  /** The id `has` last found above #maxSequenced: `add` of it needs no second comparison. */
  #aboveMax: string | undefined;
  #maxLsn = 0;
  #failure: ListenerError | undefined;
  readonly #onDamage: ((damage: JournalDamage) => void) | undefined;
  /** Set once `open` is done: damage found after it (in `damage` then) is reported through `onDamage`. */
  #opened = false;
  /** Set when a chunk was lost at open: every id the segments hold is checked back in. */
  #rebuild = false;
  /** Chunks open found damaged or missing. */
  readonly damage: JournalDamage[] = [];
  #cutPending = false;
  #rewritePending = false;
  #chain: Promise<void> = Promise.resolve();
  /** What the log held on open, for recovery to name the ids of lost LSNs. */
  readonly remembered: readonly RememberedId[];

  private constructor(options: ExecIdIndexOptions, remembered: RememberedId[]) {
    this.#dir = options.dir;
    this.#path = join(options.dir, 'dedupe.log');
    this.#windowMs = options.windowMs ?? 72 * 3600 * 1000;
    this.#chunkIds = options.chunkIds ?? 65_536;
    this.#syncEveryMs = options.syncEveryMs ?? 0;
    this.#now = options.now ?? Date.now;
    this.#onDamage = options.onDamage;
    this.remembered = remembered;
  }

  /** Reads dedupe.log and the chunk headers (ids within the window). Call `restore` next. */
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
    // cut from the file at restore so the next line does not run into it. A line that does not
    // read (its checksum, or an LSN of 0 as no release wrote) is not an id either, and is reported:
    // the segments that still hold its record give it back at restore.
    text = text.slice(0, text.lastIndexOf('\n') + 1);
    const horizon = (options.now ?? Date.now)() - (options.windowMs ?? 72 * 3600 * 1000);
    const remembered: RememberedId[] = [];
    let maxLsn = 0;
    let entries = 0;
    let damaged = 0;
    let firstDamaged = 0;
    let offset = 0;
    for (const line of text.split('\n')) {
      const at = offset;
      offset += Buffer.byteLength(line, 'utf8') + 1;
      if (line === '') continue;
      const id = parseIdLine(line);
      if (id === undefined) {
        if (damaged++ === 0) firstDamaged = at;
        continue;
      }
      if (id.lsn > maxLsn) maxLsn = id.lsn;
      entries++;
      if (id.at >= horizon) remembered.push(id);
    }
    const index = new ExecIdIndex(options, remembered);
    if (damaged > 0)
      index.damage.push({
        kind: 'index',
        segment: 'dedupe.log',
        offset: firstDamaged,
        lsns: null,
        state: 'reported',
        note: `dedupe.log: ${damaged} line(s) damaged (checksum or shape): their ids come back from the segments that still hold their records; the others are forgotten until the dedupe window passes them`,
      });
    await index.#openChunks(horizon);
    index.#maxLsn = Math.max(maxLsn, ...index.#chunks.map((c) => c.maxLsn));
    index.#logEntries = entries;
    index.#logBytes = Buffer.byteLength(text, 'utf8');
    index.#opened = true;
    return index;
  }

  /** The highest LSN the log names: records up to it were durable once, whatever the segments say. */
  get maxLsn(): number {
    return this.#maxLsn;
  }

  /** Ids remembered: in memory and in chunk files. */
  get size(): number {
    return this.#known.size + this.#sealedCount;
  }

  /** Ids held in memory (the rest are in chunk files). */
  get inMemory(): number {
    return this.#known.size;
  }

  /** Sealed chunk files. */
  get chunkCount(): number {
    return this.#chunks.length;
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
   * segments. An id at an LSN in `lost` (or past `lastLsn`) is forgotten, in chunks too, so the
   * exchange's resend or the drop copy can journal it again; one at an LSN in `delivered` is kept
   * (its record is gone, but every sink had handled it: a resend of it must stay a duplicate).
   */
  async restore(
    fromSegments: ReadonlyMap<string, number>,
    lastLsn: number,
    lost: ReadonlyArray<readonly [number, number]>,
    delivered: ReadonlySet<number> = new Set(),
  ): Promise<void> {
    const isLost = (lsn: number) =>
      lsn > lastLsn || (lost.some(([a, b]) => lsn >= a && lsn <= b) && !delivered.has(lsn));
    // The chunks holding ids whose records the segments still hold are read whole now, so one
    // found damaged is rebuilt from them. The older ones are checked when a lookup reads them.
    let firstInSegments = Infinity;
    for (const lsn of fromSegments.values()) if (lsn < firstInSegments) firstInSegments = lsn;
    for (const chunk of this.#chunks.filter((c) => c.maxLsn >= firstInSegments)) await this.#chunkBody(chunk);
    const touched = (c: Chunk) => c.maxLsn > lastLsn || lost.some(([a, b]) => a <= c.maxLsn && b >= c.minLsn);
    await this.#forgetInChunks(this.#chunks.filter(touched), isLost);
    const sealedLsn = this.#chunks.reduce((m, c) => Math.max(m, c.maxLsn), 0);
    const now = this.#now();
    for (const { at, lsn, execId } of this.remembered) {
      // Ids sealed by a seal whose log rewrite did not happen (a crash between the two) are in
      // both; the chunk has them.
      if (lsn <= sealedLsn || isLost(lsn) || this.#known.has(execId)) continue;
      this.#remember(execId, stampOf(at), lsn);
    }
    this.#logged = this.#ids.length;
    for (const [execId, lsn] of fromSegments)
      if ((lsn > sealedLsn || (this.#rebuild && !this.#inChunks(execId))) && !this.#known.has(execId))
        this.#remember(execId, stampOf(now), lsn);
    for (const chunk of this.#chunks) {
      if (chunk.hi !== null) this.#noteMax(chunk.hi);
      for (const other of chunk.others) this.#noteMax(other);
    }
    for (let i = this.#head; i < this.#ids.length; i++) this.#noteMax(this.#ids[i]!);
    this.#loggedLsn = this.#writtenLsn = lastLsn;
    this.#syncedBytes = this.#logBytes;
    // Ids only the segments held are logged at the next persist, with the others.
    this.#log = await open(this.#path, 'a');
    if ((await this.#log.stat()).size > this.#logBytes) await this.#log.truncate(this.#logBytes);
    if (this.#logged - this.#head >= this.#chunkIds) await this.#seal();
  }

  has(execId: string): boolean {
    // A live report's id is above every sequenced id known (Kalshi's ExecIDs are sequenced): no
    // lookup. Only sequenced ids are compared: the order is a total one among them alone.
    if (isSequencedExecId(execId)) {
      if (this.#maxSequenced === undefined || compareExecIds(execId, this.#maxSequenced) > 0) {
        this.#aboveMax = execId;
        return false;
      }
    }
    if (this.#known.has(execId)) return true;
    return this.#chunks.length > 0 && this.#inChunks(execId);
  }

  /**
   * The LSN an id held in memory was journaled at (undefined for one only a sealed chunk holds, or
   * none). A scan from the newest: only a duplicate (a resend, most often of something recent) asks.
   */
  lsnOf(execId: string): number | undefined {
    if (!this.#known.has(execId)) return undefined;
    for (let i = this.#ids.length - 1; i >= this.#head; i--) if (this.#ids[i] === execId) return this.#lsns[i];
    return undefined;
  }

  /** Remembers an id journaled at `lsn` (logged with the next `persist`). */
  add(execId: string, lsn: number): void {
    this.#remember(execId, stampOf(this.#now()), lsn);
    if (execId === this.#aboveMax) {
      // Above every sequenced id known: when the highest id is one of those, this is the highest.
      if (this.#maxExecId === this.#maxSequenced) this.#maxExecId = execId;
      else this.#noteMax(execId);
      this.#maxSequenced = execId;
    } else this.#noteMax(execId);
    this.#aboveMax = undefined;
  }

  /**
   * Appends the ids added so far whose records are durable (LSN ≤ `durableLsn`) to the log,
   * chained: one write at a time, in order. An id is never logged ahead of its record: the log's
   * highest LSN is taken on open for one that was durable once.
   */
  persist(durableLsn: number, options: { sync?: boolean } = {}): Promise<void> {
    this.#chain = this.#chain
      .then(() => this.#write(durableLsn, options.sync === true))
      .catch((cause: unknown) => {
        // Reopening the log after a rewrite failed: shown, and the next batch tries again.
        this.#failure = asListenerError(cause, 'ERR_JOURNAL_WRITE', 'dedupe.log could not be reopened');
      });
    return this.#chain;
  }

  async close(durableLsn: number): Promise<void> {
    await this.persist(durableLsn, { sync: true });
    await this.#log?.close();
    this.#log = undefined;
  }

  /** The ids journaled at LSNs a..b that the log or the chunks name (recovery names lost records). */
  async idsBetween(a: number, b: number): Promise<string[]> {
    return (await this.entriesBetween(a, b)).map(([execId]) => execId);
  }

  /**
   * Like `idsBetween`, with each id's LSN: [execId, lsn] in LSN order, at most `limit` of them
   * (default 1,000,000). A range of tens of millions (every segment of a 72-hour window gone) is
   * named in part rather than held whole in memory, which would stop the start.
   */
  async entriesBetween(a: number, b: number, limit = 1_000_000): Promise<Array<[execId: string, lsn: number]>> {
    // A chunk and the log can both hold an id (a crash between a seal and the log's rewrite).
    const seen = new Set<number>();
    const found: Array<[execId: string, lsn: number]> = [];
    const take = (execId: string, lsn: number) => {
      if (lsn < a || lsn > b || seen.has(lsn)) return;
      seen.add(lsn);
      found.push([execId, lsn]);
    };
    for (const chunk of [...this.#chunks].sort((x, y) => x.minLsn - y.minLsn)) {
      if (chunk.maxLsn < a || chunk.minLsn > b) continue;
      if (found.length >= limit) break;
      for (const [execId, lsn] of await this.#readChunk(chunk)) take(execId, lsn);
    }
    for (const r of this.remembered) if (found.length < limit || r.lsn < found.at(-1)![1]) take(r.execId, r.lsn);
    return found.sort(([, x], [, y]) => x - y).slice(0, limit);
  }

  /** The id logged at the highest LSN below `lsn`, if the log or a chunk names one. */
  async lastIdBefore(lsn: number): Promise<string | undefined> {
    let best: { lsn: number; execId: string } | undefined;
    for (const r of this.remembered) if (r.lsn < lsn && (best === undefined || r.lsn > best.lsn)) best = r;
    if (best !== undefined) return best.execId;
    const chunk = this.#chunks.filter((c) => c.minLsn < lsn).sort((x, y) => y.minLsn - x.minLsn)[0];
    if (chunk === undefined) return undefined;
    for (const [execId, at] of await this.#readChunk(chunk))
      if (at < lsn && (best === undefined || at > best.lsn)) best = { lsn: at, execId };
    return best?.execId;
  }

  #remember(execId: string, stamp: number, lsn: number): void {
    this.#known.add(execId);
    this.#ids.push(execId);
    this.#stamps.push(stamp);
    this.#lsns.push(lsn);
  }

  #noteMax(execId: string): void {
    if (
      isSequencedExecId(execId) &&
      (this.#maxSequenced === undefined || compareExecIds(execId, this.#maxSequenced) > 0)
    )
      this.#maxSequenced = execId;
    if (execId.startsWith('noexecid:')) return;
    if (this.#maxExecId === undefined || compareExecIds(execId, this.#maxExecId) > 0) this.#maxExecId = execId;
  }

  #inChunks(execId: string): boolean {
    if (!isSequencedExecId(execId)) return this.#chunks.some((c) => c.others.includes(execId));
    if (this.#sealedHi === null || compareExecIds(execId, this.#sealedHi) > 0) return false;
    for (let i = this.#chunks.length - 1; i >= 0; i--) {
      const chunk = this.#chunks[i]!;
      if (chunk.lo === null || compareExecIds(execId, chunk.lo) < 0 || compareExecIds(execId, chunk.hi!) > 0) continue;
      if (this.#lookup(chunk, execId)) return true;
    }
    return false;
  }

  /**
   * Looks an id up in a chunk file. Synchronous because `has` is on the journal's synchronous
   * append path; only an id inside a sealed file's range gets here (a resend or replay of a report
   * older than the in-memory set), and the files last read stay loaded.
   */
  #lookup(chunk: Chunk, execId: string): boolean {
    let loaded = this.#loaded.find((l) => l.file === chunk.file);
    if (loaded === undefined) {
      const read = loadChunk(join(this.#dir, CHUNK_DIR, chunk.file), chunk.seal);
      if (typeof read === 'string') {
        this.#loseChunk(chunk, read);
        return false;
      }
      loaded = read;
      this.#loaded = [loaded, ...this.#loaded].slice(0, LOADED_CHUNKS);
    }
    const { bytes, starts } = loaded;
    let low = 0;
    let high = starts.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const order = compareLine(bytes, starts[mid]!, execId);
      if (order === 0) return true;
      if (order < 0) low = mid + 1;
      else high = mid - 1;
    }
    return false;
  }

  async #write(durableLsn: number, forceSync: boolean): Promise<void> {
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
    // Written only when it is synced too: a line on disk but not synced moves nothing.
    const syncDue = forceSync || performance.now() - this.#lastSyncAt >= this.#syncEveryMs;
    if (!syncDue) return;
    let end = this.#logged;
    while (end < this.#ids.length && this.#lsns[end]! <= durableLsn) end++;
    if (this.#log === undefined) return;
    const wrote = end > this.#logged;
    if (wrote) {
      let text = '';
      for (let i = this.#logged; i < end; i++)
        text += dedupeLogLine(msOfStamp(this.#stamps[i]!), this.#lsns[i]!, this.#ids[i]!);
      try {
        await this.#log.write(text);
      } catch (cause) {
        await this.#writeFailed(cause);
        return;
      }
      this.#logBytes += Buffer.byteLength(text, 'utf8');
      this.#logEntries += end - this.#logged;
      this.#writtenLsn = this.#lsns[end - 1]!;
      this.#logged = end;
    }
    const synced = this.#writtenLsn > this.#loggedLsn;
    if (synced) {
      try {
        await this.#log.datasync();
      } catch (cause) {
        await this.#writeFailed(cause);
        return;
      }
      this.#lastSyncAt = performance.now();
      this.#loggedLsn = this.#writtenLsn;
      this.#syncedBytes = this.#logBytes;
    }
    if (!wrote && !synced) return;
    this.#failure = undefined;
    const now = this.#now();
    this.#evictExpired(now);
    await this.#expireChunks(now);
    if (this.#logged - this.#head >= this.#chunkIds) await this.#seal();
    else if (this.#rewritePending || (this.#logEntries > 100_000 && this.#logEntries > 2 * this.#known.size))
      await this.#rewriteLog();
  }

  /**
   * A write or sync the disk refused: what was not synced is written again with the next batch,
   * after the log is cut back to its last synced size (a partial line would run into the next).
   */
  async #writeFailed(cause: unknown): Promise<void> {
    this.#failure = await spoolWriteFailure(this.#path, 'dedupe.log write failed; retrying with the next batch', cause);
    this.#cutPending = true;
    this.#logBytes = this.#syncedBytes;
    this.#writtenLsn = this.#loggedLsn;
    let logged = this.#head;
    while (logged < this.#ids.length && this.#lsns[logged]! <= this.#loggedLsn) logged++;
    this.#logged = logged;
  }

  /** Forgets logged in-memory ids older than the window (journal order is time order). */
  #evictExpired(now: number): void {
    const horizon = stampOf(now - this.#windowMs);
    while (this.#head < this.#logged && this.#stamps[this.#head]! < horizon) {
      this.#known.delete(this.#ids[this.#head]!);
      this.#head++;
    }
    this.#compactArrays();
  }

  #compactArrays(): void {
    if (this.#head < 4096 || this.#head * 2 < this.#ids.length) return;
    this.#ids = this.#ids.slice(this.#head);
    this.#stamps = this.#stamps.slice(this.#head);
    this.#lsns = this.#lsns.slice(this.#head);
    this.#logged -= this.#head;
    this.#head = 0;
  }

  /**
   * Moves the oldest logged in-memory ids into chunk files, `chunkIds` at a time, then rewrites
   * dedupe.log with what stays in memory. The chunk is in place before the log drops its ids: a
   * crash between the two leaves them in both, which `restore` reads once.
   */
  async #seal(): Promise<void> {
    while (this.#logged - this.#head >= this.#chunkIds) {
      const from = this.#head;
      const to = from + this.#chunkIds;
      const order = Array.from({ length: to - from }, (_, k) => from + k);
      const ids = this.#ids;
      order.sort((x, y) => (ids[x]! < ids[y]! ? -1 : ids[x]! > ids[y]! ? 1 : 0));
      const header = emptyHeader(0);
      let body = '';
      let previous: string | undefined;
      for (const i of order) {
        const execId = ids[i]!;
        if (execId === previous) continue;
        previous = execId;
        noteEntry(header, execId, this.#lsns[i]!);
        header.newest = Math.max(header.newest, msOfStamp(this.#stamps[i]!));
        body += `${execId}\t${this.#lsns[i]}\n`;
      }
      const file = `ids-${String(this.#chunkSeq + 1).padStart(10, '0')}.txt`;
      try {
        await mkdir(join(this.#dir, CHUNK_DIR), { recursive: true });
        await writeFileAtomic(join(this.#dir, CHUNK_DIR, file), chunkFile(header, body));
      } catch (cause) {
        // Kept in memory and in the log; sealing is tried again after the next batch.
        this.#failure = await spoolWriteFailure(join(this.#dir, CHUNK_DIR, file), 'dedupe chunk not written', cause);
        return;
      }
      this.#chunkSeq++;
      this.#addChunk({ file, ...header });
      for (let i = from; i < to; i++) this.#known.delete(ids[i]!);
      this.#head = to;
    }
    this.#compactArrays();
    await this.#rewriteLog();
  }

  /** Rewrites dedupe.log with the logged ids still in memory (the old log stays until then). */
  async #rewriteLog(): Promise<void> {
    let text = '';
    for (let i = this.#head; i < this.#logged; i++)
      text += dedupeLogLine(msOfStamp(this.#stamps[i]!), this.#lsns[i]!, this.#ids[i]!);
    try {
      await writeFileAtomic(this.#path, text);
    } catch (cause) {
      // The old log is still whole (a superset of what it needs); tried again after the next batch.
      this.#rewritePending = true;
      this.#failure = await spoolWriteFailure(this.#path, 'dedupe.log rewrite failed; the old log is kept', cause);
      return;
    }
    this.#rewritePending = false;
    await this.#log?.close();
    this.#log = await open(this.#path, 'a');
    this.#logEntries = this.#logged - this.#head;
    this.#logBytes = this.#syncedBytes = Buffer.byteLength(text, 'utf8');
    // The rewrite was synced whole: everything written so far is on disk.
    this.#loggedLsn = this.#writtenLsn;
  }

  #addChunk(chunk: Chunk): void {
    this.#chunks.push(chunk);
    this.#sealedCount += chunk.count;
    if (chunk.hi !== null && (this.#sealedHi === null || compareExecIds(chunk.hi, this.#sealedHi) > 0))
      this.#sealedHi = chunk.hi;
  }

  #dropChunk(chunk: Chunk): void {
    this.#chunks.splice(this.#chunks.indexOf(chunk), 1);
    this.#sealedCount -= chunk.count;
    this.#loaded = this.#loaded.filter((l) => l.file !== chunk.file);
    this.#sealedHi = null;
    for (const c of this.#chunks)
      if (c.hi !== null && (this.#sealedHi === null || compareExecIds(c.hi, this.#sealedHi) > 0)) this.#sealedHi = c.hi;
  }

  /** Deletes chunk files whose newest id has left the window. */
  async #expireChunks(now: number): Promise<void> {
    const horizon = now - this.#windowMs;
    for (const chunk of this.#chunks.filter((c) => c.newest < horizon)) {
      try {
        await unlink(join(this.#dir, CHUNK_DIR, chunk.file));
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') {
          // Remembering longer than the window is harmless; tried again after the next batch.
          this.#failure = asListenerError(cause, 'ERR_JOURNAL_WRITE', 'expired dedupe chunk not deleted');
          return;
        }
      }
      this.#dropChunk(chunk);
    }
  }

  /** Reads every chunk header; deletes expired chunks and temp files a crash left. */
  async #openChunks(horizon: number): Promise<void> {
    const dir = join(this.#dir, CHUNK_DIR);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new ListenerError('ERR_JOURNAL_READ', 'cannot list the dedupe chunks', { cause: error });
    }
    const chunks: Chunk[] = [];
    const seqs: number[] = [];
    for (const name of names.sort()) {
      const match = CHUNK_PATTERN.exec(name);
      if (match === null) {
        if (name.includes('.tmp-')) await this.#removeAtOpen(join(dir, name));
        continue;
      }
      this.#chunkSeq = Math.max(this.#chunkSeq, Number(match[1]));
      const previous = seqs.at(-1);
      seqs.push(Number(match[1]));
      // Chunks expire oldest first, so their numbers run without a gap: a gap is a deleted chunk.
      if (previous !== undefined && Number(match[1]) > previous + 1)
        this.#chunkDamage(`dedupe/ids-${previous + 1}..${Number(match[1]) - 1}`, 'missing (deleted by someone else)');
      let header: Omit<ChunkHeader, 'v'>;
      try {
        header = await readHeader(join(dir, name));
      } catch (cause) {
        const aside = `${name}.damaged-${this.#now()}`;
        await rename(join(dir, name), join(dir, aside)).catch(() => undefined);
        this.#chunkDamage(`dedupe/${name}`, `unreadable (${(cause as Error).message}); kept aside as ${aside}`);
        continue;
      }
      // An expired chunk that cannot be deleted is kept: remembering longer is harmless.
      if (header.newest >= horizon || !(await this.#removeAtOpen(join(dir, name))))
        chunks.push({ file: name, ...header });
    }
    for (const chunk of chunks) this.#addChunk(chunk);
  }

  /**
   * A chunk lost to damage or deletion: its ids are rebuilt from the segments that still hold
   * their records; those whose records are gone are forgotten, which only matters if the exchange
   * resends one (it would be journaled again). Reported, never fatal.
   */
  #chunkDamage(file: string, what: string): void {
    this.#rebuild = true;
    const damage: JournalDamage = {
      kind: 'index',
      segment: file,
      offset: 0,
      lsns: null,
      state: 'reported',
      note: `ExecID index chunk ${what}: its ids are rebuilt from the journal where it still holds their records; older ids of it are forgotten until the dedupe window passes them`,
    };
    this.damage.push(damage);
    if (this.#opened) this.#onDamage?.(damage);
  }

  /**
   * A chunk whose body is gone or not what its header sealed, found when it was read: set aside
   * (for a person to look at), dropped, reported. At open its ids are rebuilt from the segments
   * that hold them (restore reads those chunks first); found later, by a lookup, its records are
   * gone already and its ids are forgotten, as the report says.
   */
  #loseChunk(chunk: Chunk, what: string): void {
    const aside = `${chunk.file}.damaged-${this.#now()}`;
    try {
      renameSync(join(this.#dir, CHUNK_DIR, chunk.file), join(this.#dir, CHUNK_DIR, aside));
      what += `; kept aside as ${aside}`;
    } catch {
      // Gone already, or the folder refuses: the chunk is dropped all the same.
    }
    this.#dropChunk(chunk);
    this.#chunkDamage(`dedupe/${chunk.file}`, what);
  }

  /** Deletes a file open found left over; a refusal is shown (`failure`) and tried at the next open. */
  async #removeAtOpen(path: string): Promise<boolean> {
    try {
      await unlink(path);
      return true;
    } catch (cause) {
      this.#failure = asListenerError(cause, 'ERR_JOURNAL_WRITE', `cannot delete ${path} in the dedupe chunks`);
      return false;
    }
  }

  /** Rewrites (or deletes) the chunks holding ids whose records are gone. Rare: damage at open. */
  async #forgetInChunks(chunks: readonly Chunk[], isLost: (lsn: number) => boolean): Promise<void> {
    for (const chunk of chunks) {
      const entries = await this.#readChunk(chunk);
      if (!entries.some(([, lsn]) => isLost(lsn))) continue;
      const kept = entries.filter(([, lsn]) => !isLost(lsn));
      const path = join(this.#dir, CHUNK_DIR, chunk.file);
      this.#dropChunk(chunk);
      if (kept.length === 0) {
        await unlink(path);
        continue;
      }
      const header = emptyHeader(chunk.newest);
      for (const [execId, lsn] of kept) noteEntry(header, execId, lsn);
      await writeFileAtomic(path, chunkFile(header, kept.map(([e, l]) => `${e}\t${l}\n`).join('')));
      this.#addChunk({ file: chunk.file, ...header });
    }
  }

  /** A chunk's body as its header sealed it; undefined when its file is gone or not that (then lost: reported). */
  async #chunkBody(chunk: Chunk): Promise<Buffer | undefined> {
    let body: Buffer | undefined;
    try {
      body = sealedBody(await readFile(join(this.#dir, CHUNK_DIR, chunk.file)), chunk.seal);
    } catch (cause) {
      this.#loseChunk(chunk, `unreadable (${(cause as Error).message})`);
      return undefined;
    }
    if (body === undefined) this.#loseChunk(chunk, 'damaged (its ids do not match the checksum in its header)');
    return body;
  }

  /** A chunk's entries; none when its file is gone or not what its header sealed (then lost: reported). */
  async #readChunk(chunk: Chunk): Promise<Array<[string, number]>> {
    const body = await this.#chunkBody(chunk);
    if (body === undefined) return [];
    return body
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const tab = line.lastIndexOf('\t');
        return [line.slice(0, tab), Number(line.slice(tab + 1))];
      });
  }
}

async function readHeader(path: string): Promise<Omit<ChunkHeader, 'v'>> {
  const handle = await open(path, 'r');
  try {
    // Headers are small unless a chunk holds many non-sequenced ids: read until the first newline.
    let size = 4096;
    for (;;) {
      const buffer = Buffer.alloc(size);
      const { bytesRead } = await handle.read(buffer, 0, size, 0);
      const newline = buffer.subarray(0, bytesRead).indexOf(10);
      if (newline >= 0) return parseHeader(buffer.subarray(0, newline + 1));
      if (bytesRead < size) throw new Error('dedupe chunk header has no end');
      size *= 4;
    }
  } catch (cause) {
    throw new ListenerError('ERR_JOURNAL_READ', `cannot read the dedupe chunk ${path}: ${(cause as Error).message}`, {
      cause,
    });
  } finally {
    await handle.close();
  }
}

/** A chunk read for lookups, or why it cannot be (gone, or not what its header sealed). */
function loadChunk(path: string, seal: BodySeal): LoadedChunk | string {
  let bytes: Buffer;
  try {
    // Kept as bytes: turning 2 MB into a string cost as much again as reading it.
    bytes = readFileSync(path);
  } catch (cause) {
    return `unreadable (${(cause as Error).message})`;
  }
  if (sealedBody(bytes, seal) === undefined) return 'damaged (its ids do not match the checksum in its header)';
  const last = bytes.length - 1;
  let lines = 0;
  for (let i = bytes.indexOf(10); i >= 0 && i < last; i = bytes.indexOf(10, i + 1)) lines++;
  const starts = new Int32Array(lines);
  let n = 0;
  for (let i = bytes.indexOf(10); i >= 0 && i < last; i = bytes.indexOf(10, i + 1)) starts[n++] = i + 1;
  return { file: path.slice(path.lastIndexOf('/') + 1), bytes, starts };
}

/**
 * Compares the id of the line at `start` (up to its tab) with `execId`, as `<` orders strings.
 * Byte for char: only sequenced ids (digits, `;`, `-`) are looked up here; any other id is found
 * in its chunk's header (`others`). Byte order and string order agree on where an ASCII id falls.
 */
function compareLine(bytes: Buffer, start: number, execId: string): number {
  for (let k = 0; ; k++) {
    const c = bytes[start + k]!;
    const lineEnded = c === 9;
    if (k === execId.length) return lineEnded ? 0 : 1;
    if (lineEnded) return -1;
    const d = c - execId.charCodeAt(k);
    if (d !== 0) return d;
  }
}

// The in-memory ids are kept with a stamp: whole seconds since 2020, a small integer V8 stores in
// the array itself. Epoch milliseconds would be a separate 16-byte heap number per id.
// dedupe.log keeps milliseconds.
const STAMP_EPOCH_MS = Date.UTC(2020, 0, 1);

function stampOf(epochMs: number): number {
  return Math.floor((epochMs - STAMP_EPOCH_MS) / 1000);
}

function msOfStamp(stamp: number): number {
  return STAMP_EPOCH_MS + stamp * 1000;
}

/**
 * A line of dedupe.log: when the id was journaled (ms), its LSN, the ExecID, and the CRC32 (hex)
 * of those three as written, tab-separated. A changed digit of an LSN or an id must not be taken
 * for another id: it would make a real resend a new report, or a new report a duplicate.
 */
export function dedupeLogLine(at: number, lsn: number, execId: string): string {
  const fields = `${at}\t${lsn}\t${execId}`;
  return `${fields}\t${checksum(fields)}\n`;
}

/**
 * A dedupe.log line read back, or undefined when it is not one this version wrote whole: a
 * checksum that does not match, a shape that does not read, an LSN of 0 (as no release wrote).
 */
function parseIdLine(line: string): RememberedId | undefined {
  const tab1 = line.indexOf('\t');
  const tab2 = tab1 < 0 ? -1 : line.indexOf('\t', tab1 + 1);
  const last = line.lastIndexOf('\t');
  if (tab1 <= 0 || tab2 < 0 || last <= tab2 + 1 || line.length - last !== 9) return undefined;
  const fields = line.slice(0, last);
  if (checksum(fields) !== line.slice(last + 1)) return undefined;
  const at = Number(line.slice(0, tab1));
  const lsn = Number(line.slice(tab1 + 1, tab2));
  if (!Number.isSafeInteger(lsn) || lsn < 1 || !Number.isFinite(at)) return undefined;
  return { at, lsn, execId: line.slice(tab2 + 1, last) };
}

/** A chunk header before any entry is noted. */
function emptyHeader(newest: number): ChunkHeader {
  return {
    v: 2,
    count: 0,
    minLsn: Number.MAX_SAFE_INTEGER,
    maxLsn: 0,
    newest,
    lo: null,
    hi: null,
    others: [],
    seal: { bytes: 0, crc: 0 },
  };
}

/** A chunk file's bytes: the header, sealed over `body` (which it is given), as a checked line, then the body. */
function chunkFile(header: ChunkHeader, body: string): Buffer {
  const bytes = Buffer.from(body, 'utf8');
  header.seal = { bytes: bytes.length, crc: crc32(bytes) };
  return Buffer.concat([encodeLine(JSON.stringify(header)), bytes]);
}

/** The header line of a chunk file's first bytes (through its newline), or why it is not one. */
function parseHeader(line: Buffer): Omit<ChunkHeader, 'v'> {
  const scanned = scanLines(line).lines[0];
  if (scanned?.value === undefined) throw new Error(`dedupe chunk header ${scanned?.fault ?? 'unparsable'}`);
  const { v, ...header } = scanned.value as ChunkHeader;
  if (v !== 2) throw new Error(`unknown dedupe chunk version ${String(v)}`);
  if (header.minLsn < 1) throw new Error(`dedupe chunk holds LSN ${header.minLsn}`);
  return header;
}

/** The body of a chunk file's bytes, when it is the one its header sealed; undefined when not. */
function sealedBody(bytes: Buffer, seal: BodySeal): Buffer | undefined {
  const body = bytes.subarray(bytes.indexOf(10) + 1);
  return body.length === seal.bytes && crc32(body) === seal.crc ? body : undefined;
}

/** Counts one entry of a chunk (distinct ids, in string order) into its header. */
function noteEntry(header: ChunkHeader, execId: string, lsn: number): void {
  header.count++;
  if (lsn < header.minLsn) header.minLsn = lsn;
  if (lsn > header.maxLsn) header.maxLsn = lsn;
  if (!isSequencedExecId(execId)) header.others.push(execId);
  else {
    if (header.lo === null || compareExecIds(execId, header.lo) < 0) header.lo = execId;
    if (header.hi === null || compareExecIds(execId, header.hi) > 0) header.hi = execId;
  }
}

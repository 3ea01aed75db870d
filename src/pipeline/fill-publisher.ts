import { createHash } from 'node:crypto';
import { Backoff, type BackoffPolicy } from '../core/backoff.js';
import { HeadQueue } from '../core/head-queue.js';
import { isFillLine } from '../core/record.js';
import type { FillQueue, QueueMessage, QueueSendFailure } from '../sinks/types.js';
import { ConsumerLoop } from './consumer-loop.js';
import type { Journal, JournalEntry } from './journal.js';
import type { SinkStatus } from '../core/status.js';

export interface FillPublisherOptions {
  journal: Journal;
  queue: FillQueue;
  /** Batches in flight at once (default 4); a message group is never in two of them. */
  maxInFlight?: number;
  /**
   * While another batch is in flight, a part-full batch may wait up to this long for more fills
   * (default 0: a fill goes out as soon as a slot is free; once every slot is busy, batches fill
   * up by themselves). A few ms trades latency for fewer requests.
   */
  lingerMs?: number;
  /** Fills read ahead of the queue before reading from the journal pauses (memory bound). */
  maxWaiting?: number;
  retry?: BackoffPolicy;
  now?: () => number;
  onEvent?: (event: FillEvent) => void;
}

export type FillEvent =
  | { kind: 'sent'; count: number; lastLsn: number }
  | { kind: 'send_failed'; count: number; retryInMs: number; error: Error | QueueSendFailure };

interface Pending {
  lsn: number;
  group: string;
  message: QueueMessage;
  bytes: number;
  notBefore: number;
  readAt: number;
  /** In a batch in flight or done; skipped until the head passes it. */
  taken: boolean;
}

const SINK = 'fills';
const CURSOR_SAVE_MS = 100;

/**
 * Sends every ExecType=F record to the queue, in journal order within each message group
 * (the symbol), with `MessageDeduplicationId = exec_id` on FIFO queues. The cursor advances only
 * past records whose send succeeded (or that are not fills); a restart resends at most the last
 * unsaved interval, which the FIFO deduplication window (5 min) absorbs.
 */
export class FillPublisher {
  readonly #o: FillPublisherOptions;
  readonly #maxInFlight: number;
  readonly #lingerMs: number;
  readonly #maxWaiting: number;
  readonly #now: () => number;
  readonly #backoff: Backoff;
  readonly #status: SinkStatus;
  /**
   * Fills not yet sent, in LSN order. Entries taken into a batch are flagged and
   * dropped when the head passes them, so a batch costs its own size, not the length of the list.
   */
  #waiting = new HeadQueue<Pending>();
  #waitingCount = 0;
  readonly #lockedGroups = new Set<string>();
  /** LSNs above `through` already handled, waiting for the ones below them. */
  readonly #done = new Set<number>();
  #through = 0;
  #readLsn = 0;
  #inFlight = 0;
  #inFlightBatches = new Set<Promise<void>>();
  readonly #loop: ConsumerLoop;
  #lastSavedThrough = 0;
  #lastSaveAt = 0;
  #sent = 0;

  constructor(options: FillPublisherOptions) {
    this.#o = options;
    this.#maxInFlight = options.maxInFlight ?? 4;
    this.#lingerMs = options.lingerMs ?? 0;
    this.#maxWaiting = options.maxWaiting ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#backoff = new Backoff({ initialMs: 200, maxMs: 30_000, floorMs: 50, ...options.retry });
    this.#loop = new ConsumerLoop({ journal: options.journal, tickMs: 250, body: () => this.#run() });
    this.#status = {
      name: SINK,
      location: options.queue.location,
      lastSuccessAt: undefined,
      lastError: undefined,
      consecutiveFailures: 0,
      lagSeconds: 0,
      pendingRecords: 0,
    };
  }

  get sent(): number {
    return this.#sent;
  }

  async start(): Promise<void> {
    const saved = await this.#o.journal.loadCursor<{ through: number }>(SINK);
    this.#through = this.#readLsn = this.#lastSavedThrough = saved?.through ?? this.#o.journal.firstLsn - 1;
    this.#loop.start();
  }

  /** Sends what is already journaled (one attempt per batch), saves the cursor and stops. */
  async stop(options: { drainMs?: number } = {}): Promise<void> {
    const deadline = this.#now() + (options.drainMs ?? 5000);
    while (
      this.#now() < deadline &&
      (this.#readLsn < this.#o.journal.durableLsn || this.#waitingCount > 0 || this.#inFlight > 0)
    ) {
      this.#loop.wake();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await this.#loop.stop();
    await Promise.all(this.#inFlightBatches);
    await this.#saveCursor(true);
  }

  status(): SinkStatus {
    const oldest = this.#waitingCount > 0 ? this.#waiting.peek() : undefined;
    const unread = this.#o.journal.durableLsn - this.#readLsn;
    return {
      ...this.#status,
      pendingRecords: this.#waitingCount + unread,
      lagSeconds: oldest === undefined ? 0 : Math.max(0, (this.#now() - oldest.readAt) / 1000),
    };
  }

  async #run(): Promise<void> {
    while (this.#loop.running) {
      let progressed = await this.#read();
      progressed = this.#dispatch() || progressed;
      await this.#saveCursor(false);
      if (!this.#loop.running) break;
      if (!progressed) {
        const nextDue = this.#nextUnlocked();
        const waitMs =
          nextDue === undefined
            ? undefined
            : Math.max(1, nextDue.notBefore - this.#now(), this.#inFlight > 0 ? this.#lingerMs : 0);
        await this.#loop.sleep(waitMs);
      }
    }
  }

  async #read(): Promise<boolean> {
    if (this.#waitingCount >= this.#maxWaiting || this.#done.size > 10 * this.#maxWaiting) return false;
    const entries = await this.#o.journal.read(this.#readLsn, 1000);
    if (entries.length === 0) return false;
    const now = this.#now();
    for (const entry of entries) {
      if (isFillLine(entry.line)) {
        this.#waiting.push(this.#toPending(entry, now));
        this.#waitingCount++;
      } else this.#markDone(entry.lsn);
    }
    this.#readLsn = entries.at(-1)!.lsn;
    return true;
  }

  #toPending(entry: JournalEntry, now: number): Pending {
    const record = entry.record;
    const group = record.symbol ?? 'UNKNOWN';
    let body = entry.line;
    let bytes = Buffer.byteLength(body);
    // A fill message too big for the queue keeps every key but `raw`; the archive still has it.
    if (bytes > this.#o.queue.maxBatchBytes - 1024) {
      body = JSON.stringify({ ...record, raw: null });
      bytes = Buffer.byteLength(body);
    }
    const message: QueueMessage = {
      id: `e${entry.lsn}`,
      body,
      attributes: {
        exec_id: { type: 'String', value: record.exec_id },
        symbol: { type: 'String', value: group },
        schema_version: { type: 'Number', value: String(record.schema_version) },
      },
    };
    if (this.#o.queue.fifo) {
      message.groupId = group;
      message.deduplicationId = deduplicationId(record.exec_id);
    }
    return { lsn: entry.lsn, group, message, bytes: bytes + 256, notBefore: 0, readAt: now, taken: false };
  }

  /** Starts as many batches as slots allow. True when one started. */
  #dispatch(): boolean {
    let started = false;
    const now = this.#now();
    const maxBatch = this.#o.queue.maxBatchEntries;
    while (this.#inFlight < this.#maxInFlight && this.#waitingCount > 0) {
      const batch: Pending[] = [];
      const blocked = new Set<string>();
      let bytes = 0;
      for (let i = 0; i < this.#waiting.length; i++) {
        const pending = this.#waiting.at(i)!;
        if (pending.taken) continue;
        if (batch.length === maxBatch) break;
        // A group stays in order: once one of its messages cannot go, none after it may.
        if (blocked.has(pending.group) || this.#lockedGroups.has(pending.group) || pending.notBefore > now) {
          blocked.add(pending.group);
          continue;
        }
        if (bytes + pending.bytes > this.#o.queue.maxBatchBytes && batch.length > 0) break;
        batch.push(pending);
        bytes += pending.bytes;
      }
      if (batch.length === 0) break;
      const lingering = batch.length < maxBatch && this.#inFlight > 0 && now - batch[0]!.readAt < this.#lingerMs;
      if (lingering) break;
      for (const p of batch) {
        p.taken = true;
        this.#lockedGroups.add(p.group);
      }
      this.#waitingCount -= batch.length;
      this.#advanceHead();
      this.#inFlight++;
      const flight = this.#send(batch).finally(() => {
        this.#inFlight--;
        this.#inFlightBatches.delete(flight);
        for (const p of batch) this.#lockedGroups.delete(p.group);
        this.#loop.wake();
      });
      this.#inFlightBatches.add(flight);
      started = true;
    }
    return started;
  }

  async #send(batch: Pending[]): Promise<void> {
    let failures: QueueSendFailure[];
    try {
      failures = await this.#o.queue.sendBatch(batch.map((p) => p.message));
    } catch (cause) {
      this.#retry(batch, cause instanceof Error ? cause : new Error(String(cause)));
      return;
    }
    const failedIds = new Set(failures.map((f) => f.id));
    // Later messages of a group whose earlier message failed go back with it, to keep the order.
    const failedGroups = new Set<string>();
    const retry: Pending[] = [];
    for (const p of batch) {
      if (failedIds.has(p.message.id) || failedGroups.has(p.group)) {
        failedGroups.add(p.group);
        retry.push(p);
      } else {
        this.#markDone(p.lsn);
      }
    }
    const succeeded = batch.length - retry.length;
    if (succeeded > 0) {
      this.#sent += succeeded;
      this.#status.lastSuccessAt = this.#now();
      this.#o.onEvent?.({ kind: 'sent', count: succeeded, lastLsn: batch.at(-1)!.lsn });
    }
    if (retry.length > 0) this.#retry(retry, failures[0]!);
    else {
      this.#status.consecutiveFailures = 0;
      this.#backoff.reset();
    }
  }

  #retry(entries: Pending[], error: Error | QueueSendFailure): void {
    this.#status.consecutiveFailures++;
    this.#status.lastError = {
      message: error instanceof Error ? error.message : `${error.code}: ${error.message}`,
      at: this.#now(),
    };
    const retryInMs = this.#backoff.next();
    const notBefore = this.#now() + retryInMs;
    // Back in LSN order, ahead of anything newer. The retried entries are still in the list,
    // flagged as taken: collect the rest before clearing their flags.
    const rest: Pending[] = [];
    for (let i = 0; i < this.#waiting.length; i++) {
      const pending = this.#waiting.at(i)!;
      if (!pending.taken) rest.push(pending);
    }
    for (const p of entries) {
      p.notBefore = notBefore;
      p.taken = false;
    }
    this.#waiting = new HeadQueue([...entries, ...rest].sort((a, b) => a.lsn - b.lsn));
    this.#waitingCount = this.#waiting.length;
    this.#o.onEvent?.({ kind: 'send_failed', count: entries.length, retryInMs, error });
  }

  #advanceHead(): void {
    while (this.#waiting.length > 0 && this.#waiting.peek()!.taken) this.#waiting.shift();
  }

  #nextUnlocked(): Pending | undefined {
    for (let i = 0; i < this.#waiting.length; i++) {
      const p = this.#waiting.at(i)!;
      if (!p.taken && !this.#lockedGroups.has(p.group)) return p;
    }
    return undefined;
  }

  #markDone(lsn: number): void {
    if (lsn !== this.#through + 1) {
      this.#done.add(lsn);
      return;
    }
    this.#through = lsn;
    while (this.#done.delete(this.#through + 1)) this.#through++;
  }

  async #saveCursor(force: boolean): Promise<void> {
    if (this.#through === this.#lastSavedThrough) return;
    if (!force && this.#now() - this.#lastSaveAt < CURSOR_SAVE_MS) return;
    this.#lastSaveAt = this.#now();
    const through = this.#through;
    await this.#o.journal.saveCursor(SINK, { through });
    this.#lastSavedThrough = through;
  }
}

/** SQS allows 128 characters of alphanumerics and punctuation; longer or odder ids are hashed. */
export function deduplicationId(execId: string): string {
  return execId.length <= 128 && /^[\x21-\x7e]+$/.test(execId)
    ? execId
    : createHash('sha256').update(execId).digest('hex');
}

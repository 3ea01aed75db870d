import { Backoff, type BackoffPolicy } from '../core/backoff.js';
import { systemClock, type Clock } from '../core/clock.js';
import { isListenerError, ListenerError } from '../core/errors.js';
import { isFillLine } from '../core/record.js';
import type { FillQueue, QueueMessage, QueueSendFailure } from '../sinks/types.js';
import { ConsumerLoop } from './consumer-loop.js';
import type { DeadLetterBox } from './dead-letters.js';
import { FillLanes } from './fill-lanes.js';
import { stringOfLine } from '../core/record.js';
import { fillQueueMessage } from './fill-message.js';
import type { Journal, JournalEntry } from './journal.js';
import type { FillView, SinkStatus } from '../core/status.js';

export interface FillPublisherOptions {
  journal: Journal;
  queue: FillQueue;
  /** Where a fill the queue can never accept is parked, so its message group moves on. */
  deadLetters: DeadLetterBox;
  /** Batches in flight at once (default 4); a message group is never in two of them. */
  maxInFlight?: number;
  /**
   * While another batch is in flight, a part-full batch may wait up to this long for more fills
   * (default 0: a fill goes out as soon as a slot is free; once every slot is busy, batches fill
   * up by themselves). A few ms trades latency for fewer requests.
   */
  lingerMs?: number;
  /**
   * A part-full batch waits up to this long from its oldest fill's read for more fills, even with
   * nothing in flight (FILLS_BATCH_WAIT_MS; default 0). Each SendMessageBatch is a billed request
   * whether it holds one fill or ten: at 10 fills/s, 250 ms gathers ~3.5 a request. A stop sends
   * what waits at once.
   */
  batchWaitMs?: number;
  /** Fills read ahead of the queue before reading from the journal pauses (memory bound). */
  maxWaiting?: number;
  /** LISTENER_NAME: a `listener` attribute on every fill, and message groups `listener:symbol`. */
  listener?: string;
  retry?: BackoffPolicy;
  /** Linger, back-off and cursor-save waits, the stop deadline, and the readings (default: the real clock). */
  clock?: Clock;
  onEvent?: (event: FillEvent) => void;
  /** The writer's loop failed (a cursor it cannot save, a journal it cannot read): it has stopped. */
  onFailure?: (error: ListenerError) => void;
}

export type FillEvent =
  | { kind: 'sent'; count: number; lastLsn: number }
  | { kind: 'send_failed'; count: number; retryInMs: number; error: Error | QueueSendFailure }
  | { kind: 'shrunk'; execId: string; lsn: number; shrunk: string; bytes: number }
  | { kind: 'dead_lettered'; execId: string; lsn: number; code: string; reason: string; path: string }
  | { kind: 'dead_letter_copy_failed'; execId: string; error: Error }
  | { kind: 'spool_refused'; retryInMs: number; attempt: number; error: ListenerError };

interface Pending {
  lsn: number;
  execId: string;
  group: string;
  message: QueueMessage;
  bytes: number;
  notBefore: number;
  readAt: number;
  /** Goes in a batch of its own: the queue refused a batch holding it without saying which entry. */
  solo: boolean;
  /** Refused before sending (too large even shrunk): parked instead. */
  refusal: ListenerError | undefined;
  /** What the status page shows once the queue has taken it (sentAt set then). */
  view: FillView;
}

/** How many of the last fills sent `recentFills()` keeps. */
export const RECENT_FILLS = 20;

const SINK = 'fills';
// The cursor is saved at most once a second (two atomic files each time: on EFS that is the
// bill): a crash resends at most the fills of that second, which the FIFO queue's deduplication
// id (and a consumer's exec_id check beyond its window) absorbs.
const CURSOR_SAVE_MS = 1000;

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
  readonly #batchWaitMs: number;
  /** When the part-full batch held back by the last dispatch may wait no longer. */
  #holdUntil: number | undefined;
  /** Set by stop(): nothing is held back any more. */
  #draining = false;
  readonly #maxWaiting: number;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #status: SinkStatus;
  /**
   * Fills not yet sent, by message group, with the groups that can go kept apart from those
   * waiting on a batch in flight or a back-off: a dispatch costs the batch it starts, however
   * many fills wait behind busy groups (a scan of one LSN-ordered list cost the whole backlog).
   */
  readonly #waiting = new FillLanes<Pending>({
    // A suspect fill travels alone, so a refusal names it; its group waits behind it.
    alone: (p) => p.solo || p.refusal !== undefined,
  });
  /** LSNs above `through` already handled, waiting for the ones below them. */
  readonly #done = new Set<number>();
  /** Ranges with no entries (lost to journal damage), in order, waiting for `through` to reach them. */
  readonly #gaps: Array<[number, number]> = [];
  #through = 0;
  #readLsn = 0;
  #inFlight = 0;
  #inFlightBatches = new Set<Promise<void>>();
  readonly #loop: ConsumerLoop;
  #lastSavedThrough = 0;
  #saveOwed = false;
  #lastSaveAt = 0;
  #sent = 0;
  /** A stop waiting for the loop's next step (a read, a batch started or settled). */
  #onStep: (() => void) | undefined;
  /** The last RECENT_FILLS fills the queue took, oldest first (a small ring: fills are few). */
  readonly #recent: FillView[] = [];

  constructor(options: FillPublisherOptions) {
    this.#o = options;
    this.#maxInFlight = options.maxInFlight ?? 4;
    this.#lingerMs = options.lingerMs ?? 0;
    this.#batchWaitMs = options.batchWaitMs ?? 0;
    this.#maxWaiting = options.maxWaiting ?? 10_000;
    this.#clock = options.clock ?? systemClock;
    this.#backoff = new Backoff({ initialMs: 200, maxMs: 30_000, floorMs: 50, ...options.retry });
    this.#loop = new ConsumerLoop({
      journal: options.journal,
      // A safety net only: retries and the owed cursor save set their own wake-ups.
      tickMs: 1000,
      body: () => this.#run(),
      sink: { name: SINK, location: options.queue.location },
      onFailure: options.onFailure,
      onRetry: (error, retryInMs, attempt) => options.onEvent?.({ kind: 'spool_refused', retryInMs, attempt, error }),
      clock: this.#clock,
    });
    this.#status = this.#loop.status;
  }

  get sent(): number {
    return this.#sent;
  }

  /** The last fills the queue took, newest first. */
  recentFills(): FillView[] {
    return this.#recent.slice().reverse();
  }

  async start(): Promise<void> {
    const saved = await this.#o.journal.loadCursor<{ through: number }>(SINK);
    this.#through = this.#readLsn = this.#lastSavedThrough = saved?.through ?? this.#o.journal.firstLsn - 1;
    this.#loop.start();
  }

  /** Sends what is already journaled (one attempt per batch), saves the cursor and stops. */
  async stop(options: { drainMs?: number } = {}): Promise<void> {
    const deadline = this.#clock.now() + (options.drainMs ?? 5000);
    this.#draining = true;
    while (
      this.#clock.now() < deadline &&
      (this.#readLsn < this.#o.journal.durableLsn || this.#waiting.size > 0 || this.#inFlight > 0)
    ) {
      this.#loop.wake();
      await this.#nextStep();
    }
    await this.#loop.stop();
    await Promise.all(this.#inFlightBatches);
    await this.#saveCursor(true);
  }

  /**
   * Resolves at the loop's next step, or 10 ms on the same clock as the drain's deadline (so a
   * test's clock ends the drain), whichever is first: a drain ends as soon as it is done, not at a
   * poll's next turn.
   */
  #nextStep(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#onStep = undefined;
        resolve();
      }, 10);
      this.#onStep = () => {
        this.#onStep = undefined;
        this.#clock.clearTimeout(timer);
        resolve();
      };
    });
  }

  status(): SinkStatus {
    const oldest = this.#waiting.oldest();
    const unread = this.#o.journal.durableLsn - this.#readLsn;
    return {
      ...this.#status,
      pendingRecords: this.#waiting.size + unread,
      deadLetters: this.#o.deadLetters.count(SINK),
      lagSeconds: oldest === undefined ? 0 : Math.max(0, (this.#clock.now() - oldest.readAt) / 1000),
    };
  }

  async #run(): Promise<void> {
    while (this.#loop.running) {
      // A cursor the disk refused is saved before anything more is sent: a restart must never
      // resend more than one save interval (the FIFO deduplication window absorbs that much).
      if (this.#saveOwed) await this.#saveCursor(true);
      let progressed = await this.#read();
      progressed = this.#dispatch() || progressed;
      await this.#saveCursor(false);
      if (progressed) this.#onStep?.();
      if (!this.#loop.running) break;
      if (!progressed) {
        // Every slot busy: the batch that settles first wakes the loop; a timer would only poll.
        const nextDue = this.#inFlight >= this.#maxInFlight ? undefined : this.#waiting.nextDueAt();
        let waitMs =
          nextDue === undefined
            ? undefined
            : Math.max(1, nextDue - this.#clock.now(), this.#inFlight > 0 ? this.#lingerMs : 0);
        // A batch held back for more fills goes when its wait is over (or a retry falls due first).
        if (this.#holdUntil !== undefined) {
          const now = this.#clock.now();
          const holdMs = Math.max(1, this.#holdUntil - now);
          waitMs = nextDue === undefined || nextDue <= now ? holdMs : Math.min(holdMs, nextDue - now);
        }
        // A position not saved yet is saved when due, not at the next report or tick.
        if (this.#through !== this.#lastSavedThrough) {
          const saveInMs = Math.max(1, this.#lastSaveAt + CURSOR_SAVE_MS - this.#clock.now());
          waitMs = waitMs === undefined ? saveInMs : Math.min(waitMs, saveInMs);
        }
        await this.#loop.sleep(waitMs);
      }
    }
  }

  async #read(): Promise<boolean> {
    if (this.#waiting.size >= this.#maxWaiting || this.#done.size > 10 * this.#maxWaiting) return false;
    const entries = await this.#o.journal.read(this.#readLsn, 1000);
    if (entries.length === 0) {
      // A lost tail (reported by the journal) holds nothing to send: passed, not awaited.
      const past = this.#o.journal.vacantThrough(this.#readLsn);
      if (past === this.#readLsn) return false;
      this.#markGap(this.#readLsn + 1, past);
      this.#readLsn = past;
      return true;
    }
    const now = this.#clock.now();
    let expected = this.#readLsn + 1;
    for (const entry of entries) {
      // LSNs the journal lost to damage (reported there) hold nothing to send: passed, not awaited.
      if (entry.lsn > expected) this.#markGap(expected, entry.lsn - 1);
      expected = entry.lsn + 1;
      // A fill published before the journal lost it, brought back by a resend: not sent twice.
      if (isFillLine(entry.bytes) && !this.#o.journal.delivered(SINK, entry))
        this.#waiting.add(this.#toPending(entry, now), now);
      else this.#markDone(entry.lsn);
    }
    this.#readLsn = entries.at(-1)!.lsn;
    return true;
  }

  #toPending(entry: JournalEntry, now: number): Pending {
    const line = entry.line;
    // The record is parsed only for a fill too large for the queue as it is (it must shrink).
    const { message, fitted, limit, group, execId } = fillQueueMessage(
      line,
      () => entry.record,
      this.#o.queue,
      `e${entry.lsn}`,
      this.#o.listener,
    );
    if (fitted?.shrunk !== undefined) {
      this.#o.onEvent?.({
        kind: 'shrunk',
        execId,
        lsn: entry.lsn,
        shrunk: fitted.shrunk,
        bytes: fitted.bytes,
      });
    }
    const refusal =
      fitted === undefined
        ? new ListenerError(
            'ERR_SQS_MESSAGE_TOO_LARGE',
            `fill is over the queue's ${limit} bytes even without raw and with Text cut`,
            { details: { execId, bytes: Buffer.byteLength(line) } },
          )
        : undefined;
    return {
      lsn: entry.lsn,
      execId,
      group,
      message,
      bytes: (fitted?.bytes ?? limit) + 256,
      notBefore: 0,
      readAt: now,
      solo: false,
      refusal,
      view: {
        execId,
        symbol: stringOfLine(line, 'symbol'),
        side: stringOfLine(line, 'side'),
        lastPx: stringOfLine(line, 'last_px'),
        lastQty: stringOfLine(line, 'last_qty'),
        receivedAt: stringOfLine(line, 'received_at')!,
        sentAt: 0,
      },
    };
  }

  /** Starts as many batches as slots allow. True when one started. */
  #dispatch(): boolean {
    let started = false;
    const now = this.#clock.now();
    const maxBatch = this.#o.queue.maxBatchEntries;
    this.#holdUntil = undefined;
    while (this.#inFlight < this.#maxInFlight && this.#waiting.size > 0) {
      const batch = this.#waiting.gather(now, maxBatch, this.#o.queue.maxBatchBytes);
      if (batch === undefined) break;
      const waitMs = this.#draining
        ? 0
        : this.#inFlight > 0
          ? Math.max(this.#lingerMs, this.#batchWaitMs)
          : this.#batchWaitMs;
      if (batch.length < maxBatch && now - batch[0]!.readAt < waitMs) {
        this.#waiting.cancel();
        this.#holdUntil = batch[0]!.readAt + waitMs;
        break;
      }
      this.#waiting.commit();
      this.#inFlight++;
      const flight = this.#send(batch).finally(() => {
        this.#inFlight--;
        this.#inFlightBatches.delete(flight);
        this.#waiting.release(batch, this.#clock.now());
        this.#loop.wake();
        this.#onStep?.();
      });
      this.#inFlightBatches.add(flight);
      started = true;
    }
    return started;
  }

  async #send(batch: Pending[]): Promise<void> {
    const refusal = batch[0]!.refusal;
    if (refusal !== undefined) return this.#deadLetter(batch[0]!, refusal.code, refusal.message);
    let failures: QueueSendFailure[];
    try {
      failures = await this.#o.queue.sendBatch(batch.map((p) => p.message));
    } catch (cause) {
      const error = cause instanceof Error ? cause : new Error(String(cause));
      if (!isListenerError(error, 'ERR_SQS_MESSAGE_REFUSED')) return this.#retry(batch, error);
      // The queue refused the request for its content without naming an entry: alone, each is
      // either sent or named.
      if (batch.length === 1) return this.#deadLetter(batch[0]!, error.code, error.message);
      for (const p of batch) p.solo = true;
      return this.#retry(batch, error);
    }
    const byId = new Map(failures.map((f) => [f.id, f]));
    // Later messages of a group whose earlier message failed go back with it, to keep the order.
    // A message the queue can never take (sender fault) is parked instead: nothing waits for it.
    const failedGroups = new Set<string>();
    const retry: Pending[] = [];
    const refused: Array<[Pending, QueueSendFailure]> = [];
    let transient: QueueSendFailure | undefined;
    const sentAt = this.#clock.now();
    for (const p of batch) {
      const failure = byId.get(p.message.id);
      if (failure?.senderFault === true) refused.push([p, failure]);
      else if (failure !== undefined || failedGroups.has(p.group)) {
        failedGroups.add(p.group);
        retry.push(p);
        transient ??= failure;
      } else {
        this.#markDone(p.lsn);
        p.view.sentAt = sentAt;
        if (this.#recent.push(p.view) > RECENT_FILLS) this.#recent.shift();
      }
    }
    const succeeded = batch.length - retry.length - refused.length;
    if (succeeded > 0) {
      this.#sent += succeeded;
      this.#status.lastSuccessAt = this.#clock.now();
      this.#o.onEvent?.({ kind: 'sent', count: succeeded, lastLsn: batch.at(-1)!.lsn });
    }
    for (const [p, f] of refused) await this.#deadLetter(p, 'ERR_SQS_MESSAGE_REFUSED', `${f.code}: ${f.message}`);
    if (retry.length > 0) this.#retry(retry, transient!);
    else if (refused.length === 0) {
      this.#status.consecutiveFailures = 0;
      this.#backoff.reset();
    }
  }

  /** Parks a fill the queue can never accept, and moves past it. */
  async #deadLetter(p: Pending, code: string, reason: string): Promise<void> {
    try {
      await this.#o.deadLetters.park({ sink: SINK, lsn: p.lsn, execId: p.execId, code, reason, body: p.message.body });
    } catch (cause) {
      // Not parked, so not passed: it is retried (and refused, and parked) once the spool takes writes.
      this.#retry(
        [p],
        new ListenerError('ERR_DEAD_LETTER_WRITE', `cannot park fill ${p.execId} in the dead letters`, { cause }),
      );
      return;
    }
    this.#status.lastError = { code, message: `${p.execId} parked in dead letters: ${reason}`, at: this.#clock.now() };
    this.#markDone(p.lsn);
    this.#o.onEvent?.({
      kind: 'dead_lettered',
      execId: p.execId,
      lsn: p.lsn,
      code,
      reason,
      path: this.#o.deadLetters.path,
    });
  }

  #retry(entries: Pending[], error: Error | QueueSendFailure): void {
    this.#status.consecutiveFailures++;
    this.#status.lastError =
      error instanceof Error
        ? { code: isListenerError(error) ? error.code : 'ERR_SQS_SEND', message: error.message, at: this.#clock.now() }
        : { code: 'ERR_SQS_SEND', message: `${error.code}: ${error.message}`, at: this.#clock.now() };
    const retryInMs = this.#backoff.next();
    const now = this.#clock.now();
    const notBefore = now + retryInMs;
    // Back ahead of anything newer of their groups, which stay locked until the batch settles.
    for (const p of entries) {
      p.notBefore = notBefore;
      this.#waiting.putBack(p, now);
    }
    this.#o.onEvent?.({ kind: 'send_failed', count: entries.length, retryInMs, error });
  }

  #markDone(lsn: number): void {
    if (lsn !== this.#through + 1) {
      this.#done.add(lsn);
      return;
    }
    this.#through = lsn;
    this.#advance();
  }

  #markGap(first: number, last: number): void {
    this.#gaps.push([first, last]);
    this.#advance();
  }

  /** Moves `through` over every handled LSN and every gap that now touches it. */
  #advance(): void {
    for (;;) {
      if (this.#done.delete(this.#through + 1)) this.#through++;
      else if (this.#gaps[0]?.[0] === this.#through + 1) this.#through = this.#gaps.shift()![1];
      else return;
    }
  }

  async #saveCursor(force: boolean): Promise<void> {
    if (this.#through === this.#lastSavedThrough) return;
    if (!force && this.#clock.now() - this.#lastSaveAt < CURSOR_SAVE_MS) return;
    this.#lastSaveAt = this.#clock.now();
    const through = this.#through;
    this.#saveOwed = true;
    await this.#o.journal.saveCursor(SINK, { through });
    this.#saveOwed = false;
    this.#lastSavedThrough = through;
  }
}

export { deduplicationId } from './fill-message.js';

import { asListenerError, type ListenerError } from '../core/errors.js';
import { Backoff, type BackoffPolicy } from '../core/backoff.js';
import { sleep, systemClock, type Clock } from '../core/clock.js';
import { compareExecIds } from '../core/exec-id.js';
import { replayFromDropCopy, type DropCopyOptions, type ReplayResult } from '../fix/drop-copy.js';
import { decodeExecutionReport } from '../fix/execution-report.js';
import type { BackfillStatus, Hole } from '../core/status.js';
import type { HoleLog } from '../pipeline/hole-log.js';
import type { Journal } from '../pipeline/journal.js';

export interface BackfillOptions {
  /** The KalshiDC session to replay from; undefined when not configured (every gap is a hole). */
  dropCopy: Omit<DropCopyOptions, 'onEvent' | 'clock'> | undefined;
  journal: Journal;
  holes: HoleLog;
  /** Retries for U3 1 (rate limited), U3 2 (server error) and connection failures. */
  retry?: BackfillRetry;
  /** The waits between runs, each replay's deadline and session, and the readings (default: the real clock). */
  clock?: Clock;
  onEvent?: (event: BackfillEvent) => void;
  /** A run failed outside the exchange's answers (the journal refused an append, the hole log a write). */
  onFailure?: (error: ListenerError) => void;
}

export type BackfillEvent =
  | { kind: 'started'; from: string }
  | { kind: 'finished'; from: string; replayed: number; recovered: number; duplicates: number; announced: number }
  | { kind: 'retrying'; from: string; attempt: number; delayMs: number; why: string }
  | { kind: 'hole'; hole: Hole }
  | { kind: 'disabled'; why: string };

/** Drop-copy retries: a jittered back-off, and a hole after this many failed runs. */
export type BackfillRetry = BackoffPolicy & { attempts: number };

const DEFAULT_RETRY: BackfillRetry = { initialMs: 1000, maxMs: 30_000, attempts: 5 };

/** What the listener knew when the stream broke: where to replay from, and since when. */
export interface GapMark {
  lastGoodExecId: string | undefined;
  since: number;
  /** What is being replayed, when more than a gap in time (journal damage): leads a hole's reason. */
  what?: string;
}

/** How a requested replay ended: replayed to the end, recorded as a hole, or the run failed. */
export type BackfillOutcome = 'complete' | 'hole' | 'failed';

/**
 * Closes gaps a KalshiNR listener cannot close itself (kalshi-fix-margin.md §6): after a reconnect
 * that followed a gap or downtime, replays from the last journaled ExecID over KalshiDC, beside the
 * live session. Replayed reports go through the same journal (duplicates drop by ExecID) marked
 * `source = backfill`. What cannot be replayed is recorded as a hole: journal-side file, /status,
 * a metric and an error log line.
 */
export class Backfiller {
  readonly #o: BackfillOptions;
  readonly #clock: Clock;
  #pending: { mark: GapMark; until: number; waiters: Array<(outcome: BackfillOutcome) => void> } | undefined;
  #running: Promise<void> | undefined;
  #disabled: string | undefined;
  #runs = 0;
  #recovered = 0;
  #duplicates = 0;
  #lastRun: BackfillStatus['lastRun'] = null;
  #retrying: BackfillStatus['retrying'] = null;

  constructor(options: BackfillOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * The live stream is back after `mark`: replay what was missed. Coalesces with a request not yet
   * started (the earliest start wins); resolves with the outcome of the run that covered it.
   */
  request(mark: GapMark): Promise<BackfillOutcome> {
    const until = this.#clock.now();
    const done = new Promise<BackfillOutcome>((resolve) => {
      if (this.#pending === undefined) this.#pending = { mark, until, waiters: [resolve] };
      else {
        const pending = this.#pending;
        pending.until = until;
        pending.waiters.push(resolve);
        if (startsEarlier(mark, pending.mark))
          pending.mark = { ...mark, ...(pending.mark.what === undefined ? {} : { what: pending.mark.what }) };
        if (mark.what !== undefined)
          pending.mark.what = pending.mark.what === undefined ? mark.what : `${pending.mark.what}; ${mark.what}`;
      }
    });
    this.#running ??= this.#drain();
    return done;
  }

  /** Resolves when no backfill is running or queued. */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  status(): BackfillStatus {
    return {
      configured: this.#o.dropCopy !== undefined,
      endpoint: this.#o.dropCopy === undefined ? null : `${this.#o.dropCopy.host}:${this.#o.dropCopy.port}`,
      running: this.#running !== undefined,
      retrying: this.#retrying,
      disabled: this.#disabled ?? null,
      runs: this.#runs,
      recovered: this.#recovered,
      duplicatesDropped: this.#duplicates,
      lastRun: this.#lastRun,
      holes: this.#o.holes.holes,
    };
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending !== undefined) {
        const { mark, until, waiters } = this.#pending;
        this.#pending = undefined;
        let outcome: BackfillOutcome = 'failed';
        try {
          outcome = await this.#run(mark, until);
        } finally {
          for (const resolve of waiters) resolve(outcome);
        }
      }
    } catch (cause) {
      const queued = this.#pending;
      this.#pending = undefined;
      for (const resolve of queued?.waiters ?? []) resolve('failed');
      this.#o.onFailure?.(asListenerError(cause, 'ERR_LOOP_FAILED', 'drop-copy backfill failed'));
    } finally {
      // Cleared in the same turn the loop ends: a request made by a waiter starts a new run.
      this.#running = undefined;
    }
  }

  async #run(mark: GapMark, until: number): Promise<BackfillOutcome> {
    const from = mark.lastGoodExecId;
    if (from === undefined) return 'complete'; // nothing journaled yet: nothing this listener could have missed
    if (this.#o.dropCopy === undefined)
      return this.#hole(mark, until, 'no drop-copy session configured (FIX_DC_API_KEY)');
    if (this.#disabled !== undefined) return this.#hole(mark, until, `drop copy disabled: ${this.#disabled}`);
    const retry = this.#o.retry ?? DEFAULT_RETRY;
    const backoff = new Backoff(retry);
    for (let attempt = 1; ; attempt++) {
      this.#o.onEvent?.({ kind: 'started', from });
      this.#runs++;
      let recovered = 0;
      let duplicates = 0;
      const dropCopy = { ...this.#o.dropCopy, clock: this.#clock };
      const result: ReplayResult = await replayFromDropCopy(dropCopy, from, (message) => {
        const appended = this.#o.journal.append(
          decodeExecutionReport(message, { receivedAt: this.#clock.now(), source: 'backfill' }),
        );
        if (appended.duplicate) duplicates++;
        else recovered++;
      });
      this.#recovered += recovered;
      this.#duplicates += duplicates;
      this.#lastRun = {
        at: new Date(this.#clock.now()).toISOString(),
        from,
        outcome: result.outcome === 'rejected' ? `rejected ${result.reason}` : result.outcome,
        replayed: result.replayed,
        recovered,
      };
      if (result.outcome === 'complete') {
        this.#o.onEvent?.({
          kind: 'finished',
          from,
          replayed: result.replayed,
          recovered,
          duplicates,
          announced: result.announced,
        });
        return 'complete';
      }
      if (result.outcome === 'rejected' && result.reason === 3)
        return this.#hole(
          mark,
          until,
          `outside the drop-copy window (U3 3: ${result.text ?? 'BeginExecID too small'})`,
        );
      if (result.outcome === 'rejected' && result.reason === 5) {
        this.#disabled = `drop-copy replay not enabled for this account (U3 5: ${result.text ?? ''})`;
        this.#o.onEvent?.({ kind: 'disabled', why: this.#disabled });
        return this.#hole(mark, until, this.#disabled);
      }
      if (result.outcome === 'rejected' && result.reason === 4)
        return this.#hole(mark, until, `drop copy refused the range (U3 4: ${result.text ?? ''})`);
      // U3 1 (rate limited), U3 2 (server error), or the connection failed: back off and try again.
      const why =
        result.outcome === 'rejected'
          ? `U3 ${result.reason}: ${result.text ?? ''}`
          : `${result.error.code}: ${result.error.message}`;
      if (attempt >= retry.attempts) return this.#hole(mark, until, `drop copy failed ${attempt} times (last: ${why})`);
      const delayMs = backoff.next();
      this.#retrying = { attempt, at: this.#clock.now() + delayMs, why };
      this.#o.onEvent?.({ kind: 'retrying', from, attempt, delayMs, why });
      await sleep(this.#clock, delayMs);
      this.#retrying = null;
    }
  }

  async #hole(mark: GapMark, until: number, reason: string): Promise<'hole'> {
    const hole: Hole = {
      lastGoodExecId: mark.lastGoodExecId ?? null,
      from: new Date(mark.since).toISOString(),
      to: new Date(until).toISOString(),
      reason: mark.what === undefined ? reason : `${mark.what}: ${reason}`,
      recordedAt: new Date(this.#clock.now()).toISOString(),
    };
    await this.#o.holes.record(hole);
    this.#o.onEvent?.({ kind: 'hole', hole });
    return 'hole';
  }
}

function startsEarlier(a: GapMark, b: GapMark): boolean {
  if (a.lastGoodExecId === undefined || b.lastGoodExecId === undefined) return false;
  return compareExecIds(a.lastGoodExecId, b.lastGoodExecId) < 0;
}

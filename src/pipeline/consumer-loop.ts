import { Backoff, type BackoffPolicy } from '../core/backoff.js';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { asListenerError, type ErrorCode, type ListenerError } from '../core/errors.js';
import type { SinkStatus } from '../core/status.js';
import type { Journal } from './journal.js';

export interface ConsumerLoopOptions {
  /** Where durable records are announced: each one wakes the loop. */
  journal: Pick<Journal, 'onDurable'>;
  /** Wakes the loop this often even without new records (hour closes, retries due). */
  tickMs: number;
  /** One run of the consumer: returns when `running` turns false. */
  body: () => Promise<void>;
  /** The sink this loop runs, as /status names it. */
  sink: { name: string; location: string };
  /** The body threw: the loop has stopped, and whoever supervises it must know (never unobserved). */
  onFailure: ((error: ListenerError) => void) | undefined;
  /** The body threw for a full spool and runs again after `delayMs` (the `attempt`-th time in a row). */
  onRetry?: ((error: ListenerError, delayMs: number, attempt: number) => void) | undefined;
  /** Waits between runs of the body after a retried failure. */
  retry?: BackoffPolicy;
  /** The tick, sleeps and back-off pauses, and the readings (default: the real clock). */
  clock?: Clock;
  /**
   * Overrides `clock.now` for the readings only (failure times, a long run resetting the
   * back-off); the timers stay the clock's. Kept for callers that pass a reading alone.
   */
  now?: () => number;
}

/** Failures a loop waits out rather than dies of: the spool refused a cursor or dead-letter write. */
const RETRIED: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['ERR_JOURNAL_DISK_FULL', 'ERR_JOURNAL_CURSOR']);

/**
 * The life every journal consumer (archive writer, fill publisher) shares: a loop that sleeps
 * until the journal makes a record durable or a tick passes, back-off pauses that only a stop
 * ends, and a stop that waits for the loop to finish its round.
 */
export class ConsumerLoop {
  readonly #o: ConsumerLoopOptions;
  readonly #clock: Clock;
  readonly #now: () => number;
  #running = false;
  #loop: Promise<void> | undefined;
  #timer: TimerHandle | undefined;
  #unsubscribe: (() => void) | undefined;
  #wake: (() => void) | undefined;
  /** A wake-up that came while the body was busy: its next sleep returns at once. */
  #wokenWhileBusy = false;
  #interruptPause: (() => void) | undefined;

  /** The sink's status, kept by the sink; the loop records its own failure in it. */
  readonly status: SinkStatus;

  constructor(options: ConsumerLoopOptions) {
    this.#o = options;
    const clock = options.clock ?? systemClock;
    this.#clock = clock;
    this.#now = options.now ?? (() => clock.now());
    this.status = {
      name: options.sink.name,
      location: options.sink.location,
      lastSuccessAt: undefined,
      lastError: undefined,
      consecutiveFailures: 0,
      lagSeconds: 0,
      pendingRecords: 0,
      deadLetters: 0,
    };
  }

  /** True from start() until stop() is called. */
  get running(): boolean {
    return this.#running;
  }

  start(): void {
    this.#running = true;
    this.#unsubscribe = this.#o.journal.onDurable(() => this.wake());
    // A safety-net tick: it never holds the process; the loop's owner stops it.
    this.#timer = this.#clock.setInterval(() => this.wake(), this.#o.tickMs, { ref: false });
    this.#loop = this.#supervise();
  }

  /**
   * Runs the body; when it throws, records the failure (code, message) in the sink's status. A
   * spool that refused a write (a full disk) is waited out: the body runs again after a back-off,
   * as often as it takes. Anything else stops the loop and goes to the supervisor.
   */
  async #supervise(): Promise<void> {
    const backoff = new Backoff(this.#o.retry ?? { initialMs: 250, maxMs: 10_000, floorMs: 50 });
    for (;;) {
      const startedAt = this.#now();
      try {
        await this.#o.body();
        return;
      } catch (cause) {
        // A body that ran a good while before failing starts its back-off afresh.
        if (this.#now() - startedAt > 60_000) backoff.reset();
        const error = asListenerError(cause, 'ERR_LOOP_FAILED', `the ${this.status.name} loop failed`);
        this.status.lastError = { code: error.code, message: error.message, at: this.#now() };
        this.status.consecutiveFailures++;
        if (this.#running && RETRIED.has(error.code)) {
          const delayMs = backoff.next();
          this.#o.onRetry?.(error, delayMs, backoff.attempts);
          await this.pause(delayMs);
          if (this.#running) continue;
          return;
        }
        this.#running = false;
        this.#o.onFailure?.(error);
        return;
      }
    }
  }

  /**
   * Ends a sleep now (new records, a slot free). One that comes while the body is busy (between
   * its read and its sleep) is kept for the next sleep: dropped, the record it announced would
   * wait for the next tick.
   */
  wake(): void {
    if (this.#wake === undefined) this.#wokenWhileBusy = true;
    else this.#wake();
  }

  /** Sleeps until woken, or `ms` passed when given; returns at once if woken since the last sleep. */
  async sleep(ms?: number): Promise<void> {
    if (this.#wokenWhileBusy) {
      this.#wokenWhileBusy = false;
      return;
    }
    let timer: TimerHandle | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      if (ms !== undefined) timer = this.#clock.setTimeout(resolve, ms);
    });
    this.#clock.clearTimeout(timer);
    this.#wake = undefined;
  }

  /** A back-off wait: new records do not end it (the retry is not due), a stop does. */
  async pause(ms: number): Promise<void> {
    if (!this.#running) return;
    await new Promise<void>((resolve) => {
      const timer = this.#clock.setTimeout(resolve, ms);
      this.#interruptPause = () => {
        this.#clock.clearTimeout(timer);
        resolve();
      };
    });
    this.#interruptPause = undefined;
  }

  /** Turns `running` false, ends any wait, and resolves once the body has returned. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#interruptPause?.();
    this.wake();
    await this.#loop;
    this.#clock.clearInterval(this.#timer);
    this.#unsubscribe?.();
  }
}

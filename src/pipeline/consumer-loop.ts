import { asListenerError, type ListenerError } from '../core/errors.js';
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
  now?: () => number;
}

/**
 * The life every journal consumer (archive writer, fill publisher) shares: a loop that sleeps
 * until the journal makes a record durable or a tick passes, back-off pauses that only a stop
 * ends, and a stop that waits for the loop to finish its round.
 */
export class ConsumerLoop {
  readonly #o: ConsumerLoopOptions;
  #running = false;
  #loop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #wake: (() => void) | undefined;
  #interruptPause: (() => void) | undefined;

  /** The sink's status, kept by the sink; the loop records its own failure in it. */
  readonly status: SinkStatus;

  constructor(options: ConsumerLoopOptions) {
    this.#o = options;
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
    this.#timer = setInterval(() => this.wake(), this.#o.tickMs);
    this.#timer.unref();
    this.#loop = this.#o.body().catch((cause: unknown) => {
      this.#running = false;
      const error = asListenerError(cause, 'ERR_LOOP_FAILED', `the ${this.status.name} loop failed`);
      this.status.lastError = { code: error.code, message: error.message, at: (this.#o.now ?? Date.now)() };
      this.#o.onFailure?.(error);
    });
  }

  /** Ends a sleep now (new records, a slot free). */
  wake(): void {
    this.#wake?.();
  }

  /** Sleeps until woken, or `ms` passed when given. */
  async sleep(ms?: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      if (ms !== undefined) timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.#wake = undefined;
  }

  /** A back-off wait: new records do not end it (the retry is not due), a stop does. */
  async pause(ms: number): Promise<void> {
    if (!this.#running) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#interruptPause = () => {
        clearTimeout(timer);
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
    clearInterval(this.#timer);
    this.#unsubscribe?.();
  }
}

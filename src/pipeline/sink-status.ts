/** What each sink reports for /status, /readyz and /metrics. */
export interface SinkStatus {
  name: string;
  location: string;
  lastSuccessAt: number | undefined;
  lastError: { message: string; at: number } | undefined;
  consecutiveFailures: number;
  /** Seconds the oldest overdue record has waited (0 when keeping up). */
  lagSeconds: number;
  /** Records journaled but not yet handed to the sink. */
  pendingRecords: number;
}

/** Exponential back-off with full jitter, capped; forever (a sink never gives up on a record). */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #attempt = 0;
  #current = 0;

  constructor(
    initialMs: number,
    maxMs: number,
    readonly random: () => number = Math.random,
  ) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
  }

  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt++, 30));
    this.#current = Math.max(Math.min(50, ceiling), Math.floor(this.random() * ceiling));
    return this.#current;
  }

  current(): number {
    return this.#current || this.#initialMs;
  }

  reset(): void {
    this.#attempt = 0;
    this.#current = 0;
  }
}

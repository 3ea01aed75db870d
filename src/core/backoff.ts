/** How one retry loop waits. Each user picks its own (reconnect, S3, SQS, drop copy). */
export interface BackoffPolicy {
  /** The first attempt's ceiling; it doubles per failed attempt. */
  initialMs: number;
  /** The ceiling's cap. */
  maxMs: number;
  /**
   * The shortest wait (default 0). Full jitter may draw 0 ms: a sink that retries a failing store
   * in a tight loop wants a floor; a reconnect does not.
   */
  floorMs?: number;
  /**
   * `full` (default): a uniform draw below the ceiling. `equal`: half the ceiling plus a uniform
   * draw below the other half, so waits always grow: a peer that refuses every attempt gets at most
   * one a second, then one every 2 s, 4 s, … whatever the draws.
   */
  jitter?: 'full' | 'equal';
}

/**
 * Exponential back-off with full jitter (a uniform draw below a doubling, capped ceiling), so that
 * many clients retrying the same outage spread out instead of arriving together.
 */
export class Backoff {
  readonly #policy: BackoffPolicy;
  readonly #random: () => number;
  #attempts = 0;
  #current = 0;

  constructor(policy: BackoffPolicy, random: () => number = Math.random) {
    this.#policy = policy;
    this.#random = random;
  }

  /** Waits drawn since the last reset. */
  get attempts(): number {
    return this.#attempts;
  }

  /** The wait before the next attempt; `atLeastMs` raises it (a peer that asked for patience). */
  next(atLeastMs = 0): number {
    const { initialMs, maxMs, floorMs = 0, jitter = 'full' } = this.#policy;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(this.#attempts++, 30));
    const drawn =
      jitter === 'equal'
        ? Math.floor(ceiling / 2 + this.#random() * (ceiling / 2))
        : Math.floor(this.#random() * ceiling);
    this.#current = Math.max(atLeastMs, Math.min(floorMs, ceiling), drawn);
    return this.#current;
  }

  /** The last wait drawn (the first ceiling before any). */
  current(): number {
    return this.#current || this.#policy.initialMs;
  }

  /** After a success: the next failure starts from the first ceiling again. */
  reset(): void {
    this.#attempts = 0;
    this.#current = 0;
  }
}

/** RECONNECT_MIN_INTERVAL_S's default, for callers that do not pass one. */
export const DEFAULT_RECONNECT_MIN_INTERVAL_MS = 10_000;

/**
 * At most one accepted call per `intervalMs`, for all callers together: what it protects is the
 * exchange, which may lock out a key that logs on too often, whoever asks. The clock is injected
 * so tests need no sleeps; a clock that steps back (NTP) frees the next call rather than blocking
 * calls until it catches up.
 */
export class MinInterval {
  readonly #intervalMs: number;
  readonly #now: () => number;
  #lastAt: number | undefined;

  constructor(intervalMs: number, now: () => number) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** Takes the slot and answers 0, or answers how many ms remain until the next call may go. */
  take(): number {
    const now = this.#now();
    if (this.#lastAt !== undefined) {
      const elapsed = now - this.#lastAt;
      if (elapsed >= 0 && elapsed < this.#intervalMs) return this.#intervalMs - elapsed;
    }
    this.#lastAt = now;
    return 0;
  }
}

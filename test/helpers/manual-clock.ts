import type { Clock, TimerHandle, TimerOptions } from '../../src/core/clock.js';

interface Timer {
  handle: TimerHandle;
  /** When it fires next, on this clock. */
  at: number;
  /** Creation order: two timers due at the same ms fire in the order they were set, as Node's do. */
  seq: number;
  fn: () => void;
  /** Set for an interval: the period it is re-armed with. */
  everyMs: number | undefined;
  ref: boolean;
}

/** Node clamps a delay below 1 ms (or not a number, or above 2^31 − 1) to 1 ms; so does this clock. */
const delayOf = (ms: number): number => (ms >= 1 && ms <= 2 ** 31 - 1 ? ms : 1);

/**
 * Lets I/O callbacks run without moving the clock: in-memory streams, resolved promises, the
 * `setImmediate`s that Node's streams use. Real immediates, never this clock's timers.
 */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * A `Clock` that stands still until the test moves it. Its timers fire only inside `advance`,
 * in due order, each at its own instant (`now()` reads its due time while it runs), with I/O
 * let through between them: a 60 s back-off takes no time and fires to the millisecond, and a
 * module that bypassed the clock for Node's timers would never see time pass at all.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<TimerHandle, Timer>();

  constructor(startMs = Date.parse('2026-11-24T12:00:00.000Z')) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number, options?: TimerOptions): TimerHandle {
    return this.#add(fn, delayOf(ms), undefined, options);
  }

  setInterval(fn: () => void, ms: number, options?: TimerOptions): TimerHandle {
    return this.#add(fn, delayOf(ms), delayOf(ms), options);
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.#timers.delete(handle);
  }

  clearInterval(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.#timers.delete(handle);
  }

  /** Timers not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** The delays and `ref` of the pending timers, soonest first: what a test asserts a module armed. */
  timers(): Array<{ inMs: number; everyMs: number | undefined; ref: boolean }> {
    return this.#ordered().map((t) => ({ inMs: t.at - this.#now, everyMs: t.everyMs, ref: t.ref }));
  }

  /**
   * Moves the clock `ms` forward. What is already under way settles first, at the present instant
   * (a rejected promise arms its retry timer now, not later); then every timer due on the way
   * fires at its due time, soonest first (an interval as often as it falls due), with I/O settling
   * after each; then the clock stands at the end and I/O settles once more.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#ordered()[0];
      if (next === undefined || next.at > end) break;
      this.#now = next.at;
      if (next.everyMs === undefined) this.#timers.delete(next.handle);
      else {
        // Re-armed behind whatever was set meanwhile for the same instant, as Node's lists do.
        next.at += next.everyMs;
        next.seq = this.#seq++;
      }
      next.fn();
      await settle();
    }
    this.#now = end;
    await settle();
  }

  #add(fn: () => void, delayMs: number, everyMs: number | undefined, options: TimerOptions | undefined): TimerHandle {
    const handle = Object.freeze({ seq: this.#seq }) as unknown as TimerHandle;
    this.#timers.set(handle, {
      handle,
      at: this.#now + delayMs,
      seq: this.#seq++,
      fn,
      everyMs,
      ref: options?.ref !== false,
    });
    return handle;
  }

  #ordered(): Timer[] {
    return [...this.#timers.values()].sort((a, b) => a.at - b.at || a.seq - b.seq);
  }
}

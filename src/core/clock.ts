/**
 * Time as the service sees it: the wall clock and the timers that wake it, behind one small
 * interface. Every module that waits (the FIX session's heartbeats and back-off, the consumer
 * loops' ticks, the fill publisher's linger and stop deadline, the backfill's retries) takes a
 * `Clock`, `systemClock` by default. A test hands in a clock it moves by hand, so a 60 s back-off
 * or a 2 × HeartBtInt timeout takes no time and fires exactly when due; and a reading and the
 * timers always agree, because they come from the same clock.
 */

declare const timerBrand: unique symbol;

/** A timer a `Clock` started. Opaque: only the clock that made it can clear it. */
export interface TimerHandle {
  readonly [timerBrand]: true;
}

export interface TimerOptions {
  /**
   * False: the timer does not keep the process alive on its own (Node's `unref`). A tick that
   * only polls must not hold a process that has nothing else to do; a deadline that someone
   * awaits must. Default true, as with Node's timers.
   */
  ref?: boolean;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): TimerHandle;
  /** Cancels a timeout; undefined, or one that already fired, is a no-op. */
  clearTimeout(handle: TimerHandle | undefined): void;
  /** Runs `fn` every `ms` until cleared. */
  setInterval(fn: () => void, ms: number, options?: TimerOptions): TimerHandle;
  /** Cancels an interval; undefined is a no-op. */
  clearInterval(handle: TimerHandle | undefined): void;
}

// Node's handles, seen as opaque ones and back. The globals are looked up at each call, not
// captured here, so a test that fakes them (vi.useFakeTimers) still drives the system clock.
const opaque = (timer: NodeJS.Timeout): TimerHandle => timer as unknown as TimerHandle;
const node = (handle: TimerHandle | undefined): NodeJS.Timeout | undefined =>
  handle as unknown as NodeJS.Timeout | undefined;

const start = (timer: NodeJS.Timeout, options: TimerOptions | undefined): TimerHandle => {
  if (options?.ref === false) timer.unref();
  return opaque(timer);
};

/** The real clock: `Date.now` and Node's timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number, options?: TimerOptions) => start(setTimeout(fn, ms), options),
  clearTimeout: (handle: TimerHandle | undefined) => clearTimeout(node(handle)),
  setInterval: (fn: () => void, ms: number, options?: TimerOptions) => start(setInterval(fn, ms), options),
  clearInterval: (handle: TimerHandle | undefined) => clearInterval(node(handle)),
});

/** Resolves `ms` from now on `clock`. The timer holds the process: someone is waiting for it. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
}

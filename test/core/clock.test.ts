import { afterEach, describe, expect, it, vi } from 'vitest';
import { sleep, systemClock, type TimerHandle } from '../../src/core/clock.js';

/** The Node timer behind a system-clock handle, to read its ref state. */
const nodeTimer = (handle: TimerHandle) => handle as unknown as NodeJS.Timeout;

afterEach(() => {
  vi.useRealTimers();
});

describe('systemClock', () => {
  it('holds the process with a timer by default and not with { ref: false }, timeouts and intervals alike', () => {
    // Act
    const timers = [
      systemClock.setTimeout(() => undefined, 60_000),
      systemClock.setTimeout(() => undefined, 60_000, { ref: false }),
      systemClock.setInterval(() => undefined, 60_000),
      systemClock.setInterval(() => undefined, 60_000, { ref: false }),
    ];
    const refs = timers.map((t) => nodeTimer(t).hasRef());
    systemClock.clearTimeout(timers[0]);
    systemClock.clearTimeout(timers[1]);
    systemClock.clearInterval(timers[2]);
    systemClock.clearInterval(timers[3]);

    // Assess
    expect(refs).toEqual([true, false, true, false]);
  });

  it("uses the timers and Date in place at each call, so a test's fake timers drive it", () => {
    // Prepare: faked after the module was loaded.
    vi.useFakeTimers({ now: Date.parse('2026-11-24T12:00:00Z') });
    const fired: number[] = [];

    // Act
    systemClock.setTimeout(() => fired.push(systemClock.now()), 1500);
    const ticks = systemClock.setInterval(() => fired.push(systemClock.now()), 1000);
    vi.advanceTimersByTime(2000);
    systemClock.clearInterval(ticks);
    vi.advanceTimersByTime(2000);

    // Assess
    const t0 = Date.parse('2026-11-24T12:00:00Z');
    expect(fired).toEqual([t0 + 1000, t0 + 1500, t0 + 2000]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('clears undefined and already-fired handles without complaint', async () => {
    // Prepare
    const fired = systemClock.setTimeout(() => undefined, 0);
    await sleep(systemClock, 1);

    // Act + Assess
    expect(() => {
      systemClock.clearTimeout(undefined);
      systemClock.clearInterval(undefined);
      systemClock.clearTimeout(fired);
    }).not.toThrow();
  });
});

describe('sleep', () => {
  it('resolves after the given time on the clock it is given', async () => {
    // Prepare
    vi.useFakeTimers({ now: 0 });
    let done = false;

    // Act
    const slept = sleep(systemClock, 250).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(249);
    const before = done;
    await vi.advanceTimersByTimeAsync(1);
    await slept;

    // Assess
    expect(before).toBe(false);
    expect(done).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { MinInterval } from '../../src/http/min-interval.js';

describe('MinInterval', () => {
  it('lets one call through per interval and says how long the others must wait', () => {
    // Prepare
    let now = 1_000_000;
    const limit = new MinInterval(10_000, () => now);
    // Act
    const first = limit.take();
    const second = limit.take();
    now += 7_250;
    const later = limit.take();
    now += 2_750;
    const due = limit.take();
    const afterDue = limit.take();
    // Assess
    expect([first, second, later, due, afterDue]).toEqual([0, 10_000, 2_750, 0, 10_000]);
  });

  it('lets every call through with an interval of 0', () => {
    // Prepare
    const limit = new MinInterval(0, () => 5);
    // Act + Assess
    expect([limit.take(), limit.take(), limit.take()]).toEqual([0, 0, 0]);
  });

  it('frees the next call when the clock steps back, rather than blocking until it catches up', () => {
    // Prepare
    let now = 1_000_000;
    const limit = new MinInterval(10_000, () => now);
    limit.take();
    // Act: the wall clock is set back an hour.
    now -= 3_600_000;
    const afterStep = limit.take();
    const next = limit.take();
    // Assess
    expect(afterStep).toBe(0);
    expect(next).toBe(10_000);
  });
});

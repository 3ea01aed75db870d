import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/core/backoff.js';

/** A random source that returns the given draws in turn (then the last one forever). */
function draws(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
}

describe('Backoff', () => {
  describe('next', () => {
    it('draws below a ceiling that doubles per attempt and stops at maxMs', () => {
      // Prepare: the largest draw below 1, so each wait sits at its ceiling.
      const backoff = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0.999_999);

      // Act
      const waits = Array.from({ length: 6 }, () => backoff.next());

      // Assess
      expect(waits).toEqual([99, 199, 399, 799, 999, 999]);
      expect(backoff.attempts).toBe(6);
    });

    it('spreads waits over the whole range below the ceiling (full jitter)', () => {
      // Prepare
      const backoff = new Backoff({ initialMs: 1000, maxMs: 1000 }, draws(0, 0.25, 0.5));

      // Act + Assess
      expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([0, 250, 500]);
    });

    it('keeps every wait in the upper half of its ceiling with equal jitter, so waits always grow', () => {
      // Prepare
      const backoff = new Backoff({ initialMs: 1000, maxMs: 8000, jitter: 'equal' }, draws(0, 0.999_999, 0, 0.5, 0));

      // Act
      const waits = Array.from({ length: 5 }, () => backoff.next());

      // Assess: ceilings 1, 2, 4, 8, 8 s; each wait between half its ceiling and the ceiling.
      expect(waits).toEqual([500, 1999, 2000, 6000, 4000]);
    });

    it('never waits less than the floor, nor less than the ceiling when that is lower', () => {
      // Prepare: a draw of 0 would retry at once.
      const sink = new Backoff({ initialMs: 20, maxMs: 1000, floorMs: 50 }, () => 0);

      // Act + Assess: 20 (ceiling below floor), then 40, then the floor itself.
      expect([sink.next(), sink.next(), sink.next()]).toEqual([20, 40, 50]);
    });

    it('honours a wait the peer asked for (atLeastMs)', () => {
      // Prepare
      const backoff = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0.5);

      // Act + Assess
      expect(backoff.next(60_000)).toBe(60_000);
    });

    it('keeps a sane ceiling after very many attempts', () => {
      // Prepare
      const backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 }, () => 0.999_999);

      // Act
      for (let i = 0; i < 1000; i++) backoff.next();

      // Assess
      expect(backoff.next()).toBe(59_999);
    });
  });

  describe('reset', () => {
    it('starts again from the first ceiling and forgets the attempts', () => {
      // Prepare
      const backoff = new Backoff({ initialMs: 100, maxMs: 10_000 }, () => 0.999_999);
      backoff.next();
      backoff.next();
      backoff.next();

      // Act
      backoff.reset();

      // Assess
      expect(backoff.attempts).toBe(0);
      expect(backoff.current()).toBe(100);
      expect(backoff.next()).toBe(99);
    });
  });

  describe('current', () => {
    it('is the last wait drawn', () => {
      // Prepare
      const backoff = new Backoff({ initialMs: 100, maxMs: 10_000 }, () => 0.5);

      // Act
      backoff.next();
      backoff.next();

      // Assess
      expect(backoff.current()).toBe(100);
    });
  });
});

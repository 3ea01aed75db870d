import { describe, expect, it } from 'vitest';
import { RateHistory } from '../../src/http/rate-history.js';

describe('RateHistory', () => {
  describe('sample', () => {
    it('takes the first sample as the baseline only', () => {
      // Prepare
      const history = new RateHistory({ intervalMs: 10_000 });
      // Act
      history.sample(1_000_000, { executionReports: 500, fillsPublished: 50 });
      // Assess
      expect(history.series()).toEqual({ intervalMs: 10_000, at: [], reportsPerSecond: [], fillsPerSecond: [] });
    });

    it('gives each interval its rate per second, from the time that really passed', () => {
      // Prepare
      const history = new RateHistory({ intervalMs: 10_000 });
      // Act
      history.sample(0, { executionReports: 0, fillsPublished: 0 });
      history.sample(10_000, { executionReports: 1000, fillsPublished: 100 });
      history.sample(30_000, { executionReports: 1400, fillsPublished: 100 }); // a late tick: 20 s
      // Assess
      expect(history.series()).toEqual({
        intervalMs: 10_000,
        at: [10_000, 30_000],
        reportsPerSecond: [100, 20],
        fillsPerSecond: [10, 0],
      });
    });

    it('keeps only the window, oldest first', () => {
      // Prepare: a 40 s window of 10 s intervals holds 4 rates.
      const history = new RateHistory({ intervalMs: 10_000, windowMs: 40_000 });
      // Act
      for (let i = 0; i <= 10; i++) history.sample(i * 10_000, { executionReports: i * i * 10, fillsPublished: i });
      // Assess
      const series = history.series();
      expect(series.at).toEqual([70_000, 80_000, 90_000, 100_000]);
      expect(series.reportsPerSecond).toEqual([13, 15, 17, 19]); // (i² − (i−1)²) × 10 / 10 s
      expect(series.fillsPerSecond).toEqual([0.1, 0.1, 0.1, 0.1]);
    });

    it('never shows a negative rate when a counter goes back to zero', () => {
      // Prepare
      const history = new RateHistory();
      history.sample(0, { executionReports: 900, fillsPublished: 90 });
      // Act
      history.sample(10_000, { executionReports: 0, fillsPublished: 0 });
      // Assess
      expect(history.series().reportsPerSecond).toEqual([0]);
      expect(history.series().fillsPerSecond).toEqual([0]);
    });

    it('ignores a sample that is not later than the last one', () => {
      // Prepare
      const history = new RateHistory();
      history.sample(10_000, { executionReports: 0, fillsPublished: 0 });
      // Act
      history.sample(10_000, { executionReports: 10, fillsPublished: 1 });
      // Assess
      expect(history.series().at).toEqual([]);
    });
  });
});

import { describe, expect, it } from 'vitest';
import {
  addRange,
  normalize,
  rangesOf,
  unaccountedGap,
  Vacancies,
  type LsnRange,
} from '../../src/pipeline/lsn-ranges.js';

const entries = (...lsns: number[]) => lsns.map((lsn) => ({ lsn }));

describe('rangesOf and addRange', () => {
  it('folds sorted LSNs into ranges and merges an added range with its neighbours', () => {
    // Prepare
    const ranges: LsnRange[] = rangesOf([1, 2, 3, 7, 9, 10]);
    // Act
    addRange(ranges, [4, 6]);
    // Assess
    expect(rangesOf([1, 2, 3, 7, 9, 10])).toEqual([
      [1, 3],
      [7, 7],
      [9, 10],
    ]);
    expect(ranges).toEqual([
      [1, 7],
      [9, 10],
    ]);
  });

  it('normalize moves through over the ranges that touch it and drops them', () => {
    // Prepare
    const cursor = { through: 2, uploaded: [[3, 5] as LsnRange, [8, 9] as LsnRange] };
    // Act
    normalize(cursor);
    // Assess
    expect(cursor).toEqual({ through: 5, uploaded: [[8, 9]] });
  });
});

describe('Vacancies', () => {
  describe('covers', () => {
    it('covers everything through below, and a span only inside one recorded run', () => {
      // Prepare: 1..4 deleted, 10..12 and 20..20 lost.
      const vacancies = new Vacancies(4);
      vacancies.add(10, 12);
      vacancies.add(20, 20);
      vacancies.add(30, 29); // empty: ignored
      // Act / Assess
      expect(vacancies.covers(1, 4)).toBe(true);
      expect(vacancies.covers(3, 4)).toBe(true);
      expect(vacancies.covers(10, 12)).toBe(true);
      expect(vacancies.covers(11, 11)).toBe(true);
      expect(vacancies.covers(20, 20)).toBe(true);
      expect(vacancies.covers(5, 5)).toBe(false);
      expect(vacancies.covers(4, 5)).toBe(false);
      expect(vacancies.covers(9, 12)).toBe(false);
      expect(vacancies.covers(10, 13)).toBe(false);
      expect(vacancies.covers(12, 20)).toBe(false);
      expect(vacancies.covers(29, 30)).toBe(false);
    });

    it('follows below as deletions raise it', () => {
      // Prepare
      const vacancies = new Vacancies();
      // Act
      const before = vacancies.covers(1, 6);
      vacancies.below = 6;
      // Assess
      expect(before).toBe(false);
      expect(vacancies.covers(1, 6)).toBe(true);
      expect(vacancies.covers(6, 7)).toBe(false);
    });
  });
});

describe('unaccountedGap', () => {
  const vacancies = new Vacancies(2);
  vacancies.add(6, 7);

  it('accepts a contiguous read, and jumps over vacant LSNs only', () => {
    // Act / Assess
    expect(unaccountedGap(entries(3, 4, 5), 3, 5, true, vacancies)).toBeUndefined();
    expect(unaccountedGap(entries(5, 8, 9), 5, 9, true, vacancies)).toBeUndefined();
    expect(unaccountedGap(entries(3, 4), 1, 9, false, vacancies)).toBeUndefined(); // 1..2 deleted; max reached
    expect(unaccountedGap(entries(4, 5), 4, 7, true, vacancies)).toBeUndefined(); // ends on vacant LSNs
  });

  it('names LSNs stepped over that hold records (a segment left out of a read)', () => {
    // Act / Assess
    expect(unaccountedGap(entries(3, 5), 3, 5, true, vacancies)).toEqual([4, 4]);
    expect(unaccountedGap(entries(5, 9), 5, 9, true, vacancies)).toEqual([6, 8]);
    expect(unaccountedGap(entries(4), 3, 4, true, vacancies)).toEqual([3, 3]);
  });

  it('names LSNs missing at the end of a read that stopped short of its max', () => {
    // Act / Assess
    expect(unaccountedGap(entries(3), 3, 5, true, vacancies)).toEqual([4, 5]);
    expect(unaccountedGap([], 3, 4, true, vacancies)).toEqual([3, 4]);
    expect(unaccountedGap(entries(3), 3, 5, false, vacancies)).toBeUndefined();
  });

  it('names an entry out of order', () => {
    // Act / Assess
    expect(unaccountedGap(entries(3, 4, 4), 3, 5, false, vacancies)).toEqual([4, 4]);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildCorpus } from '../../bench/fixtures.js';
import { CheckSumSplitter } from '../../bench/floor-client.js';

/**
 * The floor reference counts a message when the read that completes its CheckSum field arrives.
 * Its count is the denominator of every CPU-per-report ratio, so it must be exact however the
 * stream is cut into reads: across a CheckSum field, inside `SOH 1 0 =`, in slivers of a byte.
 */
const corpus = buildCorpus(300);
const stream = Buffer.concat(corpus.frames);

function countIn(cuts: number[]): number[] {
  const splitter = new CheckSumSplitter();
  const counts: number[] = [];
  let from = 0;
  for (const to of [...cuts, stream.length]) {
    counts.push(splitter.push(stream.subarray(from, to)));
    from = to;
  }
  return counts;
}

describe('CheckSumSplitter (the floor reference)', () => {
  it('counts every message of the corpus whatever the cuts between reads', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 400 }), (cuts) => {
        cuts.sort((a, b) => a - b);
        expect(countIn(cuts).reduce((a, b) => a + b, 0)).toBe(corpus.count);
      }),
      { numRuns: 200 },
    );
  });

  it('counts a message in the read that completes it, cut at every byte of its CheckSum field', () => {
    const first = corpus.frames[0]!.length;
    for (let cut = first - 9; cut < first; cut++) {
      const counts = countIn([cut, first + 3]);
      expect(counts[0]).toBe(0);
      expect(counts[1]).toBe(1);
    }
  });

  it('counts in one-byte reads', () => {
    const five = corpus.frames.slice(0, 5).reduce((sum, f) => sum + f.length, 0);
    const splitter = new CheckSumSplitter();
    let count = 0;
    for (let i = 0; i < five; i++) count += splitter.push(stream.subarray(i, i + 1));
    expect(count).toBe(5);
  });
});

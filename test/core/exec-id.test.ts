import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareExecIds, isSequencedExecId, parseExecId } from '../../src/core/exec-id.js';

/** The rule as first written (split, regex, numbers): the fast path must agree with it everywhere. */
function referenceParse(execId: string): number[] | undefined {
  const parts = execId.split(';');
  if (parts.length < 2 || parts.length > 3) return undefined;
  const out: number[] = [];
  for (const part of parts) {
    if (!/^-?\d{1,15}$/.test(part)) return undefined;
    out.push(Number(part));
  }
  return out;
}

function referenceCompare(a: string, b: string): number {
  const pa = referenceParse(a);
  const pb = referenceParse(b);
  if (pa === undefined || pb === undefined) return a < b ? -1 : a > b ? 1 : 0;
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

const part = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 40 }).map(String),
  fc.constantFrom('0', '00', '007', '-1', '-0', '', '1'.repeat(15), '9'.repeat(16), 'x', '1a'),
);
const execId = fc.oneof(
  fc.array(part, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(';')),
  fc.string({ maxLength: 12 }),
  fc.constantFrom('noexecid:ab12', '1764527412345;12', '1764527412345;12;0'),
);

describe('compareExecIds', () => {
  it('orders clock;event as integers, not as strings', () => {
    // Act / Assess
    expect(compareExecIds('999;9', '1000;1')).toBe(-1);
    expect(compareExecIds('1000;10', '1000;9')).toBe(1);
    expect(compareExecIds('1000;1;0', '1000;1')).toBe(0);
    expect(compareExecIds('1000;1;2', '1000;1')).toBe(1);
    expect(compareExecIds('noexecid:a', 'noexecid:b')).toBe(-1);
  });

  it('agrees with the parsing rule on any pair of ids (property)', () => {
    fc.assert(
      fc.property(execId, execId, (a, b) => {
        expect(compareExecIds(a, b)).toBe(referenceCompare(a, b));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('isSequencedExecId and parseExecId', () => {
  it('accept exactly what the parsing rule accepts (property)', () => {
    fc.assert(
      fc.property(execId, (id) => {
        expect(isSequencedExecId(id)).toBe(referenceParse(id) !== undefined);
        expect(parseExecId(id)).toEqual(referenceParse(id));
      }),
      { numRuns: 5000 },
    );
  });
});

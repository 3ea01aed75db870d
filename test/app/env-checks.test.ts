import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as checks from '../../src/core/env-checks.js';
import { parseEnvironment, type Setting } from '../../src/core/environment.js';
import { healthLine, LISTENER_DIMENSION, type HealthFigures } from '../../src/http/health-line.js';

/** What a rule says of `text`: its value, or its messages. */
function said<T>(rule: checks.Rule<T>, text: string, name = 'N'): { value?: T; problems: string[] } {
  const problems: string[] = [];
  const value = rule.check(text, name, problems);
  return problems.length === 0 ? { value, problems } : { problems };
}

/** One row of an environment table, for parseEnvironment. */
function row(name: string, rule: checks.Rule<unknown>, more: Partial<Setting> = {}): Setting {
  return { name, rule, required: 'no', default: undefined, shown: undefined, meaning: '', ...more };
}

describe('the environment checks', () => {
  it('take whole numbers in range, as an operator writes them', () => {
    const hours = checks.wholeNumber(1, 72);
    expect(said(hours, '24')).toEqual({ value: 24, problems: [] });
    // Number() reads these as zod's coerce did: operators' files keep working.
    expect(said(hours, ' 5 ').value).toBe(5);
    expect(said(hours, '1e1').value).toBe(10);
    expect(said(hours, '0x10').value).toBe(16);
    expect(hours.range).toBe('1–72');
  });

  it('name the variable, the range and the value of a bad whole number', () => {
    const hours = checks.wholeNumber(1, 72);
    expect(said(hours, '0', 'FIX_MESSAGE_RETENTION_H').problems).toEqual([
      'FIX_MESSAGE_RETENTION_H must be a whole number from 1 to 72, got 0',
    ]);
    expect(said(hours, '1.5').problems).toEqual(['N must be a whole number from 1 to 72, got 1.5']);
    expect(said(hours, 'x').problems).toEqual(['N must be a whole number from 1 to 72, got NaN']);
    // Past the safe integers and past max: said twice, as before.
    expect(said(hours, '9007199254740993').problems).toHaveLength(2);
  });

  it('accept exactly the integers from min to max', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100, max: 100_000 }), fc.integer({ min: 0, max: 5000 }), (n, min) => {
        const rule = checks.wholeNumber(min, min + 3600);
        expect(said(rule, String(n)).problems.length === 0).toBe(n >= min && n <= min + 3600);
      }),
      { numRuns: 500 },
    );
  });

  it('take ports, zero only where the OS picks one', () => {
    expect(said(checks.port(), '0', 'P').problems).toEqual(['P must be a whole number from 1 to 65535, got 0']);
    expect(said(checks.port(true), '0').value).toBe(0);
    expect(said(checks.port(), '65536').problems).toHaveLength(1);
  });

  it('take flags, word lists and listener names, and say what else they accept', () => {
    for (const [text, value] of [
      ['true', true],
      ['1', true],
      ['yes', true],
      ['false', false],
      ['0', false],
      ['no', false],
    ] as const)
      expect(said(checks.flag, text).value).toBe(value);
    for (const text of ['TRUE', 'toString', '__proto__', ''])
      expect(said(checks.flag, text, 'F').problems).toEqual(['F must be true or false']);
    const level = checks.oneOf(['x', 'y']);
    expect(said(level, 'y').value).toBe('y');
    expect(said(level, 'z', 'O').problems).toEqual(['O must be one of x, y, got z']);
    expect(said(checks.listenerName, 'member-a_01').value).toBe('member-a_01');
    expect(said(checks.listenerName, 'x'.repeat(65), 'L').problems).toEqual([
      'L may hold letters, digits, - and _ only, at most 64 of them',
    ]);
  });

  it('name the same default listener as the health line', () => {
    const line = healthLine({} as HealthFigures, 'Ns', 0);
    expect(line[LISTENER_DIMENSION]).toBe(checks.DEFAULT_LISTENER);
  });

  it('list every problem of every variable, in the table’s order, and the values only without one', () => {
    // Prepare
    const table = [
      row('A', checks.port()),
      row('B', checks.flag, { default: true }),
      row('C', checks.text, { required: 'yes' }),
      row(
        'D',
        checks.all(
          'a-z, at most 3',
          checks.maxLength(3),
          checks.matching(/^[a-z]+$/, '', (n) => `${n} is a-z`),
        ),
      ),
      row('E', checks.wholeNumber(1, 2), { required: 'yes' }),
    ];
    // Act
    const bad = parseEnvironment(table, { A: '0', D: 'ABCD', E: '' });
    const good = parseEnvironment(table, { C: 'c', E: '2', F: 'ignored' });
    // Assess: an empty variable is unset.
    expect(bad).toEqual({
      ok: false,
      problems: [
        'A must be a whole number from 1 to 65535, got 0',
        'C is required',
        'D must be at most 3 characters',
        'D is a-z',
        'E is required (1–2)',
      ],
    });
    expect(good).toEqual({ ok: true, values: { A: undefined, B: true, C: 'c', D: undefined, E: 2 } });
  });
});

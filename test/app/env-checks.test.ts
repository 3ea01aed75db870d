import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import * as checks from '../../src/app/env-checks.js';
import * as shared from '../../src/core/settings-schema.js';
import { healthLine, LISTENER_DIMENSION, type HealthFigures } from '../../src/http/health-line.js';

/**
 * `run` checks its environment without zod (app/env-checks.ts, for start-up time); the CDK context
 * and the archive commands use the zod checks of core/settings-schema.ts. Both must accept the
 * same values and say the same problems, in the same order.
 */

/** What the zod check says of `text`: its value, or its messages. */
function viaZod(schema: z.ZodType, text: string): { value?: unknown; problems: string[] } {
  const parsed = schema.safeParse(text);
  return parsed.success
    ? { value: parsed.data, problems: [] }
    : { problems: parsed.error.issues.map((i) => i.message) };
}

/** What the hand-written rule says of `text`, in the same shape. */
function viaRule(rule: checks.Rule<unknown>, text: string): { value?: unknown; problems: string[] } {
  const problems: string[] = [];
  const value = rule(text, problems);
  return problems.length === 0 ? { value, problems } : { problems };
}

/** Numbers as an operator might write them, and as nobody should. */
const numberText = fc.oneof(
  fc.integer({ min: -100, max: 100_000 }).map(String),
  fc.double().map(String),
  fc.string(),
  fc.constantFrom(
    '0',
    '-0',
    '0x10',
    '0b11',
    ' 5 ',
    '+5',
    '5.',
    '.5',
    '1.5',
    '0.5',
    '1e3',
    '1e-7',
    '1e20',
    '-1e20',
    '9007199254740993',
    'Infinity',
    '-Infinity',
    'NaN',
    '1_000',
  ),
);

const words = fc.oneof(
  fc.string(),
  fc.constantFrom('true', 'false', '1', '0', 'yes', 'no', 'TRUE', 'toString', '__proto__', 'x', 'y', 'info'),
);

describe('the environment checks without zod', () => {
  it('say what the shared zod checks say of whole numbers and ports', () => {
    fc.assert(
      fc.property(numberText, (text) => {
        expect(viaRule(checks.wholeNumber('N', 1, 72), text)).toEqual(viaZod(shared.wholeNumber('N', 1, 72), text));
        expect(viaRule(checks.wholeNumber('N', 0, 86_400), text)).toEqual(
          viaZod(shared.wholeNumber('N', 0, 86_400), text),
        );
        expect(viaRule(checks.port('P'), text)).toEqual(viaZod(shared.port('P'), text));
        expect(viaRule(checks.port('P', true), text)).toEqual(viaZod(shared.port('P', true), text));
      }),
      { numRuns: 1000 },
    );
  });

  it('say what the shared zod checks say of flags, word lists and listener names', () => {
    fc.assert(
      fc.property(words, (text) => {
        expect(viaRule(checks.flag('F'), text)).toEqual(viaZod(shared.flag('F'), text));
        expect(viaRule(checks.oneOf('O', ['x', 'y']), text)).toEqual(viaZod(shared.oneOf('O', ['x', 'y']), text));
        expect(viaRule(checks.listenerName('L'), text)).toEqual(viaZod(shared.listenerName('L'), text));
      }),
      { numRuns: 1000 },
    );
    expect(viaRule(checks.listenerName('L'), 'x'.repeat(65))).toEqual(viaZod(shared.listenerName('L'), 'x'.repeat(65)));
  });

  it('name the same default listener, as the health line does', () => {
    const line = healthLine({} as HealthFigures, 'Ns', 0);
    expect(checks.DEFAULT_LISTENER).toBe(shared.DEFAULT_LISTENER);
    expect(line[LISTENER_DIMENSION]).toBe(shared.DEFAULT_LISTENER);
  });

  it('list every problem of every field, in the fields’ order, and the values only without one', () => {
    // Prepare
    const fields = {
      A: checks.optional(checks.port('A')),
      B: checks.withDefault(checks.flag('B'), true),
      C: checks.required(checks.text, 'C is required'),
      D: checks.optional(
        checks.all(checks.maxLength(3, 'D is too long'), checks.matching(/^[a-z]+$/, 'D holds a-z only')),
      ),
    };
    // Act
    const bad = checks.parseFields(fields, { A: '0', D: 'ABCD' });
    const good = checks.parseFields(fields, { C: 'c', E: 'ignored' });
    // Assess
    expect(bad).toEqual({
      ok: false,
      problems: [
        'A must be a whole number from 1 to 65535, got 0',
        'C is required',
        'D is too long',
        'D holds a-z only',
      ],
    });
    expect(good).toEqual({ ok: true, data: { B: true, C: 'c' } });
  });
});

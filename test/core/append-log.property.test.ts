import { existsSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppendLog } from '../../src/core/append-log.js';
import { encodeLine } from '../../src/core/checked-lines.js';
import type { SpoolFileDamage } from '../../src/core/status.js';
import { propertyRuns, propertyTimeout } from '../helpers/property.js';
import { tempDir } from '../helpers/records.js';

type Damage =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'zero'; at: number }
  | { kind: 'delete' };

/** Objects as the logs hold them: strings of any character (a newline in JSON is escaped). */
const entry = fc.record({ n: fc.integer(), text: fc.string({ unit: 'binary', maxLength: 60 }), ok: fc.boolean() });
const entries = fc.array(entry, { minLength: 1, maxLength: 8 });
/** `at` is a fraction of the file's length, so every offset of any file can be hit. */
const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('truncate' as const),
    at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
  }),
  fc.record({ kind: fc.constant('zero' as const), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }) }),
  fc.constant({ kind: 'delete' as const }),
);

/** Applies one damage to a file as a disk or a person would: in place, never growing it. */
function apply(path: string, d: Damage): void {
  const data = readFileSync(path);
  if (d.kind === 'delete') return rmSync(path);
  const at = Math.floor(d.at * data.length);
  if (d.kind === 'truncate') return truncateSync(path, at);
  if (d.kind === 'flip') data[at] = data[at]! ^ d.mask;
  else data.fill(0, at, Math.min(data.length, at + 4096));
  writeFileSync(path, data);
}

/** Two copies as the appends of `values` leave them, each line's offset. */
function written(dir: string, values: object[]): { path: string; offsets: number[]; lengths: number[] } {
  const path = join(dir, 'log.jsonl');
  const lines = values.map((v) => encodeLine(JSON.stringify(v)));
  const data = Buffer.concat(lines);
  writeFileSync(path, data);
  writeFileSync(`${path}.mirror`, data);
  let offset = 0;
  const offsets = lines.map((l) => (offset += l.length) - l.length);
  return { path, offsets, lengths: lines.map((l) => l.length) };
}

async function read(path: string): Promise<{ log: AppendLog; values: object[] }> {
  const values: object[] = [];
  const log = await AppendLog.open(path, (v) => values.push(v));
  return { log, values };
}

/** A later append always reads back, after every line the reopened log read. */
async function appendReadsBack(path: string, before: object[]): Promise<void> {
  const { log } = await read(path);
  await log.append(JSON.stringify({ later: true }));
  await log.close();
  const again = await read(path);
  expect(again.values).toEqual([...before, { later: true }]);
  // Repaired: the copies alike, no torn tail; only damaged lines neither copy held good are left
  // (they stay in the file, and are reported at every open).
  expect(again.log.damage.filter((d) => d.recovered || d.reason === 'torn_tail')).toEqual([]);
  expect(readFileSync(`${path}.mirror`)).toEqual(readFileSync(path));
}

const covers = (d: SpoolFileDamage, from: number, to: number) => d.offset < to && d.offset + d.bytes > from;

describe('AppendLog', () => {
  it(
    'gives back every line when any one damage hits one copy, and reports that copy',
    { timeout: propertyTimeout(30_000) },
    async () => {
      await fc.assert(
        fc.asyncProperty(entries, damage, fc.constantFrom('primary', 'mirror'), async (values, d, copy) => {
          // Prepare
          const { path, offsets } = written(tempDir(), values);
          const file = copy === 'primary' ? path : `${path}.mirror`;
          const original = readFileSync(file);
          apply(file, d);
          const left = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
          // What a crash between the two writes leaves: the mirror without (part of) its last line.
          const crashShape =
            copy === 'mirror' && left.length >= offsets.at(-1)! && original.subarray(0, left.length).equals(left);

          // Act
          const { log, values: back } = await read(path);

          // Assess: nothing lost; the damaged copy named, unless the damage left it a crash's shape
          // (the mirror one line short); both copies alike again.
          expect(back).toEqual(values);
          expect(log.damage.every((x) => x.recovered && x.file === file)).toBe(true);
          if (!left.equals(original) && !crashShape) expect(log.damage.length).toBeGreaterThan(0);
          expect(readFileSync(`${path}.mirror`)).toEqual(readFileSync(path));
          await appendReadsBack(path, values);
        }),
        { numRuns: propertyRuns(250) },
      );
    },
  );

  it(
    'reads back or reports with its offset every line when the same bytes are damaged in both copies',
    { timeout: propertyTimeout(30_000) },
    async () => {
      const inPlace = damage.filter((d) => d.kind === 'flip' || d.kind === 'zero');
      await fc.assert(
        fc.asyncProperty(entries, inPlace, async (values, d) => {
          // Prepare: one damage of "the file", with its copy damaged alike (as a single-copy log would be).
          const { path, offsets, lengths } = written(tempDir(), values);
          apply(path, d);
          writeFileSync(`${path}.mirror`, readFileSync(path));

          // Act
          const { log, values: back } = await read(path);

          // Assess: each line read back exactly (in order, nothing made up) or inside a reported stretch.
          const lost = log.damage.filter((x) => !x.recovered);
          let next = 0;
          values.forEach((value, i) => {
            if (next < back.length && JSON.stringify(back[next]) === JSON.stringify(value)) next++;
            else expect(lost.some((x) => covers(x, offsets[i]!, offsets[i]! + lengths[i]!))).toBe(true);
          });
          expect(next).toBe(back.length);
          await appendReadsBack(path, back);
        }),
        { numRuns: propertyRuns(250) },
      );
    },
  );
});

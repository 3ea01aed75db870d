import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineBuffer } from '../../src/core/line-buffer.js';
import { anyText } from '../helpers/arbitraries.js';
import { propertyRuns, propertyTimeout } from '../helpers/property.js';

/** A line as JSON.stringify writes it (no raw newline): short and long, of any characters. */
const jsonLine = fc
  .oneof(
    anyText(200),
    fc.nat(300_000).map((n) => 'x'.repeat(n)),
    fc.constant('é€😀'.repeat(5000)),
  )
  .map((l) => JSON.stringify(l));

describe('LineBuffer', () => {
  describe('add, addBytes, pieces and toBuffer', () => {
    it(
      'holds the JSONL of any lines, added as text or as UTF-8, byte for byte, each piece whole lines, and gives the lines back (property)',
      { timeout: propertyTimeout(30_000) },
      () => {
        fc.assert(
          fc.property(
            fc.array(jsonLine, { maxLength: 60 }),
            fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
            (lines, asBytes) => {
              // Act
              const buffer = new LineBuffer();
              lines.forEach((l, i) => (asBytes[i] ? buffer.addBytes(Buffer.from(l, 'utf8')) : buffer.add(l)));
              const pieces = buffer.pieces();
              // Assess
              const expected = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
              expect(buffer.toBuffer().equals(expected)).toBe(true);
              expect(buffer.count).toBe(lines.length);
              expect(buffer.bytes).toBe(expected.length);
              for (const piece of pieces) expect(piece.at(-1)).toBe(10);
              expect(pieces.every((piece) => piece.buffer instanceof SharedArrayBuffer)).toBe(true);
              expect(LineBuffer.linesOf(pieces)).toEqual(lines);
            },
          ),
          { numRuns: propertyRuns(150) },
        );
      },
    );

    it('copies the bytes it is given: the caller may reuse them', () => {
      // Prepare
      const bytes = Buffer.from('{"a":1}', 'utf8');
      const buffer = new LineBuffer();
      // Act
      buffer.addBytes(bytes);
      bytes.fill(0x20);
      // Assess
      expect(buffer.toBuffer().toString('utf8')).toBe('{"a":1}\n');
    });

    it('is empty until a line comes', () => {
      // Prepare
      const buffer = new LineBuffer();
      // Act / Assess
      expect(buffer.pieces()).toEqual([]);
      expect(buffer.toBuffer().length).toBe(0);
      expect(buffer.count).toBe(0);
    });
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFillLine, partitionTimeOfLine, receivedAtOfLine, stringOfLine } from '../../src/core/record.js';
import { makeRecord } from '../helpers/records.js';

const iso = fc
  .date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
/** Text that imitates the keys inside string values (text, raw): escaped there, never matched. */
const hostile = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom(
    '"transact_time":"1999-01-01T00',
    '"received_at":null',
    '\\"exec_type\\":\\"F\\"',
    '"sending_time":"',
  ),
);

describe('partitionTimeOfLine and receivedAtOfLine', () => {
  it("read the same times from the line's UTF-8 as from the record, whatever the strings hold (property)", () => {
    fc.assert(
      fc.property(fc.option(iso), fc.option(iso), iso, hostile, hostile, (transact, sending, received, text, raw) => {
        // Prepare
        const record = makeRecord(1, {
          transact_time: transact,
          sending_time: sending,
          received_at: received,
          text,
          raw,
        });
        const line = Buffer.from(JSON.stringify(record), 'utf8');
        // Act / Assess
        expect(partitionTimeOfLine(line)).toBe(transact ?? sending ?? received);
        expect(receivedAtOfLine(line)).toBe(received);
        expect(isFillLine(line)).toBe(record.exec_type === 'F');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('stringOfLine', () => {
  it('reads the same six values from the line as from the record, escapes and all (property)', () => {
    const value = fc.oneof(hostile, fc.constantFrom('"symbol":"X"', 'a\\"b', '\u0001\n', 'ü€𝄞'));
    fc.assert(
      fc.property(
        value,
        fc.option(value),
        fc.option(value),
        fc.option(value),
        hostile,
        hostile,
        (execId, symbol, side, lastPx, text, raw) => {
          // Prepare
          const record = makeRecord(1, { exec_id: execId, symbol, side, last_px: lastPx, text, raw });
          const line = JSON.stringify(record);
          // Act / Assess
          expect(stringOfLine(line, 'exec_id')).toBe(execId);
          expect(stringOfLine(line, 'symbol')).toBe(symbol);
          expect(stringOfLine(line, 'side')).toBe(side);
          expect(stringOfLine(line, 'last_px')).toBe(lastPx);
          expect(stringOfLine(line, 'last_qty')).toBe(record.last_qty);
          expect(stringOfLine(line, 'received_at')).toBe(record.received_at);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('says so when the line is not a record line', () => {
    // Act / Assess
    expect(() => stringOfLine('{"symbol":"X"}', 'exec_id')).toThrow('record line has no exec_id');
    expect(() => stringOfLine('{"exec_id":"abc', 'exec_id')).toThrow('record line cut inside exec_id');
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFillLine, partitionTimeOfLine, receivedAtOfLine } from '../../src/core/record.js';
import { makeRecord } from '../helpers/records.js';

const iso = fc
  .date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
/** Text that imitates the keys inside string values (text, raw): escaped there, never matched. */
const hostile = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '"transact_time":"1999-01-01T00',
    '"received_at":null',
    '\\"exec_type\\":\\"F\\"',
    '"sending_time":"',
  ),
);

describe('partitionTimeOfLine and receivedAtOfLine', () => {
  it('read the same times from the line as from the record, whatever the strings hold (property)', () => {
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
        const line = JSON.stringify(record);
        // Act / Assess
        expect(partitionTimeOfLine(line)).toBe(transact ?? sending ?? received);
        expect(receivedAtOfLine(line)).toBe(received);
        expect(isFillLine(line)).toBe(record.exec_type === 'F');
      }),
      { numRuns: 2000 },
    );
  });
});

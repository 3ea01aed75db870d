import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFillLine, type ExecutionReportRecord } from '../src/core/record.js';
import { makeRecord } from './helpers/records.js';

// Text a hostile or odd report could carry in any string field, the fill key among it.
const trickyText = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '"exec_type":"F"',
    '{"exec_type":"F"}',
    '\\"exec_type\\":\\"F\\"',
    'exec_type=F',
    '"exec_type":"F',
    '150=F|',
  ),
);

describe('isFillLine', () => {
  it('is true exactly when the serialised record has ExecType F, whatever its other fields hold', () => {
    fc.assert(
      fc.property(
        fc.nat(1000),
        fc.constantFrom<string | null>('F', '0', '4', '5', '8', 'C', 'f', 'FF', ' F', '', null),
        trickyText,
        trickyText,
        trickyText,
        (n, execType, text, symbol, raw) => {
          // Prepare
          const base = makeRecord(n);
          const record: ExecutionReportRecord = {
            ...base,
            exec_type: execType,
            text,
            symbol,
            raw,
            fees: [{ amount: text, currency: symbol, fee_type: raw, basis: null }],
            parties: [{ id: raw, id_source: text, party_role: null }],
          };
          // Act
          const fill = isFillLine(Buffer.from(JSON.stringify(record), 'utf8'));
          // Assess
          expect(fill).toBe(execType === 'F');
        },
      ),
      { numRuns: 2000 },
    );
  });
});

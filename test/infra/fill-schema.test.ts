import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../../src/fix/encoder.js';
import { decodeExecutionReport } from '../../src/fix/execution-report.js';
import { RECORD_COLUMNS, SCHEMA_VERSION, type ExecutionReportRecord } from '../../src/core/record.js';
import { OrderFlow, formatUtcTimestamp } from '../../src/sim/order-flow.js';
import { decodeAll } from '../helpers/fix.js';
import { FILL_SCHEMA, validate, type Schema } from './json-schema.js';

/** JSON types a Glue column type admits (nullability aside). */
function jsonTypeOf(glueType: string): string {
  if (glueType === 'string') return 'string';
  if (glueType === 'int' || glueType === 'bigint') return 'integer';
  if (glueType === 'boolean') return 'boolean';
  if (glueType.startsWith('array<')) return 'array';
  throw new Error(`no JSON type for ${glueType}`);
}

/** Records as the service makes them: simulator order flow → FIX bytes → decoder → record → JSON line. */
function realRecords(count: number): ExecutionReportRecord[] {
  const flow = new OrderFlow({ seed: 7, subaccounts: [0, 3], firstClock: 1_700_000_000 });
  const records: ExecutionReportRecord[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const now = new Date(Date.UTC(2026, 10, 23, 22, 0, 0) + seq * 137);
    const report = flow.next(now);
    const bytes = encodeMessage(
      '8',
      {
        senderCompId: 'KalshiNR',
        targetCompId: '0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d',
        msgSeqNum: seq,
        sendingTime: formatUtcTimestamp(now),
      },
      report.fields,
    );
    const { messages } = decodeAll([bytes]);
    const record = decodeExecutionReport(messages[0]!, { receivedAt: now.getTime() + 3, source: 'live' });
    records.push(JSON.parse(JSON.stringify(record)) as ExecutionReportRecord);
  }
  return records;
}

describe('fill message JSON Schema (docs/fill-message.schema.json)', () => {
  it("is draft 2020-12 with exactly the record's keys, all required, in archive order", () => {
    // Assess
    expect(FILL_SCHEMA['$schema']).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(Object.keys(FILL_SCHEMA.properties)).toEqual(RECORD_COLUMNS.map((c) => c.name));
    expect(FILL_SCHEMA.required).toEqual(RECORD_COLUMNS.map((c) => c.name));
    expect(FILL_SCHEMA['additionalProperties']).toBe(false);
    expect(FILL_SCHEMA.properties['schema_version']!['const']).toBe(SCHEMA_VERSION);
  });

  it('gives every key the JSON type of its Glue column', () => {
    // Assess
    for (const column of RECORD_COLUMNS) {
      const property = FILL_SCHEMA.properties[column.name]!;
      const ref =
        typeof property['$ref'] === 'string'
          ? (FILL_SCHEMA['$defs'] as Record<string, Schema>)[property['$ref'].split('/').at(-1)!]!
          : {};
      const types = [property['type'] ?? ref['type']].flat();
      expect(property['x-glue-type'], column.name).toBe(column.glueType);
      expect(types, column.name).toContain(jsonTypeOf(column.glueType));
    }
  });

  it("accepts every record the decoder makes from the simulator's order flow, fills and the rest", () => {
    // Prepare
    const records = realRecords(400);
    // Act
    const errors = records.flatMap((r) => validate(FILL_SCHEMA, r).map((e) => `${r.exec_id}: ${e}`));
    // Assess
    expect(errors).toEqual([]);
    expect(records.filter((r) => r.exec_type === 'F').length).toBeGreaterThan(50);
    expect(records.some((r) => r.fees.length > 0 && r.collateral_changes.length > 0)).toBe(true);
    expect(records.some((r) => r.ord_rej_reason !== null)).toBe(true);
  });

  it('rejects what consumers must never see: a float price, a missing key, an unknown key', () => {
    // Prepare
    const [record] = realRecords(1);
    const { exec_type: _dropped, ...missing } = record!;
    // Act
    const results = [
      validate(FILL_SCHEMA, { ...record, price: 19.5 }),
      validate(FILL_SCHEMA, missing),
      validate(FILL_SCHEMA, { ...record, extra: 1 }),
    ];
    // Assess
    expect(results.map((r) => r.length > 0)).toEqual([true, true, true]);
    expect(results[1]).toContain('$: missing exec_type');
  });
});

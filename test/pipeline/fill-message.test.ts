import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CUT_MARK, fillBody, fillQueueMessage } from '../../src/pipeline/fill-message.js';
import { makeRecord } from '../helpers/records.js';

describe('fillBody', () => {
  it('is the archive line itself when it fits', () => {
    // Prepare
    const record = makeRecord(0);
    const line = JSON.stringify(record);

    // Act + Assess
    expect(fillBody(() => record, line, 10_000)).toEqual({
      body: line,
      bytes: Buffer.byteLength(line),
      shrunk: undefined,
    });
  });

  it('drops raw first (the archive keeps it)', () => {
    // Prepare
    const record = makeRecord(0, { raw: 'x'.repeat(5000) });
    const line = JSON.stringify(record);

    // Act
    const fitted = fillBody(() => record, line, 3000)!;

    // Assess
    expect(fitted.shrunk).toBe('raw');
    expect(JSON.parse(fitted.body)).toEqual({ ...record, raw: null });
  });

  it('then cuts Text, marked, to fit', () => {
    // Prepare: control characters take 6 bytes each as JSON.
    const record = makeRecord(0, { raw: 'x'.repeat(5000), text: '\x02'.repeat(5000) });

    // Act
    const fitted = fillBody(() => record, JSON.stringify(record), 4000)!;

    // Assess
    expect(fitted.shrunk).toBe('raw,text');
    expect(fitted.bytes).toBeLessThanOrEqual(4000);
    const body = JSON.parse(fitted.body) as { text: string; raw: null };
    expect(body.raw).toBeNull();
    expect(body.text.endsWith(CUT_MARK)).toBe(true);
    expect(body.text.length).toBeGreaterThan(400);
  });

  it('gives up when nothing it may cut makes it fit', () => {
    // Prepare: the record is over the limit without raw and has no Text to cut.
    const record = makeRecord(0, { raw: 'x', text: null, party_id: 'p'.repeat(5000) });

    // Act + Assess
    expect(fillBody(() => record, JSON.stringify(record), 2000)).toBeUndefined();
  });

  it('always fits the limit, keeps every key, and keeps the start of Text', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 3000 }),
        fc.integer({ min: 900, max: 20_000 }),
        (text, limit) => {
          // Prepare
          const record = makeRecord(0, { text, raw: 'r'.repeat(2000) });
          const line = JSON.stringify(record);

          // Act
          const fitted = fillBody(() => record, line, limit);

          // Assess
          if (fitted === undefined) return;
          expect(fitted.bytes).toBe(Buffer.byteLength(fitted.body));
          expect(fitted.bytes).toBeLessThanOrEqual(limit);
          const body = JSON.parse(fitted.body) as Record<string, unknown>;
          expect(Object.keys(body)).toEqual(Object.keys(record));
          if (fitted.shrunk === 'raw,text') {
            const cut = (body['text'] as string).slice(0, -CUT_MARK.length);
            expect(text.startsWith(cut)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('fillQueueMessage', () => {
  const fifo = { fifo: true, maxBatchBytes: 262_144 };

  it('names the listener in an attribute and groups by listener and symbol, so listeners sharing a queue never wait on each other', () => {
    // Prepare
    const record = makeRecord(0);
    // Act
    const { message, group } = fillQueueMessage(JSON.stringify(record), () => record, fifo, 'e1', 'member-a');
    // Assess
    expect(group).toBe(`member-a:${record.symbol}`);
    expect(message.groupId).toBe(`member-a:${record.symbol}`);
    expect(message.deduplicationId).toBe(record.exec_id);
    expect(message.attributes).toMatchObject({
      listener: { type: 'String', value: 'member-a' },
      symbol: { type: 'String', value: record.symbol },
      exec_id: { type: 'String', value: record.exec_id },
    });
  });

  it('groups by symbol alone, with no listener attribute, when no listener is given', () => {
    // Prepare
    const record = makeRecord(0);
    // Act
    const { message } = fillQueueMessage(JSON.stringify(record), () => record, fifo, 'e1');
    // Assess
    expect(message.groupId).toBe(record.symbol);
    expect(message.attributes['listener']).toBeUndefined();
  });

  it('builds the message from the line alone unless the line must shrink, attributes as the record says', () => {
    // Prepare: a record whose values need escaping, and a line that fits.
    const record = makeRecord(0, { exec_id: 'a"b\\c', symbol: 'KX-"Q"' });
    const notAsked = () => {
      throw new Error('the record was parsed for a fill that fits');
    };
    // Act
    const { message, fitted } = fillQueueMessage(JSON.stringify(record), notAsked, fifo, 'e1');
    // Assess
    expect(fitted?.shrunk).toBeUndefined();
    expect(message.body).toBe(JSON.stringify(record));
    expect(message.groupId).toBe(record.symbol);
    expect(message.attributes).toMatchObject({
      exec_id: { type: 'String', value: record.exec_id },
      symbol: { type: 'String', value: record.symbol },
      schema_version: { type: 'Number', value: String(record.schema_version) },
    });
  });
});

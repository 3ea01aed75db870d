import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fillQueueMessage } from '../../src/pipeline/fill-message.js';
import { deduplicationId, isSqsId, messageGroupId } from '../../src/pipeline/queue-ids.js';
import { anyText } from '../helpers/arbitraries.js';
import { propertyRuns, propertyTimeout } from '../helpers/property.js';
import { makeRecord } from '../helpers/records.js';

/**
 * SQS's documented rules for MessageGroupId and MessageDeduplicationId, written out here on their
 * own rather than taken from the code under test: 1 to 128 characters, each an ASCII letter or
 * digit or one of the 32 ASCII punctuation characters. The local queue server checks none of it.
 */
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
function sqsAccepts(id: string): boolean {
  if (id.length < 1 || id.length > 128) return false;
  return [...id].every((c) => /^[A-Za-z0-9]$/.test(c) || PUNCTUATION.includes(c));
}

const sha256Hex = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');

/**
 * Any group the listener could be given: any UTF-16 text (lone surrogates too) up to 300 units,
 * often listener-prefixed.
 */
const anyGroup = fc.oneof(
  anyText(300),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.string({ maxLength: 200 })).map(([l, s]) => `${l}:${s}`),
);

describe('messageGroupId', () => {
  it.each([
    ['a plain Kalshi symbol', 'default:KXBTCD-26NOV2317-T97499.99'],
    ['every punctuation character SQS allows', `l:${PUNCTUATION}`],
    ['exactly 128 characters', `default:${'A'.repeat(120)}`],
  ])('keeps %s as it is, so existing groups keep their ids', (_, group) => {
    // Act
    const id = messageGroupId(group);
    // Assess
    expect(sqsAccepts(group)).toBe(true);
    expect(id).toBe(group);
  });

  it('turns spaces into _ and appends ~ and 16 hex of the original SHA-256', () => {
    // Prepare
    const group = 'default:KX TEST 26NOV';
    // Act
    const id = messageGroupId(group);
    // Assess
    expect(id).toBe(`default:KX_TEST_26NOV~${sha256Hex(group).slice(0, 16)}`);
    expect(sqsAccepts(id)).toBe(true);
  });

  it('cuts a 200-character symbol to a 128-character id that keeps its start readable', () => {
    // Prepare
    const group = `member-a:${'KXLONG'.repeat(34).slice(0, 200)}`;
    // Act
    const id = messageGroupId(group);
    // Assess
    expect(group.length).toBe(209);
    expect(id).toHaveLength(128);
    expect(id.startsWith(group.slice(0, 111))).toBe(true);
    expect(id.slice(111)).toBe(`~${sha256Hex(group).slice(0, 16)}`);
    expect(sqsAccepts(id)).toBe(true);
  });

  it('drops accents and replaces other non-ASCII characters, one _ per character', () => {
    // Prepare: an accented letter, two CJK characters, an emoji (two UTF-16 units, one _), a control character.
    const group = 'default:MÜNCHEN-東京-🚀-\u0001';
    // Act
    const id = messageGroupId(group);
    // Assess
    expect(id).toBe(`default:MUNCHEN-__-_-_~${sha256Hex(group).slice(0, 16)}`);
    expect(sqsAccepts(id)).toBe(true);
  });

  it('keeps apart inputs that read the same once mapped', () => {
    // Prepare: they differ only in characters the readable prefix replaces.
    const inputs = ['d:A B', 'd:A\tB', 'd:A\u00a0B', 'd:AéB', 'd:AèB', 'd:A_B '];
    // Act
    const ids = inputs.map(messageGroupId);
    // Assess
    expect(new Set(ids).size).toBe(inputs.length);
    expect(ids.every(sqsAccepts)).toBe(true);
  });

  it('maps the empty string to a valid id (SQS refuses an empty group)', () => {
    // Act
    const id = messageGroupId('');
    // Assess
    expect(id).toBe(`~${sha256Hex('').slice(0, 16)}`);
  });

  it(
    'gives every input an id SQS accepts, the same id every time, and distinct ids to distinct inputs',
    { timeout: propertyTimeout(30_000) },
    () => {
      fc.assert(
        fc.property(fc.uniqueArray(anyGroup, { minLength: 2, maxLength: 20 }), (groups) => {
          // Act
          const ids = groups.map(messageGroupId);
          // Assess
          for (const [i, id] of ids.entries()) {
            expect(sqsAccepts(id), JSON.stringify(groups[i])).toBe(true);
            expect(messageGroupId(groups[i]!)).toBe(id);
            if (sqsAccepts(groups[i]!)) expect(id).toBe(groups[i]);
          }
          expect(new Set(ids).size).toBe(groups.length);
        }),
        { numRuns: propertyRuns(500) },
      );
    },
  );
});

describe('deduplicationId (DESIGN.md §4: the ExecID, hashed if SQS would refuse it)', () => {
  it.each([
    ['a Kalshi ExecID', '1523;88'],
    ['128 characters', 'E'.repeat(128)],
  ])('keeps %s', (_, execId) => {
    // Act + Assess
    expect(deduplicationId(execId)).toBe(execId);
  });

  it.each([
    ['over 128 characters', 'E'.repeat(129)],
    ['a space', 'exec 1'],
    ['non-ASCII', 'héllo'],
    ['nothing', ''],
  ])('hashes an ExecID with %s to its SHA-256 in hex', (_, execId) => {
    // Act
    const id = deduplicationId(execId);
    // Assess
    expect(id).toBe(sha256Hex(execId));
    expect(sqsAccepts(id)).toBe(true);
  });

  it('is always an id SQS accepts, and keeps distinct ExecIDs distinct', () => {
    fc.assert(
      fc.property(fc.uniqueArray(anyText(200), { minLength: 2, maxLength: 20 }), (ids) => {
        // Act
        const mapped = ids.map(deduplicationId);
        // Assess
        expect(mapped.every(sqsAccepts)).toBe(true);
        expect(new Set(mapped).size).toBe(ids.length);
      }),
      { numRuns: 300 },
    );
  });
});

describe('isSqsId', () => {
  it('agrees with the documented rules on any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 140 }), (value) => {
        // Act + Assess
        expect(isSqsId(value)).toBe(sqsAccepts(value));
      }),
      { numRuns: 500 },
    );
  });
});

describe('fillQueueMessage on FIFO', () => {
  const fifo = { fifo: true, maxBatchBytes: 262_144 };

  it('sends an odd symbol under its mapped group and keeps the symbol attribute as Kalshi sent it', () => {
    // Prepare
    const record = makeRecord(0, { symbol: 'KX SPACE É' });
    // Act
    const { message, group } = fillQueueMessage(JSON.stringify(record), () => record, fifo, 'e1', 'default');
    // Assess
    expect(message.groupId).toBe(messageGroupId('default:KX SPACE É'));
    expect(message.groupId).toBe('default:KX_SPACE_E~6df40debee62ee65'); // docs/archive.md's example
    expect(group).toBe(message.groupId);
    expect(message.attributes['symbol']).toEqual({ type: 'String', value: 'KX SPACE É' });
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { FixDecoder } from '../../src/fix/decoder.js';
import { decodeExecutionReport } from '../../src/fix/execution-report.js';
import type { ExecutionReportRecord } from '../../src/core/record.js';
import { buildCorpus, KEY_TAGS, type Corpus } from '../../bench/fixtures.js';
import { createReferenceParser, viewFields } from '../../bench/jspurefix-reference.js';

/**
 * The decode benchmark compares our decoder with jspurefix on the same bytes. That comparison only
 * means something if both read those bytes the same way: every field, the key fields the benchmark
 * reads, and the record's groups. No timing here.
 */

type Value = string | number | null;

interface Decoded {
  fields: Array<[number, string]>;
  keys: Value[];
  groups: { fees: Value[]; collateral: Value[]; parties: Value[] };
}

let corpus: Corpus;
const ours: Decoded[] = [];
const records: ExecutionReportRecord[] = [];
const reference: Decoded[] = [];

beforeAll(async () => {
  corpus = buildCorpus(2000);
  const decoder = new FixDecoder({
    onMessage: (m) => {
      ours.push({
        fields: m.fields(),
        keys: [
          m.get(KEY_TAGS.ExecID) ?? null,
          m.get(KEY_TAGS.ExecType) ?? null,
          m.get(KEY_TAGS.Symbol) ?? null,
          m.get(KEY_TAGS.LastQty) ?? null,
          m.get(KEY_TAGS.LastPx) ?? null,
          m.getInt(KEY_TAGS.MsgSeqNum) ?? null,
        ],
        groups: { fees: [], collateral: [], parties: [] },
      });
      records.push(decodeExecutionReport(m, { receivedAt: 0, source: 'live' }));
    },
    onError: (error) => {
      throw error;
    },
  });
  for (const chunk of corpus.chunks) decoder.push(chunk);
  // A MsgView is only valid inside its callback (the parser reuses its buffer): copy out there.
  const parser = await createReferenceParser((view) => {
    const seq = view.getTyped(KEY_TAGS.MsgSeqNum);
    reference.push({
      fields: viewFields(view),
      keys: [
        view.getString(KEY_TAGS.ExecID),
        view.getString(KEY_TAGS.ExecType),
        view.getString(KEY_TAGS.Symbol),
        view.getString(KEY_TAGS.LastQty),
        view.getString(KEY_TAGS.LastPx),
        typeof seq === 'number' ? seq : null,
      ],
      groups: {
        fees: view.getStrings(137) ?? [],
        collateral: view.getStrings(1704) ?? [],
        parties: view.getStrings(448) ?? [],
      },
    });
  });
  for (const chunk of corpus.chunks) parser.push(chunk);
}, 60_000);

describe('decode benchmark parity: FixDecoder and jspurefix on the same bytes', () => {
  it('both decode every message of the corpus, in order', () => {
    // Assess
    expect(ours).toHaveLength(corpus.count);
    expect(reference).toHaveLength(corpus.count);
    expect(reference.map((r) => r.keys[5])).toEqual(ours.map((o) => o.keys[5]));
  });

  it('every field has the same tag and value, in wire order', () => {
    for (let i = 0; i < corpus.count; i++) {
      const theirs = reference[i]!.fields;
      const frame = corpus.frames[i]!.toString('latin1').replaceAll('\x01', '|');
      // jspurefix also lists the envelope our index leaves out: BeginString, BodyLength, CheckSum.
      expect(theirs.slice(0, 2)).toEqual([
        [8, 'FIXT.1.1'],
        [9, /\|9=(\d+)\|/.exec(frame)![1]],
      ]);
      expect(theirs.at(-1)).toEqual([10, frame.slice(-4, -1)]);
      expect(ours[i]!.fields).toEqual(theirs.slice(2, -1));
    }
  });

  it('the key fields the benchmark reads have the same values', () => {
    // Assess: ExecID, ExecType, Symbol, LastQty, LastPx as strings (null when absent), MsgSeqNum as a number.
    expect(ours.map((o) => o.keys)).toEqual(reference.map((r) => r.keys));
    expect(ours.filter((o) => o.keys[1] === 'F').every((o) => o.keys[3] !== null && o.keys[4] !== null)).toBe(true);
  });

  it('the full record carries the same values, repeating groups included', () => {
    for (let i = 0; i < corpus.count; i++) {
      const record = records[i]!;
      const [execId, execType, symbol, lastQty, lastPx, seq] = reference[i]!.keys;
      expect([
        record.exec_id,
        record.exec_type,
        record.symbol,
        record.last_qty,
        record.last_px,
        record.msg_seq_num,
      ]).toEqual([execId, execType, symbol, lastQty, lastPx, seq]);
      expect(record.fees.map((f) => f.amount)).toEqual(reference[i]!.groups.fees);
      expect(record.collateral_changes.map((c) => c.amount)).toEqual(reference[i]!.groups.collateral);
      expect(record.parties.map((p) => p.id)).toEqual(reference[i]!.groups.parties);
    }
  });

  it('the corpus is the one the issue describes: 300–600 byte reports, fills with fee and collateral groups', () => {
    // Assess
    expect(corpus.minFrameBytes).toBeGreaterThanOrEqual(300);
    expect(corpus.maxFrameBytes).toBeLessThanOrEqual(600);
    expect(corpus.fills / corpus.count).toBeGreaterThan(0.35);
    expect(corpus.fills / corpus.count).toBeLessThan(0.55);
    const fills = records.filter((r) => r.exec_type === 'F');
    expect(fills.every((r) => r.fees.length === 1 && r.collateral_changes.length >= 1)).toBe(true);
    expect(fills.some((r) => r.collateral_changes.length === 2)).toBe(true);
    // Chunks are the frames back to back: frames straddle chunk ends, as on a socket.
    expect(Buffer.concat(corpus.chunks).equals(Buffer.concat(corpus.frames))).toBe(true);
  });
});

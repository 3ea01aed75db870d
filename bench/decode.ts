/**
 * Section 1 — decode throughput on the same bytes, four ways:
 *   byte loop        reads every byte once (a sum): no JS decoder can be faster than this
 *   ours: key fields FixDecoder (framing, BodyLength, CheckSum, field index) + the six fields the
 *                    hot path needs, through FixMessage.get / getInt
 *   ours: record     FixDecoder + decodeExecutionReport: the full archive record
 *   jspurefix        AsciiParser → MsgView (its fastest mode) + the same six fields
 * (plus "ours: frames only", no field read, to show what the field reads cost), and what the FIX
 * thread spends to put a report in a journal record, two ways:
 *   JSON record      the record, its JSON line, the line's UTF-8 and CRC32: the journal's append today
 *   frame record     the ExecID, the frame's bytes copied behind a small header, and CRC32: the
 *                    binary journal record (issue 15, direction 1), whose JSON line a sink would
 *                    build later from the frame (the JSON record's cost, on another thread)
 *
 * Every case walks the whole corpus (socket-sized chunks, frames straddling chunk ends) per pass.
 * Rounds are interleaved across cases with a forced GC before each, so drift on a shared VM and one
 * case's garbage land on nobody else; a case's own allocation cost stays inside its round.
 */
import { performance } from 'node:perf_hooks';
import { crc32 } from 'node:zlib';
import { FixDecoder } from '../src/fix/decoder.js';
import { decodeExecutionReport } from '../src/fix/execution-report.js';
import type { FixMessage } from '../src/fix/message.js';
import { buildCorpus, KEY_TAGS, type Corpus } from './fixtures.js';
import { createReferenceParser, JSPUREFIX_DICTIONARY, type MsgView } from './jspurefix-reference.js';
import { median, round } from './timing.js';

export interface DecodeOptions {
  messages: number;
  rounds: number;
  /** Each round repeats passes until it lasts about this long. */
  roundMs: number;
  warmupMs: number;
}

export const DEFAULT_DECODE_OPTIONS: DecodeOptions = { messages: 20_000, rounds: 15, roundMs: 150, warmupMs: 1500 };

interface Case {
  name: string;
  /** One pass over every chunk; returns how many messages it decoded (bytes, for the byte loop). */
  pass(chunks: readonly Buffer[]): number;
}

export interface DecodeCaseResult {
  name: string;
  nsPerMessage: number;
  minNsPerMessage: number;
  messagesPerSecond: number;
  /** Run-to-run spread: (max − min) / median of the per-round figures, percent. */
  spreadPercent: number;
}

export interface DecodeResult {
  corpus: {
    messages: number;
    bytes: number;
    meanFrameBytes: number;
    minFrameBytes: number;
    maxFrameBytes: number;
    fillShare: number;
    chunkBytes: number;
  };
  jspurefix: { dictionary: string; dictionaryLoadMs: number };
  cases: DecodeCaseResult[];
  ratios: {
    /** jspurefix ns/msg ÷ ours (key fields): how many times faster we are. Target ≥ 10. */
    oursKeyVsJspurefix: number;
    oursRecordVsJspurefix: number;
    /** byte-loop ns/msg ÷ ours (key fields), percent of the bound reached. Target ≥ 60. */
    oursKeyPercentOfByteLoop: number;
    oursFramesPercentOfByteLoop: number;
  };
  /**
   * What making a report's journal record costs the FIX thread beyond framing, ns: as a JSON line
   * (today) and as a frame record (direction 1, which leaves the JSON line to a sink).
   */
  journalRecord: { jsonNsPerReport: number; frameNsPerReport: number };
}

// Written by every case so no result is dead code to the optimiser.
let blackhole = 0;

function len(value: string | undefined | null): number {
  return value === undefined || value === null ? 0 : value.length;
}

function byteLoopCase(): Case {
  return {
    name: 'byte loop (sum of bytes)',
    pass(chunks) {
      let sum = 0;
      for (const chunk of chunks) for (let i = 0; i < chunk.length; i++) sum = (sum + chunk[i]!) | 0;
      blackhole ^= sum;
      return 0;
    },
  };
}

function fixDecoderCase(name: string, onMessage: (message: FixMessage) => void): Case {
  let count = 0;
  const decoder = new FixDecoder({
    onMessage: (message) => {
      count++;
      onMessage(message);
    },
    onError: (error) => {
      throw error;
    },
  });
  return {
    name,
    pass(chunks) {
      count = 0;
      for (const chunk of chunks) decoder.push(chunk);
      return count;
    },
  };
}

function readKeyFields(message: FixMessage): void {
  blackhole +=
    len(message.get(KEY_TAGS.ExecID)) +
    len(message.get(KEY_TAGS.ExecType)) +
    len(message.get(KEY_TAGS.Symbol)) +
    len(message.get(KEY_TAGS.LastQty)) +
    len(message.get(KEY_TAGS.LastPx)) +
    (message.getInt(KEY_TAGS.MsgSeqNum) ?? 0);
}

const RECEIVED_AT = Date.UTC(2026, 10, 23, 14, 0, 1);

function readRecord(message: FixMessage): void {
  blackhole += decodeExecutionReport(message, { receivedAt: RECEIVED_AT, source: 'live' }).exec_id.length;
}

// One record's worth of segment bytes, reused: only the encoding work is timed, not allocation.
const scratch = Buffer.alloc(1 << 20);
const RECORD_HEADER = 16;

/** Journal.append today: record → JSON line → UTF-8 behind the record header → CRC32. */
function journalJsonRecord(message: FixMessage): void {
  const line = JSON.stringify(decodeExecutionReport(message, { receivedAt: RECEIVED_AT, source: 'live' }));
  const end = RECORD_HEADER + scratch.write(line, RECORD_HEADER, 'utf8');
  blackhole ^= crc32(scratch.subarray(8, end));
}

/** A binary record: ExecID (for the dedupe index) and received time in a header, then the frame. */
function journalFrameRecord(message: FixMessage): void {
  const execId = message.get(KEY_TAGS.ExecID) ?? '';
  scratch.writeDoubleLE(RECEIVED_AT, RECORD_HEADER);
  scratch[RECORD_HEADER + 8] = execId.length;
  const frameAt = RECORD_HEADER + 9 + scratch.write(execId, RECORD_HEADER + 9, 'latin1');
  const end = frameAt + message.bytes.copy(scratch, frameAt);
  blackhole ^= crc32(scratch.subarray(8, end));
}

async function jspurefixCase(): Promise<Case> {
  let count = 0;
  const parser = await createReferenceParser((view: MsgView) => {
    count++;
    const seq = view.getTyped(KEY_TAGS.MsgSeqNum);
    blackhole +=
      len(view.getString(KEY_TAGS.ExecID)) +
      len(view.getString(KEY_TAGS.ExecType)) +
      len(view.getString(KEY_TAGS.Symbol)) +
      len(view.getString(KEY_TAGS.LastQty)) +
      len(view.getString(KEY_TAGS.LastPx)) +
      (typeof seq === 'number' ? seq : 0);
  });
  return {
    name: `jspurefix MsgView + key fields`,
    pass(chunks) {
      count = 0;
      for (const chunk of chunks) parser.push(chunk);
      return count;
    },
  };
}

function collectGarbage(): void {
  // Present when the section runs with --expose-gc (run.ts forks it that way).
  (globalThis as { gc?: () => void }).gc?.();
}

function timePasses(c: Case, chunks: readonly Buffer[], passes: number): number {
  const start = performance.now();
  for (let i = 0; i < passes; i++) c.pass(chunks);
  return performance.now() - start;
}

export async function runDecode(options: DecodeOptions = DEFAULT_DECODE_OPTIONS): Promise<DecodeResult> {
  const corpus: Corpus = buildCorpus(options.messages);
  const loadStart = performance.now();
  const reference = await jspurefixCase();
  const dictionaryLoadMs = performance.now() - loadStart;
  const cases: Case[] = [
    byteLoopCase(),
    fixDecoderCase('ours: frames only', () => undefined),
    fixDecoderCase('ours: FixDecoder + key fields', readKeyFields),
    fixDecoderCase('ours: FixDecoder + decodeExecutionReport', readRecord),
    fixDecoderCase('journal JSON record: FixDecoder + record + JSON line + CRC32', journalJsonRecord),
    fixDecoderCase('journal frame record: FixDecoder + ExecID + frame copy + CRC32', journalFrameRecord),
    reference,
  ];

  // Every decoder must see every message, or its figure would be flattering.
  for (const c of cases.slice(1)) {
    const seen = c.pass(corpus.chunks);
    if (seen !== corpus.count) throw new Error(`${c.name} decoded ${seen} of ${corpus.count} messages`);
  }

  // Warm-up (JIT tiers settle), then size each case's round to about roundMs.
  const passes = new Map<Case, number>();
  for (const c of cases) {
    const deadline = performance.now() + options.warmupMs / cases.length;
    let one = timePasses(c, corpus.chunks, 1);
    while (performance.now() < deadline) one = Math.min(one, timePasses(c, corpus.chunks, 1));
    passes.set(c, Math.max(1, Math.round(options.roundMs / Math.max(one, 0.01))));
  }

  const samples = new Map<Case, number[]>(cases.map((c) => [c, []]));
  for (let r = 0; r < options.rounds; r++) {
    // Rotate the order so no case always runs right after the same neighbour.
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(r + k) % cases.length]!;
      const n = passes.get(c)!;
      collectGarbage();
      const ms = timePasses(c, corpus.chunks, n);
      samples.get(c)!.push((ms * 1e6) / (n * corpus.count));
    }
  }

  const results = cases.map((c): DecodeCaseResult => {
    const ns = samples.get(c)!;
    const mid = median(ns);
    return {
      name: c.name,
      nsPerMessage: round(mid, 1),
      minNsPerMessage: round(Math.min(...ns), 1),
      messagesPerSecond: Math.round(1e9 / mid),
      spreadPercent: round(((Math.max(...ns) - Math.min(...ns)) / mid) * 100, 1),
    };
  });
  const [byteLoop, frames, key, record, jsonRecord, frameRecord, jsfix] = results as [
    DecodeCaseResult,
    DecodeCaseResult,
    DecodeCaseResult,
    DecodeCaseResult,
    DecodeCaseResult,
    DecodeCaseResult,
    DecodeCaseResult,
  ];
  if (blackhole === 0.5) console.log('unreachable'); // keeps `blackhole` observable
  return {
    corpus: {
      messages: corpus.count,
      bytes: corpus.bytes,
      meanFrameBytes: round(corpus.bytes / corpus.count, 0),
      minFrameBytes: corpus.minFrameBytes,
      maxFrameBytes: corpus.maxFrameBytes,
      fillShare: round(corpus.fills / corpus.count, 3),
      chunkBytes: corpus.chunks[0]!.length,
    },
    jspurefix: { dictionary: JSPUREFIX_DICTIONARY, dictionaryLoadMs: Math.round(dictionaryLoadMs) },
    cases: results,
    ratios: {
      oursKeyVsJspurefix: round(jsfix.nsPerMessage / key.nsPerMessage, 2),
      oursRecordVsJspurefix: round(jsfix.nsPerMessage / record.nsPerMessage, 2),
      oursKeyPercentOfByteLoop: round((byteLoop.nsPerMessage / key.nsPerMessage) * 100, 1),
      oursFramesPercentOfByteLoop: round((byteLoop.nsPerMessage / frames.nsPerMessage) * 100, 1),
    },
    journalRecord: {
      jsonNsPerReport: round(jsonRecord.nsPerMessage - frames.nsPerMessage, 1),
      frameNsPerReport: round(frameRecord.nsPerMessage - frames.nsPerMessage, 1),
    },
  };
}

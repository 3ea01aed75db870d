import { isAscii, isUtf8 } from 'node:buffer';
import { parseDigits } from './digits.js';
import { isDataTag, SOH } from './tags.js';

/**
 * A decoded FIX message: a window on the socket chunk it arrived in plus (tag, value start, value
 * end) triples in an index shared by many messages. Nothing is copied or sliced per message: the
 * read loop allocates this one object, and values become strings only when asked for.
 */
export class FixMessage {
  readonly msgType: string;
  /** MsgSeqNum(34), or 0 when the message carried none (the session treats that as fatal). */
  readonly seqNum: number;
  readonly fieldCount: number;
  readonly #buffer: Buffer;
  readonly #start: number;
  readonly #end: number;
  readonly #index: Int32Array;
  readonly #base: number;
  #bytes: Buffer | undefined;

  /**
   * @param buffer holds the frame at [start, end); value offsets in the index are into `buffer`
   * @param index holds this message's triples from `base`; the decoder never rewrites them
   */
  constructor(
    buffer: Buffer,
    start: number,
    end: number,
    msgType: string,
    seqNum: number,
    index: Int32Array,
    base: number,
    fieldCount: number,
  ) {
    this.#buffer = buffer;
    this.#start = start;
    this.#end = end;
    this.msgType = msgType;
    this.seqNum = seqNum;
    this.#index = index;
    this.#base = base;
    this.fieldCount = fieldCount;
  }

  /** The whole frame, `8=` through the CheckSum's trailing SOH (a view, made on first use). */
  get bytes(): Buffer {
    return (this.#bytes ??= this.#buffer.subarray(this.#start, this.#end));
  }

  /** Position of the first field with `tag` at or after field position `from`, or -1. */
  indexOf(tag: number, from = 0): number {
    const index = this.#index;
    const end = this.#base + this.fieldCount * 3;
    for (let i = this.#base + from * 3; i < end; i += 3) if (index[i] === tag) return (i - this.#base) / 3;
    return -1;
  }

  tagAt(position: number): number {
    return position >= 0 && position < this.fieldCount ? this.#index[this.#base + position * 3]! : -1;
  }

  valueAt(position: number): string {
    const at = this.#base + position * 3;
    return textAt(this.#buffer, this.#index[at + 1]!, this.#index[at + 2]!);
  }

  /**
   * The value as text that keeps every byte: the value itself when its bytes are valid UTF-8,
   * else `bytes:` and their hex. Two ids differing in one invalid byte would otherwise decode to
   * the same string (each invalid byte becomes U+FFFD) and the second would pass for a duplicate.
   */
  exactValueAt(position: number): string {
    const text = this.valueAt(position);
    if (!text.includes('\uFFFD')) return text;
    const at = this.#base + position * 3;
    const bytes = this.#buffer.subarray(this.#index[at + 1], this.#index[at + 2]);
    return isUtf8(bytes) ? text : `bytes:${bytes.toString('hex')}`;
  }

  has(tag: number): boolean {
    return this.indexOf(tag) !== -1;
  }

  get(tag: number): string | undefined {
    const position = this.indexOf(tag);
    return position === -1 ? undefined : this.valueAt(position);
  }

  /** Integer value without building a string; undefined when absent or not a plain integer. */
  getInt(tag: number): number | undefined {
    const position = this.indexOf(tag);
    if (position === -1) return undefined;
    const at = this.#base + position * 3;
    const n = parseDigits(this.#buffer, this.#index[at + 1]!, this.#index[at + 2]!);
    return n < 0 ? undefined : n;
  }

  /** True when the field is present and is exactly `Y`. */
  getFlag(tag: number): boolean {
    const position = this.indexOf(tag);
    if (position === -1) return false;
    const at = this.#base + position * 3;
    const start = this.#index[at + 1]!;
    return this.#index[at + 2]! - start === 1 && this.#buffer[start] === 0x59; // 'Y'
  }

  /** All (tag, value) pairs in wire order. Allocates: for tests, the simulator and diagnostics. */
  fields(): Array<[number, string]> {
    const out: Array<[number, string]> = [];
    for (let i = 0; i < this.fieldCount; i++) out.push([this.tagAt(i), this.valueAt(i)]);
    return out;
  }

  /** The frame as text with SOH shown as `|`: the archive's `raw` column and log lines. */
  toString(): string {
    // It runs once per report: one native copy, then `|` written only where the index says a
    // field ends, instead of testing every byte (less than half the time of a byte loop).
    const length = this.#end - this.#start;
    if (displayScratch.length < length)
      displayScratch = Buffer.allocUnsafe(Math.max(length, 2 * displayScratch.length));
    const out = displayScratch;
    const start = this.#start;
    this.#buffer.copy(out, 0, start, this.#end);
    const index = this.#index;
    const last = this.#base + this.fieldCount * 3;
    // BeginString and BodyLength come before the first indexed field.
    const headerEnd = this.fieldCount > 0 ? index[this.#base + 1]! - start : length;
    for (let i = 0; i < headerEnd; i++) if (out[i] === SOH) out[i] = BAR;
    for (let at = this.#base; at < last; at += 3) {
      const valueEnd = index[at + 2]! - start;
      out[valueEnd] = BAR;
      // A data field (RawData and the like) may hold SOH inside its value.
      if (isDataTag(index[at]!))
        for (let i = index[at + 1]! - start; i < valueEnd; i++) if (out[i] === SOH) out[i] = BAR;
    }
    out[length - 1] = BAR; // the CheckSum field's SOH
    const text = out.subarray(0, length);
    // Pure ASCII (the usual case) needs no UTF-8 decoding. A frame that is not UTF-8 is kept
    // whole as base64 of its wire bytes: decoding it would replace bytes and lose them.
    if (isAscii(text)) return text.toString('latin1');
    if (isUtf8(text)) return text.toString('utf8');
    return `base64:${this.#buffer.toString('base64', start, this.#end)}`;
  }
}

const BAR = 0x7c; // '|'

const SHORT_VALUE = 16;
// Reused by every toString(): its contents never outlive the call.
let displayScratch = Buffer.allocUnsafe(4096);

/**
 * Values are ASCII on the wire except Text, which Kalshi may send as UTF-8. Short ASCII values
 * (ids, flags, prices) are built here: the native toString call costs more than their characters.
 */
function textAt(buffer: Buffer, start: number, end: number): string {
  if (end - start > SHORT_VALUE) return buffer.toString('utf8', start, end);
  let text = '';
  for (let i = start; i < end; i++) {
    const c = buffer[i]!;
    if (c >= 0x80) return buffer.toString('utf8', start, end);
    text += String.fromCharCode(c);
  }
  return text;
}

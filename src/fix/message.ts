/**
 * A decoded FIX message: a view over the frame's bytes plus one Int32Array of
 * (tag, value start, value end) triples. Values are materialised only when asked for, so the
 * read loop allocates one small object and one typed array per message, never a string per field.
 */
export class FixMessage {
  /** The whole frame, `8=` through the CheckSum's trailing SOH. */
  readonly bytes: Buffer;
  readonly msgType: string;
  /** MsgSeqNum(34), or 0 when the message carried none (the session treats that as fatal). */
  readonly seqNum: number;
  readonly fieldCount: number;
  readonly #index: Int32Array;

  constructor(bytes: Buffer, msgType: string, seqNum: number, index: Int32Array, fieldCount: number) {
    this.bytes = bytes;
    this.msgType = msgType;
    this.seqNum = seqNum;
    this.#index = index;
    this.fieldCount = fieldCount;
  }

  /** Position of the first field with `tag` at or after field position `from`, or -1. */
  indexOf(tag: number, from = 0): number {
    const index = this.#index;
    for (let i = from; i < this.fieldCount; i++) if (index[i * 3] === tag) return i;
    return -1;
  }

  tagAt(position: number): number {
    return this.#index[position * 3] ?? -1;
  }

  valueAt(position: number): string {
    const index = this.#index;
    // Values are ASCII on the wire except Text, which Kalshi may send as UTF-8.
    return this.bytes.toString('utf8', index[position * 3 + 1], index[position * 3 + 2]);
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
    return parseIntAt(this.bytes, this.#index[position * 3 + 1]!, this.#index[position * 3 + 2]!);
  }

  /** True when the field is present and is exactly `Y`. */
  getFlag(tag: number): boolean {
    const position = this.indexOf(tag);
    if (position === -1) return false;
    const start = this.#index[position * 3 + 1]!;
    return this.#index[position * 3 + 2]! - start === 1 && this.bytes[start] === 0x59; // 'Y'
  }

  /** All (tag, value) pairs in wire order. Allocates: for tests, the simulator and diagnostics. */
  fields(): Array<[number, string]> {
    const out: Array<[number, string]> = [];
    for (let i = 0; i < this.fieldCount; i++) out.push([this.tagAt(i), this.valueAt(i)]);
    return out;
  }

  /** The frame as text with SOH shown as `|`: the archive's `raw` column and log lines. */
  toString(): string {
    return this.bytes.toString('utf8').replaceAll('\x01', '|');
  }
}

/** Parses an unsigned decimal integer in bytes[start, end); undefined if empty or not digits. */
export function parseIntAt(bytes: Uint8Array, start: number, end: number): number | undefined {
  if (end <= start || end - start > 15) return undefined;
  let n = 0;
  for (let i = start; i < end; i++) {
    const digit = bytes[i]! - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    n = n * 10 + digit;
  }
  return n;
}

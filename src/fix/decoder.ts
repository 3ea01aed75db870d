import { ListenerError } from '../errors.js';
import { FixMessage } from './message.js';
import { Tag } from './tags.js';

export interface FixDecoderOptions {
  /** Called once per valid frame, in stream order. */
  onMessage(message: FixMessage): void;
  /**
   * Called for every frame or byte run that is dropped. The decoder has already resynchronised;
   * the stream goes on. `raw` is the dropped text (SOH as `|`, capped) for the log line.
   */
  onError(error: ListenerError): void;
  /** Frames whose BodyLength exceeds this are treated as garbage (default 1 MiB). */
  maxMessageBytes?: number;
}

const BEGIN_PREFIX = Buffer.from('8=FIX', 'latin1');
const SOH = 0x01;
const EQUALS = 0x3d;
const RAW_PREVIEW = 200;

/** Tags whose value is `data`: its length comes from the field just before it, and it may hold SOH. */
const DATA_LENGTH_TAG = new Map<number, number>([
  [Tag.RawDataLength, Tag.RawData],
  [90, 91], // SecureDataLen → SecureData
  [93, 89], // SignatureLength → Signature
  [212, 213], // XmlDataLen → XmlData
]);

/**
 * Streaming FIX decoder: feed it socket chunks of any size; it emits whole, verified frames.
 *
 * Framing follows the standard: `8=` BeginString, `9=` BodyLength counting from the byte after its
 * SOH through the SOH before `10=`, and a 3-digit CheckSum over every byte before `10=`. A frame
 * that fails either check is reported and skipped; bytes that cannot start a frame are skipped up to
 * the next `8=FIX`. Nothing here throws on bad input.
 */
export class FixDecoder {
  readonly #onMessage: (message: FixMessage) => void;
  readonly #onError: (error: ListenerError) => void;
  readonly #maxMessageBytes: number;
  #pending: Buffer | undefined;
  // Scratch index reused across frames; each message gets an exact-size copy.
  #scratch = new Int32Array(3 * 128);

  constructor(options: FixDecoderOptions) {
    this.#onMessage = options.onMessage;
    this.#onError = options.onError;
    this.#maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024;
  }

  /** Bytes held back waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#pending?.length ?? 0;
  }

  /** Drops any partial frame (use when the connection is replaced). */
  reset(): void {
    this.#pending = undefined;
  }

  push(chunk: Uint8Array): void {
    const buffer = this.#pending === undefined ? toBuffer(chunk) : Buffer.concat([this.#pending, chunk]);
    this.#pending = undefined;
    let offset = 0;
    while (offset < buffer.length) {
      const consumed = this.#decodeAt(buffer, offset);
      if (consumed === 0) {
        this.#pending = buffer.subarray(offset);
        return;
      }
      offset += consumed;
    }
  }

  /** Returns how many bytes at `start` were consumed (a frame or skipped garbage), 0 to wait for more. */
  #decodeAt(buf: Buffer, start: number): number {
    if (!startsWithPrefix(buf, start)) return this.#skipGarbage(buf, start);

    // 8=BeginString SOH
    const beginEnd = buf.indexOf(SOH, start);
    if (beginEnd === -1) return buf.length - start > 32 ? this.#dropGarbled(buf, start, 'BeginString has no end') : 0;

    // 9=BodyLength SOH
    let pos = beginEnd + 1;
    if (buf.length < pos + 2) return 0;
    if (buf[pos] !== 0x39 || buf[pos + 1] !== EQUALS) return this.#dropGarbled(buf, start, 'second field is not BodyLength(9)');
    pos += 2;
    let bodyLength = 0;
    let digits = 0;
    for (;;) {
      if (pos >= buf.length) return digits > 9 ? this.#dropGarbled(buf, start, 'BodyLength is not a number') : 0;
      const byte = buf[pos]!;
      if (byte === SOH) break;
      const digit = byte - 0x30;
      if (digit < 0 || digit > 9 || ++digits > 9) return this.#dropGarbled(buf, start, 'BodyLength is not a number');
      bodyLength = bodyLength * 10 + digit;
      pos++;
    }
    if (digits === 0) return this.#dropGarbled(buf, start, 'BodyLength is empty');
    if (bodyLength > this.#maxMessageBytes) {
      this.#onError(
        new ListenerError('ERR_FIX_FRAME_TOO_LARGE', `FIX frame declares BodyLength ${bodyLength}, above the ${this.#maxMessageBytes}-byte limit`, {
          details: { bodyLength },
        }),
      );
      return this.#resyncFrom(buf, start + 1);
    }
    const bodyStart = pos + 1;
    const trailerStart = bodyStart + bodyLength;
    const frameEnd = trailerStart + 7; // "10=" + 3 digits + SOH
    if (buf.length < frameEnd) return 0;

    if (
      buf[trailerStart] !== 0x31 ||
      buf[trailerStart + 1] !== 0x30 ||
      buf[trailerStart + 2] !== EQUALS ||
      buf[frameEnd - 1] !== SOH ||
      buf[trailerStart - 1] !== SOH
    ) {
      this.#onError(
        new ListenerError('ERR_FIX_BODY_LENGTH', `FIX frame BodyLength ${bodyLength} does not end at the CheckSum field`, {
          details: { bodyLength, raw: preview(buf, start, Math.min(buf.length, frameEnd)) },
        }),
      );
      return this.#resyncFrom(buf, start + 1);
    }

    // One pass over header and body: checksum and the field index together.
    let sum = 0;
    for (let i = start; i < bodyStart; i++) sum += buf[i]!;
    let index = this.#scratch;
    let count = 0;
    let msgType: string | undefined;
    let seqNum = 0;
    let dataTag = -1;
    let dataLength = 0;
    let i = bodyStart;
    while (i < trailerStart) {
      let tag = 0;
      const tagStart = i;
      for (;;) {
        if (i >= trailerStart) return this.#dropFrame(buf, start, frameEnd, `field without '=' at byte ${tagStart - start}`);
        const byte = buf[i]!;
        if (byte === EQUALS) break;
        const digit = byte - 0x30;
        if (digit < 0 || digit > 9 || i - tagStart > 8) return this.#dropFrame(buf, start, frameEnd, `bad tag at byte ${tagStart - start}`);
        tag = tag * 10 + digit;
        sum += byte;
        i++;
      }
      if (i === tagStart) return this.#dropFrame(buf, start, frameEnd, `empty tag at byte ${tagStart - start}`);
      sum += EQUALS;
      const valueStart = ++i;
      let valueEnd: number;
      if (tag === dataTag) {
        valueEnd = valueStart + dataLength;
        if (valueEnd >= trailerStart || buf[valueEnd] !== SOH) return this.#dropFrame(buf, start, frameEnd, `data field ${tag} does not match its length ${dataLength}`);
        for (; i < valueEnd; i++) sum += buf[i]!;
      } else {
        while (i < trailerStart && buf[i] !== SOH) sum += buf[i++]!;
        valueEnd = i;
      }
      sum += SOH;
      i++;
      dataTag = -1;
      const dataFor = DATA_LENGTH_TAG.get(tag);
      if (dataFor !== undefined) {
        const n = parseDigits(buf, valueStart, valueEnd);
        if (n >= 0) {
          dataTag = dataFor;
          dataLength = n;
        }
      }
      if (count * 3 + 3 > index.length) {
        const grown = new Int32Array(index.length * 2);
        grown.set(index);
        index = this.#scratch = grown;
      }
      index[count * 3] = tag;
      // Offsets are relative to the frame, which the message keeps as its own view.
      index[count * 3 + 1] = valueStart - start;
      index[count * 3 + 2] = valueEnd - start;
      count++;
      if (count === 1) {
        if (tag !== Tag.MsgType || valueEnd === valueStart) return this.#dropFrame(buf, start, frameEnd, 'third field is not MsgType(35)');
        msgType = msgTypeOf(buf, valueStart, valueEnd);
      } else if (tag === Tag.MsgSeqNum && seqNum === 0) {
        seqNum = Math.max(0, parseDigits(buf, valueStart, valueEnd));
      }
    }

    const declared = parseDigits(buf, trailerStart + 3, trailerStart + 6);
    if (declared !== (sum & 0xff)) {
      this.#onError(
        new ListenerError('ERR_FIX_CHECKSUM', `FIX frame CheckSum ${String(declared).padStart(3, '0')} does not match computed ${String(sum & 0xff).padStart(3, '0')}`, {
          details: { seqNum, msgType, raw: preview(buf, start, frameEnd) },
        }),
      );
      return frameEnd - start;
    }
    if (msgType === undefined) return this.#dropFrame(buf, start, frameEnd, 'frame has no MsgType(35)');

    this.#onMessage(new FixMessage(buf.subarray(start, frameEnd), msgType, seqNum, index.slice(0, count * 3), count));
    return frameEnd - start;
  }

  #skipGarbage(buf: Buffer, start: number): number {
    const next = buf.indexOf(BEGIN_PREFIX, start + 1);
    if (next === -1) {
      // Keep a tail that could be the start of a split "8=FIX".
      const keep = Math.min(BEGIN_PREFIX.length - 1, buf.length - start);
      const tailStart = tailMatch(buf, buf.length - keep);
      if (tailStart === start) return 0;
      this.#reportGarbage(buf, start, tailStart);
      return tailStart - start;
    }
    this.#reportGarbage(buf, start, next);
    return next - start;
  }

  #reportGarbage(buf: Buffer, start: number, end: number): void {
    this.#onError(
      new ListenerError('ERR_FIX_GARBLED', `skipped ${end - start} bytes that do not start a FIX frame`, {
        details: { skipped: end - start, raw: preview(buf, start, end) },
      }),
    );
  }

  #dropGarbled(buf: Buffer, start: number, reason: string): number {
    this.#onError(new ListenerError('ERR_FIX_GARBLED', `malformed FIX frame header: ${reason}`, { details: { raw: preview(buf, start, Math.min(buf.length, start + RAW_PREVIEW)) } }));
    return this.#resyncFrom(buf, start + 1);
  }

  #dropFrame(buf: Buffer, start: number, frameEnd: number, reason: string): number {
    this.#onError(new ListenerError('ERR_FIX_GARBLED', `malformed FIX frame: ${reason}`, { details: { raw: preview(buf, start, frameEnd) } }));
    return frameEnd - start;
  }

  /** Consumes up to the next "8=FIX" after a bad header, without reporting those bytes again. */
  #resyncFrom(buf: Buffer, from: number): number {
    const start = from - 1;
    const next = buf.indexOf(BEGIN_PREFIX, from);
    if (next !== -1) return next - start;
    const tailStart = tailMatch(buf, Math.max(from, buf.length - (BEGIN_PREFIX.length - 1)));
    return Math.max(1, tailStart - start);
  }
}

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function startsWithPrefix(buf: Buffer, start: number): boolean {
  const n = Math.min(BEGIN_PREFIX.length, buf.length - start);
  for (let i = 0; i < n; i++) if (buf[start + i] !== BEGIN_PREFIX[i]) return false;
  return true;
}

/** First position ≥ from where the rest of the buffer is a prefix of "8=FIX", else buf.length. */
function tailMatch(buf: Buffer, from: number): number {
  for (let p = Math.max(0, from); p < buf.length; p++) if (startsWithPrefix(buf, p)) return p;
  return buf.length;
}

/** Decimal digits in [start, end) → number, or -1. */
function parseDigits(buf: Uint8Array, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const digit = buf[i]! - 0x30;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

// Interned one-character MsgTypes: the common case costs no string allocation.
const ONE_CHAR_TYPES: string[] = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c));

function msgTypeOf(buf: Buffer, start: number, end: number): string {
  if (end - start === 1 && buf[start]! < 128) return ONE_CHAR_TYPES[buf[start]!]!;
  return buf.toString('latin1', start, end);
}

/** Dropped bytes for a log line: capped, SOH as `|`, and never a logon signature (96). */
function preview(buf: Buffer, start: number, end: number): string {
  return buf
    .toString('latin1', start, Math.min(end, start + RAW_PREVIEW))
    .replaceAll('\x01', '|')
    .replace(/(^|\|)96=[^|]*/g, '$196=<redacted>');
}

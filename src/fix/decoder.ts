import { ListenerError } from '../core/errors.js';
import { FixMessage } from './message.js';
import { parseDigits } from './digits.js';
import { dataTagFor, Tag } from './tags.js';

export interface FixDecoderOptions {
  /** Called once per valid frame, in stream order. */
  onMessage: (message: FixMessage) => void;
  /**
   * Called for every frame or byte run that is dropped. The decoder has already resynchronised;
   * the stream goes on. `raw` is the dropped text (SOH as `|`, capped) for the log line.
   */
  onError: (error: ListenerError) => void;
  /** Frames whose BodyLength exceeds this are treated as garbage (default 1 MiB). */
  maxMessageBytes?: number;
}

const BEGIN_PREFIX = Buffer.from('8=FIX', 'latin1');
const SOH = 0x01;
const EQUALS = 0x3d;
const RAW_PREVIEW = 200;

/** Triples per index block; a message's triples never straddle two blocks. */
const INDEX_BLOCK = 3 * 16 * 1024;
/** A frame needs the join of two chunks only for its own bytes: copy this much of the new chunk. */
const JOIN_BYTES = 2 * 1024;

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
  // Messages share index blocks: each takes the next run of triples, so none needs its own array.
  // A full block is left to the messages that point into it and the GC.
  #index = new Int32Array(INDEX_BLOCK);
  #indexUsed = 0;

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
    const next = toBuffer(chunk);
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined) {
      this.#decodeFrom(next, 0);
      return;
    }
    // Only the frame straddling the two chunks needs joined bytes: copy the leftover and the start
    // of the new chunk, finish what began in the leftover there, then decode the chunk in place.
    const head =
      next.length <= JOIN_BYTES
        ? Buffer.concat([pending, next])
        : Buffer.concat([pending, next.subarray(0, JOIN_BYTES)]);
    if (head.length === pending.length + next.length) {
      this.#decodeFrom(head, 0);
      return;
    }
    let offset = 0;
    while (offset < pending.length) {
      const consumed = this.#decodeAt(head, offset);
      if (consumed === 0) {
        // A frame longer than the joined head (rare): join all of it.
        this.#decodeFrom(Buffer.concat([head.subarray(offset, pending.length), next]), 0);
        return;
      }
      offset += consumed;
    }
    this.#decodeFrom(next, offset - pending.length);
  }

  #decodeFrom(buffer: Buffer, from: number): void {
    let offset = from;
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
    if (buf[pos] !== 0x39 || buf[pos + 1] !== EQUALS)
      return this.#dropGarbled(buf, start, 'second field is not BodyLength(9)');
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
        new ListenerError(
          'ERR_FIX_FRAME_TOO_LARGE',
          `FIX frame declares BodyLength ${bodyLength}, above the ${this.#maxMessageBytes}-byte limit`,
          {
            details: { bodyLength },
          },
        ),
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
        new ListenerError(
          'ERR_FIX_BODY_LENGTH',
          `FIX frame BodyLength ${bodyLength} does not end at the CheckSum field`,
          {
            details: { bodyLength, raw: preview(buf, start, Math.min(buf.length, frameEnd)) },
          },
        ),
      );
      return this.#resyncFrom(buf, start + 1);
    }

    // One pass over header and body: checksum and the field index together.
    let sum = 0;
    for (let i = start; i < bodyStart; i++) sum = (sum + buf[i]!) | 0;
    // Every field takes at least 3 body bytes ("t=" SOH), which bounds the triples this frame needs.
    const maxTriples = 3 * (Math.floor(bodyLength / 3) + 1);
    if (this.#indexUsed + maxTriples > this.#index.length) {
      this.#index = new Int32Array(Math.max(INDEX_BLOCK, maxTriples));
      this.#indexUsed = 0;
    }
    const index = this.#index;
    const base = this.#indexUsed;
    let at = base;
    let count = 0;
    let msgType: string | undefined;
    let seqNum = 0;
    let dataTag = -1;
    let dataLength = 0;
    let i = bodyStart;
    while (i < trailerStart) {
      let tag = 0;
      const tagStart = i;
      // No bound check per byte: the body ends in SOH (checked above), which stops this loop too.
      for (let byte = buf[i]!; byte !== EQUALS; byte = buf[++i]!) {
        const digit = byte - 0x30;
        if (digit >>> 0 > 9 || i - tagStart > 8) {
          const reason =
            byte === SOH ? `field without '=' at byte ${tagStart - start}` : `bad tag at byte ${tagStart - start}`;
          return this.#dropFrame(buf, start, frameEnd, reason);
        }
        tag = tag * 10 + digit;
        sum = (sum + byte) | 0;
      }
      if (i === tagStart) return this.#dropFrame(buf, start, frameEnd, `empty tag at byte ${tagStart - start}`);
      sum += EQUALS;
      const valueStart = ++i;
      let valueEnd: number;
      if (tag === dataTag) {
        valueEnd = valueStart + dataLength;
        if (valueEnd >= trailerStart || buf[valueEnd] !== SOH)
          return this.#dropFrame(buf, start, frameEnd, `data field ${tag} does not match its length ${dataLength}`);
        for (; i < valueEnd; i++) sum += buf[i]!;
      } else {
        // buf[trailerStart - 1] is SOH (checked above), so this scan stops inside the body.
        for (let byte = buf[i]!; byte !== SOH; byte = buf[++i]!) sum = (sum + byte) | 0;
        valueEnd = i;
      }
      sum += SOH;
      i++;
      dataTag = -1;
      const dataFor = dataTagFor(tag);
      if (dataFor !== -1) {
        const n = parseDigits(buf, valueStart, valueEnd);
        if (n >= 0) {
          dataTag = dataFor;
          dataLength = n;
        }
      }
      index[at] = tag;
      index[at + 1] = valueStart;
      index[at + 2] = valueEnd;
      at += 3;
      count++;
      if (count === 1) {
        if (tag !== Tag.MsgType || valueEnd === valueStart)
          return this.#dropFrame(buf, start, frameEnd, 'third field is not MsgType(35)');
        msgType = msgTypeOf(buf, valueStart, valueEnd);
      } else if (tag === Tag.MsgSeqNum && seqNum === 0) {
        seqNum = Math.max(0, parseDigits(buf, valueStart, valueEnd));
      }
    }

    const declared = parseDigits(buf, trailerStart + 3, trailerStart + 6);
    if (declared !== (sum & 0xff)) {
      this.#onError(
        new ListenerError(
          'ERR_FIX_CHECKSUM',
          `FIX frame CheckSum ${String(declared).padStart(3, '0')} does not match computed ${String(sum & 0xff).padStart(3, '0')}`,
          {
            details: { seqNum, msgType, raw: preview(buf, start, frameEnd) },
          },
        ),
      );
      return frameEnd - start;
    }
    if (msgType === undefined) return this.#dropFrame(buf, start, frameEnd, 'frame has no MsgType(35)');

    this.#indexUsed = at;
    this.#onMessage(new FixMessage(buf, start, frameEnd, msgType, seqNum, index, base, count));
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
    this.#onError(
      new ListenerError('ERR_FIX_GARBLED', `malformed FIX frame header: ${reason}`, {
        details: { raw: preview(buf, start, Math.min(buf.length, start + RAW_PREVIEW)) },
      }),
    );
    return this.#resyncFrom(buf, start + 1);
  }

  #dropFrame(buf: Buffer, start: number, frameEnd: number, reason: string): number {
    this.#onError(
      new ListenerError('ERR_FIX_GARBLED', `malformed FIX frame: ${reason}`, {
        details: { raw: preview(buf, start, frameEnd) },
      }),
    );
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

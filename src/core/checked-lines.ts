import { crc32 } from 'node:zlib';

/**
 * The line format of the spool's append-only logs (holes, dead letters): `<crc32 hex8> <json>\n`,
 * the checksum over the JSON's UTF-8 bytes (the cursor files carry theirs the same way). A line
 * in any other shape (a plain JSON line, as no release wrote) is damaged: `unparsable`.
 */

const NEWLINE = 0x0a;
const SPACE = 0x20;
/** `hhhhhhhh ` before the JSON, `\n` after. */
const FRAME = 10;

/** Why a line is not taken: its checksum does not match, or it is not `<crc32 hex8> <JSON object>`. */
export type LineFault = 'checksum' | 'unparsable';

export interface ScannedLine {
  offset: number;
  /** Bytes, the newline included. */
  length: number;
  /** The parsed JSON object, when the line is good. */
  value?: object;
  /** Set when the line is damaged. */
  fault?: LineFault;
}

export interface LineScan {
  /** Every newline-terminated line, in order. */
  lines: ScannedLine[];
  /** Bytes through the last newline: whatever follows is a torn tail. */
  whole: number;
}

/** One line for `json` (a JSON text on one line, as JSON.stringify makes it). */
export function encodeLine(json: string): Buffer {
  const body = Buffer.from(json, 'utf8');
  if (body.includes(NEWLINE)) throw new Error('a checked line holds JSON on one line');
  const line = Buffer.allocUnsafe(body.length + FRAME);
  line.write(hex8(crc32(body)), 0, 'latin1');
  line[8] = SPACE;
  body.copy(line, 9);
  line[line.length - 1] = NEWLINE;
  return line;
}

/** Every whole line of `data`, each good (its object) or damaged (why). */
export function scanLines(data: Buffer): LineScan {
  const lines: ScannedLine[] = [];
  let offset = 0;
  for (let end = data.indexOf(NEWLINE); end !== -1; end = data.indexOf(NEWLINE, offset)) {
    lines.push(readLine(data, offset, end));
    offset = end + 1;
  }
  return { lines, whole: offset };
}

function readLine(data: Buffer, offset: number, end: number): ScannedLine {
  const length = end + 1 - offset;
  if (end - offset < FRAME - 1 || data[offset + 8] !== SPACE || !isHex8(data, offset))
    return { offset, length, fault: 'unparsable' };
  const body = data.subarray(offset + 9, end);
  if (data.toString('latin1', offset, offset + 8) !== hex8(crc32(body))) return { offset, length, fault: 'checksum' };
  const value = parseObject(body);
  // A matching checksum over bytes that do not parse: written so, never by this module.
  return value === undefined ? { offset, length, fault: 'unparsable' } : { offset, length, value };
}

function parseObject(bytes: Buffer): object | undefined {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isHex8(data: Buffer, offset: number): boolean {
  for (let i = offset; i < offset + 8; i++) {
    const c = data[i]!;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

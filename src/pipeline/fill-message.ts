import type { ExecutionReportRecord } from '../core/record.js';

export interface FillBody {
  body: string;
  /** UTF-8 bytes of the body. */
  bytes: number;
  /** What was left out to fit (`raw`, then `raw,text`), for the message's `shrunk` attribute. */
  shrunk: 'raw' | 'raw,text' | undefined;
}

/** Where a cut Text ends; consumers also see the `shrunk` attribute. */
export const CUT_MARK = '…[cut]';

/**
 * The fill message body within `limit` bytes: the archive line as it is; else every key but
 * `raw` (the archive keeps it); else Text cut to fit. Undefined when even that does not fit: the
 * fill goes to the dead letters rather than holding its message group forever.
 */
export function fillBody(record: ExecutionReportRecord, line: string, limit: number): FillBody | undefined {
  const bytes = Buffer.byteLength(line);
  if (bytes <= limit) return { body: line, bytes, shrunk: undefined };
  const withoutRaw = JSON.stringify({ ...record, raw: null });
  const rawless = Buffer.byteLength(withoutRaw);
  if (rawless <= limit) return { body: withoutRaw, bytes: rawless, shrunk: 'raw' };
  const text = record.text;
  if (text === null || text.length === 0) return undefined;
  // Text's JSON form may be up to 6 bytes a character (\u0002): cut by the bytes it takes there,
  // then trim until the whole body fits.
  const textBytes = Buffer.byteLength(JSON.stringify(text));
  const room = textBytes - (rawless - limit) - Buffer.byteLength(JSON.stringify(CUT_MARK));
  if (room <= 2) return undefined;
  let keep = Math.floor((text.length * room) / textBytes);
  for (;;) {
    const body = JSON.stringify({ ...record, raw: null, text: `${text.slice(0, keep)}${CUT_MARK}` });
    const size = Buffer.byteLength(body);
    if (size <= limit) return { body, bytes: size, shrunk: 'raw,text' };
    if (keep === 0) return undefined;
    keep = Math.floor(keep * 0.9);
  }
}

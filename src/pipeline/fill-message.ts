import { SCHEMA_VERSION, stringOfLine, type ExecutionReportRecord } from '../core/record.js';
import type { FillQueue, QueueMessage } from '../sinks/types.js';
import { deduplicationId, messageGroupId } from './queue-ids.js';

export interface FillBody {
  body: string;
  /** UTF-8 bytes of the body. */
  bytes: number;
  /** What was left out to fit (`raw`, then `raw,text`), for the message's `shrunk` attribute. */
  shrunk: 'raw' | 'raw,text' | undefined;
}

const VERSION_KEY = '{"schema_version":';

/** The line's schema_version as text: its first key (JSON.stringify keeps the record's key order). */
function schemaVersionOfLine(line: string): string {
  return line.startsWith(VERSION_KEY)
    ? line.slice(VERSION_KEY.length, line.indexOf(',', VERSION_KEY.length))
    : String(SCHEMA_VERSION);
}

/** Where a cut Text ends; consumers also see the `shrunk` attribute. */
export const CUT_MARK = '…[cut]';

/**
 * The fill message body within `limit` bytes: the archive line as it is; else every key but
 * `raw` (the archive keeps it); else Text cut to fit. Undefined when even that does not fit: the
 * fill goes to the dead letters rather than holding its message group forever.
 */
export function fillBody(recordOf: () => ExecutionReportRecord, line: string, limit: number): FillBody | undefined {
  const bytes = Buffer.byteLength(line);
  if (bytes <= limit) return { body: line, bytes, shrunk: undefined };
  const record = recordOf();
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

export { deduplicationId, messageGroupId } from './queue-ids.js';

/**
 * The queue message of one fill (DESIGN.md §4), as the publisher sends it and a replay sends it
 * again: the body fitted to the queue, the attributes, and on FIFO the symbol's group and the
 * ExecID's deduplication id. `fitted` is undefined when even the smallest body does not fit.
 * What it needs is read from the line; `recordOf` is asked only when the line must shrink.
 */
export function fillQueueMessage(
  line: string,
  recordOf: () => ExecutionReportRecord,
  queue: Pick<FillQueue, 'fifo' | 'maxBatchBytes'>,
  id: string,
  listener?: string,
): { message: QueueMessage; fitted: FillBody | undefined; limit: number; group: string; execId: string } {
  const execId = stringOfLine(line, 'exec_id')!;
  const symbol = stringOfLine(line, 'symbol') ?? 'UNKNOWN';
  // Several listeners share one queue: each keeps its own order per symbol, none waits on another.
  // Mapped into what SQS accepts, so an odd or long symbol cannot make every send of it fail.
  const group = messageGroupId(listener === undefined ? symbol : `${listener}:${symbol}`);
  // Room for the attributes beside the body.
  const limit = queue.maxBatchBytes - 1024;
  const fitted = fillBody(recordOf, line, limit);
  const message: QueueMessage = {
    id,
    body: fitted?.body ?? line,
    attributes: {
      exec_id: { type: 'String', value: execId },
      symbol: { type: 'String', value: symbol },
      schema_version: { type: 'Number', value: schemaVersionOfLine(line) },
    },
  };
  if (listener !== undefined) message.attributes['listener'] = { type: 'String', value: listener };
  if (fitted?.shrunk !== undefined) message.attributes['shrunk'] = { type: 'String', value: fitted.shrunk };
  if (queue.fifo) {
    message.groupId = group;
    message.deduplicationId = deduplicationId(execId);
  }
  return { message, fitted, limit, group, execId };
}

import { ListenerError } from '../core/errors.js';
import { ADMIN_MSG_TYPES, BEGIN_STRING, isDataTag } from './tags.js';

/** One body field as it goes on the wire: tag and value (numbers are written in decimal). */
export type Field = readonly [tag: number, value: string | number];

export interface OutboundHeader {
  senderCompId: string;
  targetCompId: string;
  msgSeqNum: number;
  /** FIX UTCTimestamp, e.g. `20260822-14:00:00.123`. The logon signature covers this exact text. */
  sendingTime: string;
  possDup?: boolean;
  origSendingTime?: string;
}

/**
 * Encodes one FIX message, computing BodyLength(9) and CheckSum(10). Header order is
 * 8, 9, 35, 49, 56, 34, 52 [, 43, 122], then the body in the order given.
 * Throws ERR_FIX_PROTOCOL if a non-data value contains SOH, which would corrupt the frame.
 */
export function encodeMessage(
  msgType: string,
  header: OutboundHeader,
  body: readonly Field[],
  beginString = BEGIN_STRING,
): Buffer {
  let text = `35=${msgType}\x0149=${header.senderCompId}\x0156=${header.targetCompId}\x0134=${header.msgSeqNum}\x0152=${header.sendingTime}\x01`;
  if (header.possDup === true) {
    text += '43=Y\x01';
    if (header.origSendingTime !== undefined) text += `122=${header.origSendingTime}\x01`;
  }
  for (const [tag, value] of body) {
    const str = typeof value === 'number' ? String(value) : value;
    if (!isDataTag(tag) && str.includes('\x01')) {
      throw new ListenerError('ERR_FIX_PROTOCOL', `value of tag ${tag} contains SOH and cannot be encoded`, {
        details: { tag },
      });
    }
    text += `${tag}=${str}\x01`;
  }
  const body_ = Buffer.from(text, 'utf8');
  const head = Buffer.from(`8=${beginString}\x019=${body_.length}\x01`, 'latin1');
  let sum = 0;
  for (let i = 0; i < head.length; i++) sum += head[i]!;
  for (let i = 0; i < body_.length; i++) sum += body_[i]!;
  const out = Buffer.allocUnsafe(head.length + body_.length + 7);
  head.copy(out, 0);
  body_.copy(out, head.length);
  out.write(`10=${String(sum & 0xff).padStart(3, '0')}\x01`, head.length + body_.length, 'latin1');
  return out;
}

/**
 * Everything any session of this service may ever send: the session-level (admin) types and the
 * drop copy's EventResendRequest (35=U1). Fixed here, not an option: no configuration, caller or
 * bug can widen it to an order-entry message (D, F, G, q, …).
 */
const EVER_SENDABLE: ReadonlySet<string> = new Set([...ADMIN_MSG_TYPES, 'U1']);

/**
 * The only encoder the listener's session holds. It refuses, before any byte is produced, every
 * MsgType outside its permitted set — by default the session-level (admin) types — and, whatever
 * that set says, everything outside EVER_SENDABLE, so no bug can place, cancel or amend an order
 * through a listener session.
 */
export class ListenerGuardEncoder {
  readonly #permitted: ReadonlySet<string>;

  constructor(permitted: ReadonlySet<string> = ADMIN_MSG_TYPES) {
    this.#permitted = new Set([...permitted].filter((msgType) => EVER_SENDABLE.has(msgType)));
  }

  encode(msgType: string, header: OutboundHeader, body: readonly Field[]): Buffer {
    if (!this.#permitted.has(msgType) || !EVER_SENDABLE.has(msgType)) {
      throw new ListenerError(
        'ERR_FIX_LISTENER_GUARD',
        `listener session refuses to send application message 35=${msgType}`,
        {
          details: { msgType },
        },
      );
    }
    return encodeMessage(msgType, header, body);
  }
}

import { createHash } from 'node:crypto';

/**
 * The ids a FIFO queue keys on (DESIGN.md §4). SQS takes MessageGroupId and MessageDeduplicationId
 * only as 1 to 128 characters from the alphanumerics and ASCII punctuation, i.e. printable ASCII
 * without the space; anything else is refused at send time. The local queue server does not check,
 * so the mapping is made here and tested against those rules (test/pipeline/queue-ids.test.ts).
 */
const SQS_ID = /^[\x21-\x7e]{1,128}$/;
const MAX_LENGTH = 128;

/** Hex digits of the hash a changed group id ends with: 64 bits, far beyond any count of symbols. */
const GROUP_HASH_HEX = 16;
/** Between the readable prefix and the hash, so a reader sees where the symbol's text ends. */
const GROUP_HASH_MARK = '~';

/** Whether SQS takes `value` as a MessageGroupId or MessageDeduplicationId as it is. */
export function isSqsId(value: string): boolean {
  return SQS_ID.test(value);
}

function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/**
 * `listener:symbol` as a MessageGroupId. A valid id is kept as it is, so the groups of ordinary
 * symbols never change. Anything else becomes a readable prefix (accents dropped, every other
 * character SQS refuses as `_`, cut to fit) plus `~` and 16 hex digits of the original's SHA-256:
 * deterministic (a replay lands in the same group), and two distinct inputs could share an id
 * only through a 64-bit SHA-256 collision (or a symbol spelling out another's hash), so two symbols
 * never share one group's order by accident.
 */
export function messageGroupId(group: string): string {
  if (isSqsId(group)) return group;
  const readable = Array.from(group.normalize('NFKD').replace(/\p{M}/gu, ''), (char) =>
    /^[\x21-\x7e]$/.test(char) ? char : '_',
  ).join('');
  const suffix = `${GROUP_HASH_MARK}${sha256Hex(group).slice(0, GROUP_HASH_HEX)}`;
  return `${readable.slice(0, MAX_LENGTH - suffix.length)}${suffix}`;
}

/**
 * The ExecID as a MessageDeduplicationId: itself when SQS takes it (consumers see the ExecID they
 * dedupe on), else its whole SHA-256 in hex (64 characters, still one id per ExecID).
 */
export function deduplicationId(execId: string): string {
  return isSqsId(execId) ? execId : sha256Hex(execId);
}

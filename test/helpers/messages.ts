import type { SequencedMessage } from '../../src/fix/sequencer.js';

/** A message as the sequencer reads it, without a wire frame: fields by tag, flags as 'Y'. */
export interface FakeMessage extends SequencedMessage {
  /** The tag 17 (ExecID) of an application message, for tests that follow reports by id. */
  readonly id: string | undefined;
}

export function message(
  msgType: string,
  seqNum: number,
  fields: Readonly<Record<number, string | number | undefined>> = {},
): FakeMessage {
  const get = (tag: number): string | undefined => {
    const value = fields[tag];
    return value === undefined ? undefined : String(value);
  };
  return {
    msgType,
    seqNum,
    id: get(17),
    get,
    getInt: (tag) => {
      const value = get(tag);
      return value === undefined ? undefined : Number(value);
    },
    getFlag: (tag) => get(tag) === 'Y',
  };
}

/** An ExecutionReport `seq` with ExecID `E<seq>` (or `id`), PossDup when `possDup`. */
export function report(seqNum: number, options: { id?: string; possDup?: boolean } = {}): FakeMessage {
  return message('8', seqNum, { 17: options.id ?? `E${seqNum}`, ...(options.possDup === true ? { 43: 'Y' } : {}) });
}

/** A SequenceReset: GapFill (123=Y) unless `reset`. */
export function sequenceReset(seqNum: number, newSeqNo: number, options: { reset?: boolean } = {}): FakeMessage {
  return message('4', seqNum, { 36: newSeqNo, ...(options.reset === true ? {} : { 123: 'Y', 43: 'Y' }) });
}

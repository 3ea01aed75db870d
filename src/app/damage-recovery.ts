import { basename } from 'node:path';
import type { Hole, JournalDamage, SessionStatus } from '../core/status.js';
import { FileSequenceStore } from '../fix/sequence-store.js';
import type { SessionEvent } from '../fix/session.js';
import type { HoleLog } from '../pipeline/hole-log.js';
import type { Journal } from '../pipeline/journal.js';
import type { Backfiller } from './backfill.js';

export interface DamageRecoveryOptions {
  journal: Journal;
  holes: HoleLog;
  backfill: Pick<Backfiller, 'request'>;
  /** A drop copy (KalshiDC) is configured to replay what the live session cannot resend. */
  dropCopy: boolean;
  /** Each damage as found, and again each time its state changes. */
  onDamage?: (damage: JournalDamage) => void;
  /** A hole recorded for damage neither the exchange nor the drop copy gave back. */
  onHole?: (hole: Hole) => void;
  /** Something failed that recovery cannot go on from (a hole that could not be written). */
  onFailure: (error: unknown) => void;
  now?: () => number;
}

/**
 * The one owner of what becomes of journal damage (DESIGN.md §1): every damage the journal found
 * (a plain value it reports) goes `reported` (nothing anyone acknowledged was lost), `delivered`
 * (lost here after every sink delivered it), or `recovering` → `recovered | hole`: on KalshiRT from
 * the exchange's resend by MsgSeqNum (the session resumed from before the range), else from the
 * drop copy starting at the last ExecID journaled before it. What neither brings back is a
 * recorded hole naming its LSNs and ExecIDs, so the ReportsMissed alarm fires and `reconcile`
 * can close it. The service is not ready while any damage is `recovering`.
 */
export class DamageRecovery {
  readonly #o: DamageRecoveryOptions;
  readonly #now: () => number;
  /** Damage the exchange is resending (KalshiRT): settled once the session is past `target`. */
  #awaitingResend: { target: number; damages: JournalDamage[] } | undefined;

  constructor(options: DamageRecoveryOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Settles what the journal found at open. `resendTarget` (from `resumePosition`) is the
   * MsgSeqNum the session must be past for the exchange's resend of damage to be over.
   */
  async settle(resendTarget: number | undefined): Promise<void> {
    const awaiting: JournalDamage[] = [];
    for (const damage of this.#o.journal.damage) {
      if (damage.state === 'delivered') {
        // Every sink had delivered it: nothing to ask for, and a resend of it is a duplicate.
        this.#tell(damage);
      } else if (
        damage.kind === 'torn_tail' ||
        damage.kind === 'cursor' ||
        damage.kind === 'index' ||
        damage.lsns === null
      ) {
        this.#set(damage, 'reported');
      } else if (resendTarget !== undefined && this.#o.journal.resendFrom(damage) !== undefined) {
        this.#set(damage, 'recovering');
        awaiting.push(damage);
      } else await this.#replayOrHole(damage, this.#unknownIds(damage));
    }
    if (awaiting.length > 0) this.#awaitingResend = { target: resendTarget!, damages: awaiting };
  }

  /**
   * The exchange's resend after a rewound resume is over once the session is past where it stood
   * before the start: what it brought back is in the journal; the rest goes to the drop copy or
   * becomes a hole. A logon that reset the sequence numbers means no resend is coming.
   */
  onSessionEvent(event: SessionEvent, status: SessionStatus): void {
    const awaiting = this.#awaitingResend;
    if (awaiting === undefined) return;
    const reset = event.kind === 'logon' && event.reset;
    if (
      !reset &&
      (status.state !== 'active' || status.recovering !== undefined || status.nextInbound <= awaiting.target)
    )
      return;
    this.#awaitingResend = undefined;
    for (const damage of awaiting.damages) {
      const missing = this.#unknownIds(damage);
      if (!reset && missing.length === 0) this.#set(damage, 'recovered');
      else void this.#replayOrHole(damage, missing).catch((error: unknown) => this.#o.onFailure(error));
    }
  }

  /** The lost ExecIDs the journal does not know now (those every sink had delivered it still does). */
  #unknownIds(damage: JournalDamage): string[] {
    return (damage.execIds ?? []).filter((id) => !this.#o.journal.knows(id));
  }

  /** A damaged range replayed from the drop copy when there is one, else (or for what it lacks) a hole. */
  async #replayOrHole(damage: JournalDamage, ids: string[]): Promise<void> {
    const before = damage.lastGoodExecId;
    if (this.#o.dropCopy && before !== undefined) {
      this.#set(damage, 'recovering');
      void this.#o.backfill
        .request({ lastGoodExecId: before, since: this.#since(damage), what: describeDamage(damage) })
        .then(async (outcome) => {
          if (outcome === 'failed') return; // the backfill's failure is fatal and reported as such
          const missing = ids.filter((id) => !this.#o.journal.knows(id));
          if (outcome === 'complete' && missing.length > 0) await this.#hole(damage, missing);
          this.#set(damage, outcome === 'complete' && missing.length === 0 ? 'recovered' : 'hole');
        })
        .catch((error: unknown) => this.#o.onFailure(error));
      return;
    }
    this.#set(damage, 'hole');
    await this.#hole(damage, ids);
  }

  /** A hole for what a damaged range lost, over the time its neighbours were received in. */
  async #hole(damage: JournalDamage, ids: string[]): Promise<void> {
    const now = new Date(this.#now()).toISOString();
    const hole: Hole = {
      lastGoodExecId: damage.lastGoodExecId ?? null,
      from: damage.receivedBetween?.[0] ?? now,
      to: damage.receivedBetween?.[1] ?? now,
      reason:
        describeDamage({ ...damage, execIds: ids }) +
        (this.#o.dropCopy ? ' (not in the drop-copy replay)' : ' (no drop copy configured to replay it)'),
      recordedAt: now,
    };
    await this.#o.holes.record(hole);
    this.#o.onHole?.(hole);
  }

  /** Where a replay of the range starts in time: its last good neighbour's receipt, else now. */
  #since(damage: JournalDamage): number {
    const from = damage.receivedBetween?.[0];
    const at = from === undefined || from === null ? Number.NaN : Date.parse(from);
    return Number.isNaN(at) ? this.#now() : at;
  }

  #set(damage: JournalDamage, state: NonNullable<JournalDamage['state']>): void {
    damage.state = state;
    this.#tell(damage);
  }

  #tell(damage: JournalDamage): void {
    this.#o.onDamage?.(damage);
  }
}

/** `damage` in one line: its kind, LSN range and file. */
export function describeDamage(damage: JournalDamage): string {
  const ids = damage.execIds ?? [];
  return (
    `journal ${damage.kind}: LSNs ${damage.lsns === null ? '(none)' : `${damage.lsns[0]}..${damage.lsns[1]}`} lost` +
    `${damage.msgSeqNums === undefined ? '' : ` (MsgSeqNum ${damage.msgSeqNums[0]}..${damage.msgSeqNums[1] ?? ''})`}` +
    `${damage.segment === null ? '' : ` (${damage.segment} from byte ${damage.offset})`}` +
    `${ids.length === 0 ? '' : `; ExecIDs ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ` and ${ids.length - 20} more` : ''}`}`
  );
}

/**
 * Where a resumed (KalshiRT) session starts, checked against the journal rather than trusted; the
 * session file at `sessionFile` is rewritten when the position moves.
 *
 * The session file says which application messages were made durable (`lastApplicationSeq`):
 * when the newest report the journal holds from the session came in below it, the journal does
 * not vouch for the rest (a lost tail, a journal restored from elsewhere), and the session resumes
 * after the journal's newest report, so the exchange resends what the journal lacks (what it
 * holds comes back as duplicates and is dropped). This is reported as `session` damage with
 * ERR_SEQUENCE_UNVOUCHED.
 *
 * Records lost to journal damage are asked for again the same way: the position is moved back to
 * just before the earliest damaged range. A position saved at or before the range already covers
 * it (the process stopped before its last reports were acknowledged). Returns the MsgSeqNum the
 * damage's resend is over past: where the session had got to, and at least the last damaged
 * record's; undefined when no resend of damage is asked for.
 */
export async function resumePosition(journal: Journal, sessionFile: string): Promise<number | undefined> {
  const store = new FileSequenceStore(sessionFile);
  const state = store.load();
  if (state === undefined) return undefined;
  let nextInbound = state.nextInbound;
  const held = journal.lastSessionSeqAtOpen;
  const claimed = state.lastApplicationSeq ?? 0;
  if (held !== undefined && claimed > held && nextInbound > held + 1) {
    nextInbound = held + 1;
    journal.reportDamage({
      kind: 'session',
      segment: basename(sessionFile),
      offset: 0,
      lsns: null,
      state: 'reported',
      code: 'ERR_SEQUENCE_UNVOUCHED',
      msgSeqNums: [held + 1, claimed],
      note: `the session file says application messages up to MsgSeqNum ${claimed} were made durable, but the newest report the journal holds came in on ${held}: resuming from ${held + 1}, so the exchange resends what the journal lacks`,
    });
  }
  // The journal names MsgSeqNums only for ranges a resumed session can deliver again.
  const ranges = journal.damage.flatMap((d) => (journal.resendFrom(d) === undefined ? [] : [d.msgSeqNums!]));
  const from = ranges.length === 0 ? Infinity : Math.min(...ranges.map(([first]) => first));
  if (nextInbound > from) nextInbound = from;
  if (nextInbound !== state.nextInbound) await store.save({ ...state, nextInbound });
  await store.close();
  if (ranges.length === 0) return undefined;
  // The last MsgSeqNum a damaged record is known to have come in on (an open range: its first).
  const lastDamaged = Math.max(...ranges.map(([first, last]) => last ?? first));
  return Math.max(state.nextInbound - 1, lastDamaged);
}

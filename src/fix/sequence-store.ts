import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ListenerError } from '../core/errors.js';
import { readSlot, SlotPair } from '../core/slot-pair.js';

/** Where a resumable (KalshiRT) session keeps its sequence numbers across connections and restarts. */
export interface SequenceState {
  /** Next MsgSeqNum expected from the exchange; never ahead of what the application made durable. */
  nextInbound: number;
  /** Next MsgSeqNum this side will send. */
  nextOutbound: number;
  /**
   * The MsgSeqNum of the last application message acknowledged durable (0 or absent: none since
   * the numbering began): what the application's own store must vouch for at the next start.
   */
  lastApplicationSeq?: number;
}

export interface SequenceStore {
  /** Read once, at construction of the session. */
  load(): SequenceState | undefined;
  /** Resolves when `state` (or a later one) is durable; rejects when the write failed. */
  save(state: SequenceState): Promise<void>;
  /** Lets go of what the store holds open (after the last save). */
  close?(): Promise<void>;
}

export class MemorySequenceStore implements SequenceStore {
  #state: SequenceState | undefined;
  constructor(initial?: SequenceState) {
    this.#state = initial;
  }
  load(): SequenceState | undefined {
    return this.#state === undefined ? undefined : { ...this.#state };
  }
  save(state: SequenceState): Promise<void> {
    this.#state = { ...state };
    return Promise.resolve();
  }
}

/**
 * The state in two files (`<path>`, then `<path>.mirror`), each rewritten in place with a
 * checksum and a generation (core/slot-pair: one durable write a copy, not a temp file and a
 * rename), off the event loop: the session never waits on the disk (on EFS each write is a network
 * round trip). Saves made while one is being written coalesce into the next write, so at most one
 * is in flight and the files end at the latest state. Damage to one file leaves the other; damage
 * to both (or a file that cannot be read) is no reason to stop: `load` says nothing is known and
 * `damage` says why, and the session starts afresh (a reset logon, after which the drop copy
 * covers the gap).
 */
export class FileSequenceStore implements SequenceStore {
  readonly path: string;
  readonly #slots: SlotPair;
  #generation = 0;
  #dirMade = false;
  #next: SequenceState | undefined;
  #writing: Promise<void> | undefined;
  #damage: ListenerError | undefined;

  constructor(path: string) {
    this.path = path;
    this.#slots = new SlotPair(path, TAG);
  }

  /** What the last `load` found wrong with either copy (undefined when both were good or absent). */
  get damage(): ListenerError | undefined {
    return this.#damage;
  }

  load(): SequenceState | undefined {
    const [primary, mirror] = [readCopy(this.path), readCopy(`${this.path}.mirror`)];
    const good = [primary, mirror].filter((c) => typeof c === 'object');
    // The newer generation wins; a crash between the two writes leaves the first one ahead.
    const state = good.sort((a, b) => b.generation - a.generation)[0];
    this.#generation = state?.generation ?? 0;
    const bad = [
      // Every save writes both.
      ...(primary === 'damaged' || (primary === 'absent' && state !== undefined) ? [this.path] : []),
      ...(mirror === 'damaged' || (mirror === 'absent' && state !== undefined) ? [`${this.path}.mirror`] : []),
    ];
    this.#damage =
      bad.length === 0
        ? undefined
        : new ListenerError(
            'ERR_SEQUENCE_STORE',
            state === undefined
              ? `session file ${bad.join(' and ')} damaged and no good copy left: the session starts afresh (a reset logon; the drop copy covers the gap)`
              : `session file ${bad.join(' and ')} damaged or missing; using the other copy (nextInbound ${state.nextInbound})`,
            { details: { files: bad } },
          );
    if (state === undefined) return undefined;
    return {
      nextInbound: state.nextInbound,
      nextOutbound: state.nextOutbound,
      ...(state.lastApplicationSeq === undefined ? {} : { lastApplicationSeq: state.lastApplicationSeq }),
    };
  }

  save(state: SequenceState): Promise<void> {
    this.#next = {
      nextInbound: state.nextInbound,
      nextOutbound: state.nextOutbound,
      ...(state.lastApplicationSeq === undefined ? {} : { lastApplicationSeq: state.lastApplicationSeq }),
    };
    this.#writing ??= this.#drain();
    return this.#writing;
  }

  /** Waits for a save under way, then closes the files kept open for saving. */
  async close(): Promise<void> {
    // A failed save was rejected to its caller (save returns this promise): close only waits.
    await this.#writing?.catch(() => undefined);
    await this.#slots.close();
  }

  async #drain(): Promise<void> {
    try {
      // Once: after that the folder is there (a mkdir a save was a spool operation a second).
      if (!this.#dirMade) {
        await mkdir(dirname(this.path), { recursive: true });
        this.#dirMade = true;
      }
      while (this.#next !== undefined) {
        const state = this.#next;
        this.#next = undefined;
        await this.#slots.write(this.#generation + 1, JSON.stringify(state));
        this.#generation++;
      }
    } catch (cause) {
      throw new ListenerError('ERR_SEQUENCE_STORE', `cannot write sequence store ${this.path}`, { cause });
    } finally {
      this.#writing = undefined;
    }
  }
}

const TAG = 'kfl-session 2';

/**
 * One copy: its state and generation, 'damaged' when present but unreadable (any other format
 * too: no release wrote one), 'absent'.
 */
function readCopy(path: string): (SequenceState & { generation: number }) | 'damaged' | 'absent' {
  const copy = readSlot(path, TAG);
  if (copy === 'absent' || copy === 'damaged') return copy;
  const { body, generation } = copy;
  try {
    const parsed = JSON.parse(body) as Partial<SequenceState>;
    const last = parsed.lastApplicationSeq;
    return Number.isSafeInteger(parsed.nextInbound) &&
      Number.isSafeInteger(parsed.nextOutbound) &&
      parsed.nextInbound! >= 1 &&
      parsed.nextOutbound! >= 1 &&
      (last === undefined || (Number.isSafeInteger(last) && last >= 0))
      ? {
          nextInbound: parsed.nextInbound!,
          nextOutbound: parsed.nextOutbound!,
          ...(last === undefined ? {} : { lastApplicationSeq: last }),
          generation,
        }
      : 'damaged';
  } catch {
    return 'damaged';
  }
}

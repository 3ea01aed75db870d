import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { writeFileAtomic } from '../core/atomic-file.js';
import { ListenerError } from '../core/errors.js';

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
 * The state in two files written one after the other (`<path>`, then `<path>.mirror`), each
 * atomically (temp file, fsync, rename, directory fsync) and with a checksum, off the event loop:
 * the session never waits on the disk (on EFS each write is a network round trip). Saves made
 * while one is being written coalesce into the next write, so at most one is in flight and the
 * files end at the latest state. Damage to one file leaves the other; damage to both (or a file
 * that cannot be read) is no reason to stop: `load` says nothing is known and `damage` says why,
 * and the session starts afresh (a reset logon, after which the drop copy covers the gap).
 */
export class FileSequenceStore implements SequenceStore {
  readonly path: string;
  #next: SequenceState | undefined;
  #writing: Promise<void> | undefined;
  #damage: ListenerError | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /** What the last `load` found wrong with either copy (undefined when both were good or absent). */
  get damage(): ListenerError | undefined {
    return this.#damage;
  }

  load(): SequenceState | undefined {
    const primary = readCopy(this.path);
    const mirror = readCopy(`${this.path}.mirror`);
    // A crash between the two writes leaves the primary one save ahead: it wins when good.
    const state = typeof primary === 'object' ? primary : typeof mirror === 'object' ? mirror : undefined;
    const bad = [
      ...(primary === 'damaged' ? [this.path] : []),
      ...(mirror === 'damaged' || (mirror === 'absent' && typeof primary === 'object' && primary.mirrored)
        ? [`${this.path}.mirror`]
        : []),
      ...(primary === 'absent' && typeof mirror === 'object' ? [this.path] : []),
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

  async #drain(): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true });
      while (this.#next !== undefined) {
        const state = this.#next;
        this.#next = undefined;
        const body = JSON.stringify(state);
        const text = `${TAG} ${checksum(body)} ${body}\n`;
        await writeFileAtomic(this.path, text);
        await writeFileAtomic(`${this.path}.mirror`, text);
      }
    } catch (cause) {
      throw new ListenerError('ERR_SEQUENCE_STORE', `cannot write sequence store ${this.path}`, { cause });
    } finally {
      this.#writing = undefined;
    }
  }
}

const TAG = 'kfl-session 1';

function checksum(text: string): string {
  return crc32(text).toString(16).padStart(8, '0');
}

/**
 * One copy: its state (`mirrored` when it is of the checksummed format, which always has a mirror),
 * 'damaged' when present but unreadable, 'absent' when there is no file.
 */
function readCopy(path: string): (SequenceState & { mirrored: boolean }) | 'damaged' | 'absent' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'damaged';
  }
  let json = text;
  const mirrored = text.startsWith(`${TAG} `);
  if (mirrored) {
    const crc = text.slice(TAG.length + 1, TAG.length + 9);
    json = text.slice(TAG.length + 10, text.endsWith('\n') ? -1 : undefined);
    if (!text.endsWith('\n') || checksum(json) !== crc) return 'damaged';
  }
  // A plain JSON file is the state as written before the checksum.
  try {
    const parsed = JSON.parse(json) as Partial<SequenceState>;
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
          mirrored,
        }
      : 'damaged';
  } catch {
    return 'damaged';
  }
}

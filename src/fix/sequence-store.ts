import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.js';
import { ListenerError } from '../core/errors.js';

/** Where a resumable (KalshiRT) session keeps its sequence numbers across connections and restarts. */
export interface SequenceState {
  /** Next MsgSeqNum expected from the exchange; never ahead of what the application made durable. */
  nextInbound: number;
  /** Next MsgSeqNum this side will send. */
  nextOutbound: number;
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
 * JSON file written atomically (temp file, fsync, rename, directory fsync) so a crash leaves the old
 * or the new state, off the event loop: the session never waits on the disk (on EFS each write is
 * a network round trip). Saves made while one is being written coalesce into the next write, so at
 * most one is in flight and the file ends at the latest state.
 */
export class FileSequenceStore implements SequenceStore {
  readonly path: string;
  #next: SequenceState | undefined;
  #writing: Promise<void> | undefined;

  constructor(path: string) {
    this.path = path;
  }

  load(): SequenceState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ListenerError('ERR_SEQUENCE_STORE', `cannot read sequence store ${this.path}`, { cause: error });
    }
    let parsed: Partial<SequenceState>;
    try {
      parsed = JSON.parse(text) as Partial<SequenceState>;
    } catch (cause) {
      throw new ListenerError('ERR_SEQUENCE_STORE', `sequence store ${this.path} is not JSON`, { cause });
    }
    if (
      !Number.isSafeInteger(parsed.nextInbound) ||
      !Number.isSafeInteger(parsed.nextOutbound) ||
      parsed.nextInbound! < 1 ||
      parsed.nextOutbound! < 1
    ) {
      throw new ListenerError('ERR_SEQUENCE_STORE', `sequence store ${this.path} holds no valid sequence numbers`);
    }
    return { nextInbound: parsed.nextInbound!, nextOutbound: parsed.nextOutbound! };
  }

  save(state: SequenceState): Promise<void> {
    this.#next = { nextInbound: state.nextInbound, nextOutbound: state.nextOutbound };
    this.#writing ??= this.#drain();
    return this.#writing;
  }

  async #drain(): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true });
      while (this.#next !== undefined) {
        const state = this.#next;
        this.#next = undefined;
        await writeFileAtomic(this.path, JSON.stringify(state));
      }
    } catch (cause) {
      throw new ListenerError('ERR_SEQUENCE_STORE', `cannot write sequence store ${this.path}`, { cause });
    } finally {
      this.#writing = undefined;
    }
  }
}

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ListenerError } from '../core/errors.js';

/** Where a resumable (KalshiRT) session keeps its sequence numbers across connections and restarts. */
export interface SequenceState {
  /** Next MsgSeqNum expected from the exchange; never ahead of what the application made durable. */
  nextInbound: number;
  /** Next MsgSeqNum this side will send. */
  nextOutbound: number;
}

export interface SequenceStore {
  load(): SequenceState | undefined;
  save(state: SequenceState): void;
}

export class MemorySequenceStore implements SequenceStore {
  #state: SequenceState | undefined;
  constructor(initial?: SequenceState) {
    this.#state = initial;
  }
  load(): SequenceState | undefined {
    return this.#state === undefined ? undefined : { ...this.#state };
  }
  save(state: SequenceState): void {
    this.#state = { ...state };
  }
}

/** JSON file written atomically (temp file, fsync, rename) so a crash leaves the old or the new state. */
export class FileSequenceStore implements SequenceStore {
  readonly path: string;
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
    const parsed = JSON.parse(text) as Partial<SequenceState>;
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

  save(state: SequenceState): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const temp = `${this.path}.tmp`;
    const fd = openSync(temp, 'w');
    try {
      writeSync(fd, JSON.stringify({ nextInbound: state.nextInbound, nextOutbound: state.nextOutbound }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.path);
  }
}

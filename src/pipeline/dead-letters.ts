import { createHash } from 'node:crypto';
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectStore } from '../sinks/types.js';

/** A record a sink can never deliver, parked so the flow goes on (DESIGN.md §1). */
export interface DeadLetter {
  /** The sink that gave up on it. */
  sink: string;
  lsn: number;
  execId: string;
  /** The stable code of the refusal (ERR_…). */
  code: string;
  /** What the destination said. */
  reason: string;
  /** The message as it was last offered. */
  body: string;
}

export interface DeadLetterBoxOptions {
  /** Where the dead-letter file lives (under SPOOL_DIR). */
  dir: string;
  /** A second copy as an object beside the archive (`dead_letters/…`), where there is one. */
  store?: ObjectStore;
  now?: () => number;
  /** The object copy failed: the local file still holds the letter. */
  onCopyFailed?: (letter: DeadLetter, error: unknown) => void;
}

const FILE = 'dead-letters.jsonl';

/**
 * Dead letters: an append-only JSONL file under SPOOL_DIR, fsynced before the sink moves past the
 * record, plus a copy as an object under the archive prefix for whoever does not read the spool.
 * The archive itself still holds every record: what is parked is the delivery that failed.
 */
export class DeadLetterBox {
  readonly #o: DeadLetterBoxOptions;
  readonly #path: string;
  readonly #counts = new Map<string, number>();
  #file: FileHandle | undefined;

  private constructor(options: DeadLetterBoxOptions) {
    this.#o = options;
    this.#path = join(options.dir, FILE);
  }

  /** Opens the box and counts the letters already in it (they show on /status after a restart). */
  static async open(options: DeadLetterBoxOptions): Promise<DeadLetterBox> {
    const box = new DeadLetterBox(options);
    await mkdir(options.dir, { recursive: true });
    let text = '';
    try {
      text = await readFile(box.#path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    for (const line of text.split('\n')) {
      const sink = /^\{"sink":"([a-z]+)"/.exec(line)?.[1];
      if (sink !== undefined) box.#counts.set(sink, (box.#counts.get(sink) ?? 0) + 1);
    }
    box.#file = await open(box.#path, 'a');
    return box;
  }

  get path(): string {
    return this.#path;
  }

  /** Letters parked by a sink, ever (the file is never trimmed by the service). */
  count(sink: string): number {
    return this.#counts.get(sink) ?? 0;
  }

  /** Resolves once the letter is durable in the local file. */
  async park(letter: DeadLetter): Promise<void> {
    const at = new Date((this.#o.now ?? Date.now)()).toISOString();
    const { sink, ...rest } = letter;
    const text = JSON.stringify({ sink, at, ...rest });
    await this.#file!.write(`${text}\n`);
    await this.#file!.datasync();
    this.#counts.set(letter.sink, this.count(letter.sink) + 1);
    if (this.#o.store === undefined) return;
    const digest = createHash('sha256').update(letter.execId).digest('hex').slice(0, 16);
    const key = `dead_letters/${letter.sink}/dt=${at.slice(0, 10)}/${String(letter.lsn).padStart(12, '0')}-${digest}.json`;
    try {
      await this.#o.store.putIfAbsent(key, Buffer.from(text), { contentType: 'application/json' });
    } catch (error) {
      this.#o.onCopyFailed?.(letter, error);
    }
  }

  async close(): Promise<void> {
    await this.#file?.close();
    this.#file = undefined;
  }
}

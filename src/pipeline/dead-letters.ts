import { createHash } from 'node:crypto';
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.js';
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

/** An archive object the store refused for good: the object kept as built, the LSNs it holds. */
export interface DeadObject {
  /** The archive writer's sink: `archive` (JSONL) or `parquet`. */
  sink: string;
  /** The key the archive wanted for it. */
  key: string;
  ranges: Array<[number, number]>;
  records: number;
  code: string;
  reason: string;
  data: Buffer;
}

export interface DeadLetterBoxOptions {
  /** Where the dead-letter file lives (under SPOOL_DIR). */
  dir: string;
  /** A second copy as an object beside the archive (`dead_letters/…`), where there is one. */
  store?: ObjectStore;
  /** A partition after `dead_letters/` (`listener=NAME`), so each listener writes under its own prefix. */
  partition?: string;
  now?: () => number;
  /** The object copy failed: the local file still holds the letter. */
  onCopyFailed?: (letter: DeadLetter, error: unknown) => void;
  /** The store refused the copy of a parked archive object too: the spool holds it. */
  onObjectCopyFailed?: (key: string, error: unknown) => void;
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
    const key = `${this.#prefix()}${letter.sink}/dt=${at.slice(0, 10)}/${String(letter.lsn).padStart(12, '0')}-${digest}.json`;
    try {
      await this.#o.store.putIfAbsent(key, Buffer.from(text), { contentType: 'application/json' });
    } catch (error) {
      this.#o.onCopyFailed?.(letter, error);
    }
  }

  /**
   * Parks an archive object the store refused for good: its bytes in a file under
   * `dead-letters/archive/` beside the list (fsynced first), a line in the list naming the key and
   * the LSN ranges, and a copy under `dead_letters/archive/` in the store when it takes it.
   * Resolves with the local file's path once both local writes are durable.
   */
  #prefix(): string {
    return this.#o.partition === undefined ? 'dead_letters/' : `dead_letters/${this.#o.partition}/`;
  }

  async parkObject(dead: DeadObject): Promise<string> {
    const at = new Date((this.#o.now ?? Date.now)()).toISOString();
    const file = join(dirname(this.#path), 'dead-letters', dead.sink, dead.key);
    await mkdir(dirname(file), { recursive: true });
    await writeFileAtomic(file, dead.data);
    const { data, ...rest } = dead;
    const text = JSON.stringify({ ...rest, at, file, bytes: data.length });
    await this.#file!.write(`${text}\n`);
    await this.#file!.datasync();
    this.#counts.set(dead.sink, this.count(dead.sink) + 1);
    if (this.#o.store !== undefined)
      await this.#o.store
        .putIfAbsent(`${this.#prefix()}${dead.sink}/${dead.key}`, data, { contentType: 'application/octet-stream' })
        .catch((error: unknown) => this.#o.onObjectCopyFailed?.(dead.key, error));
    return file;
  }

  async close(): Promise<void> {
    await this.#file?.close();
    this.#file = undefined;
  }
}

import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AppendLog } from '../core/append-log.js';
import { writeFileAtomic } from '../core/atomic-file.js';
import type { ListenerError } from '../core/errors.js';
import type { SpoolFileDamage } from '../core/status.js';
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
 * Dead letters: an append-only log under SPOOL_DIR (`dead-letters.jsonl` and its mirror, each line
 * checked; see AppendLog), durable before the sink moves past the record, plus a copy as an object
 * under the archive prefix for whoever does not read the spool. The archive itself still holds
 * every record: what is parked is the delivery that failed.
 */
export class DeadLetterBox {
  readonly #o: DeadLetterBoxOptions;
  readonly #path: string;
  readonly #counts = new Map<string, number>();
  #log: AppendLog | undefined;

  private constructor(options: DeadLetterBoxOptions) {
    this.#o = options;
    this.#path = join(options.dir, FILE);
  }

  /** Opens the box and counts the letters already in it (they show on /status after a restart). */
  static async open(options: DeadLetterBoxOptions): Promise<DeadLetterBox> {
    const box = new DeadLetterBox(options);
    await mkdir(options.dir, { recursive: true });
    box.#log = await AppendLog.open(box.#path, (letter) => {
      const sink = (letter as { sink?: unknown }).sink;
      if (typeof sink === 'string') box.#counts.set(sink, (box.#counts.get(sink) ?? 0) + 1);
    });
    return box;
  }

  get path(): string {
    return this.#path;
  }

  /** What open found damaged in the file or its mirror, each stretch with its offset. */
  get damage(): readonly SpoolFileDamage[] {
    return this.#log?.damage ?? [];
  }

  /** The damage as a coded error (ERR_SPOOL_LINE_DAMAGED, or ERR_SPOOL_LINE_REPAIRED), when there is any. */
  get failure(): ListenerError | undefined {
    return this.#log?.failure;
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
    await this.#log!.append(text);
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
    await this.#log!.append(text);
    this.#counts.set(dead.sink, this.count(dead.sink) + 1);
    if (this.#o.store !== undefined)
      await this.#o.store
        .putIfAbsent(`${this.#prefix()}${dead.sink}/${dead.key}`, data, { contentType: 'application/octet-stream' })
        .catch((error: unknown) => this.#o.onObjectCopyFailed?.(dead.key, error));
    return file;
  }

  async close(): Promise<void> {
    await this.#log?.close();
  }
}

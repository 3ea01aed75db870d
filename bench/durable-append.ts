/**
 * The reference clients' journal: appends buffers to one file opened O_APPEND | O_DSYNC, so a
 * write returns once its bytes are on disk (no fsync call). One write is in flight at a time;
 * what is appended meanwhile goes out together in the next one (a `writev`), in order: a client
 * never waits for the disk, and at a low rate every append is its own durable write.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

export class DurableAppender {
  /** Items (reports, frames: what the caller counts) whose bytes are on disk. */
  durable = 0;
  /** Durable writes issued. */
  writes = 0;
  readonly #file: FileHandle;
  #queue: Buffer[] = [];
  #queuedItems = 0;
  #writing: Promise<void> | undefined;
  #failure: Error | undefined;

  private constructor(file: FileHandle) {
    this.#file = file;
  }

  static async open(path: string): Promise<DurableAppender> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC;
    return new DurableAppender(await open(path, flags, 0o644));
  }

  /** Queues `bytes` (kept as is, not copied) holding `items` complete items. */
  append(bytes: Buffer, items: number): void {
    if (this.#failure !== undefined) throw this.#failure;
    this.#queue.push(bytes);
    this.#queuedItems += items;
    this.#writing ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const buffers = this.#queue;
        const items = this.#queuedItems;
        this.#queue = [];
        this.#queuedItems = 0;
        const { bytesWritten } = await this.#file.writev(buffers);
        const bytes = buffers.reduce((sum, b) => sum + b.length, 0);
        if (bytesWritten !== bytes) throw new Error(`short durable write: ${bytesWritten} of ${bytes} bytes`);
        this.writes++;
        this.durable += items;
      }
    } catch (error) {
      this.#failure = error instanceof Error ? error : new Error(String(error));
    } finally {
      this.#writing = undefined;
    }
  }

  /** Waits for what is queued to be durable, then closes the file. */
  async close(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
    await this.#file.close();
    if (this.#failure !== undefined) throw this.#failure;
  }
}

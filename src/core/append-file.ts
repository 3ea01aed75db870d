import { constants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { O_DSYNC } from './atomic-file.js';

const NEWLINE = 0x0a;
const SCAN_BYTES = 64 * 1024;

/** Bytes after the last newline that open cut from a file: a write a crash or a failure left unfinished. */
export interface TornTail {
  /** Where the cut was made: the file's length after it. */
  offset: number;
  bytes: number;
}

/**
 * An append-only file of newline-terminated lines, written the one way every such file of the
 * spool needs: each append durable before it resolves (O_DSYNC, else fdatasync), appends one at a
 * time, a torn last line cut when the file opens, and a failed append cut back to the last good
 * length, so what a failure left half-written never runs into the next line. When even the cut
 * fails, the handle is dropped and the next append reopens the file and cuts it first.
 */
export class AppendFile {
  readonly path: string;
  #handle: FileHandle | undefined;
  /** Bytes of whole lines written (or found at open): what every failure is cut back to. */
  #size = 0;
  #torn: TornTail | undefined;
  /** Appends and cuts, one after the other: a cut must never take another append's bytes. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(path: string) {
    this.path = path;
  }

  /** Opens (creating the file and its folder when absent) and cuts a torn last line. */
  static async open(path: string): Promise<AppendFile> {
    const file = new AppendFile(path);
    await mkdir(dirname(path), { recursive: true });
    const { handle, torn } = await reopen(path, undefined);
    file.#handle = handle;
    file.#size = (await handle.stat()).size;
    file.#torn = torn;
    return file;
  }

  /** The length of the file's whole lines. */
  get size(): number {
    return this.#size;
  }

  /** What open cut from the end (undefined when the file ended with its newline). */
  get torn(): TornTail | undefined {
    return this.#torn;
  }

  /**
   * Appends `data` (whole lines) and resolves once it is durable. Rejects with the write's error
   * after cutting the file back to where it was; an AggregateError when the cut failed too (the
   * next append cuts it before writing).
   */
  append(data: Buffer): Promise<void> {
    return this.#serial(() => this.#append(data));
  }

  /**
   * Takes back whole lines already appended, down to `size` (a caller's all-or-nothing write to
   * two files whose second failed). When the cut fails, the next append makes it.
   */
  cutBack(size: number): Promise<void> {
    return this.#serial(async () => {
      if (size >= this.#size) return;
      this.#size = size;
      const handle = await this.#open();
      const uncut = await cut(handle, size);
      if (uncut !== undefined) throw await this.#drop(uncut, uncut, 'could not be cut back');
    });
  }

  async close(): Promise<void> {
    await this.#queue;
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  #serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(job, job);
    // The caller gets this job's rejection from `run`; the queue only has to go on after it.
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #append(data: Buffer): Promise<void> {
    const handle = await this.#open();
    try {
      for (let written = 0; written < data.length;)
        written += (await handle.write(data, written, data.length - written)).bytesWritten;
      if (O_DSYNC === undefined) await handle.datasync();
    } catch (error) {
      const uncut = await cut(handle, this.#size);
      if (uncut === undefined) throw error;
      throw await this.#drop(error, uncut, 'failed and could not be cut back');
    }
    this.#size += data.length;
  }

  /** The open handle; after a failed cut, the file opened again and cut to the last good length. */
  async #open(): Promise<FileHandle> {
    if (this.#handle !== undefined) return this.#handle;
    const { handle } = await reopen(this.path, this.#size);
    this.#handle = handle;
    this.#size = (await handle.stat()).size;
    return handle;
  }

  /** Lets go of a handle whose file could not be cut: the next append opens and cuts it again. */
  async #drop(error: unknown, uncut: unknown, what: string): Promise<AggregateError> {
    const handle = this.#handle;
    this.#handle = undefined;
    const unclosed = await handle?.close().then(
      () => undefined,
      (cause: unknown) => cause,
    );
    return new AggregateError(
      [error, ...(uncut === error ? [] : [uncut]), ...(unclosed === undefined ? [] : [unclosed])],
      `append to ${this.path} ${what}; it is cut at the next append`,
      { cause: error },
    );
  }
}

/** The truncate's failure, or undefined once it is done. */
async function cut(handle: FileHandle, size: number): Promise<unknown> {
  return handle.truncate(size).then(
    () => undefined,
    (cause: unknown) => cause,
  );
}

/**
 * Opens for appending and cuts what follows the last good length: `goodSize` when the caller knows
 * it (a failed cut), else the last newline (a crash's torn line). A file shorter than `goodSize`
 * was cut by someone else: its last newline is taken.
 */
async function reopen(
  path: string,
  goodSize: number | undefined,
): Promise<{ handle: FileHandle; torn: TornTail | undefined }> {
  const handle = await open(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | (O_DSYNC ?? 0));
  try {
    const size = (await handle.stat()).size;
    const whole = goodSize !== undefined && goodSize <= size ? goodSize : await afterLastNewline(handle, size);
    if (whole === size) return { handle, torn: undefined };
    await handle.truncate(whole);
    return { handle, torn: { offset: whole, bytes: size - whole } };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/** The length through the file's last newline (0 when it has none), read backwards a piece at a time. */
async function afterLastNewline(handle: FileHandle, size: number): Promise<number> {
  const piece = Buffer.allocUnsafe(Math.min(SCAN_BYTES, size));
  for (let end = size; end > 0;) {
    const start = Math.max(0, end - piece.length);
    const { bytesRead } = await handle.read(piece, 0, end - start, start);
    const at = piece.subarray(0, bytesRead).lastIndexOf(NEWLINE);
    if (at !== -1) return start + at + 1;
    end = start;
  }
  return 0;
}

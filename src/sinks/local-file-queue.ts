import { constants } from 'node:fs';
import { open, readFile, mkdir, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { O_DSYNC } from '../core/atomic-file.js';
import { LineBuffer } from '../core/line-buffer.js';
import type { FillQueue, QueueMessage, QueueSendFailure } from './types.js';

const TAIL_BYTES = 4 * 1024 * 1024;

/**
 * Fills appended to a local JSONL file: the embedded default. Behaves like a FIFO queue with
 * deduplication: a message whose deduplication id is already at the end of the file (a resend
 * after a crash between the append and the cursor save) is not written again.
 */
export class LocalFileQueue implements FillQueue {
  readonly location: string;
  readonly fifo = true;
  readonly maxBatchBytes = 4 * 1024 * 1024;
  // One append + fdatasync per batch: a local file has no per-request limit to respect, and a
  // bigger batch is what keeps fills in step with the journal.
  readonly maxBatchEntries = 1000;
  readonly #path: string;
  // The open, memoised: concurrent first sends must share one handle, not each open their own.
  #opening: Promise<FileHandle> | undefined;
  readonly #recent = new Set<string>();
  #order: string[] = [];
  /** Bytes of whole lines in the file: what a failed write is cut back to. */
  #size = 0;

  constructor(path: string) {
    this.#path = resolve(path);
    this.location = `file://${this.#path}`;
  }

  async sendBatch(messages: readonly QueueMessage[]): Promise<QueueSendFailure[]> {
    const handle = await this.#open();
    const added: string[] = [];
    const bodies = new LineBuffer();
    for (const m of messages) {
      const id = m.attributes['exec_id']?.value ?? m.deduplicationId ?? m.id;
      if (this.#recent.has(id)) continue;
      this.#remember(id);
      added.push(id);
      bodies.add(m.body);
    }
    if (bodies.count > 0) {
      // One buffer of the batch's lines: appending to a string and writing it made the write
      // flatten a megabyte rope on the event loop for every batch.
      const data = bodies.toBuffer();
      const size = data.length;
      try {
        for (let written = 0; written < size;)
          written += (await handle.write(data, written, size - written)).bytesWritten;
        if (O_DSYNC === undefined) await handle.datasync();
      } catch (error) {
        // Not sent: forget these ids (only these) so the retry writes them.
        for (const id of added) this.#recent.delete(id);
        // Cut what may have landed; when even that fails, drop the handle: the next send reopens
        // the file, which cuts an unfinished last line there. Every failure goes to the caller.
        const uncut = await handle.truncate(this.#size).then(
          () => undefined,
          (cause: unknown) => cause,
        );
        if (uncut === undefined) throw error;
        this.#opening = undefined;
        const unclosed = await handle.close().then(
          () => undefined,
          (cause: unknown) => cause,
        );
        throw new AggregateError(
          [error, uncut, ...(unclosed === undefined ? [] : [unclosed])],
          'fill log write failed and could not be cut back; the file is reopened (and cut) at the next send',
          { cause: error },
        );
      }
      this.#size += size;
    }
    return [];
  }

  async close(): Promise<void> {
    const opening = this.#opening;
    this.#opening = undefined;
    if (opening !== undefined) await (await opening.catch(() => undefined))?.close();
  }

  #open(): Promise<FileHandle> {
    if (this.#opening === undefined) {
      this.#opening = this.#openOnce();
      // A failed open is retried by the next send, not remembered.
      this.#opening.catch(() => (this.#opening = undefined));
    }
    return this.#opening;
  }

  async #openOnce(): Promise<FileHandle> {
    await mkdir(dirname(this.#path), { recursive: true });
    // Ids already at the end of the file: what an unfinished cursor save may resend. A last line
    // without its newline is a write a crash cut short: it is cut from the file and not counted
    // as sent, so the resend writes it whole instead of running the next line into it.
    let whole = 0;
    try {
      const data = await readFile(this.#path);
      whole = data.lastIndexOf(0x0a) + 1;
      const tail = data.subarray(Math.max(0, data.length - TAIL_BYTES), whole).toString('utf8');
      const lines = tail.split('\n');
      if (data.length > TAIL_BYTES) lines.shift(); // possibly cut in the middle
      for (const line of lines) {
        const match = /"exec_id":"((?:[^"\\]|\\.)*)"/.exec(line);
        if (match !== null) this.#remember(JSON.parse(`"${match[1]}"`) as string);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const handle = await open(this.#path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (O_DSYNC ?? 0));
    if ((await handle.stat()).size > whole) await handle.truncate(whole);
    this.#size = whole;
    return handle;
  }

  #remember(id: string): void {
    this.#recent.add(id);
    this.#order.push(id);
    if (this.#order.length > 400_000) {
      // Keep the newest half: far more than one unsaved cursor interval can resend.
      for (const old of this.#order.slice(0, 200_000)) this.#recent.delete(old);
      this.#order = this.#order.slice(200_000);
    }
  }
}

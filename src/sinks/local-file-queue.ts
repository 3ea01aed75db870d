import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AppendFile, type TornTail } from '../core/append-file.js';
import { LineBuffer } from '../core/line-buffer.js';
import type { FillQueue, QueueMessage, QueueSendFailure } from './types.js';

const TAIL_BYTES = 4 * 1024 * 1024;

/**
 * Fills appended to a local JSONL file: the embedded default. Behaves like a FIFO queue with
 * deduplication: a message whose deduplication id is already at the end of the file (a resend
 * after a crash between the append and the cursor save) is not written again.
 *
 * Written through AppendFile like the spool's logs (a torn last line cut at open, a failed append
 * cut back), but plain: each line is the fill's message body exactly (DESIGN.md §4), which
 * consumers read as JSONL, so it carries no checksum and has no mirror. A torn line is a fill not
 * yet acknowledged: the publisher sends it again, whole.
 */
export class LocalFileQueue implements FillQueue {
  readonly location: string;
  readonly fifo = true;
  readonly maxBatchBytes = 4 * 1024 * 1024;
  // One append + fdatasync per batch: a local file has no per-request limit to respect, and a
  // bigger batch is what keeps fills in step with the journal.
  readonly maxBatchEntries = 1000;
  readonly #path: string;
  // The open, memoised: concurrent first sends must share one file, not each open their own.
  #opening: Promise<AppendFile> | undefined;
  readonly #recent = new Set<string>();
  #order: string[] = [];
  #torn: TornTail | undefined;

  constructor(path: string) {
    this.#path = resolve(path);
    this.location = `file://${this.#path}`;
  }

  /** What the first open cut from the end of the file (a line a crash left without its newline). */
  get torn(): TornTail | undefined {
    return this.#torn;
  }

  async sendBatch(messages: readonly QueueMessage[]): Promise<QueueSendFailure[]> {
    const file = await this.#open();
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
      try {
        // Durable once it resolves; a failure was cut back (or is cut before the next write).
        await file.append(bodies.toBuffer());
      } catch (error) {
        // Not sent: forget these ids (only these) so the retry writes them.
        for (const id of added) this.#recent.delete(id);
        throw error;
      }
    }
    return [];
  }

  async close(): Promise<void> {
    const opening = this.#opening;
    this.#opening = undefined;
    if (opening !== undefined) await (await opening.catch(() => undefined))?.close();
  }

  #open(): Promise<AppendFile> {
    if (this.#opening === undefined) {
      this.#opening = this.#openOnce();
      // A failed open is retried by the next send, not remembered.
      this.#opening.catch(() => (this.#opening = undefined));
    }
    return this.#opening;
  }

  async #openOnce(): Promise<AppendFile> {
    // A last line without its newline is a write a crash cut short: the open cuts it, and it is
    // not counted as sent, so the resend writes it whole instead of running the next line into it.
    const file = await AppendFile.open(this.#path);
    this.#torn ??= file.torn;
    // Ids already at the end of the file: what an unfinished cursor save may resend. Only the
    // tail is read: the file grows for as long as the listener runs.
    const tail = await readTail(this.#path, file.size, TAIL_BYTES);
    const lines = tail.toString('utf8').split('\n');
    if (file.size > TAIL_BYTES) lines.shift(); // possibly cut in the middle
    for (const line of lines) {
      const match = /"exec_id":"((?:[^"\\]|\\.)*)"/.exec(line);
      if (match !== null) this.#remember(JSON.parse(`"${match[1]}"`) as string);
    }
    return file;
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

/** The last `max` bytes before `end`. */
async function readTail(path: string, end: number, max: number): Promise<Buffer> {
  const start = Math.max(0, end - max);
  const data = Buffer.alloc(end - start);
  const handle = await open(path, 'r');
  try {
    for (let read = 0; read < data.length;) {
      const { bytesRead } = await handle.read(data, read, data.length - read, start + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return data;
}

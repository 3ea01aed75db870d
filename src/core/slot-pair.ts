import { constants, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { O_DSYNC, writeFileAtomic } from './atomic-file.js';

/** One copy as read: its generation and body, 'damaged' when present but unreadable, 'absent'. */
export type SlotCopy = { generation: number; body: string } | 'damaged' | 'absent';

const MIN_SLOT = 512;

/**
 * A small state file kept as two copies, `path` and `path.mirror`, each rewritten in place: one
 * checksummed line with its generation, padded to the file's size, made durable by an O_DSYNC
 * write on a descriptor kept open. A write torn by a crash fails its checksum and the other copy
 * is read; damage to either copy leaves the other.
 *
 * Why not write a temp file and rename it: that is a create, a write, an fsync, a close, a rename
 * and a directory fsync per copy, about 16 file operations a save where this makes one. Saved
 * every second, those were most of an idle listener's spool operations, and on EFS each one is
 * metered (a whole file is still written atomically the first time, and when a state outgrows
 * its slot).
 */
export class SlotPair {
  readonly path: string;
  readonly #tag: string;
  readonly #handles: [FileHandle | undefined, FileHandle | undefined] = [undefined, undefined];
  readonly #sizes: [number, number] = [0, 0];

  /** `tag` starts every line (`kfl-cursor 3`): what the file is and its format. */
  constructor(path: string, tag: string) {
    this.path = path;
    this.#tag = tag;
  }

  /** The two copies as they are on disk: [path, path.mirror]. */
  read(): [SlotCopy, SlotCopy] {
    return [readSlot(this.path, this.#tag), readSlot(`${this.path}.mirror`, this.#tag)];
  }

  /**
   * Writes `body` as `generation` into both copies, the first, then the mirror: durable on return.
   * A crash between the two leaves the first a generation ahead; one torn in either leaves the
   * other whole.
   */
  async write(generation: number, body: string): Promise<void> {
    await this.#writeCopy(0, generation, body);
    await this.#writeCopy(1, generation, body);
  }

  async #writeCopy(which: 0 | 1, generation: number, body: string): Promise<void> {
    const file = which === 0 ? this.path : `${this.path}.mirror`;
    const handle = this.#handles[which];
    const size = this.#sizes[which];
    if (handle !== undefined) {
      const slot = encodeSlot(this.#tag, generation, body, size);
      if (slot !== undefined) {
        await handle.write(slot, 0, slot.length, 0);
        if (O_DSYNC === undefined) await handle.datasync();
        // Written to a file nobody can open any more (deleted under us) is not saved: a link
        // count of 0 sends it the whole-file way, which puts it back or fails as it should.
        if ((await handle.stat()).nlink > 0) return;
      }
    }
    // First write, a state grown past its slot, or the file gone: the whole file, atomically,
    // then kept open for writing in place.
    const fresh = encodeSlot(this.#tag, generation, body)!;
    this.#handles[which] = undefined;
    await handle?.close();
    await writeFileAtomic(file, fresh);
    this.#handles[which] = await open(file, constants.O_RDWR | (O_DSYNC ?? 0));
    this.#sizes[which] = fresh.length;
  }

  async close(): Promise<void> {
    const handles = this.#handles.splice(0, 2, undefined, undefined);
    for (const handle of handles) await handle?.close();
  }
}

/**
 * `tag crc generation size body\n`, padded with spaces to `size` bytes: the slot's size is in the
 * checksummed line, so a cut anywhere (the padding included) reads as damage. `size` undefined:
 * the smallest power of two it fits (at least MIN_SLOT); undefined back when it does not fit.
 */
function encodeSlot(tag: string, generation: number, body: string, size?: number): Buffer | undefined {
  const bodyBytes = Buffer.byteLength(body, 'utf8');
  // tag, crc, generation, a size of up to 10 digits, body, spaces and the newline.
  const longest = tag.length + 1 + 8 + 1 + String(generation).length + 1 + 10 + 1 + bodyBytes + 1;
  const slotSize = size ?? Math.max(MIN_SLOT, 2 ** Math.ceil(Math.log2(longest)));
  if (longest > slotSize) return undefined;
  const signed = `${generation} ${slotSize} ${body}`;
  const slot = Buffer.alloc(slotSize, 0x20);
  slot.write(`${tag} ${checksum(signed)} ${signed}\n`, 0, 'utf8');
  return slot;
}

/**
 * One copy as written by SlotPair: the line up to the first newline, its checksum over
 * `generation size body`, and the file exactly `size` bytes of which the rest is padding.
 * Anything else is 'damaged': another tag, another format, a file cut or changed.
 */
export function readSlot(path: string, tag: string): SlotCopy {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'damaged';
  }
  const end = bytes.indexOf(0x0a);
  const text = end < 0 ? '' : bytes.toString('utf8', 0, end);
  if (!text.startsWith(`${tag} `) || text[tag.length + 9] !== ' ') return 'damaged';
  const crc = text.slice(tag.length + 1, tag.length + 9);
  const signed = text.slice(tag.length + 10);
  if (checksum(signed) !== crc) return 'damaged';
  const [generationText, sizeText] = signed.split(' ', 2);
  const generation = Number(generationText);
  const size = Number(sizeText);
  const body = signed.slice(`${generationText} ${sizeText} `.length);
  if (!Number.isSafeInteger(generation) || generation < 0 || size !== bytes.length) return 'damaged';
  for (let i = end + 1; i < bytes.length; i++) if (bytes[i] !== 0x20) return 'damaged';
  return { generation, body };
}

/** CRC-32 of the text's UTF-8 bytes as 8 hex digits: the check every state file of the spool carries. */
export function checksum(text: string): string {
  return crc32(text).toString(16).padStart(8, '0');
}

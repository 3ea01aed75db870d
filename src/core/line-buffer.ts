const NEWLINE = 10;
const FIRST_PIECE = 64 * 1024;
const MAX_PIECE = 1024 * 1024;

/**
 * JSON lines as UTF-8 bytes (an archive object's, a batch of the local fills file), kept off the
 * JS heap as they arrive. An archive object's lines wait up to an hour (the Parquet copy): held as
 * strings they were promoted and traced by every GC, and handing 32 MiB of them to the encoder
 * thread was a structured clone that held the FIX thread for 100–300 ms. Here each line is
 * encoded once (or copied, when it comes as the journal's bytes), into pieces on shared memory,
 * which the encoder thread reads where they are.
 *
 * Every piece holds whole lines, each followed by `\n`: a piece is valid JSONL on its own.
 */
export class LineBuffer {
  readonly #full: Buffer[] = [];
  #piece: Buffer | undefined;
  #used = 0;
  #count = 0;
  #bytes = 0;

  static of(lines: Iterable<string>): LineBuffer {
    const buffer = new LineBuffer();
    for (const line of lines) buffer.add(line);
    return buffer;
  }

  /** Lines added. */
  get count(): number {
    return this.#count;
  }

  /** UTF-8 bytes held, newlines included. */
  get bytes(): number {
    return this.#bytes;
  }

  add(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: a line that might not fit starts a new piece.
    const piece = this.#room(line.length * 3 + 1);
    this.#added(piece.write(line, this.#used, 'utf8'), piece);
  }

  /** Adds a line already in UTF-8 (the journal's bytes): copied, not encoded again. */
  addBytes(line: Uint8Array): void {
    const piece = this.#room(line.length + 1);
    piece.set(line, this.#used);
    this.#added(line.length, piece);
  }

  /** The current piece, or a new one when it may not hold `worst` more bytes. */
  #room(worst: number): Buffer {
    const piece = this.#piece;
    if (piece !== undefined && this.#used + worst <= piece.length) return piece;
    if (piece !== undefined && this.#used > 0) this.#full.push(piece.subarray(0, this.#used));
    const size = Math.max(worst, Math.min(MAX_PIECE, piece === undefined ? FIRST_PIECE : piece.length * 2));
    this.#used = 0;
    return (this.#piece = Buffer.from(new SharedArrayBuffer(size)));
  }

  #added(written: number, piece: Buffer): void {
    piece[this.#used + written] = NEWLINE;
    this.#used += written + 1;
    this.#bytes += written + 1;
    this.#count++;
  }

  /** The bytes, piece by piece (views, not copies), in order. */
  pieces(): Buffer[] {
    return this.#piece === undefined || this.#used === 0
      ? [...this.#full]
      : [...this.#full, this.#piece.subarray(0, this.#used)];
  }

  /** All the bytes in one (copied) buffer: the JSONL as it would be archived. */
  toBuffer(): Buffer {
    return Buffer.concat(this.pieces(), this.#bytes);
  }

  /** The lines back as strings (the encoder thread's side, and tests). */
  static linesOf(pieces: readonly Uint8Array[]): string[] {
    const lines: string[] = [];
    for (const piece of pieces) {
      const bytes = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      let start = 0;
      for (let end = bytes.indexOf(NEWLINE, start); end !== -1; end = bytes.indexOf(NEWLINE, start)) {
        lines.push(bytes.toString('utf8', start, end));
        start = end + 1;
      }
    }
    return lines;
  }
}

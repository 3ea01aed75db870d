import type { Hole } from '../core/status.js';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Holes appended to a JSONL file in the spool, so they survive restarts and show on /status. */
export class HoleLog {
  readonly #path: string;
  #holes: Hole[] = [];

  private constructor(path: string) {
    this.#path = path;
  }

  static async open(path: string): Promise<HoleLog> {
    const log = new HoleLog(path);
    try {
      const text = await readFile(path, 'utf8');
      log.#holes = text
        .split('\n')
        .filter((l) => l.length > 0)
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Hole];
          } catch {
            return []; // a torn last line
          }
        });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return log;
  }

  get holes(): readonly Hole[] {
    return this.#holes;
  }

  async record(hole: Hole): Promise<void> {
    await mkdir(dirname(this.#path), { recursive: true });
    await appendFile(this.#path, `${JSON.stringify(hole)}\n`, { flush: true });
    this.#holes.push(hole);
  }
}

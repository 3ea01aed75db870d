import { statfs as fsStatfs } from 'node:fs/promises';
import type { SpoolSpaceView } from '../core/status.js';

/** A sample of the spool's free space is at most this old when a reader asks again. */
export const SPOOL_SPACE_INTERVAL_MS = 5000;

export interface SpoolSpaceOptions {
  intervalMs?: number;
  now?: () => number;
  /** Test seam: node:fs's statfs. */
  statfs?: (dir: string) => Promise<{ bavail: number; blocks: number; bsize: number }>;
}

/**
 * SPOOL_DIR's free space for /status and the status page. Sampled when read, at most once per
 * interval and never two at a time, so a page reloading every few seconds (or a script polling
 * /status in a loop) costs one statfs per interval; a reader gets the last sample at once (status
 * is synchronous), and sees when it was taken.
 */
export class SpoolSpace {
  readonly #dir: string;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #statfs: NonNullable<SpoolSpaceOptions['statfs']>;
  #view: SpoolSpaceView;
  #startedAt: number | undefined;
  #sampling: Promise<void> | undefined;

  constructor(dir: string, options: SpoolSpaceOptions = {}) {
    this.#dir = dir;
    this.#intervalMs = options.intervalMs ?? SPOOL_SPACE_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
    this.#statfs = options.statfs ?? fsStatfs;
    this.#view = { dir, freeBytes: null, totalBytes: null, sampledAt: null, error: null };
    // The first sample at once: the first page opened has figures.
    this.#refresh();
  }

  /** The last sample; starts a new one when it is older than the interval. */
  current(): SpoolSpaceView {
    this.#refresh();
    return { ...this.#view };
  }

  /** Resolves when the sample under way (if any) is in: tests, and a first sample at start. */
  async settled(): Promise<void> {
    await this.#sampling;
  }

  #refresh(): void {
    const now = this.#now();
    if (this.#sampling !== undefined) return;
    // Timed from when the last sample started, so a slow file system (EFS) is not asked again at once.
    if (this.#startedAt !== undefined && now - this.#startedAt < this.#intervalMs && now >= this.#startedAt) return;
    this.#startedAt = now;
    this.#sampling = this.#statfs(this.#dir)
      .then(
        (s) => {
          this.#view = {
            dir: this.#dir,
            freeBytes: s.bavail * s.bsize,
            totalBytes: s.blocks * s.bsize,
            sampledAt: this.#now(),
            error: null,
          };
        },
        (error: unknown) => {
          // The last good figures stay, with why they are not newer.
          this.#view = { ...this.#view, error: (error as NodeJS.ErrnoException).code ?? String(error) };
        },
      )
      .finally(() => (this.#sampling = undefined));
  }
}

import { AppendLog } from '../core/append-log.js';
import type { ListenerError } from '../core/errors.js';
import type { Hole, SpoolFileDamage } from '../core/status.js';

/**
 * Holes appended to `holes.jsonl` in the spool (and its mirror), so they survive restarts and show
 * on /status. The record of a loss must not be lost itself: each line is checked, a damaged line
 * is read from the other copy, and what neither copy holds is reported (`damage`), never skipped.
 */
export class HoleLog {
  readonly #log: AppendLog;
  readonly #holes: Hole[];

  private constructor(log: AppendLog, holes: Hole[]) {
    this.#log = log;
    this.#holes = holes;
  }

  static async open(path: string): Promise<HoleLog> {
    const holes: Hole[] = [];
    const log = await AppendLog.open(path, (value) => holes.push(value as Hole));
    return new HoleLog(log, holes);
  }

  get holes(): readonly Hole[] {
    return this.#holes;
  }

  /** What open found damaged in the file or its mirror, each stretch with its offset. */
  get damage(): readonly SpoolFileDamage[] {
    return this.#log.damage;
  }

  /** The damage as a coded error (ERR_SPOOL_LINE_DAMAGED, or ERR_SPOOL_LINE_REPAIRED), when there is any. */
  get failure(): ListenerError | undefined {
    return this.#log.failure;
  }

  /** Resolves once the hole is durable in both copies; a failed write is cut back (nothing half-written stays). */
  async record(hole: Hole): Promise<void> {
    await this.#log.append(JSON.stringify(hole));
    this.#holes.push(hole);
  }

  async close(): Promise<void> {
    await this.#log.close();
  }
}

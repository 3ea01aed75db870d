import { readFile } from 'node:fs/promises';
import { AppendFile } from './append-file.js';
import { writeFileAtomic } from './atomic-file.js';
import { encodeLine } from './checked-lines.js';
import { ListenerError } from './errors.js';
import { mergeCopies } from './log-copies.js';
import type { SpoolFileDamage } from './status.js';

/**
 * An append-only log of JSON objects for the spool's records of loss (holes, dead letters): the
 * one place such a file is written and read. Each line carries its checksum; the log is kept twice,
 * `path` and `path.mirror`, byte for byte alike and written one after the other, each append
 * durable in both before it resolves. Open reads both, takes each line from whichever copy holds
 * it good, repairs the other, cuts a torn tail (kept aside), and reports every damaged stretch
 * with its offset: what one copy lost the other gives back, and what neither holds is never
 * dropped silently. A failed append is cut back in both copies, so it never runs into the next.
 */
export class AppendLog {
  readonly path: string;
  /** Opened at the first append: a log only read (most starts) holds no file open. */
  #files: Promise<[AppendFile, AppendFile]> | undefined;
  readonly #damage: readonly SpoolFileDamage[];
  /**
   * The repair open could not write (a full or failing disk): made before the first append, which
   * fails while it cannot be, rather than the open failing and the service with it.
   */
  #repair: (() => Promise<void>) | undefined;
  #repairError: unknown;
  /** One append at a time: a cut-back must not take another append's line. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(path: string, damage: SpoolFileDamage[]) {
    this.path = path;
    this.#damage = damage;
  }

  /** Opens (repairing what one copy lost from the other) and hands each good line's object to `onValue`, in order. */
  static async open(path: string, onValue: (value: object) => void): Promise<AppendLog> {
    const mirrorPath = `${path}.mirror`;
    const copies = { primary: path, mirror: mirrorPath };
    const unreadable = new Set<string>();
    const [primary, mirror] = await Promise.all([readCopy(path, unreadable), readCopy(mirrorPath, unreadable)]);
    const merged = mergeCopies(primary, mirror);
    const damage = merged.damage.map(({ copy, ...rest }): SpoolFileDamage => ({ file: copies[copy], ...rest }));
    // A copy that could not be read at all is damage of its own (what the other gives back is
    // recovered): its bytes are unknown, so it is named even where the merge found nothing missing.
    for (const file of unreadable) {
      const missing = damage.filter((d) => d.file === file && d.reason === 'missing');
      for (const d of missing) d.reason = 'unreadable';
      const other = file === path ? mirror : primary;
      if (missing.length === 0)
        damage.unshift({ file, offset: 0, bytes: 0, reason: 'unreadable', recovered: other !== undefined });
    }
    for (const aside of merged.aside) {
      const entry = damage.find((d) => d.file === copies[aside.copy] && d.offset === aside.offset && !d.recovered);
      if (entry !== undefined) entry.keptAt = `${copies[aside.copy]}.damaged-${aside.offset}`;
    }
    const log = new AppendLog(path, damage);
    log.#repair = async () => {
      // Evidence first: what the repair cuts is kept beside the log before either copy is rewritten.
      for (const aside of merged.aside)
        await writeFileAtomic(`${copies[aside.copy]}.damaged-${aside.offset}`, aside.data);
      for (const [file, data] of [
        [path, primary],
        [mirrorPath, mirror],
      ] as const)
        if (data === undefined ? merged.content.length > 0 : !data.equals(merged.content))
          await writeFileAtomic(file, merged.content);
    };
    // A repair the disk refuses is kept (`failure` reports it) and tried again by the next append.
    await log.#repaired().catch(() => undefined);
    for (const value of merged.values) onValue(value);
    return log;
  }

  /** What open found damaged, in both copies (empty when nothing was). */
  get damage(): readonly SpoolFileDamage[] {
    return this.#damage;
  }

  /**
   * The damage as one coded error for the log and /status: ERR_SPOOL_LINE_DAMAGED when some lines
   * are held good by neither copy, ERR_SPOOL_LINE_REPAIRED when one copy was repaired from the other.
   */
  get failure(): ListenerError | undefined {
    return damageError(this.path, this.#damage, this.#repair === undefined ? undefined : this.#repairError);
  }

  /** Appends one object's JSON line to both copies; resolves once it is durable in both. */
  append(json: string): Promise<void> {
    const line = encodeLine(json);
    const run = this.#queue.then(() => this.#append(line));
    // The caller gets this append's rejection from `run`; the queue only has to go on after it.
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.#queue;
    const files = await this.#files?.catch(() => undefined);
    this.#files = undefined;
    await Promise.all(files?.map((file) => file.close()) ?? []);
  }

  /** Writes the repair open found needed, once; rejects (and keeps it for the next try) while it cannot. */
  async #repaired(): Promise<void> {
    if (this.#repair === undefined) return;
    try {
      await this.#repair();
    } catch (error) {
      this.#repairError = error;
      throw error;
    }
    this.#repair = this.#repairError = undefined;
  }

  async #append(line: Buffer): Promise<void> {
    // Both copies alike first: an append to copies that differ would set them apart for good.
    await this.#repaired();
    this.#files ??= openBoth(this.path);
    // A failed open is tried again by the next append, not remembered.
    const [primary, mirror] = await this.#files.catch((error: unknown) => {
      this.#files = undefined;
      throw error;
    });
    const before = primary.size;
    await primary.append(line);
    try {
      await mirror.append(line);
    } catch (error) {
      // All or nothing: the primary gives the line back, so the copies stay alike and a retry
      // writes it once. Should that cut fail too, the primary's next append makes it.
      const uncut = await primary.cutBack(before).then(
        () => undefined,
        (cause: unknown) => cause,
      );
      if (uncut === undefined) throw error;
      throw new AggregateError([error, uncut], `append to ${this.path}.mirror failed`, { cause: error });
    }
  }
}

/**
 * The coded error for damage found in an append-only spool file, undefined when there is none.
 * `unrepaired`: why the copies could not be made alike again yet (appends fail until they can).
 */
export function damageError(
  path: string,
  damage: readonly SpoolFileDamage[],
  unrepaired?: unknown,
): ListenerError | undefined {
  if (damage.length === 0) return undefined;
  const cause = unrepaired === undefined ? {} : { cause: unrepaired };
  const pending = unrepaired === undefined ? '' : '; not repaired yet (the disk refused): appends fail until it is';
  const lost = damage.filter((d) => !d.recovered);
  const first = lost[0] ?? damage[0]!;
  const where = `${first.file} at byte ${first.offset} (${first.bytes} bytes, ${first.reason})`;
  return lost.length > 0
    ? new ListenerError(
        'ERR_SPOOL_LINE_DAMAGED',
        `${path}: ${lost.length} damaged stretch(es) neither copy holds good, first ${where}; ` +
          `damaged lines stay in the file, cut bytes are kept aside${pending}`,
        { ...cause, details: { path, damage } },
      )
    : new ListenerError(
        'ERR_SPOOL_LINE_REPAIRED',
        `${path}: ${damage.length} damaged stretch(es) in one copy, first ${where}; ` +
          `read from the other copy, nothing lost${pending}`,
        { ...cause, details: { path, damage } },
      );
}

async function openBoth(path: string): Promise<[AppendFile, AppendFile]> {
  const primary = await AppendFile.open(path);
  try {
    return [primary, await AppendFile.open(`${path}.mirror`)];
  } catch (error) {
    await primary.close().catch(() => undefined);
    throw error;
  }
}

/** A copy's bytes; undefined when it is absent, or unreadable (then named in `unreadable`: the other copy serves). */
async function readCopy(path: string, unreadable: Set<string>): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') unreadable.add(path);
    return undefined;
  }
}

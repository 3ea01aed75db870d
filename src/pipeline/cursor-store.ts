import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ListenerError } from '../core/errors.js';
import { readSlot, SlotPair } from '../core/slot-pair.js';
import type { JournalDamage } from '../core/status.js';
import { spoolWriteFailure } from './spool-failure.js';

/** What every sink's saved state has: the LSN through which it has handled every record. */
export interface CursorState {
  through: number;
}

interface Copy {
  generation: number;
  state: CursorState;
}

const NAME = /^cursor-(.+)\.json(\.mirror)?$/;
const TAG = 'kfl-cursor 3';

/**
 * Each sink's position in the journal, in two files written one after the other
 * (`cursor-<sink>.json`, then `cursor-<sink>.json.mirror`), in place and with a checksum and a
 * generation number (core/slot-pair). Any damage to one file leaves the other; a crash between
 * the two leaves the newer generation in the first. A save that fails (a full disk) says so: the sink does
 * not go past a position it could not save.
 */
export class CursorStore {
  readonly #dir: string;
  /** Each sink's state as on disk (loaded at open, replaced by every save that lands). */
  readonly #loaded = new Map<string, Copy>();
  /** Each sink's two files, kept open for saving in place. */
  readonly #slots = new Map<string, SlotPair>();
  readonly #damage: JournalDamage[] = [];
  #failure: ListenerError | undefined;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Reads every sink's cursor (both copies), noting damage to either. */
  static async open(dir: string): Promise<CursorStore> {
    const store = new CursorStore(dir);
    const sinks = new Set<string>();
    for (const name of await readdir(dir)) {
      const match = NAME.exec(name);
      if (match !== null) sinks.add(match[1]!);
    }
    for (const sink of [...sinks].sort()) store.#read(sink);
    return store;
  }

  /** What open found wrong with a cursor file, and which copy was used. */
  get damage(): readonly JournalDamage[] {
    return this.#damage;
  }

  /** The last save that could not be written (cleared by the next that could). */
  get failure(): ListenerError | undefined {
    return this.#failure;
  }

  /** The sink's saved state, or undefined on its first start (or when both copies are gone). */
  load<T extends CursorState>(sink: string): T | undefined {
    return this.#loaded.get(sink)?.state as T | undefined;
  }

  /** The sinks that have a saved cursor (a good copy of one), in name order. */
  sinks(): string[] {
    return [...this.#loaded.keys()].sort();
  }

  /**
   * True when the sink's saved cursor says it handled `lsn`: at or below its `through`, or inside
   * a range it reports uploaded beyond it (an archive's objects written out of order).
   */
  handled(sink: string, lsn: number): boolean {
    const state: (CursorState & { uploaded?: unknown }) | undefined = this.#loaded.get(sink)?.state;
    if (state === undefined) return false;
    return lsn <= state.through || asRanges(state.uploaded).some(([a, b]) => lsn >= a && lsn <= b);
  }

  /**
   * The highest LSN any cursor has passed or names (an archive's uploaded ranges and its intent):
   * the journal never numbers a new record at or below it.
   */
  floor(): number {
    let floor = 0;
    for (const { state } of this.#loaded.values()) {
      const s = state as CursorState & { uploaded?: unknown; intent?: { ranges?: unknown } };
      const ranges = [...asRanges(s.uploaded), ...asRanges(s.intent?.ranges)];
      for (const end of [s.through, ...ranges.map((r) => r[1])])
        if (Number.isSafeInteger(end) && end > floor) floor = end;
    }
    return floor;
  }

  /** Writes both copies; false when the disk refused (`failure` says why). */
  async save(sink: string, state: CursorState): Promise<boolean> {
    const generation = (this.#loaded.get(sink)?.generation ?? 0) + 1;
    const json = JSON.stringify(state);
    const path = this.#path(sink);
    let slots = this.#slots.get(sink);
    if (slots === undefined) this.#slots.set(sink, (slots = new SlotPair(path, TAG)));
    try {
      await slots.write(generation, json);
    } catch (cause) {
      this.#failure = await spoolWriteFailure(path, `cannot save the ${sink} cursor`, cause, 'ERR_JOURNAL_CURSOR');
      return false;
    }
    this.#loaded.set(sink, { generation, state: JSON.parse(json) as CursorState });
    this.#failure = undefined;
    return true;
  }

  #path(sink: string): string {
    return join(this.#dir, `cursor-${sink}.json`);
  }

  /** Closes the cursor files kept open for saving. */
  async close(): Promise<void> {
    for (const slots of this.#slots.values()) await slots.close();
    this.#slots.clear();
  }

  #read(sink: string): void {
    const path = this.#path(sink);
    const primary = readCopy(path);
    const mirror = readCopy(`${path}.mirror`);
    const good = [primary, mirror].filter((c): c is Copy => c !== undefined && c !== 'damaged' && c !== 'absent');
    const best = good.sort((a, b) => b.generation - a.generation)[0];
    if (best !== undefined) this.#loaded.set(sink, best);
    for (const [copy, file] of [
      [primary, `cursor-${sink}.json`],
      [mirror, `cursor-${sink}.json.mirror`],
    ] as const) {
      // The copy a crash between the two writes leaves behind is no damage: a first save's mirror.
      const lost = copy === 'absent' && best !== undefined && (file.endsWith('.mirror') ? best.generation > 1 : true);
      if (copy !== 'damaged' && !lost) continue;
      this.#damage.push({
        kind: 'cursor',
        segment: file,
        offset: 0,
        lsns: null,
        note:
          best !== undefined
            ? `${copy === 'damaged' ? 'damaged' : 'missing'}; the ${sink} sink resumes from the other copy (through LSN ${best.state.through})`
            : `${copy === 'damaged' ? 'damaged' : 'missing'} and no good copy is left: the ${sink} sink resumes from the oldest record in the journal, so records it had handled may be delivered again`,
      });
    }
  }
}

/**
 * One copy: its state, 'damaged' when present but unreadable, 'absent' when there is no file. Any
 * other format (no release wrote one) is damaged too.
 */
function readCopy(path: string): Copy | 'damaged' | 'absent' {
  const copy = readSlot(path, TAG);
  if (copy === 'absent' || copy === 'damaged') return copy;
  const state = parseState(copy.body);
  return state === undefined ? 'damaged' : { generation: copy.generation, state };
}

function parseState(json: string): CursorState | undefined {
  try {
    const state = JSON.parse(json) as Partial<CursorState> | null;
    return state !== null && typeof state === 'object' && Number.isSafeInteger(state.through) && state.through! >= 0
      ? (state as CursorState)
      : undefined;
  } catch {
    return undefined;
  }
}

function asRanges(value: unknown): Array<[number, number]> {
  return Array.isArray(value)
    ? value.filter((r): r is [number, number] => Array.isArray(r) && r.length === 2 && Number.isSafeInteger(r[1]))
    : [];
}

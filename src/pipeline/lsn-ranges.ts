/** Inclusive LSN range [first, last]. */
export type LsnRange = [number, number];

/** Sorted LSNs → the fewest inclusive ranges covering exactly them. */
export function rangesOf(lsns: readonly number[]): LsnRange[] {
  const out: LsnRange[] = [];
  for (const lsn of lsns) {
    const last = out.at(-1);
    if (last !== undefined && lsn === last[1] + 1) last[1] = lsn;
    else out.push([lsn, lsn]);
  }
  return out;
}

/** Inserts a range into a sorted list of disjoint ranges, merging neighbours. */
export function addRange(ranges: LsnRange[], range: LsnRange): void {
  ranges.push([range[0], range[1]]);
  ranges.sort((a, b) => a[0] - b[0]);
  let w = 0;
  for (let r = 1; r < ranges.length; r++) {
    const current = ranges[w]!;
    const next = ranges[r]!;
    if (next[0] <= current[1] + 1) current[1] = Math.max(current[1], next[1]);
    else ranges[++w] = next;
  }
  ranges.length = w + 1;
}

/**
 * Advances `through` over ranges that now touch it (and up to `floor`, below which everything is
 * known to be done), and drops ranges it has passed.
 */
export function normalize(cursor: { through: number; uploaded: LsnRange[] }, floor = cursor.through): void {
  cursor.through = Math.max(cursor.through, floor);
  for (;;) {
    const first = cursor.uploaded[0];
    if (first === undefined || first[0] > cursor.through + 1) break;
    cursor.through = Math.max(cursor.through, first[1]);
    cursor.uploaded.shift();
  }
}

/**
 * The LSNs a log knows hold no record: everything through `below` (deleted, or before the first
 * segment found on open) and the runs open found without records (lost to damage, never given).
 * A read may step over these and nothing else.
 */
export class Vacancies {
  below: number;
  readonly #ranges: LsnRange[] = [];

  constructor(below = 0) {
    this.below = below;
  }

  /** Records a run of LSNs that holds no record (runs are added in order and never touch). */
  add(first: number, last: number): void {
    if (last >= first) this.#ranges.push([first, last]);
  }

  /** True when every LSN of [first, last] is known to hold no record. */
  covers(first: number, last: number): boolean {
    const from = Math.max(first, this.below + 1);
    if (from > last) return true;
    // Runs are maximal (a record lies between any two), so [from, last] must fit inside one.
    for (const [a, b] of this.#ranges) {
      if (from < a) return false;
      if (from <= b) return last <= b;
    }
    return false;
  }
}

/**
 * The first run of LSNs in [from, to] that a read's result steps over although `vacancies` does
 * not account for it (or an entry out of order, as [lsn, lsn]), else undefined. `complete` says
 * the read stopped for lack of records (not at its `max`), so the LSNs after its last entry up to
 * `to` must be vacant too.
 */
export function unaccountedGap(
  entries: ReadonlyArray<{ readonly lsn: number }>,
  from: number,
  to: number,
  complete: boolean,
  vacancies: Vacancies,
): LsnRange | undefined {
  let expected = from;
  for (let i = 0; i < entries.length; i++) {
    const lsn = entries[i]!.lsn;
    if (lsn !== expected) {
      if (lsn < expected) return [lsn, lsn];
      if (!vacancies.covers(expected, lsn - 1)) return [expected, lsn - 1];
    }
    expected = lsn + 1;
  }
  if (complete && expected <= to && !vacancies.covers(expected, to)) return [expected, to];
  return undefined;
}

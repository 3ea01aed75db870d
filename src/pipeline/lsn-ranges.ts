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

/**
 * Kalshi ExecIDs are "sequenced" as `clock;event` (or `clock;event;index` on other exchange
 * shards). Kalshi does not give the comparison rule; this compares them as integer tuples, and
 * falls back to plain string order for anything unparsable (kalshi-fix-margin.md §10.10).
 */
export function parseExecId(execId: string): number[] | undefined {
  if (!isSequencedExecId(execId)) return undefined;
  return execId.split(';').map(Number);
}

const SEMICOLON = 59;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;

/**
 * True when the id parses as a tuple (2 or 3 parts, each `-?\d{1,15}`), without allocating: the
 * journal asks this of every report it takes.
 */
export function isSequencedExecId(execId: string): boolean {
  let parts = 0;
  let digits = 0;
  let start = true;
  for (let i = 0; i < execId.length; i++) {
    const c = execId.charCodeAt(i);
    if (c === SEMICOLON) {
      if (digits === 0) return false;
      parts++;
      digits = 0;
      start = true;
    } else if (c >= ZERO && c <= NINE) {
      if (++digits > 15) return false;
      start = false;
    } else if (c === MINUS && start) {
      start = false;
    } else return false;
  }
  return digits > 0 && parts >= 1 && parts <= 2;
}

export function compareExecIds(a: string, b: string): number {
  // The common case, two canonical tuples (no sign, no leading zero), compares digit strings in
  // place; anything else goes the parsing way.
  const fast = compareCanonical(a, b);
  if (fast !== UNKNOWN) return fast;
  const pa = parseExecId(a);
  const pb = parseExecId(b);
  if (pa === undefined || pb === undefined) return a < b ? -1 : a > b ? 1 : 0;
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

const UNKNOWN = 2;

/** Ends of each part of a canonical tuple, or -1 when the id is not one. Reused: no allocation. */
const endsA = new Int32Array(3);
const endsB = new Int32Array(3);

function canonicalEnds(id: string, ends: Int32Array): number {
  let parts = 0;
  let partStart = 0;
  for (let i = 0; i <= id.length; i++) {
    const c = i === id.length ? SEMICOLON : id.charCodeAt(i);
    if (c === SEMICOLON) {
      const length = i - partStart;
      if (length === 0 || length > 15 || parts === 3) return 0;
      if (length > 1 && id.charCodeAt(partStart) === ZERO) return 0;
      ends[parts++] = i;
      partStart = i + 1;
    } else if (c < ZERO || c > NINE) return 0;
  }
  return parts >= 2 ? parts : 0;
}

function compareCanonical(a: string, b: string): number {
  const partsA = canonicalEnds(a, endsA);
  if (partsA === 0) return UNKNOWN;
  const partsB = canonicalEnds(b, endsB);
  if (partsB === 0) return UNKNOWN;
  let startA = 0;
  let startB = 0;
  for (let p = 0; p < 3; p++) {
    if (p >= partsA && p >= partsB) return 0;
    // A missing third part counts as 0; a canonical part is 0 only when it is "0".
    if (p >= partsA) return endsB[p]! - startB === 1 && b.charCodeAt(startB) === ZERO ? 0 : -1;
    if (p >= partsB) return endsA[p]! - startA === 1 && a.charCodeAt(startA) === ZERO ? 0 : 1;
    const lengthA = endsA[p]! - startA;
    const lengthB = endsB[p]! - startB;
    if (lengthA !== lengthB) return lengthA < lengthB ? -1 : 1;
    for (let k = 0; k < lengthA; k++) {
      const d = a.charCodeAt(startA + k) - b.charCodeAt(startB + k);
      if (d !== 0) return d < 0 ? -1 : 1;
    }
    startA = endsA[p]! + 1;
    startB = endsB[p]! + 1;
  }
  return 0;
}

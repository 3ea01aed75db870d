import { scanLines, type LineScan, type ScannedLine } from './checked-lines.js';
import type { SpoolFileDamage } from './status.js';

const NEWLINE = 0x0a;

export type CopyName = 'primary' | 'mirror';

/**
 * Why bytes of a copy were not taken: a line failing its checksum or not parsing, a torn tail
 * (bytes after the last newline), bytes missing (the copy is shorter, or gone), or a good line
 * that differs from the other copy's (a hand edit can do that).
 */
export type LineDamageReason = SpoolFileDamage['reason'];

export interface CopyDamage {
  copy: CopyName;
  /** Where the damaged bytes start in that copy (the same offset in both copies of a healthy log). */
  offset: number;
  bytes: number;
  reason: LineDamageReason;
  /** The other copy held these lines intact: nothing was lost. */
  recovered: boolean;
}

export interface MergedCopies {
  /** What both copies are to hold: every good line, and the damaged lines neither holds good. */
  content: Buffer;
  /** The good lines' objects, in order. */
  values: object[];
  damage: CopyDamage[];
  /** Bytes the content leaves out that no copy holds good (torn tails, a mirror line that differs). */
  aside: Array<{ copy: CopyName; offset: number; data: Buffer }>;
}

interface Copy {
  name: CopyName;
  data: Buffer | undefined;
  scan: LineScan;
  byOffset: Map<number, ScannedLine>;
}

interface Span {
  from: number;
  to: number;
  recovered: boolean;
}

/**
 * Two copies of a log written byte for byte alike, so a line sits at the same offset in both:
 * walking the offsets, each line is taken from whichever copy holds it good. Bytes neither holds
 * good stay where they are when a newline ends them (a damaged line, for a person to read) and are
 * reported; a torn tail is left out (and set aside). Missing lines, torn tails and damaged lines of
 * one copy are reported as recovered, except what a crash between the two writes leaves: the
 * mirror without the last line.
 */
export function mergeCopies(primary: Buffer | undefined, mirror: Buffer | undefined): MergedCopies {
  const p = view('primary', primary);
  // Alike, as they nearly always are: one scan serves both.
  const m =
    mirror !== undefined && primary?.equals(mirror) === true
      ? { ...p, name: 'mirror' as const }
      : view('mirror', mirror);
  const end = Math.max(p.scan.whole, m.scan.whole);
  const pieces: Buffer[] = [];
  const values: object[] = [];
  const spans: Record<CopyName, Span[]> = { primary: [], mirror: [] };
  const lost: Span[] = [];
  const merged: MergedCopies = { content: Buffer.alloc(0), values, damage: [], aside: [] };
  let lastLine = -1;
  for (let o = 0; o < end;) {
    const a = good(p, o);
    const b = good(m, o);
    const line = a ?? b;
    if (line !== undefined) {
      const bytes = (a !== undefined ? p : m).data!.subarray(o, o + line.length);
      pieces.push(bytes);
      values.push(line.value!);
      lastLine = o;
      if (a === undefined) add(spans.primary, { from: o, to: o + line.length, recovered: true });
      else if (b === undefined) add(spans.mirror, { from: o, to: o + line.length, recovered: true });
      else if (!m.data!.subarray(o, o + b.length).equals(bytes)) {
        merged.damage.push({ copy: 'mirror', offset: o, bytes: b.length, reason: 'differs', recovered: false });
        merged.aside.push({ copy: 'mirror', offset: o, data: Buffer.from(m.data!.subarray(o, o + b.length)) });
      }
      o += line.length;
      continue;
    }
    // Neither copy holds a good line here: up to the next good line of either (a line start, so
    // that copy has a newline just before it), or to the end of the longer copy's whole lines.
    const next = Math.min(nextGood(p, o) ?? end, nextGood(m, o) ?? end);
    const source = [p, m].find((c) => c.data !== undefined && c.data.length >= next && c.data[next - 1] === NEWLINE)!;
    pieces.push(source.data!.subarray(o, next));
    add(lost, { from: o, to: next, recovered: false });
    o = next;
  }
  merged.content = Buffer.concat(pieces);
  // The mirror is written second: a crash between the two writes leaves it the log without (the
  // rest of) its last line, which is no damage.
  const mirrorBytes = m.data ?? Buffer.alloc(0);
  const crashGap = mirrorBytes.length >= lastLine && merged.content.subarray(0, mirrorBytes.length).equals(mirrorBytes);
  for (const copy of [p, m])
    for (const span of spans[copy.name]) if (!(copy === m && crashGap)) merged.damage.push(...describe(copy, span));
  for (const span of lost)
    merged.damage.push(...describe(p.data !== undefined && p.data.length > span.from ? p : m, span));
  // Bytes after the last newline of both: no copy holds them whole.
  for (const copy of [p, m])
    if (copy.data !== undefined && copy.data.length > end) {
      const bytes = copy.data.length - end;
      merged.damage.push({ copy: copy.name, offset: end, bytes, reason: 'torn_tail', recovered: false });
      merged.aside.push({ copy: copy.name, offset: end, data: Buffer.from(copy.data.subarray(end)) });
    }
  merged.damage.sort((x, y) => x.offset - y.offset || x.copy.localeCompare(y.copy));
  return merged;
}

function view(name: CopyName, data: Buffer | undefined): Copy {
  const scan = data === undefined ? { lines: [], whole: 0 } : scanLines(data);
  return { name, data, scan, byOffset: new Map(scan.lines.map((l) => [l.offset, l])) };
}

function good(copy: Copy, offset: number): ScannedLine | undefined {
  const line = copy.byOffset.get(offset);
  return line?.value === undefined ? undefined : line;
}

/** The offset of the copy's first good line after `offset`. */
function nextGood(copy: Copy, offset: number): number | undefined {
  const lines = copy.scan.lines;
  for (let i = lineAt(lines, offset) + 1; i < lines.length; i++)
    if (lines[i]!.value !== undefined) return lines[i]!.offset;
  return undefined;
}

/** The index of the last line starting at or before `offset` (-1 when none does). */
function lineAt(lines: readonly ScannedLine[], offset: number): number {
  let lo = 0;
  let hi = lines.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (lines[mid]!.offset <= offset) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function add(spans: Span[], span: Span): void {
  const last = spans.at(-1);
  if (last !== undefined && last.to === span.from && last.recovered === span.recovered) last.to = span.to;
  else spans.push(span);
}

/** A span of one copy as damage entries, split where its reason changes: bad lines, torn tail, missing. */
function describe(copy: Copy, span: Span): CopyDamage[] {
  const length = copy.data?.length ?? 0;
  const whole = Math.min(copy.scan.whole, length);
  const parts: CopyDamage[] = [];
  const push = (from: number, to: number, reason: LineDamageReason) => {
    if (to > from) parts.push({ copy: copy.name, offset: from, bytes: to - from, reason, recovered: span.recovered });
  };
  const lines = copy.scan.lines;
  let from = span.from;
  const linesEnd = Math.min(span.to, whole);
  while (from < linesEnd) {
    // The copy's own line under `from` (its lines may not start where the other copy's do).
    const line = lines[lineAt(lines, from)]!;
    const reason: LineDamageReason = line.fault ?? 'differs';
    let to = Math.min(line.offset + line.length, linesEnd);
    for (let i = lineAt(lines, from) + 1; i < lines.length && lines[i]!.offset < linesEnd; i++) {
      if ((lines[i]!.fault ?? 'differs') !== reason) break;
      to = Math.min(lines[i]!.offset + lines[i]!.length, linesEnd);
    }
    push(from, to, reason);
    from = to;
  }
  push(Math.max(span.from, whole), Math.min(span.to, length), 'torn_tail');
  push(Math.max(span.from, length), span.to, 'missing');
  return parts;
}

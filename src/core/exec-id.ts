/**
 * Kalshi ExecIDs are "sequenced" as `clock;event` (or `clock;event;index` on other exchange
 * shards). Kalshi does not give the comparison rule; this compares them as integer tuples, and
 * falls back to plain string order for anything unparsable (kalshi-fix-margin.md §10.10).
 */
export function parseExecId(execId: string): number[] | undefined {
  const parts = execId.split(';');
  if (parts.length < 2 || parts.length > 3) return undefined;
  const out: number[] = [];
  for (const part of parts) {
    if (!/^-?\d{1,15}$/.test(part)) return undefined;
    out.push(Number(part));
  }
  return out;
}

export function compareExecIds(a: string, b: string): number {
  const pa = parseExecId(a);
  const pb = parseExecId(b);
  if (pa === undefined || pb === undefined) return a < b ? -1 : a > b ? 1 : 0;
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

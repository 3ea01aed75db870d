/** FIX UTCTimestamp helpers. FIX writes `YYYYMMDD-HH:MM:SS[.sss[sss[sss]]]`, always UTC. */

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function pad3(n: number): string {
  return n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n);
}

/** Milliseconds since the epoch → `YYYYMMDD-HH:MM:SS.mmm` (the form Kalshi signs and checks). */
export function formatUtcTimestamp(epochMs: number): string {
  const d = new Date(epochMs);
  return `${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}-${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${pad3(d.getUTCMilliseconds())}`;
}

const FIX_TIMESTAMP = /^(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}|\d{6}|\d{9}))?$/;

/**
 * FIX UTCTimestamp → ISO-8601 UTC keeping the precision received (`.401`, `.401123`, `.401123456`,
 * or none). Returns undefined for anything that is not a valid timestamp, so callers keep `raw`.
 */
export function fixTimestampToIso(value: string): string | undefined {
  const m = FIX_TIMESTAMP.exec(value);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac] = m as unknown as [string, string, string, string, string, string, string, string | undefined];
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return undefined;
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${frac === undefined ? '' : `.${frac}`}Z`;
}

/** FIX UTCTimestamp → epoch milliseconds (sub-millisecond digits dropped), or undefined. */
export function fixTimestampToEpochMs(value: string): number | undefined {
  const iso = fixTimestampToIso(value);
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso.length > 24 ? `${iso.slice(0, 23)}Z` : iso);
  return Number.isNaN(ms) ? undefined : ms;
}

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

/**
 * FIX UTCTimestamp → ISO-8601 UTC keeping the precision received (`.401`, `.401123`, `.401123456`,
 * or none). Returns undefined for anything that is not a valid timestamp, so callers keep `raw`.
 * Checked character by character: it runs twice per report, and a regex with captures allocated
 * more than the rest of the report's fields together.
 */
export function fixTimestampToIso(value: string): string | undefined {
  const n = value.length;
  if (n !== 17 && n !== 21 && n !== 24 && n !== 27) return undefined;
  for (let i = 0; i < 17; i++) {
    const c = value.charCodeAt(i);
    const expected = i === 8 ? 0x2d : i === 11 || i === 14 ? 0x3a : -1; // '-' ':'
    if (expected === -1 ? c < 0x30 || c > 0x39 : c !== expected) return undefined;
  }
  if (n > 17) {
    if (value.charCodeAt(17) !== 0x2e) return undefined; // '.'
    for (let i = 18; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return undefined;
    }
  }
  const month = twoDigits(value, 4);
  const day = twoDigits(value, 6);
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > 31 ||
    twoDigits(value, 9) > 23 ||
    twoDigits(value, 12) > 59 ||
    twoDigits(value, 15) > 60
  )
    return undefined;
  // After the date, FIX's `HH:MM:SS[.fff]` is already ISO's time part.
  return `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}T${value.slice(9)}Z`;
}

function twoDigits(value: string, at: number): number {
  return (value.charCodeAt(at) - 0x30) * 10 + value.charCodeAt(at + 1) - 0x30;
}

/** FIX UTCTimestamp → epoch milliseconds (sub-millisecond digits dropped), or undefined. */
export function fixTimestampToEpochMs(value: string): number | undefined {
  const iso = fixTimestampToIso(value);
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso.length > 24 ? `${iso.slice(0, 23)}Z` : iso);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The hour an archived record is filed under (DESIGN.md §3): its TransactTime, else its SendingTime,
 * unless that is further than a bound from its receipt (or is no time at all), then its receive
 * time. An outlier (a TransactTime in 2099, in 2019) would otherwise open an hour that closes
 * decades from now, or long ago: the Parquet copy of a far-future hour would hold its cursor, and
 * the spool, for good. The record keeps its own value; only the folder it lands in changes.
 *
 * Read from the line's bytes, once per record on the archive's path: digits are read where an
 * ISO-8601 UTC time has them, with no string, Date or match object made for the record.
 */

/** Default bound between a record's own time and its receipt (24 h). */
export const DEFAULT_TIME_OUTLIER_MS = 24 * 3600_000;

const HOUR_MS = 3600_000;
// With the opening quote of the value: a null (or absent) time is not found. Inside any string
// value a quote is escaped, so these occur only as top-level keys.
const TRANSACT = Buffer.from('"transact_time":"', 'latin1');
const SENDING = Buffer.from('"sending_time":"', 'latin1');
const RECEIVED = Buffer.from('"received_at":"', 'latin1');
const QUOTE = 0x22;

export type OutlierField = 'transact_time' | 'sending_time';

/** Files record lines by hour. One per archive writer: it keeps what it found for the last line. */
export class LinePartitioner {
  readonly #boundMs: number;
  /** Set by `hourOf` when the line's own time was too far from its receipt (or unreadable). */
  outlier: OutlierField | undefined;
  /** The receive time of the last line (epoch ms); the clock's when the line has none readable. */
  receivedMs = 0;
  /** Where the outlying value starts in the last line. */
  #outlierAt = -1;

  constructor(boundMs = DEFAULT_TIME_OUTLIER_MS) {
    this.#boundMs = boundMs;
  }

  /** The start (epoch ms) of the hour the line is filed under. */
  hourOf(line: Buffer, now: () => number): number {
    let field: OutlierField = 'transact_time';
    let at = valueAt(line, TRANSACT);
    if (at < 0) {
      field = 'sending_time';
      at = valueAt(line, SENDING);
    }
    // received_at follows the other two (the record's column order): searched from there, as a
    // search from the start costs as much again.
    let receivedAt = at < 0 ? -1 : valueAt(line, RECEIVED, at);
    if (receivedAt < 0) receivedAt = valueAt(line, RECEIVED, 0);
    const receivedHour = receivedAt < 0 ? Number.NaN : hourStartAt(line, receivedAt);
    const received = receivedHour + msIntoHour(line, receivedAt);
    this.receivedMs = Number.isNaN(received) ? now() : received;
    this.outlier = undefined;
    if (at >= 0) {
      const hour = hourStartAt(line, at);
      if (Math.abs(hour + msIntoHour(line, at) - this.receivedMs) <= this.#boundMs) return hour;
      this.outlier = field;
      this.#outlierAt = at;
    }
    return Number.isNaN(received) ? Math.floor(this.receivedMs / HOUR_MS) * HOUR_MS : receivedHour;
  }

  /** The outlying value of the last line, as written (for the warning; not on the hot path). */
  outlierValue(line: Buffer): string {
    return line.toString('utf8', this.#outlierAt, line.indexOf(QUOTE, this.#outlierAt));
  }
}

/** `dt=YYYY-MM-DD/hour=HH` of an hour's start. */
export function hourKeyOf(hourStartMs: number): string {
  const iso = new Date(hourStartMs).toISOString();
  return `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
}

/** Where the string value of a top-level key starts (-1 when it is null or absent). */
function valueAt(line: Buffer, key: Buffer, from = 0): number {
  const at = line.indexOf(key, from);
  return at < 0 ? -1 : at + key.length;
}

/** Ms into its hour (to the second) of the `MM:SS` of a time at `at`; NaN when they are none. */
function msIntoHour(line: Buffer, at: number): number {
  if (line[at + 13] !== 0x3a || line[at + 16] !== 0x3a) return Number.NaN;
  const minute = digits2(line, at + 14);
  const second = digits2(line, at + 17);
  // A leap second (:60) counts as the next second; NaN fails both tests.
  return minute <= 59 && second <= 60 ? (minute * 60 + second) * 1000 : Number.NaN;
}

/**
 * Epoch ms of the start of the hour of the `YYYY-MM-DDTHH` at `at`; NaN when the bytes are not an
 * ISO-8601 time (a day past its month's end included). The hour is the one written, as the
 * partition always took it.
 */
function hourStartAt(line: Buffer, at: number): number {
  if (line.length < at + 19 || line[at + 4] !== 0x2d || line[at + 7] !== 0x2d || line[at + 10] !== 0x54)
    return Number.NaN;
  const year = digits2(line, at) * 100 + digits2(line, at + 2);
  const month = digits2(line, at + 5);
  const day = digits2(line, at + 8);
  const hour = digits2(line, at + 11);
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour <= 23)) return Number.NaN;
  return (daysFromCivil(year, month, day) * 24 + hour) * HOUR_MS;
}

/** Two ASCII digits as a number; NaN when either is not a digit. */
function digits2(line: Buffer, at: number): number {
  const a = line[at]! - 0x30;
  const b = line[at + 1]! - 0x30;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : Number.NaN;
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Counters the status page charts as rates. */
export interface RateCounters {
  executionReports: number;
  fillsPublished: number;
}

/** Rates per second over the last window, oldest first; `at` is each interval's end (epoch ms). */
export interface RateSeries {
  intervalMs: number;
  at: number[];
  reportsPerSecond: number[];
  fillsPerSecond: number[];
}

export interface RateHistoryOptions {
  /** Between samples; default 10 s. */
  intervalMs?: number;
  /** How far back the series goes; default 15 minutes. */
  windowMs?: number;
}

/**
 * Reports/s and fills/s over the last minutes, from the service's running counters sampled on a
 * timer (main owns it). Fixed arrays: a sample costs no allocation, whatever the uptime.
 */
export class RateHistory {
  readonly intervalMs: number;
  readonly #capacity: number;
  readonly #at: Float64Array;
  readonly #reports: Float64Array;
  readonly #fills: Float64Array;
  #count = 0;
  #next = 0;
  #last: { at: number; reports: number; fills: number } | undefined;

  constructor(options: RateHistoryOptions = {}) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.#capacity = Math.max(1, Math.ceil((options.windowMs ?? 15 * 60_000) / this.intervalMs));
    this.#at = new Float64Array(this.#capacity);
    this.#reports = new Float64Array(this.#capacity);
    this.#fills = new Float64Array(this.#capacity);
  }

  /** Takes the counters at `now`; the first sample only sets the baseline. */
  sample(now: number, counters: RateCounters): void {
    const last = this.#last;
    this.#last = { at: now, reports: counters.executionReports, fills: counters.fillsPublished };
    if (last === undefined || now <= last.at) return;
    const seconds = (now - last.at) / 1000;
    // A counter that went down (a restart of what feeds it) counts from zero, never negative.
    const rate = (value: number, before: number) => Math.max(0, value - before) / seconds;
    this.#at[this.#next] = now;
    this.#reports[this.#next] = rate(counters.executionReports, last.reports);
    this.#fills[this.#next] = rate(counters.fillsPublished, last.fills);
    this.#next = (this.#next + 1) % this.#capacity;
    if (this.#count < this.#capacity) this.#count++;
  }

  series(): RateSeries {
    const out: RateSeries = { intervalMs: this.intervalMs, at: [], reportsPerSecond: [], fillsPerSecond: [] };
    for (let i = 0; i < this.#count; i++) {
      const k = (this.#next - this.#count + i + this.#capacity) % this.#capacity;
      out.at.push(this.#at[k]!);
      out.reportsPerSecond.push(this.#reports[k]!);
      out.fillsPerSecond.push(this.#fills[k]!);
    }
    return out;
  }
}

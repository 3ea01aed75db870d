/**
 * Log lines (pino `msg`, src/app/log.ts) an alarm counts with a metric filter. Readiness and lags come
 * as metrics from the health line (METRICS_NAMESPACE); a hole is an event, not a level, so it is
 * counted from its own line. test/infra/log-signals.test.ts produces the line with the service's
 * own logging function, so a reworded message fails a test instead of silencing the alarm.
 */
export const LOG_MESSAGES = {
  hole: 'reports missed and not recoverable: hole recorded',
  /** Every start of the service (src/app/log.ts STARTING_MESSAGE). */
  starting: 'starting',
} as const;

/**
 * The field naming the listener on every line (src/app/main.ts binds it to the service's logger):
 * the value of the `Listener` dimension of the metrics counted from lines.
 */
export const LOG_LISTENER_FIELD = 'listener';

/** A CloudWatch Logs JSON filter pattern matching any of these messages exactly. */
export function anyMessagePattern(messages: readonly string[]): string {
  for (const m of messages)
    if (m.includes('"')) throw new Error(`log message cannot be matched in a filter pattern: ${m}`);
  return `{ ${messages.map((m) => `($.msg = "${m}")`).join(' || ')} }`;
}

/**
 * Log lines (pino `msg`, src/log.ts and src/main.ts) the alarms count. The service publishes no
 * CloudWatch metric of its own and its readiness lives behind /readyz in a private subnet, so these
 * lines are what CloudWatch can see. test/infra/log-signals.test.ts produces each line with the
 * service's own logging functions, so a reworded message fails a test instead of silencing an alarm.
 */
export const LOG_MESSAGES = {
  disconnected: 'disconnected',
  /** Logged before every reconnect attempt, at most a minute apart while the session is down. */
  reconnecting: 'reconnecting',
  /** Logged on every failed upload; retries back off to at most a minute. */
  archiveWriteFailed: 'archive write failed; retrying',
  fillSendFailed: 'fill send failed; retrying',
  fatal: 'fatal: exiting so the orchestrator restarts the task',
  hole: 'reports missed and not recoverable: hole recorded',
} as const;

/** The messages that mean /readyz would answer 503: session down, a sink failing, the journal failing. */
export const NOT_READY_MESSAGES = [LOG_MESSAGES.disconnected, LOG_MESSAGES.reconnecting, LOG_MESSAGES.archiveWriteFailed, LOG_MESSAGES.fillSendFailed, LOG_MESSAGES.fatal] as const;

/** A CloudWatch Logs JSON filter pattern matching any of these messages exactly. */
export function anyMessagePattern(messages: readonly string[]): string {
  for (const m of messages) if (m.includes('"')) throw new Error(`log message cannot be matched in a filter pattern: ${m}`);
  return `{ ${messages.map((m) => `($.msg = "${m}")`).join(' || ')} }`;
}

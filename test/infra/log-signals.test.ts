import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anyMessagePattern, LOG_MESSAGES, NOT_READY_MESSAGES } from '../../infra/log-signals.js';
import { createLogger, logArchiveEvent, logBackfillEvent, logFillEvent, logSessionEvent } from '../../src/log.js';
import { REPO } from './synth.js';

/** The log lines the service's own logging functions write, as CloudWatch receives them. */
function linesOf(write: (log: ReturnType<typeof createLogger>) => void): Array<Record<string, unknown>> {
  const lines: string[] = [];
  const log = createLogger('debug', { write: (line: string) => void lines.push(line) });
  write(log);
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * CloudWatch's JSON filter semantics for the only shape anyMessagePattern writes:
 * `{ ($.msg = "a") || ($.msg = "b") }` matches a JSON event whose msg is exactly a or b.
 */
function matches(pattern: string, event: Record<string, unknown>): boolean {
  expect(pattern).toMatch(/^\{ \(\$\.msg = "[^"]+"\)( \|\| \(\$\.msg = "[^"]+"\))* \}$/);
  return [...pattern.matchAll(/\$\.msg = "([^"]+)"/g)].some((m) => m[1] === event['msg']);
}

describe('log signals the alarms count', () => {
  const notReady = anyMessagePattern(NOT_READY_MESSAGES);

  it('match the lines the service writes when the session is down', () => {
    // Act
    const lines = linesOf((log) => {
      logSessionEvent(log, { kind: 'disconnected', reason: undefined });
      logSessionEvent(log, { kind: 'reconnect_scheduled', delayMs: 4000, attempt: 3 });
    });
    // Assess
    expect(lines.map((l) => l['msg'])).toEqual([LOG_MESSAGES.disconnected, LOG_MESSAGES.reconnecting]);
    expect(lines.every((l) => matches(notReady, l))).toBe(true);
  });

  it('match the lines the service writes when S3 or SQS writes fail, and archive failures alone feed the lag alarm', () => {
    // Act
    const [archive, fills] = linesOf((log) => {
      logArchiveEvent(log, { kind: 'upload_failed', key: 'exec_reports/dt=2026-11-23/hour=22/x.jsonl.gz', attempt: 4, retryInMs: 8000, error: new Error('SlowDown') });
      logFillEvent(log, { kind: 'send_failed', count: 10, retryInMs: 2000, error: new Error('ThrottlingException') });
    });
    // Assess
    expect([archive!['msg'], fills!['msg']]).toEqual([LOG_MESSAGES.archiveWriteFailed, LOG_MESSAGES.fillSendFailed]);
    expect(matches(notReady, archive!) && matches(notReady, fills!)).toBe(true);
    expect(matches(anyMessagePattern([LOG_MESSAGES.archiveWriteFailed]), archive!)).toBe(true);
    expect(matches(anyMessagePattern([LOG_MESSAGES.archiveWriteFailed]), fills!)).toBe(false);
  });

  it('match the line written when reports are missed for good', () => {
    // Act
    const [line] = linesOf((log) => logBackfillEvent(log, { kind: 'hole', hole: { lastGoodExecId: '1523;88', from: '2026-11-23T22:00:00Z', to: '2026-11-23T22:10:00Z', reason: 'drop copy unavailable', recordedAt: '2026-11-23T22:10:01Z' } }));
    // Assess
    expect(matches(anyMessagePattern([LOG_MESSAGES.hole]), line!)).toBe(true);
  });

  it('include the fatal exit line, which only the running service writes', () => {
    // Prepare: written inside startListener's onFatal, so it is checked in the source.
    const main = readFileSync(join(REPO, 'src/main.ts'), 'utf8');
    // Assess
    expect(main).toContain(`'${LOG_MESSAGES.fatal}'`);
    expect(main).toMatch(/log\.fatal\(/);
  });

  it('do not match routine lines: logging on, an archive object written, fills sent', () => {
    // Act
    const lines = linesOf((log) => {
      logSessionEvent(log, { kind: 'logon', heartbeatIntervalS: 30, reset: false, nextInbound: 2, nextOutbound: 2 });
      logArchiveEvent(log, { kind: 'uploaded', key: 'k', records: 10, bytes: 100, result: 'created' });
      logFillEvent(log, { kind: 'sent', count: 3, lastLsn: 9 });
    });
    // Assess
    expect(lines).toHaveLength(3);
    expect(lines.some((l) => matches(notReady, l))).toBe(false);
  });
});

import { ListenerError } from '../../src/core/errors.js';
import { describe, expect, it } from 'vitest';
import { anyMessagePattern, LOG_MESSAGES } from '../../infra/log-signals.js';
import {
  createLogger,
  logArchiveEvent,
  logBackfillEvent,
  logFillEvent,
  logSessionEvent,
  STARTING_MESSAGE,
} from '../../src/app/log.js';

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
  const hole = anyMessagePattern([LOG_MESSAGES.hole]);

  it("count the service's start line, the one main writes first", () => {
    // Act
    const [line] = linesOf((log) => log.info({ host: 'fix.example' }, STARTING_MESSAGE));
    // Assess
    expect(LOG_MESSAGES.starting).toBe(STARTING_MESSAGE);
    expect(matches(anyMessagePattern([LOG_MESSAGES.starting]), line!)).toBe(true);
    expect(matches(hole, line!)).toBe(false);
  });

  it('match the line written when reports are missed for good', () => {
    // Act
    const [line] = linesOf((log) =>
      logBackfillEvent(log, {
        kind: 'hole',
        hole: {
          lastGoodExecId: '1523;88',
          from: '2026-11-23T22:00:00Z',
          to: '2026-11-23T22:10:00Z',
          reason: 'drop copy unavailable',
          recordedAt: '2026-11-23T22:10:01Z',
        },
      }),
    );
    // Assess
    expect(line!['msg']).toBe(LOG_MESSAGES.hole);
    expect(matches(hole, line!)).toBe(true);
  });

  it('do not match routine or merely degraded lines: logging on, a disconnect, an archive retry, fills sent', () => {
    // Act
    const lines = linesOf((log) => {
      logSessionEvent(log, { kind: 'logon', heartbeatIntervalS: 30, reset: false, nextInbound: 2, nextOutbound: 2 });
      logSessionEvent(log, { kind: 'disconnected', reason: undefined });
      logArchiveEvent(log, {
        kind: 'upload_failed',
        key: 'exec_reports/dt=2026-11-23/hour=22/x.jsonl.gz',
        attempt: 4,
        retryInMs: 8000,
        error: new ListenerError('ERR_S3_PUT', 'S3 PutObject failed: SlowDown', { cause: new Error('SlowDown') }),
      });
      logArchiveEvent(log, { kind: 'uploaded', key: 'k', records: 10, bytes: 100, result: 'created' });
      logFillEvent(log, { kind: 'sent', count: 3, lastLsn: 9 });
    });
    // Assess
    expect(lines).toHaveLength(5);
    expect(lines.some((l) => matches(hole, l))).toBe(false);
  });

  it('refuse a message a filter pattern cannot quote', () => {
    expect(() => anyMessagePattern(['say "hi"'])).toThrow(/cannot be matched/);
  });
});

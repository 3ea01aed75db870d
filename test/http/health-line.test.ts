import { describe, expect, it } from 'vitest';
import { healthFigures, healthLine } from '../../src/http/health-line.js';
import type { ListenerStatus } from '../../src/http/status.js';

/** The parts of /status the health figures read; the rest of ListenerStatus plays no part. */
function status(overrides: {
  state?: string;
  archiveLag?: number;
  archiveOldest?: number;
  fillsLag?: number;
  backlog?: number[];
  holes?: number;
  deadLetters?: number;
  fatal?: string;
  stalled?: boolean;
}): ListenerStatus {
  const sink = (name: string, lagSeconds: number, deadLetters = 0, oldestPendingAgeSeconds = 0) => ({
    name,
    location: 'file:///x',
    lastSuccessAt: undefined,
    lastError: undefined,
    consecutiveFailures: 0,
    lagSeconds,
    pendingRecords: 0,
    oldestPendingAgeSeconds,
    deadLetters,
  });
  return {
    fatal: overrides.fatal,
    session: { state: overrides.state ?? 'active', recovering: undefined, lastError: undefined },
    sinks: [
      sink('archive', overrides.archiveLag ?? 0, 0, overrides.archiveOldest ?? 0),
      sink('fills', overrides.fillsLag ?? 0, overrides.deadLetters),
    ],
    journal: {
      backlog: Object.fromEntries(
        (overrides.backlog ?? [0, 0]).map((records, i) => [`sink${i}`, { records, bytes: records * 1000 }]),
      ),
      integrity: {
        damage: [],
        stalled: overrides.stalled
          ? { code: 'ERR_JOURNAL_DISK_FULL', message: 'no space left on the spool', since: 0, attempts: 3 }
          : null,
      },
    },
    backfill: { holes: Array.from({ length: overrides.holes ?? 0 }, () => ({})) },
    counters: { executionReports: 0, fillsPublished: 0 },
  } as unknown as ListenerStatus;
}

describe('healthFigures', () => {
  it('reports a logged-on service with idle sinks as ready', () => {
    // Act
    const figures = healthFigures(status({}));
    // Assess
    expect(figures).toEqual({
      Ready: 1,
      SessionActive: 1,
      ArchiveLagSeconds: 0,
      ArchiveOldestRecordSeconds: 0,
      FillsLagSeconds: 0,
      JournalBacklogRecords: 0,
      Holes: 0,
      DeadLetters: 0,
      JournalStalled: 0,
      ReportsReceived: 0,
      FillsSent: 0,
    });
  });

  it('counts the reports and fills since the previous line, never below zero', () => {
    // Prepare
    const now = status({});
    now.counters = { ...now.counters, executionReports: 1500, fillsPublished: 300 };
    // Act
    const later = healthFigures(now, undefined, { executionReports: 1200, fillsPublished: 290 });
    const afterRestart = healthFigures(now, undefined, { executionReports: 9000, fillsPublished: 900 });
    // Assess
    expect(later).toMatchObject({ ReportsReceived: 300, FillsSent: 10 });
    expect(afterRestart).toMatchObject({ ReportsReceived: 0, FillsSent: 0 });
  });

  it('reports not ready with the lag, the slowest backlog and the holes when the archive falls behind', () => {
    // Act
    const figures = healthFigures(
      status({
        archiveLag: 1800.4,
        archiveOldest: 5460.2,
        fillsLag: 2.6,
        backlog: [120, 48_000],
        holes: 2,
        deadLetters: 3,
      }),
    );
    // Assess
    expect(figures).toEqual({
      Ready: 0,
      SessionActive: 1,
      ArchiveLagSeconds: 1800,
      ArchiveOldestRecordSeconds: 5460,
      FillsLagSeconds: 3,
      JournalBacklogRecords: 48_000,
      Holes: 2,
      DeadLetters: 3,
      JournalStalled: 0,
      ReportsReceived: 0,
      FillsSent: 0,
    });
  });

  it('reports not ready and the journal stalled while the spool refuses writes', () => {
    // Act
    const figures = healthFigures(status({ stalled: true }));
    // Assess
    expect(figures).toMatchObject({ Ready: 0, SessionActive: 1, JournalStalled: 1 });
  });

  it('reports not ready and the session down while reconnecting', () => {
    // Act
    const figures = healthFigures(status({ state: 'reconnecting' }));
    // Assess
    expect(figures).toMatchObject({ Ready: 0, SessionActive: 0 });
  });
});

describe('healthLine', () => {
  it('is the plain figures without a namespace', () => {
    // Prepare
    const figures = healthFigures(status({}));
    // Act
    const line = healthLine(figures, undefined, 1_000);
    // Assess
    expect(line).toEqual(figures);
    expect(line).not.toHaveProperty('_aws');
  });

  it('declares every figure as a metric with its unit under the namespace', () => {
    // Act
    const line = healthLine(healthFigures(status({ archiveLag: 5 })), 'Kfl/prod', 1_700_000_000_000) as {
      _aws: {
        Timestamp: number;
        CloudWatchMetrics: Array<{ Namespace: string; Metrics: Array<{ Name: string; Unit: string }> }>;
      };
    };
    // Assess
    expect(line._aws.Timestamp).toBe(1_700_000_000_000);
    expect(line._aws.CloudWatchMetrics[0]!.Namespace).toBe('Kfl/prod');
    expect(line._aws.CloudWatchMetrics[0]!.Metrics).toContainEqual({ Name: 'ArchiveLagSeconds', Unit: 'Seconds' });
    expect(line._aws.CloudWatchMetrics[0]!.Metrics).toContainEqual({ Name: 'Ready', Unit: 'None' });
    expect(line).toMatchObject({ ArchiveLagSeconds: 5, Listener: 'default' });
  });

  it('puts every figure under the listener dimension, named by LISTENER_NAME', () => {
    // Act
    const line = healthLine(healthFigures(status({})), 'Kfl/prod', 1_000, 'member-b') as {
      _aws: { CloudWatchMetrics: Array<{ Dimensions: string[][] }> };
      Listener: string;
    };
    // Assess
    expect(line._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['Listener']]);
    expect(line.Listener).toBe('member-b');
  });
});

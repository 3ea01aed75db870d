import type { ListenerStatus } from './status.js';
import { readiness, type ReadinessLimits } from './readiness.js';
import { DEFAULT_LISTENER } from '../core/env-checks.js';

/**
 * The figures an operator alarms on, as numbers: what /readyz and /status say, for CloudWatch,
 * which cannot reach the control plane in a private subnet.
 */
export interface HealthFigures {
  /** 1 when /readyz would answer 200. */
  Ready: 0 | 1;
  /** 1 when the FIX session is logged on. */
  SessionActive: 0 | 1;
  ArchiveLagSeconds: number;
  /** Age of the oldest record not yet in an archive object: ≤ ARCHIVE_FLUSH_S + a tick when keeping up. */
  ArchiveOldestRecordSeconds: number;
  FillsLagSeconds: number;
  /** Journaled records the slowest sink has not handled yet. */
  JournalBacklogRecords: number;
  /** Unrecoverable gaps recorded (reports that may be missing). */
  Holes: number;
  /** Records parked in the dead letters (every sink, all in the spool file). */
  DeadLetters: number;
  JournalStalled: number;
  /** Execution reports received since the previous health line (the dashboard's reports/s). */
  ReportsReceived: number;
  /** Fills the queue took since the previous health line. */
  FillsSent: number;
}

/** The running counters a health line takes its per-interval counts from. */
export interface HealthCounters {
  executionReports: number;
  fillsPublished: number;
}

const UNITS: Record<keyof HealthFigures, string> = {
  Ready: 'None',
  SessionActive: 'None',
  ArchiveLagSeconds: 'Seconds',
  ArchiveOldestRecordSeconds: 'Seconds',
  FillsLagSeconds: 'Seconds',
  JournalBacklogRecords: 'Count',
  Holes: 'Count',
  DeadLetters: 'Count',
  JournalStalled: 'None',
  ReportsReceived: 'Count',
  FillsSent: 'Count',
};

/**
 * `previous` is the counters at the last health line: the counts are what happened since (none
 * at the first line, and never negative).
 */
export function healthFigures(
  status: ListenerStatus,
  limits?: ReadinessLimits,
  previous?: HealthCounters,
): HealthFigures {
  const since = (now: number, before: number | undefined) => (before === undefined ? 0 : Math.max(0, now - before));
  const lag = (name: string) => Math.round(status.sinks.find((s) => s.name === name)?.lagSeconds ?? 0);
  return {
    Ready: readiness(status, limits).ready ? 1 : 0,
    SessionActive: status.session.state === 'active' ? 1 : 0,
    ArchiveLagSeconds: lag('archive'),
    ArchiveOldestRecordSeconds: Math.round(
      status.sinks.find((s) => s.name === 'archive')?.oldestPendingAgeSeconds ?? 0,
    ),
    FillsLagSeconds: lag('fills'),
    JournalBacklogRecords: Math.max(0, ...Object.values(status.journal.backlog).map((b) => b.records)),
    Holes: status.backfill.holes.length,
    DeadLetters: status.sinks.reduce((sum, sink) => sum + sink.deadLetters, 0),
    JournalStalled: status.journal.integrity.stalled === null ? 0 : 1,
    ReportsReceived: since(status.counters.executionReports, previous?.executionReports),
    FillsSent: since(status.counters.fillsPublished, previous?.fillsPublished),
  };
}

/**
 * The health log line's fields. With a namespace they carry an Embedded Metric Format block: the
 * CloudWatch Logs agent of ECS (awslogs) turns each figure into a metric, no SDK call and no extra
 * IAM permission needed. https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
export function healthLine(
  figures: HealthFigures,
  namespace: string | undefined,
  nowMs: number,
  listener = DEFAULT_LISTENER,
): Record<string, unknown> {
  if (namespace === undefined) return { ...figures };
  return {
    _aws: {
      Timestamp: nowMs,
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          // One series per listener, so several can share a namespace (and a dashboard).
          Dimensions: [[LISTENER_DIMENSION]],
          Metrics: Object.keys(figures).map((name) => ({ Name: name, Unit: UNITS[name as keyof HealthFigures] })),
        },
      ],
    },
    [LISTENER_DIMENSION]: listener,
    ...figures,
  };
}

/** The dimension every health figure carries: LISTENER_NAME. */
export const LISTENER_DIMENSION = 'Listener';

import type {
  BackfillStatus,
  FillView,
  JournalStats,
  SessionEventView,
  SessionStatus,
  SinkStatus,
  SpoolFileDamage,
  SpoolSpaceView,
} from '../core/status.js';

export { SESSION_STATES } from '../core/status.js';

/**
 * The listener as the control plane sees it: what /status, /readyz, /metrics and the health line
 * read. http/ depends on this and on core/ only; main hands it the service, which implements
 * ControlTarget (the compiler checks the fit at the wiring).
 */
export interface ListenerStatus {
  session: SessionStatus;
  /** The last logons, logouts and disconnects with their reasons, newest first (at most 20). */
  sessionEvents: readonly SessionEventView[];
  /** SPOOL_DIR's free space, sampled every few seconds at most. */
  spool: SpoolSpaceView;
  /** Per sink: journaled records (and their bytes) it has not handled yet. */
  journal: JournalStats & { backlog: Record<string, { records: number; bytes: number }> };
  sinks: SinkStatus[];
  backfill: BackfillStatus;
  /** Damaged stretches of holes.jsonl and dead-letters.jsonl found at start (repaired, or lost). */
  spoolFiles: { damage: readonly SpoolFileDamage[] };
  counters: {
    executionReports: number;
    duplicatesDropped: number;
    otherApplicationMessages: number;
    fillsPublished: number;
    /** Values the typed (Parquet) table could not hold exactly: null there, kept in the JSONL. */
    parquetLossyValues: number;
    /** Reports whose ExecID was journaled already with different content: parked as dead letters. */
    execIdConflicts: number;
  };
  /** Set when the process must exit (the journal cannot write). */
  fatal: string | undefined;
}

/** What the control plane reads and drives. */
export interface ControlTarget {
  status(): ListenerStatus;
  /** Logout and log on again now; false when a reconnect is already under way. */
  reconnect(): boolean;
  /** The last fills the queue took, newest first (the status page lists them). */
  recentFills?(): readonly FillView[];
}

/** The parts, by the names the control plane's tests and readers use. */
export type {
  FillView,
  SessionEventView,
  SessionStatus as SessionView,
  SinkStatus as SinkView,
  SpoolSpaceView,
} from '../core/status.js';

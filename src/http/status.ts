/**
 * The listener as the control plane sees it: what /status, /readyz, /metrics, the health line and
 * the status page read. http/ owns these types so it depends on no other room; main hands it the
 * service, whose status must fit them (the compiler checks that at the wiring).
 */

/** The FIX session's states, in the order /metrics lists them. */
export const SESSION_STATES = ['disconnected', 'connecting', 'logon_sent', 'active', 'logout_sent', 'stopped'] as const;
export type SessionStateView = (typeof SESSION_STATES)[number];

export interface SessionView {
  state: SessionStateView;
  host: string;
  port: number;
  senderCompId: string;
  targetCompId: string;
  heartbeatIntervalS: number;
  nextInbound: number;
  nextOutbound: number;
  /** Inbound seq up to which every application message is acknowledged durable. */
  processedThrough: number;
  lastReceivedAt: number | undefined;
  lastSentAt: number | undefined;
  loggedOnAt: number | undefined;
  /** An inbound gap being resent: from..to-1. */
  recovering: { from: number; to: number } | undefined;
  reconnectAttempts: number;
  lastError: { code: string; message: string; at: number } | undefined;
  /** Exchange SendingTime minus our clock at the last Logon (ms). */
  clockSkewMs: number | undefined;
  messagesInByType: Record<string, number>;
  counters: {
    messagesIn: number;
    messagesOut: number;
    applicationMessages: number;
    duplicatesDropped: number;
    gaps: number;
    resendRequests: number;
    rejects: number;
    decodeErrors: number;
    reconnects: number;
    logons: number;
  };
}

export interface JournalView {
  lastLsn: number;
  durableLsn: number;
  segments: number;
  bytesOnDisk: number;
  dedupeEntries: number;
  duplicatesDropped: number;
  truncatedTailBytes: number;
  /** Per sink: journaled records (and their bytes) it has not handled yet. */
  backlog: Record<string, { records: number; bytes: number }>;
}

export interface SinkView {
  name: string;
  location: string;
  lastSuccessAt: number | undefined;
  lastError: { message: string; at: number; code?: string } | undefined;
  consecutiveFailures: number;
  /** Seconds the oldest overdue record has waited (0 when keeping up). */
  lagSeconds: number;
  /** Records journaled but not yet handed to the sink. */
  pendingRecords: number;
}

export interface HoleView {
  lastGoodExecId: string | null;
  from: string;
  to: string;
  reason: string;
  recordedAt: string;
}

export interface BackfillView {
  configured: boolean;
  running: boolean;
  disabled: string | null;
  runs: number;
  recovered: number;
  duplicatesDropped: number;
  lastRun: { at: string; from: string; outcome: string; replayed: number; recovered: number } | null;
  holes: readonly HoleView[];
}

export interface ListenerStatus {
  session: SessionView;
  journal: JournalView;
  sinks: SinkView[];
  backfill: BackfillView;
  counters: {
    executionReports: number;
    duplicatesDropped: number;
    otherApplicationMessages: number;
    fillsPublished: number;
  };
  /** Set when the process must exit (the journal cannot write). */
  fatal: string | undefined;
}

/** What the control plane reads and drives. */
export interface ControlTarget {
  status(): ListenerStatus;
  /** Logout and log on again now; false when a reconnect is already under way. */
  reconnect(): boolean;
}

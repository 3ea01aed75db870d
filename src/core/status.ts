/**
 * What each part of the listener reports about itself, declared once: the session, the journal,
 * each sink and the drop-copy backfill produce these; http/ reads them (as ListenerStatus) for
 * /status, /readyz, /metrics and the health line. core/ so that producers and reader share one
 * declaration without importing each other.
 */

/** The FIX session's states, in the order /metrics lists them. */
export const SESSION_STATES = ['disconnected', 'connecting', 'logon_sent', 'active', 'logout_sent', 'stopped'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

export interface SessionCounters {
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
}

export interface SessionStatus {
  state: SessionState;
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
  recovering: { from: number; to: number } | undefined;
  reconnectAttempts: number;
  lastError: { code: string; message: string; at: number } | undefined;
  /** Exchange SendingTime minus our clock at the last Logon (ms). */
  clockSkewMs: number | undefined;
  messagesInByType: Record<string, number>;
  counters: SessionCounters;
}

/** A stretch of the journal that recovery could not read back. */
export interface JournalDamage {
  /**
   * `torn_tail`: an incomplete last record no sink or the dedupe log had seen (a crash mid-write;
   * it was never acknowledged). `corrupt`: a record failing its checksum with data after it, or
   * below a cursor. `missing`: a segment or its end gone.
   */
  kind: 'torn_tail' | 'corrupt' | 'missing';
  segment: string | null;
  /** Byte offset in the segment where the damage starts. */
  offset: number;
  /** The LSNs lost, inclusive; never given to a new record. */
  lsns: [number, number];
  bytes?: number;
  /** ExecIDs of the lost records, where the dedupe log knows them. */
  execIds?: string[];
}

export interface JournalStats {
  lastLsn: number;
  durableLsn: number;
  segments: number;
  bytesOnDisk: number;
  dedupeEntries: number;
  duplicatesDropped: number;
  truncatedTailBytes: number;
  /** What the last start found damaged in the spool (each also a hole, or a torn tail cut). */
  damage: readonly JournalDamage[];
}

/** A stretch of reports the listener missed and could not recover: never silent. */
export interface Hole {
  /** Last ExecID journaled before the gap (the backfill asked to replay from it). */
  lastGoodExecId: string | null;
  /** When the gap opened (last report or disconnect) and when the listener was back. */
  from: string;
  to: string;
  reason: string;
  recordedAt: string;
}

export interface BackfillStatus {
  configured: boolean;
  running: boolean;
  /** Set after U3 5 (not enabled): the listener stops asking until restart. */
  disabled: string | null;
  runs: number;
  recovered: number;
  duplicatesDropped: number;
  lastRun: { at: string; from: string; outcome: string; replayed: number; recovered: number } | null;
  holes: readonly Hole[];
}

/** What each sink reports for /status, /readyz and /metrics. */
export interface SinkStatus {
  name: string;
  location: string;
  lastSuccessAt: number | undefined;
  /** The last failure: its stable code (ERR_…) where the sink knows one. */
  lastError: { message: string; at: number; code?: string } | undefined;
  consecutiveFailures: number;
  /** Seconds the oldest overdue record has waited (0 when keeping up). */
  lagSeconds: number;
  /** Records journaled but not yet handed to the sink. */
  pendingRecords: number;
  /** Records this sink could never deliver, parked in the dead letters (ever, from the file). */
  deadLetters: number;
}

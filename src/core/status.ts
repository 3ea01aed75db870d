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
  /** When the scheduled reconnect is due (epoch ms); undefined when none is waiting. */
  nextAttemptAt: number | undefined;
  /** Since when the session has not been logged on (its last Logon ended, or the start); undefined while logged on. */
  disconnectedSince: number | undefined;
  lastError: { code: string; message: string; at: number } | undefined;
  /** Exchange SendingTime minus our clock at the last Logon (ms). */
  clockSkewMs: number | undefined;
  messagesInByType: Record<string, number>;
  counters: SessionCounters;
}

/** Something the journal found wrong in the spool when it opened. */
export interface JournalDamage {
  /**
   * `torn_tail`: an incomplete last record nothing outside the segments had seen (a crash
   * mid-write; it was never acknowledged). `corrupt`: bytes failing their checksum with good
   * records after them, or below a cursor. `missing`: a segment or its end gone. `cursor`: a sink's
   * cursor file damaged or gone (the other copy is used when it is good). `index`: a file of the
   * ExecID index (a sealed chunk) damaged or gone: its ids are rebuilt from the segments.
   * `session`: a copy of the FIX session file (sequence numbers) damaged or gone. `lsn_base`: the
   * journal's numbering file damaged, or gone while segments or cursors exist: rewritten from them
   * (no record is lost; what it alone knew, the runs reported before, may be reported again).
   */
  kind: 'torn_tail' | 'corrupt' | 'missing' | 'cursor' | 'index' | 'session' | 'lsn_base';
  /** The segment (or cursor) file, null when a whole segment is gone. */
  segment: string | null;
  /** Byte offset in the file where the damage starts. */
  offset: number;
  /** The LSNs lost, inclusive (never given to a new record); null when no record was lost. */
  lsns: [number, number] | null;
  bytes?: number;
  /** ExecIDs of the lost records, where the dedupe log knows them. */
  execIds?: string[];
  /**
   * The MsgSeqNums the lost records came in on, from the records kept around the range (the last
   * bound null when nothing after it is kept); absent when those came from a drop-copy replay.
   */
  msgSeqNums?: [number, number | null];
  /** The last ExecID journaled before the range: where a drop-copy replay of it starts. */
  lastGoodExecId?: string;
  /** When the good records either side of the range were received (null where there is none): a hole's window. */
  receivedBetween?: [string | null, string | null];
  /** What it means for the sinks, in words (cursor damage). */
  note?: string;
  /** The stable code it is logged with, where it has one of its own (ERR_SEQUENCE_UNVOUCHED). */
  code?: string;
  /**
   * `recovering`: being replayed from the drop copy (the service is not ready meanwhile);
   * `recovered`: replayed, every named ExecID back in the journal; `hole`: recorded as a hole
   * (reconcile closes it from Kalshi); `reported`: nothing was lost that anyone acknowledged
   * (a torn tail, bad bytes between records, a cursor restored from its copy); `delivered`: the
   * records are lost here but every sink had delivered them (nothing is asked for again, and a
   * resend of them is dropped as a duplicate).
   */
  state?: 'recovering' | 'recovered' | 'hole' | 'reported' | 'delivered';
}

/** The journal's integrity: what open found, and whether writes are going through now. */
export interface JournalIntegrity {
  damage: readonly JournalDamage[];
  /** Damage ranges still being replayed from the drop copy. */
  recovering: number;
  /** Set while the spool refuses writes (a full disk): the journal holds appends and retries. */
  stalled: {
    code: string;
    message: string;
    since: number;
    attempts: number;
    path?: string;
    freeBytes?: number | null;
  } | null;
  /** Appended, not yet durable (grows while stalled). */
  pendingBytes: number;
  /** A cursor or dedupe.log write that failed and is retried with the next. */
  lastWriteError: { code: string; message: string } | null;
}

export interface JournalStats {
  lastLsn: number;
  durableLsn: number;
  segments: number;
  bytesOnDisk: number;
  dedupeEntries: number;
  duplicatesDropped: number;
  truncatedTailBytes: number;
  integrity: JournalIntegrity;
}

/**
 * A damaged stretch of an append-only spool file (holes, dead letters), found when it opened.
 * Each such file is kept twice (`name` and `name.mirror`): what one copy lost the other gives back.
 */
export interface SpoolFileDamage {
  /** The copy the bytes are in: `…/holes.jsonl` or `…/holes.jsonl.mirror`. */
  file: string;
  /** Where the damaged bytes start. */
  offset: number;
  bytes: number;
  /**
   * `checksum`: a line whose checksum does not match; `unparsable`: a line without one that is not
   * JSON; `torn_tail`: bytes after the last newline (cut); `missing`: the copy is shorter or gone;
   * `differs`: a line that reads well in both copies but differently (the primary's is kept);
   * `unreadable`: the copy could not be read at all (its lines are taken from the other).
   */
  reason: 'checksum' | 'unparsable' | 'torn_tail' | 'missing' | 'differs' | 'unreadable';
  /** The other copy held these lines intact: the copy was repaired from it, nothing is lost. */
  recovered: boolean;
  /** Bytes cut from the file (a torn tail, a differing line) kept here for a person to read. */
  keptAt?: string;
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
  /** The KalshiDC endpoint (host:port) replays are asked from; null when not configured. */
  endpoint: string | null;
  running: boolean;
  /** A run that failed (U3 1, U3 2, a lost connection) and waits to try again: until `at` (epoch ms). */
  retrying: { attempt: number; at: number; why: string } | null;
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
  /**
   * Age in seconds of the oldest record read but not yet delivered (0 when none): for the archive,
   * how stale the newest object of S3 may be. At most ARCHIVE_FLUSH_S plus a tick when keeping up.
   */
  oldestPendingAgeSeconds?: number;
  /** Records this sink could never deliver, parked in the dead letters (ever, from the file). */
  deadLetters: number;
  /**
   * Archive sinks: records whose TransactTime (or SendingTime) was too far from their receipt and
   * were filed under their receive hour instead (since the start).
   */
  timeOutliers?: number;
  /**
   * Archive sinks: why records are held and not yet in an object, in words ("waiting for hour 14:00
   * UTC to close + 5 min grace"), null when nothing is; and when the next object is due (epoch ms).
   */
  pendingReason?: string | null;
  nextWriteAt?: number | null;
}

/** A fill as the status page lists it: the queue has taken it. */
export interface FillView {
  execId: string;
  symbol: string | null;
  /** Side(54): 1 buy, 2 sell. */
  side: string | null;
  lastPx: string | null;
  lastQty: string | null;
  /** When the listener read the report (ISO-8601 UTC). */
  receivedAt: string;
  /** When the queue accepted it (epoch ms). */
  sentAt: number;
}

/** How many session events the service keeps and the status page lists. */
export const SESSION_EVENTS_KEPT = 20;

/** A session event as the status page lists it: logons, logouts and disconnects, with their reasons. */
export interface SessionEventView {
  kind: 'logon' | 'logout' | 'disconnected';
  /** When it happened (epoch ms); for a run of the same event, the latest. */
  at: number;
  /** When a run of the same event began (equal to `at` when `count` is 1). */
  firstAt: number;
  /** The same event this many times in a row (a peer refusing every attempt), else 1. */
  count: number;
  /** The stable code of the error that ended the connection, where there is one. */
  code: string | null;
  /** In words, with the reason: Kalshi's Logout Text, the error message, how the logon went. */
  text: string;
}

/** The free space of SPOOL_DIR's file system, sampled every few seconds at most. */
export interface SpoolSpaceView {
  dir: string;
  /** Bytes a non-root process may still write; null until the first sample, or when it failed. */
  freeBytes: number | null;
  totalBytes: number | null;
  /** When the figures were read (epoch ms); null before the first sample. */
  sampledAt: number | null;
  /** Why the last sample failed (the code), else null. */
  error: string | null;
}

/**
 * One error class for the whole service, with stable codes (as undici and Node core do) so callers,
 * logs, metrics and tests branch on `code`, never on message text. Wrapped causes stay in `cause`.
 */
export type ErrorCode =
  // FIX framing and codec
  | 'ERR_FIX_GARBLED'
  | 'ERR_FIX_BODY_LENGTH'
  | 'ERR_FIX_CHECKSUM'
  | 'ERR_FIX_FRAME_TOO_LARGE'
  | 'ERR_FIX_REQUIRED_FIELD'
  | 'ERR_FIX_LISTENER_GUARD'
  // FIX session
  | 'ERR_FIX_SEQ_TOO_LOW'
  | 'ERR_FIX_SEQ_GAP'
  | 'ERR_FIX_LOGON_REJECTED'
  | 'ERR_FIX_LOGON_TIMEOUT'
  | 'ERR_FIX_HEARTBEAT_TIMEOUT'
  | 'ERR_FIX_LOGOUT'
  | 'ERR_FIX_TRANSPORT'
  | 'ERR_FIX_CONNECT_TIMEOUT'
  | 'ERR_FIX_TLS_HANDSHAKE_TIMEOUT'
  | 'ERR_FIX_PEER_CLOSED'
  | 'ERR_FIX_PROTOCOL'
  | 'ERR_FIX_SIGNATURE'
  | 'ERR_SESSION_STATE'
  // the fills queue
  | 'ERR_SQS_SEND'
  | 'ERR_SQS_MESSAGE_REFUSED'
  | 'ERR_SQS_MESSAGE_TOO_LARGE'
  // the journal (SPOOL_DIR)
  | 'ERR_JOURNAL_WRITE'
  | 'ERR_JOURNAL_DISK_FULL'
  | 'ERR_JOURNAL_CORRUPT'
  | 'ERR_JOURNAL_READ'
  | 'ERR_JOURNAL_CURSOR'
  | 'ERR_JOURNAL_CLOSED'
  | 'ERR_JOURNAL_STALLED'
  | 'ERR_JOURNAL_LOST_DELIVERED'
  | 'ERR_JOURNAL_SEGMENT_REPLACED'
  | 'ERR_EXEC_ID_CONFLICT'
  // one writer per spool (SPOOL_DIR/.lock)
  | 'ERR_SPOOL_LOCKED'
  | 'ERR_SPOOL_LOCK_FAILED'
  // the archive
  | 'ERR_S3_PUT'
  | 'ERR_S3_OBJECT_REFUSED'
  | 'ERR_ARCHIVE_ENCODE'
  // the typed Parquet copy: its builder (a child process) failed for an hour; retried
  | 'ERR_PARQUET_BUILD'
  // a TransactTime (or SendingTime) too far from the receipt, filed under the receive hour (a warning)
  | 'ERR_ARCHIVE_TIME_OUTLIER'
  // the session's own files, the dead letters, and a background loop that failed
  | 'ERR_SEQUENCE_STORE'
  | 'ERR_SEQUENCE_UNVOUCHED'
  | 'ERR_DEAD_LETTER_WRITE'
  // an append-only spool file (holes, dead letters): lines neither copy holds good, or a copy repaired
  | 'ERR_SPOOL_LINE_DAMAGED'
  | 'ERR_SPOOL_LINE_REPAIRED'
  | 'ERR_LOOP_FAILED'
  // Kalshi's REST API (reconcile)
  | 'ERR_REST_STATUS'
  | 'ERR_REST_RESPONSE'
  | 'ERR_REST_TRANSPORT'
  // keygen: a key file already there is never replaced without --force
  | 'ERR_KEY_FILE_EXISTS'
  // everything outside FIX
  | 'ERR_CONFIG'
  // a failure no part of the service expected (a bug): the fatal path names it, not a journal code
  | 'ERR_INTERNAL';

export class ListenerError extends Error {
  override readonly name = 'ListenerError';
  readonly code: ErrorCode;
  /** Small, non-secret facts for logs and /status (sequence numbers, tags, texts). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}

/** `cause` as it is when it already has a code, else wrapped with one (the cause kept). */
export function asListenerError(cause: unknown, code: ErrorCode, message: string): ListenerError {
  return cause instanceof ListenerError ? cause : new ListenerError(code, message, { cause });
}

export function isListenerError(value: unknown, code?: ErrorCode): value is ListenerError {
  return value instanceof ListenerError && (code === undefined || value.code === code);
}

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
  | 'ERR_FIX_PROTOCOL'
  | 'ERR_FIX_SIGNATURE'
  | 'ERR_SESSION_STATE'
  // the fills queue
  | 'ERR_SQS_SEND'
  | 'ERR_SQS_MESSAGE_REFUSED'
  | 'ERR_SQS_MESSAGE_TOO_LARGE'
  // everything outside FIX
  | 'ERR_CONFIG'
  | 'ERR_STORE';

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

export function isListenerError(value: unknown, code?: ErrorCode): value is ListenerError {
  return value instanceof ListenerError && (code === undefined || value.code === code);
}

import type { KeyObject } from 'node:crypto';
import { systemClock, type Clock } from '../core/clock.js';
import { ListenerError } from '../core/errors.js';
import type { FixMessage } from './message.js';
import { ListenerSession, type ListenerSessionOptions, type SessionEvent } from './session.js';
import { ADMIN_MSG_TYPES, Tag } from './tags.js';

export interface DropCopyOptions {
  host: string;
  /** KalshiDC port (8229). */
  port: number;
  apiKey: string;
  privateKey: KeyObject;
  extraCa?: string | Buffer;
  heartbeatS?: number;
  /** Gives up on a replay that has not finished in this time (default 60 s). */
  timeoutMs?: number;
  onEvent?: (event: SessionEvent) => void;
  /** The replay deadline and the session's timers (default: the real clock). */
  clock?: Clock;
  /** Test seam: opens the connection instead of TLS (an in-memory KalshiDC). */
  connect?: ListenerSessionOptions['connect'];
}

/** How a replay ended. `reason` is EventResendRejectReason(21004) for a U3. */
export type ReplayResult =
  | { outcome: 'complete'; replayed: number; announced: number }
  | { outcome: 'rejected'; replayed: number; reason: number; text: string | undefined }
  | { outcome: 'failed'; replayed: number; error: ListenerError };

const DROP_COPY_TYPES: ReadonlySet<string> = new Set([...ADMIN_MSG_TYPES, 'U1']);

/**
 * A short KalshiDC session (kalshi-fix-margin.md §6.1): log on with 141=Y, send one
 * EventResendRequest (35=U1) from an ExecID, hand every replayed ExecutionReport to `onReport`,
 * end on EventResendComplete (U2, with the count) or EventResendReject (U3, with a reason), log out.
 * The session may send U1 and session messages only.
 */
export async function replayFromDropCopy(
  options: DropCopyOptions,
  beginExecId: string,
  onReport: (message: FixMessage) => void,
): Promise<ReplayResult> {
  let replayed = 0;
  let requestSeq = -1;
  let settle: (result: ReplayResult) => void = () => undefined;
  const done = new Promise<ReplayResult>((resolve) => (settle = resolve));
  const clock = options.clock ?? systemClock;
  const session: ListenerSession = new ListenerSession({
    host: options.host,
    port: options.port,
    senderCompId: options.apiKey,
    targetCompId: 'KalshiDC',
    privateKey: options.privateKey,
    heartbeatIntervalS: options.heartbeatS ?? 30,
    listener: false,
    permittedMsgTypes: DROP_COPY_TYPES,
    autoReconnect: false,
    ...(options.extraCa === undefined ? {} : { extraCa: options.extraCa }),
    ...(options.connect === undefined ? {} : { connect: options.connect }),
    clock,
    onEvent: (event) => {
      options.onEvent?.(event);
      if (event.kind === 'logon') {
        requestSeq = session.nextOutbound;
        session.request('U1', [[21001, beginExecId]]);
      } else if (event.kind === 'error') {
        settle({ outcome: 'failed', replayed, error: event.error });
      } else if (event.kind === 'disconnected') {
        settle({
          outcome: 'failed',
          replayed,
          error:
            event.reason ??
            new ListenerError('ERR_FIX_TRANSPORT', 'drop-copy connection closed before the replay ended'),
        });
      }
    },
    onApplicationMessage: (message) => {
      switch (message.msgType) {
        case '8':
          replayed++;
          onReport(message);
          return;
        case 'U2':
          if (message.getInt(Tag.RefSeqNum) === requestSeq || requestSeq < 0)
            settle({ outcome: 'complete', replayed, announced: message.getInt(21003) ?? -1 });
          return;
        case 'U3':
          settle({ outcome: 'rejected', replayed, reason: message.getInt(21004) ?? 0, text: message.get(Tag.Text) });
          return;
        default:
          return;
      }
    },
  });
  const timer = clock.setTimeout(
    () =>
      settle({
        outcome: 'failed',
        replayed,
        error: new ListenerError(
          'ERR_FIX_LOGON_TIMEOUT',
          `drop-copy replay did not finish within ${options.timeoutMs ?? 60_000} ms`,
        ),
      }),
    options.timeoutMs ?? 60_000,
  );
  session.start();
  const result = await done;
  clock.clearTimeout(timer);
  await session.stop();
  return result;
}

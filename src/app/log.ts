import { pino, type DestinationStream, type Logger } from 'pino';
import type { BackfillEvent } from './backfill.js';
import type { ListenerError } from '../core/errors.js';
import type { JournalEvent } from './service.js';
import type { JournalDamage } from '../core/status.js';
import type { SessionEvent } from '../fix/session.js';
import type { ArchiveEvent } from '../pipeline/archive-writer.js';
import type { FillEvent } from '../pipeline/fill-publisher.js';
import type { ParquetBuildEvent } from './parquet-builds.js';

/**
 * JSON logs (pino). Secrets never reach a line: the private key and token are never passed to the
 * logger, and as a second line of defence these paths are censored wherever they appear.
 */
/** The first line of every start: the task-restart alarm counts it (infra/log-signals.ts). */
export const STARTING_MESSAGE = 'starting';

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'kalshi-fix-listener' },
      redact: {
        paths: [
          'privateKey',
          '*.privateKey',
          '*.*.privateKey',
          'controlToken',
          '*.controlToken',
          'token',
          'authorization',
          '*.authorization',
          'headers.authorization',
          'signature',
          '*.signature',
          'FIX_PRIVATE_KEY',
          'CONTROL_TOKEN',
        ],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Code, message, details, stack and the whole cause chain of every error logged as `err`.
      serializers: { err: pino.stdSerializers.errWithCause },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** One line per session event, at a level an operator would expect. */
export function logSessionEvent(log: Logger, event: SessionEvent): void {
  switch (event.kind) {
    case 'state':
      log.debug({ from: event.from, to: event.to }, 'session state');
      return;
    case 'connected':
      log.info({ host: event.host, port: event.port }, 'TLS connected');
      return;
    case 'logon':
      log.info(
        {
          heartbeatIntervalS: event.heartbeatIntervalS,
          reset: event.reset,
          nextInbound: event.nextInbound,
          nextOutbound: event.nextOutbound,
        },
        'logged on',
      );
      return;
    case 'logout':
      // Ours is routine (shutdown, operator reconnect); the exchange's deserves attention.
      if (event.initiator === 'listener') log.info({ initiator: event.initiator, text: event.text ?? null }, 'logout');
      else log.warn({ initiator: event.initiator, text: event.text ?? null }, 'logout');
      return;
    case 'reject':
      log.warn(
        {
          msgType: event.msgType,
          refSeqNum: event.refSeqNum,
          refTagId: event.refTagId,
          refMsgType: event.refMsgType,
          reason: event.reason,
          text: event.text,
        },
        event.msgType === 'j' ? 'business message reject' : 'session reject',
      );
      return;
    case 'gap':
      log.warn({ from: event.from, to: event.to, action: event.action }, 'sequence gap');
      return;
    case 'gap_filled':
      log.info({ from: event.from, to: event.to }, 'sequence gap closed');
      return;
    case 'sequence_reset':
      log.info({ newSeqNo: event.newSeqNo, gapFill: event.gapFill }, 'sequence reset');
      return;
    case 'duplicate':
      log.debug({ seqNum: event.seqNum }, 'PossDup duplicate dropped');
      return;
    case 'test_request':
      log.debug({ id: event.id }, 'answered TestRequest');
      return;
    case 'clock_skew':
      log.warn(
        { skewMs: event.skewMs },
        'exchange clock differs from ours; Kalshi rejects logons more than 30 s off: check NTP',
      );
      return;
    case 'decode_error':
      log.warn({ code: event.error.code, details: event.error.details }, event.error.message);
      return;
    case 'error':
      log.error({ code: event.error.code, details: event.error.details }, event.error.message);
      return;
    case 'disconnected':
      // A stop or an operator's reconnect has no reason: that is not a warning.
      if (event.reason === undefined) log.info({ reason: null }, 'disconnected');
      else log.warn({ reason: event.reason.code }, 'disconnected');
      return;
    case 'reconnect_scheduled':
      log.info({ delayMs: event.delayMs, attempt: event.attempt }, 'reconnecting');
      return;
  }
}

/** The Parquet copy's builds: one line an hour built, an error line (with its retry) a failure. */
export function logParquetEvent(log: Logger, event: ParquetBuildEvent): void {
  if (event.kind === 'parquet_built') {
    const { hour, written, removed, covered } = event.result;
    log.info(
      {
        hour,
        objects: written.map((w) => w.key),
        records: written.reduce((n, w) => n + w.records, 0),
        removed,
        covered,
      },
      'Parquet copy of the hour built',
    );
  } else
    log.error(
      { code: event.error.code, hours: event.hours, retryInMs: event.retryInMs, err: event.error },
      'Parquet build failed; retrying (the JSONL objects hold every record)',
    );
}

export function logArchiveEvent(log: Logger, event: ArchiveEvent): void {
  if (event.kind === 'uploaded')
    log.info(
      { key: event.key, records: event.records, bytes: event.bytes, result: event.result },
      'archive object written',
    );
  else if (event.kind === 'upload_failed')
    log.error(
      {
        key: event.key,
        attempt: event.attempt,
        retryInMs: event.retryInMs,
        code: (event.error as { code?: string }).code ?? null,
        err: event.error,
      },
      'archive write failed; retrying',
    );
  else if (event.kind === 'spool_refused') logSpoolRefused(log, 'archive', event);
  else if (event.kind === 'dead_lettered')
    log.error(
      {
        code: event.code,
        key: event.key,
        records: event.records,
        lsns: event.lsns,
        reason: event.reason,
        deadLetters: event.path,
      },
      'archive object the store can never accept parked in the dead letters; the archive goes on',
    );
  else if (event.kind === 'dead_letter_copy_failed')
    log.warn(
      { key: event.key, err: event.error },
      'parked archive object kept in the spool only: its store copy failed',
    );
  else if (event.kind === 'time_outlier') {
    // A clock gone wrong upstream makes every report one: the first ten, then one in a thousand.
    if (event.count <= 10 || event.count % 1000 === 0)
      log.warn(
        {
          code: event.code,
          sink: event.sink,
          exec_id: event.execId,
          lsn: event.lsn,
          field: event.field,
          value: event.value,
          receivedAt: event.receivedAt,
          partition: event.partition,
          count: event.count,
        },
        'archive: report time too far from its receipt; filed under the receive hour (the record keeps its value)',
      );
  } else log.warn({ key: event.key }, 'redoing an archive write interrupted by a crash');
}

/** A sink that could not save its cursor (a full spool): it delivers nothing more until it can. */
function logSpoolRefused(
  log: Logger,
  sink: string,
  event: { retryInMs: number; attempt: number; error: ListenerError },
): void {
  // The first refusal in full; then one line in ten, so a long outage does not flood the log.
  if (event.attempt !== 1 && event.attempt % 10 !== 0) return;
  log.error(
    { sink, code: event.error.code, attempt: event.attempt, retryInMs: event.retryInMs, err: event.error },
    `${sink}: cannot save its position on the spool; delivering nothing more until it can, retrying`,
  );
}

export function logFillEvent(log: Logger, event: FillEvent): void {
  switch (event.kind) {
    case 'sent':
      log.debug({ count: event.count, lastLsn: event.lastLsn }, 'fills sent');
      return;
    case 'send_failed':
      log.error(
        {
          code: event.error instanceof Error ? ((event.error as { code?: string }).code ?? null) : 'ERR_SQS_SEND',
          count: event.count,
          retryInMs: event.retryInMs,
          err: event.error,
        },
        'fill send failed; retrying',
      );
      return;
    case 'shrunk':
      log.warn(
        { exec_id: event.execId, lsn: event.lsn, shrunk: event.shrunk, bytes: event.bytes },
        'fill too large for the queue: sent without raw (and with Text cut when that was not enough)',
      );
      return;
    case 'dead_lettered':
      log.error(
        { code: event.code, exec_id: event.execId, lsn: event.lsn, reason: event.reason, deadLetters: event.path },
        'fill the queue can never accept parked in the dead letters; its message group goes on',
      );
      return;
    case 'dead_letter_copy_failed':
      log.warn(
        { exec_id: event.execId, err: event.error },
        'dead letter kept in the spool only: its archive copy failed',
      );
      return;
    case 'spool_refused':
      logSpoolRefused(log, 'fills', event);
      return;
  }
}

export function logBackfillEvent(log: Logger, event: BackfillEvent): void {
  switch (event.kind) {
    case 'started':
      log.info({ from: event.from }, 'drop-copy backfill started');
      return;
    case 'finished':
      log.info(
        {
          from: event.from,
          replayed: event.replayed,
          announced: event.announced,
          recovered: event.recovered,
          duplicates: event.duplicates,
        },
        'drop-copy backfill finished',
      );
      if (event.announced >= 0 && event.announced !== event.replayed)
        log.warn(
          { replayed: event.replayed, announced: event.announced },
          'drop copy announced a different count than it replayed',
        );
      return;
    case 'retrying':
      log.warn(
        { from: event.from, attempt: event.attempt, delayMs: event.delayMs, why: event.why },
        'drop-copy backfill retrying',
      );
      return;
    case 'hole':
      log.error({ hole: event.hole }, 'reports missed and not recoverable: hole recorded');
      return;
    case 'disabled':
      log.error({ why: event.why }, 'drop-copy backfill disabled');
      return;
  }
}

/**
 * Damage the journal found when it opened, and what became of it: a torn tail is routine after a
 * crash (a warning), a damaged cursor restored from its copy is a warning, lost records are errors
 * until replayed from the drop copy.
 */
export function logJournalDamage(log: Logger, damage: JournalDamage): void {
  const fields = {
    kind: damage.kind,
    state: damage.state ?? null,
    file: damage.segment,
    offset: damage.offset,
    bytes: damage.bytes ?? null,
    lsns: damage.lsns,
    msgSeqNums: damage.msgSeqNums ?? null,
    execIds: damage.execIds?.slice(0, 20) ?? [],
    execIdCount: damage.execIds?.length ?? 0,
    ...(damage.note === undefined ? {} : { note: damage.note }),
  };
  if (damage.kind === 'torn_tail')
    return log.warn(fields, 'journal: cut a torn last record (a write the stop interrupted, never acknowledged)');
  if (damage.kind === 'cursor')
    return damage.note?.includes('no good copy')
      ? log.error({ code: 'ERR_JOURNAL_CURSOR', ...fields }, 'journal: a sink cursor is lost; the sink starts over')
      : log.warn({ code: 'ERR_JOURNAL_CURSOR', ...fields }, 'journal: a sink cursor copy is damaged; using the other');
  if (damage.kind === 'session')
    return damage.code === 'ERR_SEQUENCE_UNVOUCHED'
      ? log.warn({ code: damage.code, ...fields }, 'session file ahead of the journal: resuming from the journal')
      : log.error({ code: 'ERR_SEQUENCE_STORE', ...fields }, 'session file damaged');
  if (damage.kind === 'index')
    return log.error({ code: 'ERR_JOURNAL_CORRUPT', ...fields }, 'journal: an ExecID index chunk is damaged or gone');
  if (damage.kind === 'lsn_base')
    return log.warn(
      { code: 'ERR_JOURNAL_CORRUPT', ...fields },
      'journal: lsn-base damaged or gone; rewritten from the segments and cursors (no record lost)',
    );
  if (damage.kind === 'missing' && damage.lsns === null)
    return log.error(
      { code: 'ERR_JOURNAL_SEGMENT_REPLACED', ...fields },
      'journal: the active segment was deleted or replaced while open',
    );
  switch (damage.state) {
    case 'delivered':
      return log.warn(
        { code: 'ERR_JOURNAL_LOST_DELIVERED', ...fields },
        'journal damaged: records lost locally, but every sink had delivered them; nothing to recover (a resend of them is dropped)',
      );
    case 'recovered':
      return log.info(fields, 'journal damage recovered: every lost record replayed from the drop copy');
    case 'recovering':
      return log.error(
        { code: 'ERR_JOURNAL_CORRUPT', ...fields },
        'journal damaged: records lost; replaying them from the drop copy (kept aside as .damaged-*; LSNs never reused)',
      );
    case 'reported':
      return log.error(
        { code: 'ERR_JOURNAL_CORRUPT', ...fields },
        'journal damaged: bad bytes between records, no record lost (kept aside as .damaged-*)',
      );
    default:
      return log.error(
        { code: 'ERR_JOURNAL_CORRUPT', ...fields },
        'journal damaged: records lost (kept aside as .damaged-*; LSNs never reused; recorded as a hole)',
      );
  }
}

/** The spool refusing writes, and taking them again: a full disk is the usual cause. */
export function logJournalEvent(log: Logger, event: JournalEvent): void {
  switch (event.kind) {
    case 'stalled':
      log.error(
        { code: event.error.code, err: event.error, ...(event.error.details ?? {}) },
        'journal cannot write: holding reports in memory, not acknowledging them, retrying (not ready)',
      );
      return;
    case 'refusing':
      log.error(
        { code: 'ERR_JOURNAL_STALLED', seqNum: event.seqNum, cause: event.error.message },
        'journal still not writing and its memory budget is used: refusing reports from this MsgSeqNum; they are asked for again once it writes',
      );
      return;
    case 'resumed':
      log.warn({ stalledMs: event.stalledMs, attempts: event.attempts }, 'journal writing again');
      return;
  }
}

import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import type { BackoffPolicy } from '../core/backoff.js';
import { systemClock, type Clock } from '../core/clock.js';
import { Backfiller, type BackfillEvent, type BackfillRetry, type GapMark } from './backfill.js';
import { asListenerError, isListenerError, type ListenerError } from '../core/errors.js';
import { HeadQueue } from '../core/head-queue.js';
import { decodeExecutionReport } from '../fix/execution-report.js';
import { FileSequenceStore } from '../fix/sequence-store.js';
import { ListenerSession, type SessionEvent } from '../fix/session.js';
import { SessionHistory } from './session-history.js';
import { SpoolSpace } from './spool-space.js';
import { ArchiveWriter, type ArchiveEvent } from '../pipeline/archive-writer.js';
import type { LossyValue } from '../pipeline/parquet-encode.js';
import { ParquetBuilds, type ParquetBuildEvent, type ParquetRunner } from './parquet-builds.js';
import { FillPublisher, type FillEvent } from '../pipeline/fill-publisher.js';
import { DeadLetterBox } from '../pipeline/dead-letters.js';
import { HoleLog } from '../pipeline/hole-log.js';
import { Journal, type ExecIdConflict, type JournalDamage } from '../pipeline/journal.js';
import { DamageRecovery, resumePosition } from './damage-recovery.js';
import type { ControlTarget, FillView, ListenerStatus } from '../http/status.js';
import type { FillQueue, ObjectStore } from '../sinks/types.js';

/** Everything the service needs, already validated (config.ts turns the environment into this). */
export interface ServiceOptions {
  fix: {
    host: string;
    port: number;
    targetCompId: string;
    apiKey: string;
    privateKey: KeyObject;
    heartbeatS: number;
    extraCa?: string | Buffer;
    messageRetentionHours?: number;
    reconnect?: BackoffPolicy;
    /** The TCP connect and the TLS handshake each give up after this (FIX_CONNECT_TIMEOUT_S). */
    connectTimeoutMs?: number;
  };
  /** KalshiDC replay for gaps the live session cannot recover (KalshiNR, or a reset KalshiRT). */
  dropCopy?: {
    host: string;
    port: number;
    apiKey: string;
    privateKey: KeyObject;
    extraCa?: string | Buffer;
    timeoutMs?: number;
  };
  backfillRetry?: BackfillRetry;
  /**
   * LISTENER_NAME: the archive's `listener=` partition, the fills' `listener` attribute and group
   * prefix. Unset (unit tests of the parts): keys and messages without it.
   */
  listener?: string;
  spoolDir: string;
  /** While the spool refuses writes: retry waits, and how much to hold in memory meanwhile. */
  journal?: {
    retry?: BackoffPolicy;
    maxPendingBytes?: number;
    /** A group commit waits this long for more reports (JOURNAL_LINGER_MS; default 0). */
    lingerMs?: number;
  };
  store: ObjectStore;
  queue: FillQueue;
  archive?: {
    graceMs?: number;
    flushMs?: number;
    /** A report time further than this from its receipt is filed under the receive hour (default 24 h). */
    timeOutlierMs?: number;
    maxObjectBytes?: number;
    gzip?: boolean;
    retry?: BackoffPolicy;
  };
  /**
   * A typed Parquet copy of every closed hour (DESIGN.md §3), off unless given: built from the
   * hour's JSONL objects by `run` (a child process in the service) once the hour has closed, plus
   * the archive's grace and `settleMs`. See ParquetBuilds.
   */
  parquet?: {
    run: ParquetRunner;
    settleMs?: number;
    tickMs?: number;
    lookbackHours?: number;
    retry?: BackoffPolicy;
  };
  /** A value the Parquet table cannot hold exactly (its cell is null there). */
  onParquetLossy?: (value: LossyValue) => void;
  /** An hour's Parquet built, or a build that failed (retried). */
  onParquetEvent?: (event: ParquetBuildEvent) => void;
  /** The publisher's waits for fuller batches (FillPublisherOptions lingerMs, batchWaitMs) and its retry. */
  fills?: { lingerMs?: number; batchWaitMs?: number; retry?: BackoffPolicy };
  onSessionEvent?: (event: SessionEvent) => void;
  onArchiveEvent?: (event: ArchiveEvent) => void;
  onFillEvent?: (event: FillEvent) => void;
  onBackfillEvent?: (event: BackfillEvent) => void;
  /**
   * What the journal found damaged when it opened (a torn tail cut, records lost), and again each
   * time a damaged range is settled (replayed from the drop copy, or recorded as a hole).
   */
  onJournalDamage?: (damage: JournalDamage) => void;
  /**
   * A report whose ExecID was journaled already with different content: it was parked as a dead
   * letter (sink `journal`) for a person to look at, never dropped silently.
   */
  onExecIdConflict?: (conflict: ExecIdConflict) => void;
  /** holes.jsonl or dead-letters.jsonl found damaged at start (repaired from its copy, or lines lost). */
  onSpoolFileDamage?: (error: ListenerError) => void;
  /** The spool stopped taking writes (a full disk), or took them again. */
  onJournalEvent?: (event: JournalEvent) => void;
  /**
   * Time for every part: the session's heartbeats and back-off, the consumer loops, the journal's
   * linger, the backfill, the Parquet builds (default the system clock; tests move one by hand).
   */
  clock?: Clock;
  /** A failure the process cannot continue from (journal write failed): exit and let ECS restart. */
  onFatal?: (error: ListenerError) => void;
}

export type JournalEvent =
  | { kind: 'stalled'; error: ListenerError }
  | { kind: 'resumed'; stalledMs: number; attempts: number }
  | { kind: 'refusing'; seqNum: number; error: ListenerError };

/**
 * The wiring of DESIGN.md §1: session → ExecutionReport record → journal (durable, deduplicated)
 * → archive writer and fill publisher, each on its own cursor. The session's sequence number of a
 * report counts as processed only once the journal has made the report durable.
 */
export class ListenerService implements ControlTarget {
  readonly session: ListenerSession;
  readonly journal: Journal;
  readonly archive: ArchiveWriter;
  /** The typed Parquet copy (DESIGN.md §3), when configured: built off the listener's path. */
  readonly parquet: ParquetBuilds | undefined;
  readonly fills: FillPublisher;
  readonly backfill: Backfiller;
  readonly deadLetters: DeadLetterBox;
  readonly #holes: HoleLog;
  // The status page's "what happened": the last logons, logouts and disconnects, and the spool's room.
  readonly #history = new SessionHistory();
  readonly #spoolSpace: SpoolSpace;
  readonly #counters = {
    executionReports: 0,
    duplicatesDropped: 0,
    otherApplicationMessages: 0,
    parquetLossyValues: 0,
  };
  // (journal LSN, session seq) pairs waiting for the journal to make them durable.
  readonly #acks = new HeadQueue<[lsn: number, seq: number]>();
  #fatal: ListenerError | undefined;
  readonly #clock: Clock;
  // Set when the stream broke (gap, disconnect, or a start after downtime); consumed at the next logon.
  #gapMark: GapMark | undefined;
  // The first MsgSeqNum the journal refused while stalled: nothing from it on is acknowledged, and
  // once the journal writes again the session logs on anew so the exchange sends it again.
  #refusedFrom: number | undefined;
  /** What becomes of the journal damage found at open (recovering → recovered | hole). */
  readonly #recovery: DamageRecovery;

  private constructor(options: ServiceOptions, journal: Journal, holes: HoleLog, deadLetters: DeadLetterBox) {
    this.journal = journal;
    this.#holes = holes;
    const clock = (this.#clock = options.clock ?? systemClock);
    const now = () => clock.now();
    this.#spoolSpace = new SpoolSpace(options.spoolDir, { now });
    this.backfill = new Backfiller({
      clock,
      dropCopy: options.dropCopy,
      journal,
      holes,
      ...(options.backfillRetry === undefined ? {} : { retry: options.backfillRetry }),
      ...(options.onBackfillEvent === undefined ? {} : { onEvent: options.onBackfillEvent }),
      onFailure: (error) => this.#die(error, options),
    });
    this.#recovery = new DamageRecovery({
      now,
      journal,
      holes,
      backfill: this.backfill,
      dropCopy: options.dropCopy !== undefined,
      ...(options.onJournalDamage === undefined ? {} : { onDamage: options.onJournalDamage }),
      onHole: (hole) => options.onBackfillEvent?.({ kind: 'hole', hole }),
      onFailure: (error) => this.#die(error, options),
    });
    // Whatever happened while the process was down is a gap until a logon proves otherwise.
    if (journal.maxExecId !== undefined) this.#gapMark = this.#gapFromJournal();
    const partition = listenerPartition(options);
    this.archive = new ArchiveWriter({
      journal,
      clock,
      store: options.store,
      deadLetters,
      ...partition,
      ...options.archive,
      onEvent: (event) => {
        // Each JSONL object owes its hour a Parquet build (once the hour closes).
        if (event.kind === 'uploaded') this.parquet?.noteObject(event.key);
        options.onArchiveEvent?.(event);
      },
      onFailure: (error) => this.#die(error, options),
    });
    if (options.parquet !== undefined) {
      const { run, ...timing } = options.parquet;
      this.parquet = new ParquetBuilds({
        run,
        clock,
        location: options.store.location,
        graceMs: options.archive?.graceMs ?? 5 * 60_000,
        ...timing,
        onEvent: (event) => {
          if (event.kind === 'parquet_built')
            for (const value of event.result.lossy) {
              this.#counters.parquetLossyValues++;
              options.onParquetLossy?.(value);
            }
          options.onParquetEvent?.(event);
        },
      });
    }
    this.deadLetters = deadLetters;
    this.fills = new FillPublisher({
      journal,
      clock,
      queue: options.queue,
      deadLetters,
      ...(options.listener === undefined ? {} : { listener: options.listener }),
      ...options.fills,
      ...(options.onFillEvent ? { onEvent: options.onFillEvent } : {}),
      onFailure: (error) => this.#die(error, options),
    });
    const f = options.fix;
    const sessionFile = new FileSequenceStore(sequenceStorePath(options));
    this.session = new ListenerSession({
      clock,
      host: f.host,
      port: f.port,
      senderCompId: f.apiKey,
      targetCompId: f.targetCompId,
      privateKey: f.privateKey,
      heartbeatIntervalS: f.heartbeatS,
      ...(f.extraCa === undefined ? {} : { extraCa: f.extraCa }),
      ...(f.messageRetentionHours === undefined ? {} : { messageRetentionHours: f.messageRetentionHours }),
      ...(f.reconnect === undefined ? {} : { reconnect: f.reconnect }),
      ...(f.connectTimeoutMs === undefined
        ? {}
        : { connectTimeoutMs: f.connectTimeoutMs, tlsHandshakeTimeoutMs: f.connectTimeoutMs }),
      store: sessionFile,
      manualAck: true,
      onApplicationMessage: (message, info) => {
        if (this.#fatal !== undefined) return;
        try {
          if (message.msgType === '8') {
            this.#counters.executionReports++;
            const result = journal.append(decodeExecutionReport(message, info));
            if (result.duplicate) this.#counters.duplicatesDropped++;
            this.#queueAck(result.lsn, message.seqNum);
          } else {
            // Not an ExecutionReport (undocumented for listeners): logged by the caller, nothing to keep.
            this.#counters.otherApplicationMessages++;
            this.#queueAck(journal.lastLsn, message.seqNum);
          }
        } catch (error) {
          if (isListenerError(error, 'ERR_JOURNAL_STALLED')) this.#refuse(message.seqNum, error, options);
          else this.#die(error, options);
        }
      },
      onEvent: (event) => {
        this.#history.record(event, this.#clock.now());
        this.#trackGaps(event);
        options.onSessionEvent?.(event);
        this.#recovery.onSessionEvent(event, this.session.status());
      },
    });
    journal.onDurable((lsn) => this.#acknowledge(lsn));
    journal.onDamage((damage) => options.onJournalDamage?.(damage));
    journal.onConflict((conflict) => {
      options.onExecIdConflict?.(conflict);
      void deadLetters
        .park({
          sink: 'journal',
          lsn: conflict.lsn,
          execId: conflict.execId,
          code: 'ERR_EXEC_ID_CONFLICT',
          reason: `ExecID already journaled (LSN ${conflict.lsn}) with different ${conflict.fields.join(', ')}`,
          body: JSON.stringify(conflict.record),
        })
        .catch((error: unknown) => this.#die(error, options));
    });
    // Read by the session's constructor above: a damaged copy never stops the start.
    if (sessionFile.damage !== undefined)
      journal.reportDamage({
        kind: 'session',
        segment: (sessionFile.damage.details?.['files'] as string[] | undefined)?.join(', ') ?? sessionFile.path,
        offset: 0,
        lsns: null,
        state: 'reported',
        note: sessionFile.damage.message,
      });
    journal.onStall((stall, ended) => {
      if (stall !== undefined) return options.onJournalEvent?.({ kind: 'stalled', error: stall.error });
      if (ended !== undefined)
        options.onJournalEvent?.({
          kind: 'resumed',
          stalledMs: this.#clock.now() - ended.since,
          attempts: ended.attempts,
        });
      if (this.#refusedFrom !== undefined) this.session.reconnect();
    });
  }

  /** A report the stalled journal could not take: never acknowledged, asked for again once it writes. */
  #refuse(seqNum: number, error: ListenerError, options: ServiceOptions): void {
    if (this.#refusedFrom !== undefined) return;
    this.#refusedFrom = seqNum;
    const stall = this.journal.failure;
    this.#gapMark ??= this.#gapFromJournal();
    options.onJournalEvent?.({ kind: 'refusing', seqNum, error: stall ?? error });
  }

  static async start(options: ServiceOptions): Promise<ListenerService> {
    const journal = await Journal.open({
      dir: join(options.spoolDir, 'journal'),
      ...(options.journal?.retry === undefined ? {} : { retry: options.journal.retry }),
      ...(options.journal?.maxPendingBytes === undefined ? {} : { maxPendingBytes: options.journal.maxPendingBytes }),
      ...(options.journal?.lingerMs === undefined ? {} : { lingerMs: options.journal.lingerMs }),
      ...(options.clock === undefined ? {} : { clock: options.clock, now: () => options.clock!.now() }),
    });
    const holes = await HoleLog.open(join(options.spoolDir, 'holes.jsonl'));
    // Only a resumable session (KalshiRT) has a position to check, or can be asked to resend.
    const resendTarget =
      options.fix.targetCompId === 'KalshiRT' ? await resumePosition(journal, sequenceStorePath(options)) : undefined;
    const deadLetters = await DeadLetterBox.open({
      dir: options.spoolDir,
      store: options.store,
      ...listenerPartition(options),
      onObjectCopyFailed: (key, cause) =>
        options.onArchiveEvent?.({
          kind: 'dead_letter_copy_failed',
          key,
          error: cause instanceof Error ? cause : new Error(String(cause)),
        }),
      onCopyFailed: (letter, cause) =>
        options.onFillEvent?.({
          kind: 'dead_letter_copy_failed',
          execId: letter.execId,
          error: cause instanceof Error ? cause : new Error(String(cause)),
        }),
    });
    for (const failure of [holes.failure, deadLetters.failure])
      if (failure !== undefined) options.onSpoolFileDamage?.(failure);
    const service = new ListenerService(options, journal, holes, deadLetters);
    await service.#recovery.settle(resendTarget);
    await service.archive.start();
    service.parquet?.start();
    await service.fills.start();
    service.session.start();
    return service;
  }

  /** The last fills the queue took, newest first (the status page). */
  recentFills(): FillView[] {
    return this.fills.recentFills();
  }

  /** The running counters alone: what the status page's rate sampler reads every few seconds. */
  counters(): ListenerStatus['counters'] {
    return { ...this.#counters, fillsPublished: this.fills.sent, execIdConflicts: this.journal.conflicts };
  }

  status(): ListenerStatus {
    return {
      session: this.session.status(),
      sessionEvents: this.#history.list(),
      spool: this.#spoolSpace.current(),
      journal: {
        ...this.journal.stats(),
        backlog: {
          archive: this.journal.backlog('archive'),
          fills: this.journal.backlog('fills'),
        },
      },
      sinks: [
        this.archive.status(),
        ...(this.parquet === undefined ? [] : [this.parquet.status()]),
        this.fills.status(),
      ],
      backfill: this.backfill.status(),
      spoolFiles: { damage: [...this.#holes.damage, ...this.deadLetters.damage] },
      counters: this.counters(),
      fatal: this.#fatal === undefined ? undefined : `${this.#fatal.code}: ${this.#fatal.message}`,
    };
  }

  /** Logout and log on again now; false when a reconnect is already under way. */
  reconnect(): boolean {
    return this.session.reconnect();
  }

  /**
   * Graceful stop: Logout first (no new work), then make the journal durable, write the archive's
   * open buckets as partial objects and drain the fill batches.
   */
  async stop(): Promise<void> {
    await this.session.stop();
    await this.backfill.idle();
    // What could not be made durable is reported once the rest is stopped, never dropped: the
    // exchange's resend (KalshiRT) or the drop copy covers it at the next start.
    const unflushed = await this.journal.flush().then(
      () => undefined,
      (error: unknown) => error,
    );
    // Every part is stopped and closed even when one fails (a cursor the full disk refused):
    // the first failure is reported after.
    const stopped = await Promise.allSettled([
      this.archive.stop({ flush: true }),
      this.parquet?.stop(),
      this.fills.stop(),
    ]);
    await this.deadLetters.close();
    await this.#holes.close();
    // Rejects with the same stall as the flush above: reported once, below.
    const unclosed = await this.journal.close().then(
      () => undefined,
      (error: unknown) => error,
    );
    const unwritten = unflushed ?? unclosed;
    if (unwritten !== undefined) throw asListenerError(unwritten, 'ERR_JOURNAL_WRITE', 'journal flush failed at stop');
    for (const result of stopped)
      if (result.status === 'rejected')
        throw asListenerError(result.reason, 'ERR_LOOP_FAILED', 'a sink failed to stop cleanly');
  }

  /**
   * A logon with ResetSeqNumFlag=Y after a break means Kalshi will not resend what was missed:
   * replay it from the drop copy. A resumed KalshiRT logon recovers it itself.
   */
  #trackGaps(event: SessionEvent): void {
    if ((event.kind === 'gap' && event.action === 'reconnect') || event.kind === 'disconnected') {
      this.#gapMark ??= this.#gapFromJournal();
    } else if (event.kind === 'logon') {
      const mark = this.#gapMark;
      this.#gapMark = undefined;
      // A resumed session resends from the first unacknowledged MsgSeqNum: the refused ones too.
      this.#refusedFrom = undefined;
      if (event.reset && mark !== undefined) void this.backfill.request(mark);
    }
  }

  /**
   * Where a gap in the stream opens: after the last report the journal kept (its ExecID and when
   * it was received), across a restart as across a reconnect, so a hole's window covers the whole
   * outage and `reconcile --from --to` over it finds what was lost.
   */
  #gapFromJournal(): GapMark {
    return { lastGoodExecId: this.journal.maxExecId, since: this.journal.lastReceivedMs ?? this.#clock.now() };
  }

  /** A duplicate or a non-report is processed once everything before it is durable. */
  #queueAck(lsn: number, seq: number): void {
    if (this.#refusedFrom !== undefined && seq >= this.#refusedFrom) return;
    this.#acks.push([lsn, seq]);
    if (lsn <= this.journal.durableLsn) this.#acknowledge(this.journal.durableLsn);
  }

  #acknowledge(durableLsn: number): void {
    let seq = -1;
    while (this.#acks.length > 0 && this.#acks.peek()![0] <= durableLsn) seq = this.#acks.shift()![1];
    if (seq >= 0) this.session.acknowledge(seq);
  }

  /**
   * A failure the service cannot go on from (the journal cannot write, a sink loop stopped): no
   * more acknowledgements, /readyz 503 with the code, and the caller told (it exits so the
   * orchestrator restarts the task; the journal and the exchange's resend keep what was received).
   * The first cause is the one reported.
   */
  #die(error: unknown, options: ServiceOptions): void {
    if (this.#fatal !== undefined) return;
    // Every failure the service expects carries its own code; one without is a bug, named as such
    // rather than passed off as a journal write.
    this.#fatal = asListenerError(error, 'ERR_INTERNAL', 'unexpected failure');
    options.onFatal?.(this.#fatal);
  }
}

function sequenceStorePath(options: ServiceOptions): string {
  return join(options.spoolDir, `session-${options.fix.targetCompId}-${options.fix.apiKey}.json`);
}

/** Where a named listener's objects go: `listener=NAME` in the archive keys and dead letters. */
function listenerPartition(options: ServiceOptions): { partition?: string } {
  return options.listener === undefined ? {} : { partition: `listener=${options.listener}` };
}

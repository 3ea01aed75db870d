import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { ListenerError } from './errors.js';
import { decodeExecutionReport } from './fix/execution-report.js';
import { FileSequenceStore } from './fix/sequence-store.js';
import { ListenerSession, type SessionEvent, type SessionStatus } from './fix/session.js';
import { ArchiveWriter, type ArchiveEvent } from './pipeline/archive-writer.js';
import { FillPublisher, type FillEvent } from './pipeline/fill-publisher.js';
import { Journal, type JournalStats } from './pipeline/journal.js';
import type { SinkStatus } from './pipeline/sink-status.js';
import type { FillQueue, ObjectStore } from './sinks/types.js';

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
    reconnect?: { initialDelayMs: number; maxDelayMs: number };
  };
  spoolDir: string;
  store: ObjectStore;
  queue: FillQueue;
  archive?: { graceMs?: number; maxObjectBytes?: number; gzip?: boolean; retry?: { initialMs: number; maxMs: number } };
  fills?: { lingerMs?: number; retry?: { initialMs: number; maxMs: number } };
  onSessionEvent?: (event: SessionEvent) => void;
  onArchiveEvent?: (event: ArchiveEvent) => void;
  onFillEvent?: (event: FillEvent) => void;
  /** A failure the process cannot continue from (journal write failed): exit and let ECS restart. */
  onFatal?: (error: Error) => void;
}

export interface ServiceStatus {
  session: SessionStatus;
  journal: JournalStats & { backlog: Record<string, { records: number; bytes: number }> };
  sinks: SinkStatus[];
  counters: { executionReports: number; duplicatesDropped: number; otherApplicationMessages: number; fillsPublished: number };
  /** Set when the process must exit (the journal cannot write). */
  fatal: string | undefined;
}

/**
 * The wiring of DESIGN.md §1: session → ExecutionReport record → journal (durable, deduplicated)
 * → archive writer and fill publisher, each on its own cursor. The session's sequence number of a
 * report counts as processed only once the journal has made the report durable.
 */
export class ListenerService {
  readonly session: ListenerSession;
  readonly journal: Journal;
  readonly archive: ArchiveWriter;
  readonly fills: FillPublisher;
  readonly #counters = { executionReports: 0, duplicatesDropped: 0, otherApplicationMessages: 0 };
  // (journal LSN, session seq) pairs waiting for the journal to make them durable.
  #acks: Array<[number, number]> = [];
  #ackHead = 0;
  #fatal: Error | undefined;

  private constructor(options: ServiceOptions, journal: Journal) {
    this.journal = journal;
    this.archive = new ArchiveWriter({ journal, store: options.store, ...options.archive, ...(options.onArchiveEvent ? { onEvent: options.onArchiveEvent } : {}) });
    this.fills = new FillPublisher({ journal, queue: options.queue, ...options.fills, ...(options.onFillEvent ? { onEvent: options.onFillEvent } : {}) });
    const f = options.fix;
    this.session = new ListenerSession({
      host: f.host,
      port: f.port,
      senderCompId: f.apiKey,
      targetCompId: f.targetCompId,
      privateKey: f.privateKey,
      heartbeatIntervalS: f.heartbeatS,
      ...(f.extraCa === undefined ? {} : { extraCa: f.extraCa }),
      ...(f.messageRetentionHours === undefined ? {} : { messageRetentionHours: f.messageRetentionHours }),
      ...(f.reconnect === undefined ? {} : { reconnect: f.reconnect }),
      store: new FileSequenceStore(join(options.spoolDir, `session-${f.targetCompId}-${f.apiKey}.json`)),
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
          this.#die(error instanceof Error ? error : new Error(String(error)), options);
        }
      },
      ...(options.onSessionEvent ? { onEvent: options.onSessionEvent } : {}),
    });
    journal.onDurable((lsn) => this.#acknowledge(lsn));
  }

  static async start(options: ServiceOptions): Promise<ListenerService> {
    const journal = await Journal.open({ dir: join(options.spoolDir, 'journal') });
    const service = new ListenerService(options, journal);
    await service.archive.start();
    await service.fills.start();
    service.session.start();
    return service;
  }

  status(): ServiceStatus {
    return {
      session: this.session.status(),
      journal: { ...this.journal.stats(), backlog: { archive: this.journal.backlog('archive'), fills: this.journal.backlog('fills') } },
      sinks: [this.archive.status(), this.fills.status()],
      counters: { ...this.#counters, fillsPublished: this.fills.sent },
      fatal: this.#fatal?.message,
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
    await this.journal.flush().catch(() => undefined);
    await Promise.all([this.archive.stop({ flush: true }), this.fills.stop()]);
    await this.journal.close();
  }

  /** A duplicate or a non-report is processed once everything before it is durable. */
  #queueAck(lsn: number, seq: number): void {
    this.#acks.push([lsn, seq]);
    if (lsn <= this.journal.durableLsn) this.#acknowledge(this.journal.durableLsn);
  }

  #acknowledge(durableLsn: number): void {
    let seq = -1;
    while (this.#ackHead < this.#acks.length && this.#acks[this.#ackHead]![0] <= durableLsn) seq = this.#acks[this.#ackHead++]![1];
    if (this.#ackHead > 4096) {
      this.#acks = this.#acks.slice(this.#ackHead);
      this.#ackHead = 0;
    }
    if (seq >= 0) this.session.acknowledge(seq);
  }

  #die(error: Error, options: ServiceOptions): void {
    this.#fatal = error instanceof ListenerError ? error : new ListenerError('ERR_STORE', error.message, { cause: error });
    options.onFatal?.(this.#fatal);
  }
}

/**
 * A FillQueue decorator: passes every call to the real queue, tells `record` when each fill's
 * send returned, and counts batch sizes and how many sendBatch calls overlap — the fill publisher
 * keeps a FIFO message group (the symbol) in one batch at a time, which bounds that overlap.
 */
import { performance } from 'node:perf_hooks';
import type { FillQueue, QueueMessage, QueueSendFailure } from '../src/sinks/types.js';

export class TimedQueue implements FillQueue {
  batches = 0;
  messages = 0;
  /** Sum over calls of how many calls were in flight when it started (itself included). */
  concurrencySum = 0;
  /** Each SendMessageBatch: when it was issued and its round trip (issued → returned), ms. */
  readonly roundTrips: Array<[issuedAt: number, ms: number]> = [];
  /**
   * Each SendMessageBatch when issued, with the fills it carries: failed ones too, as SQS bills
   * a request whatever became of it.
   */
  readonly requests: Array<[issuedAt: number, fills: number]> = [];
  #inFlight = 0;

  constructor(
    private readonly inner: FillQueue,
    private readonly record: (execId: string, sentAt: number) => void = () => undefined,
    /** Told when each fill's SendMessageBatch is issued (the call made), before its round trip. */
    private readonly issued: (execId: string, issuedAt: number) => void = () => undefined,
  ) {}

  get location(): string {
    return this.inner.location;
  }

  get fifo(): boolean {
    return this.inner.fifo;
  }

  get maxBatchEntries(): number {
    return this.inner.maxBatchEntries;
  }

  get maxBatchBytes(): number {
    return this.inner.maxBatchBytes;
  }

  async sendBatch(messages: readonly QueueMessage[]): Promise<QueueSendFailure[]> {
    this.batches++;
    this.messages += messages.length;
    this.concurrencySum += ++this.#inFlight;
    const issuedAt = performance.now();
    this.requests.push([issuedAt, messages.length]);
    for (const m of messages) this.issued(m.attributes['exec_id']?.value ?? '', issuedAt);
    let failures: QueueSendFailure[];
    try {
      failures = await this.inner.sendBatch(messages);
    } finally {
      this.#inFlight--;
    }
    const at = performance.now();
    this.roundTrips.push([issuedAt, at - issuedAt]);
    const failed = new Set(failures.map((f) => f.id));
    for (const m of messages) if (!failed.has(m.id)) this.record(m.attributes['exec_id']?.value ?? '', at);
    return failures;
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  /** Mean fills per sendBatch and mean calls in flight when one starts. */
  shape(): { meanBatchSize: number; meanBatchesInFlight: number } {
    return {
      meanBatchSize: Math.round((this.messages / Math.max(1, this.batches)) * 10) / 10,
      meanBatchesInFlight: Math.round((this.concurrencySum / Math.max(1, this.batches)) * 100) / 100,
    };
  }
}

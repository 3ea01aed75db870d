import type { FillQueue, ObjectStore, QueueMessage, QueueSendFailure } from '../sinks/types.js';

/**
 * The AWS sinks, with their SDK loaded only once `gate` opens (main opens it when the first Logon
 * is on the wire): importing the S3 and SQS clients takes longer than everything else before the
 * Logon together. Until then the sinks are the same to the pipeline; a write made meanwhile
 * waits for the SDK, as it would for a slow network.
 */
class Deferred<T> {
  readonly #loaded: Promise<T>;
  #started = false;

  constructor(gate: Promise<void>, load: () => Promise<T>) {
    this.#loaded = gate.then(() => {
      this.#started = true;
      return load();
    });
    // A failed load is reported by whoever awaits `loaded` (main, at start): not unhandled here.
    this.#loaded.catch(() => undefined);
  }

  get loaded(): Promise<T> {
    return this.#loaded;
  }

  /** True once the gate opened: the adapter exists, or is being made. */
  get started(): boolean {
    return this.#started;
  }
}

/** An ObjectStore whose adapter loads once the gate opens. */
export class DeferredObjectStore implements ObjectStore {
  readonly location: string;
  readonly #store: Deferred<ObjectStore>;

  constructor(location: string, gate: Promise<void>, load: () => Promise<ObjectStore>) {
    this.location = location;
    this.#store = new Deferred(gate, load);
  }

  /** Resolves once the adapter is loaded (rejects when it cannot be). */
  get loaded(): Promise<unknown> {
    return this.#store.loaded;
  }

  async putIfAbsent(
    key: string,
    body: Buffer,
    options: { contentType: string; contentEncoding?: string },
  ): Promise<'created' | 'exists'> {
    return (await this.#store.loaded).putIfAbsent(key, body, options);
  }
}

/** A FillQueue whose adapter loads once the gate opens; what the pipeline reads at once is given. */
export class DeferredFillQueue implements FillQueue {
  readonly location: string;
  readonly fifo: boolean;
  readonly maxBatchBytes: number;
  readonly maxBatchEntries: number;
  readonly #queue: Deferred<FillQueue>;

  constructor(
    shape: Pick<FillQueue, 'location' | 'fifo' | 'maxBatchBytes' | 'maxBatchEntries'>,
    gate: Promise<void>,
    load: () => Promise<FillQueue>,
  ) {
    this.location = shape.location;
    this.fifo = shape.fifo;
    this.maxBatchBytes = shape.maxBatchBytes;
    this.maxBatchEntries = shape.maxBatchEntries;
    this.#queue = new Deferred(gate, load);
  }

  /** Resolves once the adapter is loaded (rejects when it cannot be). */
  get loaded(): Promise<unknown> {
    return this.#queue.loaded;
  }

  async sendBatch(messages: readonly QueueMessage[]): Promise<QueueSendFailure[]> {
    return (await this.#queue.loaded).sendBatch(messages);
  }

  /** Closes the adapter, if there is one: a queue stopped before its gate opened has nothing to close. */
  async close(): Promise<void> {
    if (!this.#queue.started) return;
    const queue = await this.#queue.loaded.catch(() => undefined);
    await queue?.close?.();
  }
}

/**
 * What `new SqsQueue({ queueUrl })` says of itself before it sends anything, without loading it
 * (test/app/deferred-sinks.test.ts checks the two agree).
 */
export function sqsQueueShape(
  queueUrl: string,
): Pick<FillQueue, 'location' | 'fifo' | 'maxBatchBytes' | 'maxBatchEntries'> {
  return { location: queueUrl, fifo: queueUrl.endsWith('.fifo'), maxBatchBytes: 256 * 1024, maxBatchEntries: 10 };
}

/** `new S3Store({ bucket, prefix }).location`, without loading it. */
export function s3Location(bucket: string, prefix: string): string {
  return `s3://${bucket}/${prefix}`;
}

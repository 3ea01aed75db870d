/**
 * The two small interfaces the pipeline writes through. Each has a real AWS adapter and a local one
 * for the embedded default; the pipeline never knows which it holds.
 */

export interface ObjectStore {
  /** `s3://bucket/prefix/` or `file:///dir/`, for logs and /status. */
  readonly location: string;
  /**
   * Writes the object unless the key already exists. Keys are deterministic for their content, so
   * an existing key means the same bytes already landed (a retry after a crash): `exists`.
   */
  putIfAbsent(
    key: string,
    body: Buffer,
    options: { contentType: string; contentEncoding?: string },
  ): Promise<'created' | 'exists'>;
}

export interface QueueMessage {
  /** Batch-entry id, unique within one batch. */
  id: string;
  body: string;
  /** FIFO only. */
  groupId?: string;
  /** FIFO only. */
  deduplicationId?: string;
  attributes: Record<string, { type: 'String' | 'Number'; value: string }>;
}

export interface QueueSendFailure {
  id: string;
  code: string;
  message: string;
  /** True when retrying the same entry cannot succeed (a malformed message). */
  senderFault: boolean;
}

export interface FillQueue {
  readonly location: string;
  readonly fifo: boolean;
  /** Largest total payload of one batch (SQS: 256 KiB by default). */
  readonly maxBatchBytes: number;
  /** Most messages in one batch (SQS: 10). */
  readonly maxBatchEntries: number;
  /** Sends up to maxBatchEntries messages; resolves with the entries that failed (empty when all landed). */
  sendBatch(messages: readonly QueueMessage[]): Promise<QueueSendFailure[]>;
  close?(): Promise<void>;
}

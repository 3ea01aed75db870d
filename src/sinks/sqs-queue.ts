import { SendMessageBatchCommand, SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import type { FillQueue, QueueMessage, QueueSendFailure } from './types.js';

/** Fills on SQS: `SendMessageBatch`, FIFO when the queue URL ends in `.fifo`. */
export class SqsQueue implements FillQueue {
  readonly location: string;
  readonly fifo: boolean;
  readonly maxBatchBytes: number;
  readonly maxBatchEntries = 10;
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(options: {
    queueUrl: string;
    maxBatchBytes?: number;
    client?: SQSClient;
    clientConfig?: SQSClientConfig;
  }) {
    this.#queueUrl = options.queueUrl;
    this.location = options.queueUrl;
    this.fifo = options.queueUrl.endsWith('.fifo');
    this.maxBatchBytes = options.maxBatchBytes ?? 256 * 1024;
    // With an endpoint override the SDK would otherwise send to the queue URL's own host, which
    // S3/SQS-compatible servers on loopback often make unresolvable.
    const endpoint = process.env['AWS_ENDPOINT_URL_SQS'];
    this.#client =
      options.client ??
      new SQSClient({
        ...(endpoint === undefined ? {} : { endpoint, useQueueUrlAsEndpoint: false }),
        ...options.clientConfig,
      });
  }

  async sendBatch(messages: readonly QueueMessage[]): Promise<QueueSendFailure[]> {
    const result = await this.#client.send(
      new SendMessageBatchCommand({
        QueueUrl: this.#queueUrl,
        Entries: messages.map((m) => ({
          Id: m.id,
          MessageBody: m.body,
          ...(m.groupId === undefined ? {} : { MessageGroupId: m.groupId }),
          ...(m.deduplicationId === undefined ? {} : { MessageDeduplicationId: m.deduplicationId }),
          MessageAttributes: Object.fromEntries(
            Object.entries(m.attributes).map(([name, a]) => [name, { DataType: a.type, StringValue: a.value }]),
          ),
        })),
      }),
    );
    return (result.Failed ?? []).map((f) => ({
      id: f.Id ?? '',
      code: f.Code ?? 'Unknown',
      message: f.Message ?? '',
      senderFault: f.SenderFault === true,
    }));
  }

  close(): Promise<void> {
    this.#client.destroy();
    return Promise.resolve();
  }
}

import {
  SendMessageBatchCommand,
  SQSClient,
  type SendMessageBatchCommandOutput,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { ListenerError } from '../core/errors.js';
import type { FillQueue, QueueMessage, QueueSendFailure } from './types.js';

/**
 * Refusals of a request for what it carries: the same batch is refused again however often it is
 * sent. Throttling, network and server errors, and credentials, are not among them (they pass).
 */
const CONTENT_REFUSALS = new Set([
  'BatchRequestTooLong',
  'InvalidMessageContents',
  'MessageTooLong',
  'InvalidParameterValue',
  'InvalidParameterValueException',
]);

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
    /** Connect and whole-request limits (default 3 s and 15 s). */
    timeouts?: { connectMs?: number; requestMs?: number };
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
        // The SDK would hash every body it sends and compare it with SQS's MD5OfMessageBody, about
        // a third of a batch's client CPU in a profile, to check what TLS already guarantees in
        // transit. (The SDK's default agent already keeps connections alive.)
        md5: false,
        // A hung send fails and is retried rather than holding its message groups.
        requestHandler: {
          connectionTimeout: options.timeouts?.connectMs ?? 3_000,
          requestTimeout: options.timeouts?.requestMs ?? 15_000,
          throwOnRequestTimeout: true,
        },
        ...options.clientConfig,
      });
  }

  /** Entries the queue refused; throws ERR_SQS_MESSAGE_REFUSED or ERR_SQS_SEND when the request fails. */
  async sendBatch(messages: readonly QueueMessage[]): Promise<QueueSendFailure[]> {
    let result: SendMessageBatchCommandOutput;
    try {
      result = await this.#send(messages);
    } catch (cause) {
      const name = ((cause as { name?: string }).name ?? 'Error').replace(/^AWS\.SimpleQueueService\./, '');
      const refused = CONTENT_REFUSALS.has(name);
      throw new ListenerError(
        refused ? 'ERR_SQS_MESSAGE_REFUSED' : 'ERR_SQS_SEND',
        `SQS SendMessageBatch ${refused ? 'refused' : 'failed'}: ${name}: ${(cause as Error).message}`,
        { cause, details: { awsCode: name, entries: messages.length } },
      );
    }
    return (result.Failed ?? []).map((f) => ({
      id: f.Id ?? '',
      code: f.Code ?? 'Unknown',
      message: f.Message ?? '',
      senderFault: f.SenderFault === true,
    }));
  }

  // async: a mocked client may answer without a promise.
  async #send(messages: readonly QueueMessage[]): Promise<SendMessageBatchCommandOutput> {
    return this.#client.send(
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
  }

  close(): Promise<void> {
    this.#client.destroy();
    return Promise.resolve();
  }
}

import { SqsQueue } from '../../src/sinks/sqs-queue.js';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { gunzipSync } from 'node:zlib';
import { startFauxqs } from 'fauxqs';
import { vi } from 'vitest';

export const AWS_TEST_CREDENTIALS = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
};

export type Fauxqs = Awaited<ReturnType<typeof startFauxqs>>;

/** The S3+SQS-compatible peer a suite talks to, and fresh resources on it per test. */
export interface AwsPeer {
  endpoint: string;
  port: number;
  /** Which server: the one `.ci/run` started, or one this suite started in-process. */
  origin: 'ci' | 'in-process';
  newBucket(): Promise<string>;
  newFifoQueue(): Promise<string>;
  stop(): Promise<void>;
}

let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}`;

/**
 * fauxqs on loopback: one real HTTP server speaking S3 and SQS. `.ci/run` starts one and exports
 * KFL_TEST_AWS_ENDPOINT; without it (a developer's `npm test`) the suite starts its own.
 */
export async function startAws(): Promise<AwsPeer> {
  const external = process.env['KFL_TEST_AWS_ENDPOINT'];
  if (external !== undefined && external !== '') {
    const s3 = s3Client(external);
    const sqs = sqsClient(external);
    return {
      endpoint: external,
      port: Number(new URL(external).port),
      origin: 'ci',
      newBucket: async () => {
        const bucket = unique('archive');
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        return bucket;
      },
      newFifoQueue: async () => {
        const created = await sqs.send(
          new CreateQueueCommand({
            QueueName: `${unique('fills')}.fifo`,
            Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' },
          }),
        );
        return created.QueueUrl!;
      },
      stop: () => {
        s3.destroy();
        sqs.destroy();
        return Promise.resolve();
      },
    };
  }
  const server = await startFauxqs({ port: 0, logger: false });
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    port: server.port,
    origin: 'in-process',
    newBucket: () => Promise.resolve(server.createBucket(unique('archive')).bucketName),
    newFifoQueue: () =>
      Promise.resolve(
        server.createQueue(`${unique('fills')}.fifo`, {
          attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' },
        }).queueUrl,
      ),
    stop: () => server.stop(),
  };
}

export function s3Client(endpoint: string): S3Client {
  return new S3Client({ ...AWS_TEST_CREDENTIALS, endpoint, forcePathStyle: true, maxAttempts: 1 });
}

/** An SqsQueue whose client aws-sdk-client-mock answers (mockClient(SQSClient) in the test). */
export function mockedSqsQueue(): SqsQueue {
  return new SqsQueue({
    queueUrl: 'https://sqs.us-east-1.amazonaws.com/1/fills.fifo',
    client: new SQSClient({ region: 'us-east-1', maxAttempts: 1 }),
  });
}

export function sqsClient(endpoint: string): SQSClient {
  return new SQSClient({ ...AWS_TEST_CREDENTIALS, endpoint, useQueueUrlAsEndpoint: false, maxAttempts: 1 });
}

/** Every object under a prefix, gunzipped, as text. */
export async function readArchive(endpoint: string, bucket: string, prefix = ''): Promise<Map<string, string>> {
  const client = s3Client(endpoint);
  const out = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key! }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      out.set(object.Key!, (object.Key!.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8'));
    }
    token = page.NextContinuationToken;
  } while (token !== undefined);
  client.destroy();
  return out;
}

/**
 * Drains the queue: receives and deletes until it answers empty once `expected` messages are out
 * (so a duplicate past that count is drained too), or, with no count, four times running.
 * Throws, saying how many it got, when that takes longer than `timeoutMs`.
 */
export async function drainQueue(
  endpoint: string,
  queueUrl: string,
  expected?: number,
  timeoutMs = 10_000,
): Promise<Message[]> {
  const client = sqsClient(endpoint);
  const out: Message[] = [];
  let emptyRounds = 0;
  try {
    await vi.waitFor(
      async () => {
        const got = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['All'],
            WaitTimeSeconds: 0,
          }),
        );
        const messages = got.Messages ?? [];
        if (messages.length > 0) {
          emptyRounds = 0;
          out.push(...messages);
          await client.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle! })),
            }),
          );
          throw new Error(`still receiving: ${out.length} messages so far`);
        }
        emptyRounds++;
        if (expected !== undefined ? out.length < expected : emptyRounds <= 3)
          throw new Error(`drained ${out.length}${expected === undefined ? '' : ` of ${expected}`} messages`);
      },
      { timeout: timeoutMs, interval: expected === undefined ? 50 : 10 },
    );
  } finally {
    client.destroy();
  }
  return out;
}

/**
 * A TCP proxy that can be taken down and brought back: an outage of the S3/SQS server that keeps
 * the server's state, as a network partition or a regional blip would.
 */
export class OutageProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #down = false;
  port = 0;

  constructor(readonly targetPort: number) {
    this.#server = createServer((client) => {
      if (this.#down) {
        client.destroy();
        return;
      }
      const upstream = connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
    return `http://127.0.0.1:${this.port}`;
  }

  down(): void {
    this.#down = true;
    for (const s of this.#sockets) s.destroy();
  }

  up(): void {
    this.#down = false;
  }

  async stop(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

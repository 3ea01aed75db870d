import { createServer, connect, type Server, type Socket } from 'node:net';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { gunzipSync } from 'node:zlib';
import { startFauxqs } from 'fauxqs';

export const AWS_TEST_CREDENTIALS = { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };

export type Fauxqs = Awaited<ReturnType<typeof startFauxqs>>;

/** fauxqs on loopback: one real HTTP server speaking S3 and SQS. */
export async function startAws(): Promise<{ server: Fauxqs; endpoint: string; bucket: string; queueUrl: string }> {
  const server = await startFauxqs({ port: 0, logger: false });
  const bucket = 'archive';
  server.createBucket(bucket);
  const { queueUrl } = server.createQueue('fills.fifo', { attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' } });
  return { server, endpoint: `http://127.0.0.1:${server.port}`, bucket, queueUrl };
}

export function s3Client(endpoint: string): S3Client {
  return new S3Client({ ...AWS_TEST_CREDENTIALS, endpoint, forcePathStyle: true, maxAttempts: 1 });
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
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
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

/** Drains the queue: receives and deletes until it stays empty. */
export async function drainQueue(endpoint: string, queueUrl: string, expected?: number, timeoutMs = 10_000): Promise<Message[]> {
  const client = sqsClient(endpoint);
  const out: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  let emptyRounds = 0;
  while (Date.now() < deadline) {
    const got = await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'], WaitTimeSeconds: 0 }));
    const messages = got.Messages ?? [];
    if (messages.length === 0) {
      if (expected !== undefined ? out.length >= expected : ++emptyRounds > 3) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    emptyRounds = 0;
    out.push(...messages);
    await client.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle! })) }));
  }
  client.destroy();
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

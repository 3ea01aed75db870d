import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isListenerError } from '../../src/core/errors.js';
import { S3Store } from '../../src/sinks/s3-store.js';
import { SqsQueue } from '../../src/sinks/sqs-queue.js';
import { AWS_TEST_CREDENTIALS } from '../helpers/aws.js';

/** A peer that accepts connections and reads requests but never answers: a hung AWS endpoint. */
let hung: Server;
let endpoint: string;
const sockets = new Set<Socket>();
beforeAll(async () => {
  hung = createServer((socket) => {
    sockets.add(socket);
    socket.resume();
  });
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(hung.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => hung.close(resolve));
});

describe('S3Store', () => {
  describe('putIfAbsent against an endpoint that never answers', () => {
    it('fails after the request timeout instead of waiting forever', async () => {
      // Prepare: the store's own request handler, with its limits shortened for the test.
      const store = new S3Store({
        bucket: 'b',
        prefix: 'p/',
        clientConfig: {
          ...AWS_TEST_CREDENTIALS,
          endpoint,
          forcePathStyle: true,
          maxAttempts: 1,
        },
        timeouts: { connectMs: 500, idleMs: 300 },
      });
      const started = Date.now();

      // Act
      const attempt = store.putIfAbsent('k', Buffer.from('x'), { contentType: 'text/plain' });

      // Assess
      await expect(attempt).rejects.toThrow(/timed? ?out|timeout/i);
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });
});

describe('SqsQueue', () => {
  describe('sendBatch against an endpoint that never answers', () => {
    it('fails with ERR_SQS_SEND after the request timeout, so the batch is retried', async () => {
      // Prepare
      const queue = new SqsQueue({
        queueUrl: `${endpoint}/000000000000/q.fifo`,
        clientConfig: {
          ...AWS_TEST_CREDENTIALS,
          endpoint,
          useQueueUrlAsEndpoint: false,
          maxAttempts: 1,
        },
        timeouts: { connectMs: 500, requestMs: 300 },
      });
      const started = Date.now();

      // Act
      const error = await queue
        .sendBatch([{ id: 'a', body: '{}', groupId: 'g', deduplicationId: 'd', attributes: {} }])
        .catch((e: unknown) => e);

      // Assess
      expect(isListenerError(error, 'ERR_SQS_SEND')).toBe(true);
      expect(Date.now() - started).toBeLessThan(5_000);
      await queue.close();
    });
  });
});

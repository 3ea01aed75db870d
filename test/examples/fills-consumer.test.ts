import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { fillQueueMessage } from '../../src/pipeline/fill-message.js';
import { SqsQueue } from '../../src/sinks/sqs-queue.js';
import { AWS_TEST_CREDENTIALS, sqsClient, startAws, type AwsPeer } from '../helpers/aws.js';
import { makeRecord } from '../helpers/records.js';
import { spawnTs } from '../helpers/spawn.js';

/**
 * The consumer docs/archive.md offers (examples/fills-consumer.ts) run as a user runs it, in its own process,
 * against the SQS-compatible server `.ci/run` starts (or one started here): fills published in
 * the listener's own format come out once each, with their attributes, and leave the queue.
 */

let aws: AwsPeer;
beforeAll(async () => {
  aws = await startAws();
});
afterAll(() => aws.stop());

interface Printed {
  exec_id: string;
  symbol: string;
  side: string;
  last_qty: string;
  last_px: string;
  attributes: Record<string, string>;
}

describe('examples/fills-consumer.ts', () => {
  it(
    'prints each fill once with its attributes, skips a repeated exec_id, and deletes what it handled',
    {
      timeout: 60_000,
    },
    async () => {
      // Prepare: six fills as the FillPublisher sends them, then one of them again under another
      // deduplication id (a resend after SQS's 5-minute window).
      const queueUrl = await aws.newFifoQueue();
      const client = sqsClient(aws.endpoint);
      const queue = new SqsQueue({ queueUrl, client });
      const records = [0, 2, 4, 6, 8, 10].map((n) => makeRecord(n));
      const messages = records.map((r, i) => fillQueueMessage(JSON.stringify(r), () => r, queue, `m${i}`).message);
      expect(await queue.sendBatch(messages)).toEqual([]);
      const again = messages[1]!;
      await client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: again.body,
          MessageGroupId: records[1]!.symbol!,
          MessageDeduplicationId: `${again.deduplicationId ?? records[1]!.exec_id}-later`,
        }),
      );
      // Act
      const consumer = spawnTs('examples/fills-consumer.ts', [], {
        env: {
          ...process.env,
          FILLS_QUEUE_URL: queueUrl,
          AWS_ENDPOINT_URL_SQS: aws.endpoint,
          AWS_REGION: AWS_TEST_CREDENTIALS.region,
          AWS_ACCESS_KEY_ID: AWS_TEST_CREDENTIALS.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: AWS_TEST_CREDENTIALS.credentials.secretAccessKey,
        },
      });
      onTestFinished(async () => {
        consumer.child.kill('SIGKILL');
        await consumer.exited;
      });
      const lastExecId = records.at(-1)!.exec_id;
      await consumer.waitForOutput(new RegExp(`"exec_id":"${lastExecId}"`), 30_000);
      // The repeat sits behind its symbol's fills; give the consumer time to receive it too.
      await expect
        .poll(async () => (await client.send(receiveCount(queueUrl))).Messages?.length ?? 0, {
          timeout: 20_000,
          interval: 500,
        })
        .toBe(0);
      consumer.child.kill('SIGINT');
      const code = await consumer.exited;
      // Assess
      const printed = consumer
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Printed);
      expect(printed.map((p) => p.exec_id).sort()).toEqual(records.map((r) => r.exec_id).sort());
      const first = printed.find((p) => p.exec_id === records[0]!.exec_id)!;
      expect(first).toMatchObject({
        symbol: records[0]!.symbol,
        side: records[0]!.side,
        last_qty: records[0]!.last_qty,
        last_px: records[0]!.last_px,
        attributes: { exec_id: records[0]!.exec_id, symbol: records[0]!.symbol },
      });
      expect(consumer.output()).not.toMatch(/delete refused|not handled/);
      expect(code).toBe(0);
    },
  );
});

/** A peek that takes nothing: visibility 0, no wait. */
function receiveCount(queueUrl: string) {
  return new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 });
}

/**
 * A consumer of the listener's fills queue: receive, dedupe on exec_id, handle, delete. Copy it
 * into your own service; it needs only @aws-sdk/client-sqs and works against AWS and against a
 * local SQS-compatible endpoint alike.
 *
 *   FILLS_QUEUE_URL=<the stack's FillsQueueUrl output> node --import tsx examples/fills-consumer.ts
 *
 * With AWS_ENDPOINT_URL_SQS set (a local endpoint) the client sends to that endpoint: the SDK
 * otherwise builds `sqs.<region>.<queue host>` from the queue URL, which a local host does not have.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { pathToFileURL } from 'node:url';

/** The fields most consumers use; the body is the whole archive record (docs/fill-message.schema.json). */
export interface Fill {
  exec_id: string;
  order_id: string | null;
  symbol: string | null;
  /** 1 buy, 2 sell. */
  side: string | null;
  /** Decimals as strings, exactly as Kalshi sent them: parse with a decimal type, never Number. */
  last_px: string | null;
  last_qty: string | null;
  transact_time: string | null;
}

export interface ConsumeOptions {
  queueUrl: string;
  /** Called once per fill; throw to leave the message for a retry (it comes back after the visibility timeout). */
  handle: (fill: Fill, attributes: Record<string, string>) => Promise<void> | void;
  /**
   * Whether a fill was handled already, and remembering it. SQS drops duplicates within 5 minutes;
   * a resend after a longer outage of the listener can repeat a fill. In production: a table
   * keyed by exec_id, written in the same transaction as the fill's effect.
   */
  seen?: { has(execId: string): boolean; add(execId: string): unknown };
  /** Stops the loop after the current receive. */
  signal?: AbortSignal;
  client?: SQSClient;
  /** A delete SQS refused: the message comes back and is skipped as seen. */
  onDeleteFailed?: (failed: { id: string; code: string; message: string }) => void;
}

export function fillsClient(env: NodeJS.ProcessEnv = process.env): SQSClient {
  const endpoint = env['AWS_ENDPOINT_URL_SQS'];
  return new SQSClient(endpoint ? { endpoint, useQueueUrlAsEndpoint: false } : {});
}

/** Receives until `signal` aborts. Each message is deleted only once it was handled (or seen before). */
export async function consumeFills(options: ConsumeOptions): Promise<void> {
  const sqs = options.client ?? fillsClient();
  const seen = options.seen ?? new Set<string>();
  while (options.signal?.aborted !== true) {
    const { Messages = [] } = await sqs
      .send(
        new ReceiveMessageCommand({
          QueueUrl: options.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 20,
          // Without this, SQS leaves the attributes (exec_id, symbol, shrunk) out.
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: options.signal },
      )
      .catch((error: unknown) => {
        if (options.signal?.aborted === true) return { Messages: [] as Message[] };
        throw error;
      });
    const done: Message[] = [];
    for (const message of Messages) {
      const fill = JSON.parse(message.Body!) as Fill;
      const attributes = Object.fromEntries(
        Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue ?? '']),
      );
      try {
        if (!seen.has(fill.exec_id)) {
          await options.handle(fill, attributes);
          seen.add(fill.exec_id);
        }
        done.push(message);
      } catch (error) {
        // On a FIFO queue, the later fills of this symbol wait behind this one: stop the batch here.
        console.error(`fill ${fill.exec_id} not handled, left for a retry:`, error);
        break;
      }
    }
    if (done.length === 0) continue;
    const { Failed = [] } = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: options.queueUrl,
        Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
    // Not fatal: an undeleted message comes back after the visibility timeout and is skipped as seen.
    for (const f of Failed)
      options.onDeleteFailed?.({ id: f.Id ?? '?', code: f.Code ?? 'unknown', message: f.Message ?? '' });
  }
}

// Run directly: print each fill, stop on SIGINT/SIGTERM.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const queueUrl = process.env['FILLS_QUEUE_URL'];
  if (queueUrl === undefined || queueUrl === '') {
    console.error('FILLS_QUEUE_URL is required (the stack output FillsQueueUrl)');
    process.exit(2);
  }
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
  await consumeFills({
    queueUrl,
    signal: stop.signal,
    handle: (fill, attributes) =>
      console.log(
        JSON.stringify({
          exec_id: fill.exec_id,
          symbol: fill.symbol,
          side: fill.side,
          last_qty: fill.last_qty,
          last_px: fill.last_px,
          attributes,
        }),
      ),
    onDeleteFailed: (f) => console.error(`delete refused for entry ${f.id}: ${f.code} ${f.message}`),
  });
}

import { describe, expect, it } from 'vitest';
import { DeferredFillQueue, DeferredObjectStore, s3Location, sqsQueueShape } from '../../src/app/deferred-sinks.js';
import { S3Store } from '../../src/sinks/s3-store.js';
import { SqsQueue } from '../../src/sinks/sqs-queue.js';
import type { FillQueue, ObjectStore, QueueMessage } from '../../src/sinks/types.js';

/** A gate the test opens. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const MESSAGE: QueueMessage = { id: '1', body: '{}', attributes: {} };

describe('the AWS sinks loaded after the Logon', () => {
  it('say of themselves what the real adapters say, before loading them', () => {
    for (const queueUrl of [
      'https://sqs.us-east-1.amazonaws.com/123456789012/fills.fifo',
      'https://sqs.us-east-1.amazonaws.com/123456789012/fills',
    ]) {
      const real = new SqsQueue({ queueUrl, clientConfig: { region: 'us-east-1' } });
      expect(sqsQueueShape(queueUrl)).toEqual({
        location: real.location,
        fifo: real.fifo,
        maxBatchBytes: real.maxBatchBytes,
        maxBatchEntries: real.maxBatchEntries,
      });
      void real.close();
    }
    const store = new S3Store({ bucket: 'archive', prefix: 'kalshi/', clientConfig: { region: 'us-east-1' } });
    expect(s3Location('archive', 'kalshi/')).toBe(store.location);
  });

  it('load nothing before the gate opens, and then write through the loaded adapter', async () => {
    // Prepare
    const { promise, open } = gate();
    const loads: string[] = [];
    const puts: string[] = [];
    const sent: QueueMessage[][] = [];
    const store = new DeferredObjectStore('s3://b/p/', promise, () => {
      loads.push('store');
      return Promise.resolve<ObjectStore>({
        location: 's3://b/p/',
        putIfAbsent: (key) => {
          puts.push(key);
          return Promise.resolve('created');
        },
      });
    });
    const queue = new DeferredFillQueue(sqsQueueShape('https://sqs/1/q.fifo'), promise, () => {
      loads.push('queue');
      return Promise.resolve<FillQueue>({
        ...sqsQueueShape('https://sqs/1/q.fifo'),
        sendBatch: (messages) => {
          sent.push([...messages]);
          return Promise.resolve([]);
        },
      });
    });
    // Act: writes made before the gate opens wait for it. A load hangs off promises only: by the
    // next turn of the event loop, every callback the writes queued has run.
    const put = store.putIfAbsent('k', Buffer.from('x'), { contentType: 'text/plain' });
    const send = queue.sendBatch([MESSAGE]);
    await new Promise((resolve) => setImmediate(resolve));
    const before = [...loads];
    open();
    // Assess
    expect(before).toEqual([]);
    expect(await put).toBe('created');
    expect(await send).toEqual([]);
    await store.loaded;
    await queue.loaded;
    expect(loads.sort()).toEqual(['queue', 'store']);
    expect(puts).toEqual(['k']);
    expect(sent).toEqual([[MESSAGE]]);
    expect(queue).toMatchObject({ location: 'https://sqs/1/q.fifo', fifo: true });
  });

  it('close without loading a queue whose gate never opened, and close the adapter of one that did', async () => {
    // Prepare
    const never = new DeferredFillQueue(sqsQueueShape('https://sqs/1/q'), new Promise<void>(() => undefined), () =>
      Promise.reject(new Error('must not load')),
    );
    let closed = 0;
    const opened = new DeferredFillQueue(sqsQueueShape('https://sqs/1/q'), Promise.resolve(), () =>
      Promise.resolve<FillQueue>({
        ...sqsQueueShape('https://sqs/1/q'),
        sendBatch: () => Promise.resolve([]),
        close: () => {
          closed++;
          return Promise.resolve();
        },
      }),
    );
    await opened.loaded;
    // Act
    await never.close();
    await opened.close();
    // Assess
    expect(closed).toBe(1);
  });

  it('report an adapter that cannot load to whoever awaits it', async () => {
    const store = new DeferredObjectStore('s3://b/p/', Promise.resolve(), () => Promise.reject(new Error('no SDK')));
    await expect(store.loaded).rejects.toThrow('no SDK');
    await expect(store.putIfAbsent('k', Buffer.from('x'), { contentType: 'text/plain' })).rejects.toThrow('no SDK');
  });
});

import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { LocalFileQueue } from '../../src/sinks/local-file-queue.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { S3Store } from '../../src/sinks/s3-store.js';
import { SqsQueue } from '../../src/sinks/sqs-queue.js';
import { drainQueue, s3Client, sqsClient, startAws, type AwsPeer } from '../helpers/aws.js';
import { tempDir } from '../helpers/records.js';
import {
  fillQueueContract,
  objectStoreContract,
  type DeliveredMessage,
  type StoredObject,
} from '../helpers/sink-contract.js';

// The sinks' contract (src/sinks/types.ts), run against each implementation: the local folder and
// JSONL file of the embedded default, and the S3 and SQS adapters against the S3/SQS-compatible
// server on loopback (the one `.ci/run` starts, or one started here).

let peer: AwsPeer;
beforeAll(async () => {
  peer = await startAws();
});
afterAll(() => peer.stop());

let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}`;

/** Every file under `root`, relative to it, sorted. */
function filesUnder(root: string, dir = root): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? filesUnder(root, path) : [relative(root, path)];
    })
    .sort();
}

function readLocal(root: string, key: string): StoredObject | undefined {
  const path = join(root, key);
  return existsSync(path)
    ? { body: readFileSync(path), contentType: undefined, contentEncoding: undefined }
    : undefined;
}

objectStoreContract('LocalFolderStore', () => {
  const root = tempDir('store-');
  return Promise.resolve({
    store: new LocalFolderStore(root),
    location: `file://${root}/`,
    read: (key: string) => Promise.resolve(readLocal(root, key)),
    keys: () => Promise.resolve(filesUnder(root)),
    conditionalWrites: true,
    // A file has no metadata: readers go by the key's extension (.jsonl.gz, .parquet).
    keeps: { contentType: false, contentEncoding: false },
    broken: () => {
      // The archive folder's path is taken by a file.
      const blocked = join(tempDir('store-'), 'archive');
      writeFileSync(blocked, 'not a folder');
      return Promise.resolve({
        store: new LocalFolderStore(blocked),
        code: 'ENOTDIR',
        repair: () => Promise.resolve(rmSync(blocked)),
        read: (key: string) => Promise.resolve(readLocal(blocked, key)),
      });
    },
  });
});

async function readS3(client: S3Client, bucket: string, key: string): Promise<StoredObject | undefined> {
  try {
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return {
      body: Buffer.from(await got.Body!.transformToByteArray()),
      contentType: got.ContentType,
      contentEncoding: got.ContentEncoding,
    };
  } catch (error) {
    if (['NoSuchKey', 'NoSuchBucket'].includes((error as Error).name)) return undefined;
    throw error;
  }
}

objectStoreContract('S3Store on the S3-compatible server (fauxqs)', async () => {
  const bucket = await peer.newBucket();
  const prefix = 'kfl/';
  const client = s3Client(peer.endpoint);
  return {
    store: new S3Store({ bucket, prefix, client }),
    location: `s3://${bucket}/${prefix}`,
    read: (key: string) => readS3(client, bucket, `${prefix}${key}`),
    keys: async () => {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (listed.Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();
    },
    // fauxqs 1.9.2 ignores If-None-Match on PutObject (AWS S3 answers 412, which
    // test/pipeline/sink-errors.test.ts plays with a mocked client) and drops Content-Encoding.
    conditionalWrites: false,
    keeps: { contentType: true, contentEncoding: false },
    broken: () => {
      // A bucket that does not exist yet (a typo in ARCHIVE_URL, a bucket not yet created).
      const missing = unique('missing');
      return Promise.resolve({
        store: new S3Store({ bucket: missing, prefix, client }),
        code: 'ERR_S3_PUT',
        repair: async () => void (await client.send(new CreateBucketCommand({ Bucket: missing }))),
        read: (key: string) => readS3(client, missing, `${prefix}${key}`),
      });
    },
    close: () => Promise.resolve(client.destroy()),
  };
});

function readLines(path: string): DeliveredMessage[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((body) => ({ body, attributes: undefined, groupId: undefined }));
}

fillQueueContract('LocalFileQueue', () => {
  const path = join(tempDir('fills-'), 'fills.jsonl');
  return Promise.resolve({
    queue: new LocalFileQueue(path),
    location: `file://${path}`,
    limits: { maxBatchEntries: 1000, maxBatchBytes: 4 * 1024 * 1024 },
    // The file keeps each message's body, one line each, for consumers that read it as JSONL.
    receive: () => Promise.resolve(readLines(path)),
    reopen: () => new LocalFileQueue(path),
    broken: () => {
      // The fills file's folder is taken by a file.
      const dir = join(tempDir('fills-'), 'fills');
      writeFileSync(dir, 'not a folder');
      const blocked = join(dir, 'fills.jsonl');
      return Promise.resolve({
        queue: new LocalFileQueue(blocked),
        code: 'EEXIST',
        repair: () => Promise.resolve(rmSync(dir)),
        receive: () => Promise.resolve(readLines(blocked)),
      });
    },
  });
});

async function receiveSqs(queueUrl: string, atLeast: number): Promise<DeliveredMessage[]> {
  const messages = await drainQueue(peer.endpoint, queueUrl, atLeast);
  return messages.map((m) => ({
    body: m.Body!,
    attributes: Object.fromEntries(
      Object.entries(m.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue ?? '']),
    ),
    groupId: m.Attributes?.['MessageGroupId'],
  }));
}

fillQueueContract('SqsQueue on the SQS-compatible server (fauxqs), FIFO', async () => {
  const queueUrl = await peer.newFifoQueue();
  const client = sqsClient(peer.endpoint);
  return {
    queue: new SqsQueue({ queueUrl, client: sqsClient(peer.endpoint) }),
    location: queueUrl,
    limits: { maxBatchEntries: 10, maxBatchBytes: 256 * 1024 },
    receive: (atLeast: number) => receiveSqs(queueUrl, atLeast),
    reopen: () => new SqsQueue({ queueUrl, client: sqsClient(peer.endpoint) }),
    broken: () => {
      // A queue that does not exist yet, on the same server.
      const name = `${unique('missing')}.fifo`;
      const missingUrl = queueUrl.replace(/[^/]+$/, name);
      return Promise.resolve({
        queue: new SqsQueue({ queueUrl: missingUrl, client: sqsClient(peer.endpoint) }),
        code: 'ERR_SQS_SEND',
        repair: async () => {
          const created = await client.send(
            new CreateQueueCommand({
              QueueName: name,
              Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' },
            }),
          );
          if (created.QueueUrl !== missingUrl) throw new Error(`created ${created.QueueUrl}, not ${missingUrl}`);
        },
        receive: (atLeast: number) => receiveSqs(missingUrl, atLeast),
      });
    },
    close: () => Promise.resolve(client.destroy()),
  };
});

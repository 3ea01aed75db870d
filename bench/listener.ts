/**
 * The service under test, wired as src/app/main.ts wires it but in the benchmark's process, so the
 * harness can watch it: the real ListenerService (session → journal with fsync → archive writer,
 * Parquet writer and fill publisher) against the peers process, with the sinks a run asks for.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { ArchiveEvent } from '../src/pipeline/archive-writer.js';
import type { FillEvent } from '../src/pipeline/fill-publisher.js';
import { ListenerService } from '../src/app/service.js';
import { childParquetRunner } from '../src/app/parquet-builds.js';
import { LocalFileQueue } from '../src/sinks/local-file-queue.js';
import { LocalFolderStore } from '../src/sinks/local-folder-store.js';
import { S3Store } from '../src/sinks/s3-store.js';
import { SqsQueue } from '../src/sinks/sqs-queue.js';
import type { FillQueue, ObjectStore } from '../src/sinks/types.js';
import type { SessionEvent } from '../src/fix/session.js';
import { BENCH_API_KEY } from './fixtures.js';
import type { PeersHandle } from './peers-client.js';
import { waitUntil } from './timing.js';

export type ArchiveKind = 'local' | 's3';
export type FillsKind = 'local' | 'sqs';

const PARQUET_TABLE = 'exec_reports_parquet/';
const BENCH_LISTENER = 'bench';
const AWS = { region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } };

export interface BenchListener {
  service: ListenerService;
  dir: string;
  store: ObjectStore;
  queue: FillQueue;
  /** Fills the publisher reported sent, and when (performance.now()) the count last grew. */
  fillsSent(): number;
  lastFillSentAt(): number;
  /** performance.now() of the last archive object written, and how many were written. */
  archiveUploads(): { count: number; lastAt: number; records: number; failures: number };
  /** Graceful stop as on SIGTERM; resolves with how long the archive flush took. */
  stop(): Promise<{ stopMs: number; archiveFlushMs: number; archiveObjects: number }>;
}

export interface ListenerOptions {
  archive: ArchiveKind | ObjectStore;
  fills: FillsKind;
  /** Wraps the queue (e.g. a timing decorator for the latency run). */
  wrapQueue?: (queue: FillQueue) => FillQueue;
  /** ArchiveWriter settings beyond the service defaults (64 MiB objects, gzip). */
  archiveOptions?: { maxObjectBytes?: number; gzip?: boolean; flushMs?: number };
  /** Runs on this directory (its `spool/` prepared beforehand) instead of a fresh one; removed at stop. */
  dir?: string;
  /**
   * The typed Parquet copy, on by default as deployed (ARCHIVE_PARQUET=true): its encoding, on its
   * own thread, is a large share of the listener's CPU per report.
   */
  parquet?: boolean;
  /** JOURNAL_LINGER_MS: how long a group commit waits for more reports (absent: the service default). */
  lingerMs?: number;
  /**
   * FILLS_BATCH_WAIT_MS: how long a part-full SQS batch waits for more fills, even with nothing in
   * flight (absent: the service default). Passed as main.ts passes it.
   */
  fillsBatchWaitMs?: number;
}

export function s3Store(peers: PeersHandle): S3Store {
  const client = new S3Client({ ...AWS, endpoint: peers.address.aws.endpoint, forcePathStyle: true });
  return new S3Store({ bucket: peers.address.aws.bucket, prefix: 'bench/', client });
}

export function sqsQueue(peers: PeersHandle): SqsQueue {
  const client = new SQSClient({ ...AWS, endpoint: peers.address.aws.endpoint, useQueueUrlAsEndpoint: false });
  return new SqsQueue({ queueUrl: peers.address.aws.queueUrl, client });
}

/** Starts the service on a fresh spool directory and resolves once it is logged on. */
export async function startListener(peers: PeersHandle, options: ListenerOptions): Promise<BenchListener> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'kfl-bench-'));
  const store =
    typeof options.archive !== 'string'
      ? options.archive
      : options.archive === 's3'
        ? s3Store(peers)
        : new LocalFolderStore(join(dir, 'archive'));
  const baseQueue = options.fills === 'sqs' ? sqsQueue(peers) : new LocalFileQueue(join(dir, 'fills.jsonl'));
  const queue = options.wrapQueue?.(baseQueue) ?? baseQueue;
  let sent = 0;
  let lastSentAt = 0;
  const uploads = { count: 0, lastAt: 0, records: 0, failures: 0 };
  let loggedOn = false;
  let sessionStoppedAt = 0;
  const service = await ListenerService.start({
    fix: {
      host: peers.address.fix.host,
      port: peers.address.fix.port,
      targetCompId: 'KalshiRT',
      apiKey: BENCH_API_KEY,
      privateKey: peers.privateKey,
      heartbeatS: 30,
      extraCa: peers.address.fix.ca,
      messageRetentionHours: 72,
    },
    spoolDir: join(dir, 'spool'),
    store,
    queue,
    ...(options.archiveOptions === undefined ? {} : { archive: options.archiveOptions }),
    ...(options.lingerMs === undefined ? {} : { journal: { lingerMs: options.lingerMs } }),
    ...(options.fillsBatchWaitMs === undefined ? {} : { fills: { batchWaitMs: options.fillsBatchWaitMs } }),
    // Named as deployed, so the Parquet builder (a child process, as deployed) finds its partition.
    listener: BENCH_LISTENER,
    ...(options.parquet === false
      ? {}
      : {
          parquet: {
            run: childParquetRunner({
              archiveUrl: store.location,
              listener: BENCH_LISTENER,
              env: {
                ...process.env,
                AWS_REGION: AWS.region,
                AWS_ACCESS_KEY_ID: AWS.credentials.accessKeyId,
                AWS_SECRET_ACCESS_KEY: AWS.credentials.secretAccessKey,
                AWS_ENDPOINT_URL_S3: peers.address.aws.endpoint,
              },
            }),
          },
        }),
    onSessionEvent: (event: SessionEvent) => {
      if (event.kind === 'logon') loggedOn = true;
      if (event.kind === 'state' && event.to === 'stopped') sessionStoppedAt = performance.now();
    },
    onFillEvent: (event: FillEvent) => {
      if (event.kind === 'sent') {
        sent += event.count;
        lastSentAt = performance.now();
      }
    },
    onArchiveEvent: (event: ArchiveEvent) => {
      // The counters are the JSONL archive's (what freshness and the flush are measured on).
      if ('key' in event && event.key.includes(PARQUET_TABLE)) return;
      if (event.kind === 'uploaded') {
        uploads.count++;
        uploads.records += event.records;
        uploads.lastAt = performance.now();
      } else if (event.kind === 'upload_failed') uploads.failures++;
    },
    onFatal: (error) => {
      throw error;
    },
  });
  await waitUntil(() => loggedOn, 15_000, 'logon');
  return {
    service,
    dir,
    store,
    queue,
    fillsSent: () => sent,
    lastFillSentAt: () => lastSentAt,
    archiveUploads: () => ({ ...uploads }),
    async stop() {
      const before = uploads.count;
      const start = (sessionStoppedAt = performance.now());
      // service.stop() logs out first, then flushes the archive: time the flush from the logout.
      await service.stop();
      await queue.close?.();
      const end = performance.now();
      const objects = uploads.count - before;
      rmSync(dir, { recursive: true, force: true });
      return {
        stopMs: end - start,
        archiveFlushMs: objects > 0 ? uploads.lastAt - sessionStoppedAt : 0,
        archiveObjects: objects,
      };
    },
  };
}

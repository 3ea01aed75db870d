import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ArchiveWriter, type ArchiveEvent } from '../../src/pipeline/archive-writer.js';
import { DeadLetterBox } from '../../src/pipeline/dead-letters.js';
import { FillPublisher } from '../../src/pipeline/fill-publisher.js';
import { Journal } from '../../src/pipeline/journal.js';
import { S3Store } from '../../src/sinks/s3-store.js';
import { SqsQueue } from '../../src/sinks/sqs-queue.js';
import { RECORD_COLUMNS, type ExecutionReportRecord } from '../../src/core/record.js';
import { drainQueue, OutageProxy, readArchive, s3Client, sqsClient, startAws, type AwsPeer } from '../helpers/aws.js';
import { makeRecord, tempDir } from '../helpers/records.js';

let peer: AwsPeer;
// Fresh bucket and FIFO queue per test: the deduplication window outlives a test, and ExecIDs repeat.
const aws = { endpoint: '', bucket: '', queueUrl: '', port: 0 };

beforeAll(async () => {
  peer = await startAws();
  aws.endpoint = peer.endpoint;
  aws.port = peer.port;
});
afterAll(async () => {
  await peer.stop();
});
beforeEach(async () => {
  aws.bucket = await peer.newBucket();
  aws.queueUrl = await peer.newFifoQueue();
});

const HOUR_10 = '2026-11-23T10:15:00.000Z';
const HOUR_11 = '2026-11-23T11:20:00.000Z';

async function journalWith(records: ExecutionReportRecord[]): Promise<Journal> {
  const journal = await Journal.open({ dir: tempDir() });
  for (const record of records) journal.append(record);
  await journal.flush();
  return journal;
}

function linesOf(archive: Map<string, string>): ExecutionReportRecord[] {
  return [...archive.values()].flatMap((text) =>
    text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as ExecutionReportRecord),
  );
}

// fauxqs over HTTP, and outages taken through a proxy: more than the 5 s default on a busy machine.
describe('ArchiveWriter', { timeout: 30_000 }, () => {
  describe('with S3 (fauxqs)', () => {
    it('writes closed hours as gzip JSONL under the Hive layout, every record once, every key present', async () => {
      // Prepare
      const records = Array.from({ length: 30 }, (_, n) =>
        makeRecord(n, { transact_time: n < 20 ? HOUR_10 : HOUR_11 }),
      );
      const journal = await journalWith(records);
      const events: ArchiveEvent[] = [];
      const writer = new ArchiveWriter({
        journal,
        store: new S3Store({ bucket: aws.bucket, prefix: 'prod/', client: s3Client(aws.endpoint) }),
        graceMs: 60_000,
        now: () => Date.parse('2026-11-23T12:30:00Z'),
        onEvent: (e) => events.push(e),
      });
      // Act
      await writer.start();
      await expect.poll(() => events.filter((e) => e.kind === 'uploaded').length, { timeout: 10_000 }).toBe(2);
      await writer.stop();
      // Assess
      const archive = await readArchive(aws.endpoint, aws.bucket, 'prod/');
      const keys = [...archive.keys()].sort();
      expect(keys).toHaveLength(2);
      expect(keys[0]).toMatch(/^prod\/exec_reports\/dt=2026-11-23\/hour=10\/000000000001-000000000020-20\.jsonl\.gz$/);
      expect(keys[1]).toMatch(/^prod\/exec_reports\/dt=2026-11-23\/hour=11\/000000000021-000000000030-10\.jsonl\.gz$/);
      const lines = linesOf(archive);
      expect(lines.map((r) => r.exec_id).sort()).toEqual(records.map((r) => r.exec_id).sort());
      for (const line of lines) expect(Object.keys(line)).toEqual(RECORD_COLUMNS.map((c) => c.name));
      expect(writer.status()).toMatchObject({ consecutiveFailures: 0, pendingRecords: 0 });
      await journal.close();
    });

    it('keeps the current hour open, then writes it as a partial object on graceful stop', async () => {
      // Prepare: two records of the open hour 11, then one of hour 10, closed since 11:05 (grace 5 min).
      const journal = await journalWith([
        makeRecord(1, { transact_time: HOUR_11 }),
        makeRecord(2, { transact_time: HOUR_11 }),
        makeRecord(3, { transact_time: HOUR_10 }),
      ]);
      const events: ArchiveEvent[] = [];
      const writer = new ArchiveWriter({
        journal,
        store: new S3Store({ bucket: aws.bucket, prefix: '', client: s3Client(aws.endpoint) }),
        now: () => Date.parse('2026-11-23T11:30:00Z'),
        onEvent: (e) => events.push(e),
      });
      // Act: the closed hour going out proves the writer read all three and weighed every bucket.
      await writer.start();
      await expect.poll(() => events.filter((e) => e.kind === 'uploaded').length, { timeout: 10_000 }).toBe(1);
      const whileRunning = await readArchive(aws.endpoint, aws.bucket);
      const bufferedWhileRunning = writer.bufferedBytes;
      await writer.stop({ flush: true });
      // Assess: hour 11 stayed open while running, and the stop wrote it.
      expect([...whileRunning.keys()]).toEqual([expect.stringMatching(/^exec_reports\/dt=2026-11-23\/hour=10\//)]);
      expect(linesOf(whileRunning).map((r) => r.exec_id)).toEqual([makeRecord(3).exec_id]);
      expect(bufferedWhileRunning).toBeGreaterThan(0);
      const archive = await readArchive(aws.endpoint, aws.bucket);
      const hour11 = new Map([...archive].filter(([key]) => key.includes('/hour=11/')));
      expect(archive.size).toBe(2);
      expect(linesOf(hour11).map((r) => r.exec_id)).toEqual([makeRecord(1).exec_id, makeRecord(2).exec_id]);
      await journal.close();
    });

    it('writes a bucket early when it passes the size cap', async () => {
      const journal = await journalWith(
        Array.from({ length: 40 }, (_, n) => makeRecord(n, { transact_time: HOUR_11 })),
      );
      const writer = new ArchiveWriter({
        journal,
        store: new S3Store({ bucket: aws.bucket, prefix: '', client: s3Client(aws.endpoint) }),
        maxObjectBytes: 10_000,
        now: () => Date.parse('2026-11-23T11:30:00Z'),
      });
      await writer.start();
      await expect
        .poll(async () => (await readArchive(aws.endpoint, aws.bucket)).size, { timeout: 10_000 })
        .toBeGreaterThanOrEqual(2);
      await writer.stop({ flush: true });
      const archive = await readArchive(aws.endpoint, aws.bucket);
      expect(archive.size).toBeGreaterThanOrEqual(3);
      expect(linesOf(archive).map((r) => r.exec_id)).toEqual(
        Array.from({ length: 40 }, (_, n) => makeRecord(n).exec_id),
      );
      await journal.close();
    });

    it('survives an S3 outage: retries, keeps memory bounded, lets the journal grow, then drains with no loss', async () => {
      // Prepare
      const proxy = new OutageProxy(aws.port);
      const endpoint = await proxy.start();
      const journal = await Journal.open({ dir: tempDir() });
      await journal.loadCursor('fills'); // a second sink that never advances keeps segments for inspection
      let now = Date.parse('2026-11-23T10:00:00Z');
      const events: ArchiveEvent[] = [];
      let maxBuffered = 0;
      const writer = new ArchiveWriter({
        journal,
        store: new S3Store({ bucket: aws.bucket, prefix: '', client: s3Client(endpoint) }),
        graceMs: 0,
        maxObjectBytes: 20_000,
        maxBufferedBytes: 40_000,
        retry: { initialMs: 20, maxMs: 100 },
        now: () => now,
        onEvent: (e) => {
          // Memory held at every attempt, and at every poll below.
          maxBuffered = Math.max(maxBuffered, writer.bufferedBytes);
          events.push(e);
        },
      });
      const failures = () => events.filter((e) => e.kind === 'upload_failed').length;
      await writer.start();
      // Act: S3 goes away while three hours of reports arrive; after each, wait for the writer to
      // try (and fail) again, so it has worked on that hour during the outage.
      proxy.down();
      let n = 0;
      for (const hour of ['10', '11', '12']) {
        for (let i = 0; i < 150; i++)
          journal.append(makeRecord(n++, { transact_time: `2026-11-23T${hour}:10:00.000Z` }));
        await journal.flush();
        now = Date.parse(`2026-11-23T${hour}:59:59Z`) + 2000;
        const failedBefore = failures();
        await expect
          .poll(
            () => {
              maxBuffered = Math.max(maxBuffered, writer.bufferedBytes);
              return failures();
            },
            { timeout: 10_000, interval: 20 },
          )
          .toBeGreaterThan(failedBefore);
      }
      const during = writer.status();
      const backlogDuring = journal.backlog('archive');
      proxy.up();
      await vi.waitFor(
        () => {
          expect(writer.status().pendingRecords).toBe(0);
          expect(journal.backlog('archive').records).toBe(0);
        },
        { timeout: 15_000, interval: 20 },
      );
      await writer.stop();
      await proxy.stop();
      // Assess
      expect(events.some((e) => e.kind === 'upload_failed')).toBe(true);
      expect(during.consecutiveFailures).toBeGreaterThan(0);
      expect(during.lastError?.message).toBeDefined();
      expect(during.lagSeconds).toBeGreaterThan(0);
      expect(backlogDuring.records).toBeGreaterThan(200);
      expect(maxBuffered).toBeLessThanOrEqual(40_000 + 2000 * 600);
      expect(maxBuffered).toBeLessThan(450 * 600);
      const archived = linesOf(await readArchive(aws.endpoint, aws.bucket)).map((r) => r.exec_id);
      expect(new Set(archived).size).toBe(archived.length);
      expect(archived.sort()).toEqual(Array.from({ length: 450 }, (_, i) => makeRecord(i).exec_id).sort());
      await journal.close();
    });

    it('redoes an interrupted write after a restart: the same key, no record twice', async () => {
      // Prepare: a first writer whose upload fails after it saved its intent, then "crashes".
      const dir = tempDir();
      const journal = await Journal.open({ dir });
      for (let n = 0; n < 5; n++) journal.append(makeRecord(n, { transact_time: HOUR_10 }));
      await journal.flush();
      let calls = 0;
      const failing = {
        location: 's3://x/',
        putIfAbsent: () => {
          calls++;
          return Promise.reject(new Error('connection reset'));
        },
      };
      const first = new ArchiveWriter({
        journal,
        store: failing,
        now: () => Date.parse('2026-11-23T12:00:00Z'),
        retry: { initialMs: 10, maxMs: 10 },
      });
      await first.start();
      await expect.poll(() => calls, { timeout: 10_000 }).toBeGreaterThan(0);
      await first.stop({ flush: false });
      await journal.close();
      // Act
      const reopened = await Journal.open({ dir });
      const events: ArchiveEvent[] = [];
      const second = new ArchiveWriter({
        journal: reopened,
        store: new S3Store({ bucket: aws.bucket, prefix: '', client: s3Client(aws.endpoint) }),
        now: () => Date.parse('2026-11-23T12:00:00Z'),
        onEvent: (e) => events.push(e),
      });
      await second.start();
      await expect.poll(() => events.some((e) => e.kind === 'uploaded'), { timeout: 10_000 }).toBe(true);
      await second.stop();
      // Assess
      expect(events[0]).toMatchObject({ kind: 'replayed_intent' });
      const archive = await readArchive(aws.endpoint, aws.bucket);
      expect(archive.size).toBe(1);
      expect(linesOf(archive)).toHaveLength(5);
      await reopened.close();
    });
  });
});

// fauxqs over HTTP, and outages taken through a proxy: more than the 5 s default on a busy machine.
describe('FillPublisher', { timeout: 30_000 }, () => {
  describe('with SQS FIFO (fauxqs)', () => {
    it('sends every fill once with group = symbol, dedup id = exec_id and the attributes, in order per group', async () => {
      // Prepare
      const records = Array.from({ length: 60 }, (_, n) => makeRecord(n));
      const journal = await journalWith(records);
      const publisher = new FillPublisher({
        journal,
        deadLetters: await DeadLetterBox.open({ dir: tempDir() }),
        queue: new SqsQueue({ queueUrl: aws.queueUrl, client: sqsClient(aws.endpoint) }),
      });
      // Act
      await publisher.start();
      await expect.poll(() => publisher.sent, { timeout: 10_000 }).toBe(30);
      await publisher.stop();
      const messages = await drainQueue(aws.endpoint, aws.queueUrl, 30);
      // Assess
      const fills = records.filter((r) => r.exec_type === 'F');
      const bodyOf = (m: (typeof messages)[number]) => JSON.parse(m.Body!) as ExecutionReportRecord;
      expect(messages.map((m) => bodyOf(m).exec_id).sort()).toEqual(fills.map((r) => r.exec_id).sort());
      for (const m of messages) {
        const body = bodyOf(m);
        expect(m.Attributes?.MessageGroupId).toBe(body.symbol);
        expect(m.Attributes?.MessageDeduplicationId).toBe(body.exec_id);
        expect(m.MessageAttributes?.exec_id?.StringValue).toBe(body.exec_id);
        expect(m.MessageAttributes?.symbol?.StringValue).toBe(body.symbol);
        expect(m.MessageAttributes?.schema_version?.StringValue).toBe('1');
      }
      for (const symbol of ['BTC-PERP', 'ETH-PERP', 'SOL-PERP']) {
        const received = messages
          .filter((m) => m.Attributes?.MessageGroupId === symbol)
          .map((m) => bodyOf(m).msg_seq_num);
        expect(received).toEqual([...received].sort((a, b) => a - b));
      }
      expect((await journal.loadCursor<{ through: number }>('fills'))?.through).toBe(60);
      await journal.close();
    });

    it('survives an SQS outage without loss or duplicates and drains when it returns', async () => {
      // Prepare
      const proxy = new OutageProxy(aws.port);
      const endpoint = await proxy.start();
      const journal = await Journal.open({ dir: tempDir() });
      const publisher = new FillPublisher({
        journal,
        deadLetters: await DeadLetterBox.open({ dir: tempDir() }),
        queue: new SqsQueue({ queueUrl: aws.queueUrl, client: sqsClient(endpoint) }),
        retry: { initialMs: 20, maxMs: 100 },
        maxWaiting: 50,
      });
      await publisher.start();
      // Act
      proxy.down();
      for (let n = 0; n < 400; n++) journal.append(makeRecord(n));
      await journal.flush();
      // Wait for the publisher to have tried the queue, and failed, more than once.
      await expect.poll(() => publisher.status().consecutiveFailures, { timeout: 10_000 }).toBeGreaterThan(1);
      const during = publisher.status();
      const sentDuring = publisher.sent;
      proxy.up();
      await expect.poll(() => publisher.sent, { timeout: 15_000 }).toBe(200);
      await publisher.stop();
      await proxy.stop();
      // Assess
      expect(sentDuring).toBe(0);
      expect(during.consecutiveFailures).toBeGreaterThan(0);
      expect(during.pendingRecords).toBeGreaterThan(150);
      const ids = (await drainQueue(aws.endpoint, aws.queueUrl, 200)).map(
        (m) => (JSON.parse(m.Body!) as ExecutionReportRecord).exec_id,
      );
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe(200);
      await journal.close();
    });

    it('resends after a restart from its cursor; FIFO deduplication keeps one copy', async () => {
      const dir = tempDir();
      const journal = await Journal.open({ dir });
      for (let n = 0; n < 20; n++) journal.append(makeRecord(n));
      await journal.flush();
      const first = new FillPublisher({
        journal,
        deadLetters: await DeadLetterBox.open({ dir: tempDir() }),
        queue: new SqsQueue({ queueUrl: aws.queueUrl, client: sqsClient(aws.endpoint) }),
      });
      await first.start();
      await expect.poll(() => first.sent, { timeout: 10_000 }).toBe(10);
      await first.stop();
      // A restart that lost its cursor save resends everything.
      await journal.saveCursor('fills', { through: 0 });
      const second = new FillPublisher({
        journal,
        deadLetters: await DeadLetterBox.open({ dir: tempDir() }),
        queue: new SqsQueue({ queueUrl: aws.queueUrl, client: sqsClient(aws.endpoint) }),
      });
      await second.start();
      await expect.poll(() => second.sent, { timeout: 10_000 }).toBe(10);
      await second.stop();
      expect(await drainQueue(aws.endpoint, aws.queueUrl)).toHaveLength(10);
      await journal.close();
    });
  });
});

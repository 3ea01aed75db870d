import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, SQSClient, SQSServiceException } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { ListenerError } from '../../src/core/errors.js';
import { ArchiveWriter, type ArchiveEvent } from '../../src/pipeline/archive-writer.js';
import { DeadLetterBox } from '../../src/pipeline/dead-letters.js';
import { deduplicationId, FillPublisher, type FillEvent } from '../../src/pipeline/fill-publisher.js';
import { Journal } from '../../src/pipeline/journal.js';
import { S3Store } from '../../src/sinks/s3-store.js';
import { makeRecord, tempDir } from '../helpers/records.js';
import { mockedSqsQueue } from '../helpers/aws.js';

// Error paths a real S3/SQS-compatible server cannot be made to produce on demand.
const s3 = mockClient(S3Client);
const sqs = mockClient(SQSClient);
afterEach(() => {
  s3.reset();
  sqs.reset();
});

function serviceError(
  Ctor: typeof S3ServiceException | typeof SQSServiceException,
  name: string,
  status: number,
): Error {
  return new Ctor({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: name,
  });
}

describe('S3Store', () => {
  describe('putIfAbsent', () => {
    it('sends If-None-Match: * and treats 412 PreconditionFailed as already written', async () => {
      // Prepare
      s3.on(PutObjectCommand).rejects(serviceError(S3ServiceException, 'PreconditionFailed', 412));
      const store = new S3Store({ bucket: 'b', prefix: 'p/', client: new S3Client({ region: 'us-east-1' }) });
      // Act
      const result = await store.putIfAbsent('k.jsonl.gz', Buffer.from('x'), {
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
      });
      // Assess
      expect(result).toBe('exists');
      const input = s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
      expect(input).toMatchObject({ Bucket: 'b', Key: 'p/k.jsonl.gz', IfNoneMatch: '*', ContentEncoding: 'gzip' });
    });
  });
});

describe('ArchiveWriter', () => {
  describe('on S3 500 errors', () => {
    it('retries with back-off until S3 recovers and loses nothing', async () => {
      // Prepare
      s3.on(PutObjectCommand)
        .rejectsOnce(serviceError(S3ServiceException, 'InternalError', 500))
        .rejectsOnce(serviceError(S3ServiceException, 'SlowDown', 503))
        .resolves({});
      const journal = await Journal.open({ dir: tempDir() });
      for (let n = 0; n < 10; n++) journal.append(makeRecord(n));
      await journal.flush();
      const events: ArchiveEvent[] = [];
      const writer = new ArchiveWriter({
        journal,
        store: new S3Store({ bucket: 'b', prefix: '', client: new S3Client({ region: 'us-east-1', maxAttempts: 1 }) }),
        now: () => Date.parse('2026-11-24T00:00:00Z'),
        retry: { initialMs: 5, maxMs: 20 },
        onEvent: (e) => events.push(e),
      });
      // Act
      await writer.start();
      await expect.poll(() => events.some((e) => e.kind === 'uploaded'), { timeout: 10_000 }).toBe(true);
      await writer.stop();
      // Assess
      // Coded for the log and /status, with S3's own error kept as the cause.
      const failures = events
        .filter((e) => e.kind === 'upload_failed')
        .map((e) => (e as { error: ListenerError }).error);
      expect(failures.map((e) => [e.code, e.details?.['awsCode'], (e.cause as Error).name])).toEqual([
        ['ERR_S3_PUT', 'InternalError', 'InternalError'],
        ['ERR_S3_PUT', 'SlowDown', 'SlowDown'],
      ]);
      const calls = s3.commandCalls(PutObjectCommand);
      expect(calls).toHaveLength(3);
      // Every attempt carried the same key and the same bytes.
      expect(new Set(calls.map((c) => c.args[0].input.Key)).size).toBe(1);
      expect(new Set(calls.map((c) => Buffer.from(c.args[0].input.Body as Buffer).toString('base64'))).size).toBe(1);
      expect(writer.status()).toMatchObject({ consecutiveFailures: 0 });
      await journal.close();
    });
  });
});

describe('ArchiveWriter', () => {
  describe('while S3 refuses an object', () => {
    it('holds only that built object, reads nothing more from the journal, and retries the same bytes until they land', async () => {
      // Prepare: one hour past the size cap, S3 down.
      s3.on(PutObjectCommand).rejects(serviceError(S3ServiceException, 'ServiceUnavailable', 503));
      const journal = await Journal.open({ dir: tempDir() });
      for (let n = 0; n < 30; n++) journal.append(makeRecord(n));
      await journal.flush();
      let clock = Date.parse('2026-11-23T22:30:00Z');
      const events: ArchiveEvent[] = [];
      const writer = new ArchiveWriter({
        journal,
        store: new S3Store({ bucket: 'b', prefix: '', client: new S3Client({ region: 'us-east-1', maxAttempts: 1 }) }),
        maxObjectBytes: 5_000,
        flushMs: 3_600_000, // no flush by age either:
        now: () => clock, // the hour stays open: only the cap writes it early
        retry: { initialMs: 5, maxMs: 10 },
        onEvent: (e) => events.push(e),
      });
      await writer.start();
      await expect
        .poll(() => events.filter((e) => e.kind === 'upload_failed').length, { timeout: 10_000 })
        .toBeGreaterThanOrEqual(2);
      // Act: more reports arrive during the outage, then S3 comes back.
      for (let n = 30; n < 60; n++) journal.append(makeRecord(n));
      await journal.flush();
      await expect
        .poll(() => events.filter((e) => e.kind === 'upload_failed').length, { timeout: 10_000 })
        .toBeGreaterThanOrEqual(6);
      clock += 120_000;
      const statusDuring = writer.status();
      const bufferedDuring = writer.bufferedBytes;
      const backlogDuring = journal.backlog('archive').records;
      const failedKeys = new Set(s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key));
      const failedBodies = new Set(
        s3.commandCalls(PutObjectCommand).map((c) => Buffer.from(c.args[0].input.Body as Buffer).toString('base64')),
      );
      s3.reset();
      s3.on(PutObjectCommand).resolves({});
      await expect.poll(() => writer.status().consecutiveFailures, { timeout: 10_000 }).toBe(0);
      await writer.stop({ flush: true });
      // Assess
      expect(failedKeys.size).toBe(1);
      expect(failedBodies.size).toBe(1);
      expect(bufferedDuring).toBe(0);
      expect(backlogDuring).toBe(60);
      // Overdue since its first failed attempt, although its hour has not closed.
      expect(statusDuring.lagSeconds).toBe(120);
      expect(statusDuring.pendingRecords).toBe(60);
      expect(writer.status().lagSeconds).toBe(0);
      const puts = s3.commandCalls(PutObjectCommand);
      expect(puts[0]!.args[0].input.Key).toBe([...failedKeys][0]);
      const ids = puts
        .flatMap((c) =>
          gunzipSync(c.args[0].input.Body as Buffer)
            .toString('utf8')
            .split('\n')
            .filter(Boolean),
        )
        .map((l) => (JSON.parse(l) as { exec_id: string }).exec_id);
      expect(ids).toEqual(Array.from({ length: 60 }, (_, n) => makeRecord(n).exec_id));
      await journal.close();
    });
  });

  describe('when S3 refuses an object for good (EntityTooLarge)', () => {
    it('parks that object whole in the dead letters, names it, and archives everything after it', async () => {
      // Prepare: two hours of reports; S3 refuses the first hour's object as too large, takes the rest.
      const spool = tempDir();
      const first = '2026-11-23T20:10:00.000Z';
      const second = '2026-11-23T21:10:00.000Z';
      s3.on(PutObjectCommand).callsFake((input: { Key: string }) => {
        if (input.Key.includes('hour=20')) throw serviceError(S3ServiceException, 'EntityTooLarge', 400);
        return {};
      });
      const journal = await Journal.open({ dir: join(spool, 'journal') });
      for (let n = 0; n < 10; n++) journal.append(makeRecord(n, { transact_time: n < 4 ? first : second }));
      await journal.flush();
      const store = new S3Store({
        bucket: 'b',
        prefix: '',
        client: new S3Client({ region: 'us-east-1', maxAttempts: 1 }),
      });
      const copyFailures: string[] = [];
      const box = await DeadLetterBox.open({ dir: spool, store, onObjectCopyFailed: (key) => copyFailures.push(key) });
      const events: ArchiveEvent[] = [];
      const writer = new ArchiveWriter({
        journal,
        store,
        deadLetters: box,
        graceMs: 0,
        now: () => Date.parse('2026-11-23T23:00:00Z'),
        retry: { initialMs: 5, maxMs: 10 },
        onEvent: (e) => events.push(e),
      });

      // Act
      await writer.start();
      await expect.poll(() => journal.backlog('archive').records, { timeout: 10_000 }).toBe(0);
      await writer.stop({ flush: true });

      // Assess: one refusal, parked with its key, LSNs and bytes; the second hour archived.
      const parked = events.find((e) => e.kind === 'dead_lettered') as Extract<ArchiveEvent, { kind: 'dead_lettered' }>;
      expect(parked).toMatchObject({ code: 'ERR_S3_OBJECT_REFUSED', records: 4, lsns: [[1, 4]] });
      expect(parked.key).toContain('dt=2026-11-23/hour=20/');
      const keptIds = gunzipSync(readFileSync(parked.path))
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { exec_id: string }).exec_id);
      expect(keptIds).toEqual([0, 1, 2, 3].map((n) => makeRecord(n).exec_id));
      // Each line: its checksum (8 hex digits), a space, the JSON.
      const listed = readFileSync(box.path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l.slice(9)) as Record<string, unknown>);
      expect(listed).toEqual([
        expect.objectContaining({ sink: 'archive', key: parked.key, ranges: [[1, 4]], file: parked.path }),
      ]);
      expect(writer.status()).toMatchObject({ deadLetters: 1, lastError: { code: 'ERR_S3_OBJECT_REFUSED' } });
      const archivedKeys = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key!);
      expect(archivedKeys.filter((k) => k.includes('hour=21/'))).toHaveLength(1);
      // The store was offered a copy under dead_letters/ too (and, here, refused it: the spool keeps it).
      expect(archivedKeys).toContain(`dead_letters/archive/${parked.key}`);
      expect(copyFailures).toEqual([parked.key]);
      expect(events.filter((e) => e.kind === 'upload_failed')).toHaveLength(0);
      await box.close();
      await journal.close();
    });

    it('still retries an object S3 refuses for a reason that concerns every object (AccessDenied)', async () => {
      // Prepare
      s3.on(PutObjectCommand)
        .rejectsOnce(serviceError(S3ServiceException, 'AccessDenied', 403))
        .resolves({});
      const spool = tempDir();
      const journal = await Journal.open({ dir: join(spool, 'journal') });
      journal.append(makeRecord(1, { transact_time: '2026-11-23T20:10:00.000Z' }));
      await journal.flush();
      const box = await DeadLetterBox.open({ dir: spool });
      const events: ArchiveEvent[] = [];
      const writer = new ArchiveWriter({
        journal,
        store: new S3Store({ bucket: 'b', prefix: '', client: new S3Client({ region: 'us-east-1', maxAttempts: 1 }) }),
        deadLetters: box,
        graceMs: 0,
        now: () => Date.parse('2026-11-23T23:00:00Z'),
        retry: { initialMs: 5, maxMs: 10 },
        onEvent: (e) => events.push(e),
      });

      // Act
      await writer.start();
      await expect.poll(() => journal.backlog('archive').records, { timeout: 10_000 }).toBe(0);
      await writer.stop({ flush: true });

      // Assess
      expect(events.map((e) => e.kind)).toEqual(['upload_failed', 'uploaded']);
      expect((events[0] as Extract<ArchiveEvent, { kind: 'upload_failed' }>).error.code).toBe('ERR_S3_PUT');
      expect(box.count('archive')).toBe(0);
      await box.close();
      await journal.close();
    });
  });

  describe('stop during an S3 outage', () => {
    it(
      'ends its back-off pause, leaves the backlog in the journal without trying S3 again, and the next start archives all of it once',
      { timeout: 20_000 },
      async () => {
        // Prepare: S3 answers 503 to everything; records in two closed hours.
        s3.on(PutObjectCommand).rejects(serviceError(S3ServiceException, 'ServiceUnavailable', 503));
        const journal = await Journal.open({ dir: tempDir() });
        for (let n = 0; n < 40; n++)
          journal.append(
            makeRecord(n, { transact_time: `2026-11-23T${n % 2 === 0 ? '21' : '22'}:00:0${n % 10}.000Z` }),
          );
        await journal.flush();
        const client = new S3Client({ region: 'us-east-1', maxAttempts: 1 });
        const events: ArchiveEvent[] = [];
        // A minute between retries, as late in a long outage: the stop must not wait it out.
        const options = {
          journal,
          store: new S3Store({ bucket: 'b', prefix: '', client }),
          graceMs: 0,
          now: () => Date.parse('2026-11-24T00:00:00Z'),
          retry: { initialMs: 60_000, maxMs: 60_000 },
        };
        const writer = new ArchiveWriter({ ...options, onEvent: (e) => events.push(e) });
        await writer.start();
        await expect.poll(() => events.some((e) => e.kind === 'upload_failed'), { timeout: 10_000 }).toBe(true);
        // Act
        const callsBeforeStop = s3.commandCalls(PutObjectCommand).length;
        await writer.stop({ flush: true });
        const callsAtStop = s3.commandCalls(PutObjectCommand).length;
        s3.reset();
        s3.on(PutObjectCommand).resolves({});
        const next = new ArchiveWriter(options);
        await next.start();
        await expect.poll(() => s3.commandCalls(PutObjectCommand).length, { timeout: 10_000 }).toBe(2);
        await next.stop();
        // Assess: the stop tried no bucket again (at most the write already under way finished); the
        // restart wrote both hours, every record once.
        expect(callsAtStop - callsBeforeStop).toBeLessThanOrEqual(1);
        expect(events.filter((e) => e.kind === 'upload_failed')).toHaveLength(callsAtStop);
        const lines = s3.commandCalls(PutObjectCommand).flatMap((c) =>
          gunzipSync(c.args[0].input.Body as Buffer)
            .toString('utf8')
            .split('\n')
            .filter(Boolean),
        );
        expect(lines.map((l) => (JSON.parse(l) as { exec_id: string }).exec_id).sort()).toEqual(
          Array.from({ length: 40 }, (_, n) => makeRecord(n).exec_id).sort(),
        );
        expect(
          s3
            .commandCalls(PutObjectCommand)
            .map((c) => c.args[0].input.Key)
            .sort(),
        ).toEqual([
          expect.stringContaining('dt=2026-11-23/hour=21/'),
          expect.stringContaining('dt=2026-11-23/hour=22/'),
        ]);
        await journal.close();
      },
    );
  });
});

describe('FillPublisher', () => {
  describe('on SQS throttling', () => {
    it('retries a throttled batch until it lands', async () => {
      // Prepare
      sqs
        .on(SendMessageBatchCommand)
        .rejectsOnce(serviceError(SQSServiceException, 'ThrottlingException', 400))
        .resolves({ Successful: [], Failed: [] });
      const journal = await Journal.open({ dir: tempDir() });
      for (let n = 0; n < 6; n++) journal.append(makeRecord(n * 2));
      await journal.flush();
      const events: FillEvent[] = [];
      const publisher = new FillPublisher({
        journal,
        deadLetters: await DeadLetterBox.open({ dir: tempDir() }),
        queue: mockedSqsQueue(),
        retry: { initialMs: 5, maxMs: 20 },
        onEvent: (e) => events.push(e),
      });
      // Act
      await publisher.start();
      await expect.poll(() => publisher.sent, { timeout: 10_000 }).toBe(6);
      await publisher.stop();
      // Assess
      expect(events[0]).toMatchObject({ kind: 'send_failed', count: 6 });
      expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(2);
      await journal.close();
    });
  });

  describe('on a partial batch failure', () => {
    it('resends the failed entry and the later entries of its group, in order, and nothing else', async () => {
      // Prepare: entries 0..5 alternate BTC/ETH/SOL; the first ETH entry fails once.
      let call = 0;
      sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string; MessageGroupId: string }> }) => {
        call++;
        if (call === 1) {
          const eth = input.Entries.find((e) => e.MessageGroupId === 'ETH-PERP')!;
          return {
            Successful: [],
            Failed: [{ Id: eth.Id, Code: 'InternalError', SenderFault: false, Message: 'try again' }],
          };
        }
        return { Successful: [], Failed: [] };
      });
      const journal = await Journal.open({ dir: tempDir() });
      // makeRecord: even n are fills; symbol cycles by n % 3.
      for (const n of [0, 2, 4, 6, 8, 10]) journal.append(makeRecord(n));
      await journal.flush();
      const publisher = new FillPublisher({
        journal,
        deadLetters: await DeadLetterBox.open({ dir: tempDir() }),
        queue: mockedSqsQueue(),
        retry: { initialMs: 5, maxMs: 5 },
      });
      // Act
      await publisher.start();
      await expect.poll(() => publisher.sent, { timeout: 10_000 }).toBe(6);
      await publisher.stop();
      // Assess
      const batches = sqs
        .commandCalls(SendMessageBatchCommand)
        .map((c) =>
          c.args[0].input.Entries!.map(
            (e) => `${e.MessageGroupId}:${(JSON.parse(e.MessageBody!) as { exec_id: string }).exec_id}`,
          ),
        );
      expect(batches).toHaveLength(2);
      const ethInFirst = batches[0]!.filter((e) => e.startsWith('ETH-PERP'));
      expect(batches[1]).toEqual(ethInFirst);
      expect((await journal.loadCursor<{ through: number }>('fills'))?.through).toBe(6);
      await journal.close();
    });
  });

  describe('recentFills', () => {
    it('lists the last 20 fills the queue took, newest first; a failed entry only once it lands', async () => {
      // Prepare: fills 0, 2, …, 48 (25 of them); the batch holding exec 1048 fails it once.
      let failedOnce = false;
      sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string; MessageBody: string }> }) => {
        const last = input.Entries.find(
          (e) => (JSON.parse(e.MessageBody) as { exec_id: string }).exec_id === '1048;48',
        );
        if (last === undefined || failedOnce) return { Successful: [], Failed: [] };
        failedOnce = true;
        return {
          Successful: [],
          Failed: [{ Id: last.Id, Code: 'InternalError', SenderFault: false, Message: 'again' }],
        };
      });
      const journal = await Journal.open({ dir: tempDir() });
      for (let n = 0; n < 50; n += 2) journal.append(makeRecord(n));
      await journal.flush();
      const publisher = new FillPublisher({
        journal,
        deadLetters: await DeadLetterBox.open({ dir: tempDir() }),
        queue: mockedSqsQueue(),
        retry: { initialMs: 200, maxMs: 200 },
      });
      // Act
      await publisher.start();
      await expect.poll(() => publisher.sent, { timeout: 10_000 }).toBe(24);
      const whileFailed = publisher.recentFills().map((f) => f.execId);
      await expect.poll(() => publisher.sent, { timeout: 10_000 }).toBe(25);
      await publisher.stop();
      // Assess
      expect(whileFailed).not.toContain('1048;48');
      const recent = publisher.recentFills();
      expect(recent).toHaveLength(20);
      expect(recent.map((f) => f.execId)).toEqual(
        [48, 46, 44, 42, 40, 38, 36, 34, 32, 30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10].map((n) => `${1000 + n};${n}`),
      );
      expect(recent[0]).toMatchObject({
        symbol: makeRecord(48).symbol,
        side: '1',
        lastPx: makeRecord(48).last_px,
        lastQty: makeRecord(48).last_qty,
        receivedAt: makeRecord(48).received_at,
        sentAt: expect.any(Number) as unknown,
      });
      await journal.close();
    });
  });

  describe('deduplicationId', () => {
    it('keeps a Kalshi ExecID and hashes one SQS would refuse', () => {
      expect(deduplicationId('1523;88')).toBe('1523;88');
      expect(deduplicationId('x'.repeat(129))).toMatch(/^[0-9a-f]{64}$/);
      expect(deduplicationId('héllo')).toMatch(/^[0-9a-f]{64}$/);
    });
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionReportRecord } from '../../src/core/record.js';
import { DeadLetterBox } from '../../src/pipeline/dead-letters.js';
import { CUT_MARK } from '../../src/pipeline/fill-message.js';
import { FillPublisher, type FillEvent } from '../../src/pipeline/fill-publisher.js';
import { Journal } from '../../src/pipeline/journal.js';
import { SqsQueue } from '../../src/sinks/sqs-queue.js';
import { drainQueue, sqsClient, startAws, type AwsPeer, mockedSqsQueue } from '../helpers/aws.js';
import { makeRecord, tempDir } from '../helpers/records.js';

/** Fills only (makeRecord: even n), BTC, ETH and SOL in turn. */
const fill = (i: number, overrides: Partial<ExecutionReportRecord> = {}) => makeRecord(i * 2, overrides);

async function journalWith(records: ExecutionReportRecord[]): Promise<Journal> {
  const journal = await Journal.open({ dir: tempDir() });
  for (const record of records) journal.append(record);
  await journal.flush();
  return journal;
}

/** The letters in the spool's file: each line its checksum (8 hex digits), a space, the JSON. */
function deadLetterLines(box: DeadLetterBox): Array<Record<string, unknown>> {
  return readFileSync(box.path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l.slice(9)) as Record<string, unknown>);
}

describe('FillPublisher with poison fills', () => {
  describe('against an SQS FIFO queue (fauxqs)', () => {
    let peer: AwsPeer;
    let queueUrl: string;
    beforeAll(async () => {
      peer = await startAws();
    });
    afterAll(async () => {
      await peer.stop();
    });
    beforeEach(async () => {
      queueUrl = await peer.newFifoQueue();
    });

    it('sends a fill too large for the queue without raw and with Text cut, flagged, and the flow goes on', async () => {
      // Prepare: the probe's fill — Text of 180,000 × 0x02 (1 MB as JSON) and a large raw — between
      // ordinary fills of every symbol, including its own.
      const huge = fill(3, { text: '\x02'.repeat(180_000), raw: `8=FIXT.1.1|${'58=x|'.repeat(40_000)}` });
      const records = [fill(0), fill(1), fill(2), huge, fill(4), fill(5), fill(6)];
      const journal = await journalWith(records);
      const box = await DeadLetterBox.open({ dir: tempDir() });
      const events: FillEvent[] = [];
      const publisher = new FillPublisher({
        journal,
        deadLetters: box,
        queue: new SqsQueue({ queueUrl, client: sqsClient(peer.endpoint) }),
        onEvent: (e) => events.push(e),
      });

      // Act
      await publisher.start();
      const messages = await drainQueue(peer.endpoint, queueUrl, records.length);
      await publisher.stop();

      // Assess: every fill once, in order per symbol; the big one shrunk and saying so.
      const bodies = messages.map((m) => JSON.parse(m.Body!) as ExecutionReportRecord);
      expect(bodies.map((b) => b.exec_id).sort()).toEqual(records.map((r) => r.exec_id).sort());
      for (const symbol of ['BTC-PERP', 'ETH-PERP', 'SOL-PERP']) {
        const sent = bodies.filter((b) => b.symbol === symbol).map((b) => b.exec_id);
        expect(sent).toEqual(records.filter((r) => r.symbol === symbol).map((r) => r.exec_id));
      }
      const shrunk = messages.find((m) => m.MessageAttributes?.['exec_id']?.StringValue === huge.exec_id)!;
      expect(shrunk.MessageAttributes?.['shrunk']?.StringValue).toBe('raw,text');
      const body = JSON.parse(shrunk.Body!) as ExecutionReportRecord;
      expect(body.raw).toBeNull();
      expect(body.text).toBe(`${'\x02'.repeat(body.text!.length - CUT_MARK.length)}${CUT_MARK}`);
      expect(body.text!.length).toBeGreaterThan(10_000);
      expect(Object.keys(body)).toEqual(Object.keys(huge));
      expect(events).toContainEqual(expect.objectContaining({ kind: 'shrunk', execId: huge.exec_id }) as unknown);
      expect(box.count('fills')).toBe(0);
      expect((await journal.loadCursor<{ through: number }>('fills'))?.through).toBe(records.length);
      await journal.close();
    });

    it('parks a fill the queue refuses for its content, names it, and never holds its group', async () => {
      // Prepare: U+FFFF is outside what SQS accepts in a message, and JSON leaves it unescaped.
      const poison = fill(1, { text: 'bad \uffff text' });
      const records = [fill(0), poison, fill(2), fill(4), fill(7), fill(10)];
      const journal = await journalWith(records);
      const spool = tempDir();
      const box = await DeadLetterBox.open({ dir: spool });
      const events: FillEvent[] = [];
      const publisher = new FillPublisher({
        journal,
        deadLetters: box,
        queue: new SqsQueue({ queueUrl, client: sqsClient(peer.endpoint) }),
        retry: { initialMs: 5, maxMs: 20 },
        onEvent: (e) => events.push(e),
      });

      // Act
      await publisher.start();
      const messages = await drainQueue(peer.endpoint, queueUrl, records.length - 1);
      await expect.poll(() => box.count('fills')).toBe(1);
      await publisher.stop();

      // Assess: the rest of its group (ETH: fill 4, fill 7, fill 10) went out, in order.
      const sent = messages.map((m) => (JSON.parse(m.Body!) as ExecutionReportRecord).exec_id);
      expect(sent.sort()).toEqual(
        records
          .filter((r) => r !== poison)
          .map((r) => r.exec_id)
          .sort(),
      );
      const eth = messages
        .map((m) => JSON.parse(m.Body!) as ExecutionReportRecord)
        .filter((b) => b.symbol === poison.symbol)
        .map((b) => b.exec_id);
      expect(eth).toEqual([fill(4), fill(7), fill(10)].map((r) => r.exec_id));
      // The letter: durable in the spool, with its code, the queue's reason and the body offered.
      const [letter, ...more] = deadLetterLines(box);
      expect(more).toEqual([]);
      expect(letter).toMatchObject({ sink: 'fills', execId: poison.exec_id, lsn: 2, code: 'ERR_SQS_MESSAGE_REFUSED' });
      expect(letter!['reason']).toMatch(/InvalidMessageContents/);
      expect(JSON.parse(letter!['body'] as string)).toMatchObject({ exec_id: poison.exec_id });
      expect(box.path).toBe(join(spool, 'dead-letters.jsonl'));
      expect(events).toContainEqual(
        expect.objectContaining({
          kind: 'dead_lettered',
          execId: poison.exec_id,
          code: 'ERR_SQS_MESSAGE_REFUSED',
        }) as unknown,
      );
      expect(publisher.status()).toMatchObject({ deadLetters: 1, lastError: { code: 'ERR_SQS_MESSAGE_REFUSED' } });
      expect((await journal.loadCursor<{ through: number }>('fills'))?.through).toBe(records.length);
      await journal.close();

      // And after a restart: the letter is still counted, and nothing is offered again.
      const reopened = await DeadLetterBox.open({ dir: spool });
      expect(reopened.count('fills')).toBe(1);
      await reopened.close();
      await box.close();
    });
  });

  describe('when the queue refuses a whole batch for its content (BatchRequestTooLong)', () => {
    // Mocked only inside this block: the fauxqs tests above use real clients.
    let sqs: ReturnType<typeof mockClient>;
    beforeEach(() => {
      sqs = mockClient(SQSClient);
    });
    afterEach(() => sqs.restore());

    it('sends each fill of that batch alone, parks the one refused alone, and sends the rest', async () => {
      // Prepare: any request holding the poison fill is refused whole, as SQS does for a batch
      // over its size limit; requests without it land.
      const poison = fill(1, { text: 'refused' });
      const records = [fill(0), poison, fill(2), fill(4)];
      const sent: string[][] = [];
      sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string; MessageBody: string }> }) => {
        const ids = input.Entries.map((e) => (JSON.parse(e.MessageBody) as ExecutionReportRecord).exec_id);
        if (ids.includes(poison.exec_id))
          throw Object.assign(new Error('Batch requests cannot be longer than 1048576 bytes.'), {
            name: 'BatchRequestTooLong',
            $fault: 'client',
          });
        sent.push(ids);
        return { Successful: [], Failed: [] };
      });
      const journal = await journalWith(records);
      const box = await DeadLetterBox.open({ dir: tempDir() });
      const publisher = new FillPublisher({
        journal,
        deadLetters: box,
        queue: mockedSqsQueue(),
        retry: { initialMs: 5, maxMs: 5 },
      });

      // Act
      await publisher.start();
      await expect.poll(() => box.count('fills'), { timeout: 10_000 }).toBe(1);
      await expect.poll(() => publisher.sent, { timeout: 10_000 }).toBe(3);
      await publisher.stop();

      // Assess: the first request held all four; after the refusal each went alone.
      expect(sent.flat().sort()).toEqual([fill(0), fill(2), fill(4)].map((r) => r.exec_id).sort());
      expect(sent.every((batch) => batch.length === 1)).toBe(true);
      expect(deadLetterLines(box)).toEqual([
        expect.objectContaining({ execId: poison.exec_id, code: 'ERR_SQS_MESSAGE_REFUSED' }),
      ]);
      expect((await journal.loadCursor<{ through: number }>('fills'))?.through).toBe(4);
      await journal.close();
    });

    it('keeps retrying (and parks nothing) when the refusal is not about the content', async () => {
      // Prepare: throttling and an authorisation failure are the queue's problem, not the fill's.
      let calls = 0;
      sqs.on(SendMessageBatchCommand).callsFake(() => {
        calls++;
        if (calls === 1) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
        if (calls === 2) throw Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
        return { Successful: [], Failed: [] };
      });
      const journal = await journalWith([fill(0), fill(1)]);
      const box = await DeadLetterBox.open({ dir: tempDir() });
      const events: FillEvent[] = [];
      const publisher = new FillPublisher({
        journal,
        deadLetters: box,
        queue: mockedSqsQueue(),
        retry: { initialMs: 5, maxMs: 5 },
        onEvent: (e) => events.push(e),
      });

      // Act
      await publisher.start();
      await expect.poll(() => publisher.sent, { timeout: 10_000 }).toBe(2);
      await publisher.stop();

      // Assess
      expect(box.count('fills')).toBe(0);
      const failures = events.filter((e) => e.kind === 'send_failed');
      expect(failures).toHaveLength(2);
      expect(failures.map((e) => (e as { error: { code: string } }).error.code)).toEqual([
        'ERR_SQS_SEND',
        'ERR_SQS_SEND',
      ]);
      await journal.close();
    });
  });
});

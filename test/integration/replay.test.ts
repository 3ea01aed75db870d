import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayCommand, replayFills } from '../../src/app/replay-command.js';
import type { ExecutionReportRecord } from '../../src/core/record.js';
import { SqsQueue } from '../../src/sinks/sqs-queue.js';
import { drainQueue, sqsClient, startAws, type AwsPeer } from '../helpers/aws.js';
import { makeRecord, tempDir } from '../helpers/records.js';

/** 120 reports (60 fills, three symbols) over hours 09 and 10, in two JSONL objects per hour under `listener=default`. */
function archive(): { root: string; records: ExecutionReportRecord[] } {
  const root = tempDir('archive-');
  const records = Array.from({ length: 120 }, (_, n) =>
    makeRecord(n, {
      transact_time: `2026-11-23T${n < 60 ? '09' : '10'}:${String(n % 60).padStart(2, '0')}:00.000Z`,
    }),
  );
  const write = (hour: string, name: string, slice: ExecutionReportRecord[]) => {
    const dir = join(root, 'exec_reports', `listener=default/dt=2026-11-23/hour=${hour}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), gzipSync(slice.map((r) => `${JSON.stringify(r)}\n`).join('')));
  };
  write('09', '000000000001-000000000030-30.jsonl.gz', records.slice(0, 30));
  write('09', '000000000031-000000000060-60.jsonl.gz', records.slice(30, 60));
  write('10', '000000000061-000000000090-30.jsonl.gz', records.slice(60, 90));
  write('10', '000000000091-000000000120-30.jsonl.gz', records.slice(90));
  return { root, records };
}

describe('replay', () => {
  describe('replayFills, to SQS FIFO (fauxqs)', () => {
    let peer: AwsPeer;
    beforeAll(async () => {
      peer = await startAws();
    });
    afterAll(async () => {
      await peer.stop();
    });

    it('sends every fill of the range once, in order per symbol, as the publisher would; a second replay adds nothing', async () => {
      // Prepare
      const { root, records } = archive();
      const queueUrl = await peer.newFifoQueue();
      const queue = new SqsQueue({ queueUrl, client: sqsClient(peer.endpoint) });
      const range = { from: new Date('2026-11-23T09:10:00Z'), to: new Date('2026-11-23T10:49:59Z') };
      const expected = records.filter((r) => {
        const at = Date.parse(r.transact_time!);
        return r.exec_type === 'F' && at >= range.from.getTime() && at <= range.to.getTime();
      });
      const progress: number[] = [];

      // Act
      const first = await replayFills({
        source: { kind: 'file', dir: root },
        queue,
        ...range,
        onProgress: (done) => progress.push(done),
      });
      const received = await drainQueue(peer.endpoint, queueUrl, expected.length);
      const second = await replayFills({ source: { kind: 'file', dir: root }, queue, ...range });
      const again = await drainQueue(peer.endpoint, queueUrl);

      // Assess
      expect(first).toMatchObject({
        read: 120,
        selected: expected.length,
        sent: expected.length,
        skipped: 0,
        failed: [],
      });
      expect(received.map((m) => m.MessageAttributes!['exec_id']!.StringValue).sort()).toEqual(
        expected.map((r) => r.exec_id).sort(),
      );
      for (const symbol of new Set(expected.map((r) => r.symbol))) {
        const inGroup = received.filter((m) => m.Attributes!['MessageGroupId'] === `default:${symbol}`);
        expect(inGroup.map((m) => m.MessageAttributes!['exec_id']!.StringValue)).toEqual(
          expected.filter((r) => r.symbol === symbol).map((r) => r.exec_id),
        );
      }
      // The same body as the archive line, and the ExecID as the deduplication id.
      const sample = received[0]!;
      const record = expected.find((r) => r.exec_id === sample.MessageAttributes!['exec_id']!.StringValue)!;
      expect(sample.Body).toBe(JSON.stringify(record));
      expect(sample.Attributes!['MessageDeduplicationId']).toBe(record.exec_id);
      expect(sample.MessageAttributes!['listener']!.StringValue).toBe('default');
      expect(first.listener).toBe('default');
      expect(second.sent).toBe(expected.length);
      expect(again).toEqual([]); // deduplicated by the FIFO queue within its window
      expect(progress.at(-1)).toBe(expected.length);
      await queue.close?.();
    });
  });

  describe('replayCommand', () => {
    it('--dry-run counts what it would send for one symbol and sends nothing', async () => {
      // Prepare
      const { root, records } = archive();
      const out: string[] = [];
      const fills = join(tempDir(), 'fills.jsonl');

      // Act
      const code = await replayCommand(
        [
          '--from',
          '2026-11-23T09:00:00Z',
          '--to',
          '2026-11-23T10:59:59Z',
          '--symbol',
          'ETH-PERP',
          '--queue',
          `file://${fills}`,
          '--dry-run',
        ],
        { ARCHIVE_URL: `file://${root}` },
        (t) => out.push(t),
        undefined,
      );

      // Assess
      expect(code).toBe(0);
      expect(JSON.parse(out[0]!)).toMatchObject({
        dryRun: true,
        selected: records.filter((r) => r.exec_type === 'F' && r.symbol === 'ETH-PERP').length,
        sent: 0,
      });
    });

    it('writes to a local fill log, and refuses bad input with exit 2', async () => {
      // Prepare
      const { root, records } = archive();
      const out: string[] = [];
      const fills = join(tempDir(), 'fills.jsonl');

      // Act
      const code = await replayCommand(
        ['--from', '2026-11-23T09:00:00Z', '--to', '2026-11-23T10:59:59Z', '--queue', `file://${fills}`],
        { ARCHIVE_URL: `file://${root}` },
        (t) => out.push(t),
        undefined,
      );
      const bad = replayCommand(['--from', 'yesterday', '--queue', 'ftp://x'], {}, (t) => out.push(t), undefined);

      // Assess
      expect(code).toBe(0);
      const lines = readFileSync(fills, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(records.filter((r) => r.exec_type === 'F').length);
      await expect(bad).rejects.toMatchObject({
        exitCode: 2,
        message: expect.stringMatching(/--from must be an ISO-8601 time.*--to must be an ISO-8601 time/) as unknown,
      });
    });
  });
});

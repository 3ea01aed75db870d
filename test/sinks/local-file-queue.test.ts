import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../src/sinks/types.js';
import { LocalFileQueue } from '../../src/sinks/local-file-queue.js';
import { appendOverLimit } from '../helpers/file-limit.js';
import { tempDir } from '../helpers/records.js';

const message = (execId: string): QueueMessage => ({
  id: execId,
  body: JSON.stringify({ exec_id: execId, exec_type: 'F' }),
  attributes: { exec_id: { type: 'String', value: execId } },
});

// What every FillQueue must do (each fill once, a resend after a restart dropped, order, batch
// limits) is in test/sinks/contract.test.ts; here, what only an append-only file can get wrong.
describe('LocalFileQueue', () => {
  describe('sendBatch', () => {
    it('cuts a last line a crash left without its newline, and writes that fill again whole', async () => {
      // Prepare: a kill in the middle of appending 1;2.
      const path = join(tempDir(), 'fills.jsonl');
      writeFileSync(path, `${message('1;1').body}\n`);
      appendFileSync(path, message('1;2').body.slice(0, 20));

      // Act: the publisher resends from its cursor.
      const queue = new LocalFileQueue(path);
      await queue.sendBatch([message('1;2'), message('1;3')]);
      await queue.close();

      // Assess: every line parses; 1;2 is there once; the cut is named.
      const ids = readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { exec_id: string }).exec_id);
      expect(ids).toEqual(['1;1', '1;2', '1;3']);
      expect(queue.torn).toEqual({ offset: message('1;1').body.length + 1, bytes: 20 });
    });

    it(
      'cuts back a batch the disk refused half-way (a file size limit), and writes it whole at the next send',
      { timeout: 30_000 },
      async () => {
        // Prepare: two fills, well under one block.
        const path = join(tempDir(), 'fills.jsonl');
        const first = new LocalFileQueue(path);
        await first.sendBatch([message('1;1'), message('1;2')]);
        await first.close();
        const size = statSync(path).size;

        // Act: a process limited to one block sends a fill longer than that (written in part, then
        // EFBIG); then the publisher, restarted, sends it again with the next.
        const outcome = await appendOverLimit('fills', path, 1500);
        const sizeAfterFailure = statSync(path).size;
        const second = new LocalFileQueue(path);
        await second.sendBatch([message('over-limit'), message('1;3')]);
        await second.close();

        // Assess: nothing of the refused batch stayed; every line parses, each fill once.
        expect(outcome).toEqual({ ok: false, codes: ['EFBIG'] });
        expect(sizeAfterFailure).toBe(size);
        expect(second.torn).toBeUndefined();
        const ids = readFileSync(path, 'utf8')
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { exec_id: string }).exec_id);
        expect(ids).toEqual(['1;1', '1;2', 'over-limit', '1;3']);
      },
    );
  });
});

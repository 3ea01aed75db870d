import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../src/sinks/types.js';
import { LocalFileQueue } from '../../src/sinks/local-file-queue.js';
import { tempDir } from '../helpers/records.js';

const message = (execId: string): QueueMessage => ({
  id: execId,
  body: JSON.stringify({ exec_id: execId, exec_type: 'F' }),
  attributes: { exec_id: { type: 'String', value: execId } },
});

describe('LocalFileQueue', () => {
  describe('sendBatch', () => {
    it('appends one line per fill and skips a fill already at the end of the file (a resend after a crash)', async () => {
      // Prepare
      const path = join(tempDir(), 'fills.jsonl');
      const first = new LocalFileQueue(path);
      await first.sendBatch([message('1;1'), message('1;2')]);
      await first.close();

      // Act: a new process resends the last fill with the next one.
      const second = new LocalFileQueue(path);
      await second.sendBatch([message('1;2'), message('1;3')]);
      await second.close();

      // Assess
      const ids = readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { exec_id: string }).exec_id);
      expect(ids).toEqual(['1;1', '1;2', '1;3']);
    });

    it('cuts a last line a crash left without its newline, and writes that fill again whole', async () => {
      // Prepare: a kill in the middle of appending 1;2.
      const path = join(tempDir(), 'fills.jsonl');
      writeFileSync(path, `${message('1;1').body}\n`);
      appendFileSync(path, message('1;2').body.slice(0, 20));

      // Act: the publisher resends from its cursor.
      const queue = new LocalFileQueue(path);
      await queue.sendBatch([message('1;2'), message('1;3')]);
      await queue.close();

      // Assess: every line parses; 1;2 is there once.
      const ids = readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { exec_id: string }).exec_id);
      expect(ids).toEqual(['1;1', '1;2', '1;3']);
    });
  });
});

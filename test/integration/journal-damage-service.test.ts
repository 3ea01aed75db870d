import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ListenerService } from '../../src/app/service.js';
import type { JournalDamage } from '../../src/core/status.js';
import { Journal } from '../../src/pipeline/journal.js';
import { LocalFileQueue } from '../../src/sinks/local-file-queue.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { makeRecord, tempDir } from '../helpers/records.js';

describe('ListenerService', () => {
  describe('start on a damaged spool', () => {
    it('reports the damage, records it as a hole naming LSNs and ExecIDs, and shows it on /status', async () => {
      // Prepare: a spool whose journal lost its last records to a flipped byte.
      const spool = tempDir();
      const dir = join(spool, 'journal');
      const journal = await Journal.open({ dir });
      for (let n = 1; n <= 40; n++) journal.append(makeRecord(n));
      await journal.flush();
      await journal.close();
      const segment = join(
        dir,
        readdirSync(dir).find((n) => /^seg-\d+\.log$/.test(n))!,
      );
      const bytes = readFileSync(segment);
      bytes[bytes.length - 300] = bytes[bytes.length - 300]! ^ 0x10;
      writeFileSync(segment, bytes);
      const reported: JournalDamage[] = [];
      const holesLogged: unknown[] = [];

      // Act: start (the exchange is unreachable: the session just retries meanwhile).
      const service = await ListenerService.start({
        fix: {
          host: '127.0.0.1',
          port: 9,
          targetCompId: 'KalshiRT',
          apiKey: randomUUID(),
          privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
          heartbeatS: 30,
          reconnect: { initialMs: 1000, maxMs: 1000 },
        },
        spoolDir: spool,
        store: new LocalFolderStore(join(spool, 'archive')),
        queue: new LocalFileQueue(join(spool, 'fills.jsonl')),
        onJournalDamage: (damage) => reported.push(damage),
        onBackfillEvent: (event) => holesLogged.push(event),
      });
      const status = service.status();
      await service.stop();

      // Assess
      expect(reported).toEqual([expect.objectContaining({ kind: 'corrupt' })]);
      const [first, last] = reported[0]!.lsns!;
      expect(last).toBe(40);
      expect(status.journal.integrity.damage).toEqual(reported);
      expect(reported[0]!.state).toBe('hole');
      expect(status.backfill.holes).toHaveLength(1);
      expect(status.backfill.holes[0]!.reason).toContain(`journal corrupt: LSNs ${first}..40 lost`);
      expect(status.backfill.holes[0]!.reason).toContain(makeRecord(40).exec_id);
      expect(holesLogged).toEqual([expect.objectContaining({ kind: 'hole' })]);
      expect(readFileSync(join(spool, 'holes.jsonl'), 'utf8')).toContain(`LSNs ${first}..40`);
      expect(status.journal.lastLsn).toBe(40);
    });
  });
});

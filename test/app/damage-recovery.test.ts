import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GapMark } from '../../src/app/backfill.js';
import { DamageRecovery } from '../../src/app/damage-recovery.js';
import type { Hole, JournalDamage, SessionStatus } from '../../src/core/status.js';
import { HoleLog } from '../../src/pipeline/hole-log.js';
import { Journal } from '../../src/pipeline/journal.js';
import { makeRecord, tempDir } from '../helpers/records.js';

/**
 * A journal of reports 1..9 whose cursors stand at `through`, with the record at LSN 5 lost to a
 * flipped byte: reopened, it reports one corrupt range naming report 5.
 */
async function damagedJournal(through: number): Promise<{ journal: Journal; dir: string }> {
  const dir = tempDir();
  const first = await Journal.open({ dir, checkEveryMs: 0 });
  for (let n = 1; n <= 9; n++) first.append(makeRecord(n));
  await first.flush();
  await first.loadCursor('fills');
  await first.saveCursor('fills', { through });
  await first.close();
  const [segment] = readdirSync(dir).filter((n) => n.startsWith('seg-'));
  const bytes = readFileSync(join(dir, segment!));
  // Record n starts after the 8-byte file header; the middle of record 5 is past 4 records and a half.
  const line = Buffer.byteLength(JSON.stringify(makeRecord(5))) + 16;
  const at = 8 + 4 * line + Math.floor(line / 2);
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(join(dir, segment!), bytes);
  return { journal: await Journal.open({ dir, checkEveryMs: 0 }), dir };
}

function setUp(
  journal: Journal,
  holes: HoleLog,
  options: { dropCopy?: boolean; replay?: (mark: GapMark) => 'complete' | 'hole' } = {},
) {
  const told: Array<[string, JournalDamage['state']]> = [];
  const recorded: Hole[] = [];
  const requests: GapMark[] = [];
  const recovery = new DamageRecovery({
    journal,
    holes,
    dropCopy: options.dropCopy ?? false,
    backfill: {
      request: (mark) => {
        requests.push(mark);
        return Promise.resolve(options.replay?.(mark) ?? 'complete');
      },
    },
    onDamage: (d) => told.push([d.kind, d.state]),
    onHole: (hole) => recorded.push(hole),
    onFailure: (error) => {
      throw error;
    },
  });
  return { recovery, told, recorded, requests };
}

const active = (nextInbound: number) =>
  ({ state: 'active', recovering: undefined, nextInbound }) as unknown as SessionStatus;

describe('DamageRecovery', () => {
  describe('settle', () => {
    it('delivered → told only: nothing asked for, no hole', async () => {
      // Prepare: every sink had delivered the lost record.
      const { journal, dir } = await damagedJournal(9);
      const { recovery, told, recorded, requests } = setUp(journal, await HoleLog.open(join(dir, 'holes.jsonl')));
      // Act
      await recovery.settle(undefined);
      // Assess
      expect(told).toEqual([['corrupt', 'delivered']]);
      expect([recorded, requests]).toEqual([[], []]);
      await journal.close();
    });

    it('without a resend or a drop copy → hole, over the time its neighbours were received', async () => {
      // Prepare
      const { journal, dir } = await damagedJournal(2);
      const { recovery, told, recorded } = setUp(journal, await HoleLog.open(join(dir, 'holes.jsonl')));
      // Act
      await recovery.settle(undefined);
      // Assess
      expect(told).toEqual([['corrupt', 'hole']]);
      expect(recorded).toHaveLength(1);
      expect(recorded[0]).toMatchObject({
        lastGoodExecId: makeRecord(4).exec_id,
        from: makeRecord(4).received_at,
        to: makeRecord(6).received_at,
        reason: expect.stringContaining(makeRecord(5).exec_id) as unknown,
      });
      await journal.close();
    });

    it('with a drop copy → recovering, then recovered once the replay brought every lost id back', async () => {
      // Prepare: the replay journals report 5 again.
      const { journal, dir } = await damagedJournal(2);
      const { recovery, told, requests } = setUp(journal, await HoleLog.open(join(dir, 'holes.jsonl')), {
        dropCopy: true,
        replay: () => {
          journal.append({ ...makeRecord(5), source: 'backfill' });
          return 'complete';
        },
      });
      // Act
      await recovery.settle(undefined);
      await expect.poll(() => told.length).toBe(2);
      // Assess
      expect(told).toEqual([
        ['corrupt', 'recovering'],
        ['corrupt', 'recovered'],
      ]);
      expect(requests[0]).toMatchObject({
        lastGoodExecId: makeRecord(4).exec_id,
        since: Date.parse(makeRecord(4).received_at),
      });
      await journal.close();
    });

    it('with a drop copy that lacks a lost id → recovering, then hole naming it', async () => {
      // Prepare: the replay completes without report 5.
      const { journal, dir } = await damagedJournal(2);
      const { recovery, told, recorded } = setUp(journal, await HoleLog.open(join(dir, 'holes.jsonl')), {
        dropCopy: true,
      });
      // Act
      await recovery.settle(undefined);
      await expect.poll(() => told.length).toBe(2);
      // Assess
      expect(told).toEqual([
        ['corrupt', 'recovering'],
        ['corrupt', 'hole'],
      ]);
      expect(recorded[0]!.reason).toContain(makeRecord(5).exec_id);
      await journal.close();
    });
  });

  describe('onSessionEvent', () => {
    it('recovering → recovered once the resumed session is past the target and the resend brought the id back', async () => {
      // Prepare: on KalshiRT the session resumed before the range (target: MsgSeqNum 9).
      const { journal, dir } = await damagedJournal(2);
      const { recovery, told } = setUp(journal, await HoleLog.open(join(dir, 'holes.jsonl')));
      await recovery.settle(9);
      // Act: not past the target yet, then the resend journals report 5 and the session moves on.
      recovery.onSessionEvent({ kind: 'logon', reset: false } as never, active(8));
      const before = [...told];
      journal.append({ ...makeRecord(5), source: 'resend' });
      recovery.onSessionEvent({ kind: 'heartbeat' } as never, active(11));
      // Assess
      expect(before).toEqual([['corrupt', 'recovering']]);
      expect(told).toEqual([
        ['corrupt', 'recovering'],
        ['corrupt', 'recovered'],
      ]);
      await journal.close();
    });

    it('recovering → hole when the logon reset the sequence numbers (no resend is coming) and there is no drop copy', async () => {
      // Prepare
      const { journal, dir } = await damagedJournal(2);
      const { recovery, told, recorded } = setUp(journal, await HoleLog.open(join(dir, 'holes.jsonl')));
      await recovery.settle(9);
      // Act
      recovery.onSessionEvent({ kind: 'logon', reset: true } as never, active(2));
      await expect.poll(() => recorded.length).toBe(1);
      // Assess
      expect(told).toEqual([
        ['corrupt', 'recovering'],
        ['corrupt', 'hole'],
      ]);
      await journal.close();
    });
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checksum } from '../../src/core/slot-pair.js';
import { parseLsnBase } from '../../src/pipeline/segment-format.js';
import { SegmentLog } from '../../src/pipeline/segment-log.js';
import { recoverSegments } from '../../src/pipeline/segment-recovery.js';
import { makeRecord, tempDir } from '../helpers/records.js';

/** A closed log in a new folder: records 1..5, one per segment, segments 1..3 deleted (lsn-base says so). */
async function spoolWithLsnBase(): Promise<string> {
  const dir = tempDir();
  const log = await SegmentLog.open({ dir, floor: 0, segmentBytes: 1 });
  for (let n = 1; n <= 5; n++) log.append(JSON.stringify(makeRecord(n)));
  await log.flush();
  await log.deleteThrough(3);
  await log.close();
  return dir;
}

const recover = (dir: string) =>
  recoverSegments({ dir, floor: 0, keptAbove: undefined, now: 1, onRecovered: undefined });

describe('recoverSegments, lsn-base', () => {
  it('reports an lsn-base in the unreleased format 1 (a bare LSN) as damaged, and takes nothing from it', async () => {
    // Prepare: a bare LSN past every record, as format 1 wrote it.
    const dir = await spoolWithLsnBase();
    writeFileSync(join(dir, 'lsn-base'), '9');

    // Act
    const found = await recover(dir);

    // Assess: the report a damaged lsn-base gets; its 9 neither raises numbering nor names LSNs 6..9 missing.
    expect(found.lsnBaseProblem).toMatchObject({
      code: 'ERR_JOURNAL_CORRUPT',
      message: 'lsn-base is damaged ("9"); rewritten from the segments and cursors',
    });
    expect(found.damage).toEqual([]);
    expect([found.deletedThrough, found.lastLsn]).toEqual([3, 5]);
  });

  it('reports a current lsn-base with a changed byte the same way', async () => {
    // Prepare
    const dir = await spoolWithLsnBase();
    const path = join(dir, 'lsn-base');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"deletedThrough":3', '"deletedThrough":2'));

    // Act
    const found = await recover(dir);

    // Assess
    expect(found.lsnBaseProblem).toMatchObject({
      code: 'ERR_JOURNAL_CORRUPT',
      message: expect.stringMatching(/^lsn-base is damaged \("kfl-lsn-base 2 /) as unknown,
    });
    expect([found.deletedThrough, found.lastLsn]).toEqual([3, 5]);
  });
});

describe('parseLsnBase', () => {
  it('reads only the checksummed format', () => {
    // Prepare
    const body = JSON.stringify({ lsn: 7, deletedThrough: 4, vacant: [[5, 5]] });
    const line = `kfl-lsn-base 2 ${checksum(body)} ${body}\n`;

    // Act / Assess
    expect(parseLsnBase(line)).toEqual({ lsn: 7, deletedThrough: 4, vacant: [[5, 5]] });
    for (const other of ['7', '7\n', ' 7', `kfl-lsn-base 1 ${checksum('7')} 7\n`])
      expect(parseLsnBase(other)).toBeUndefined();
  });
});

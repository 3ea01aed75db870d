import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeLine } from '../../src/core/checked-lines.js';
import type { Hole } from '../../src/core/status.js';
import { HoleLog } from '../../src/pipeline/hole-log.js';
import { appendOverLimit } from '../helpers/file-limit.js';
import { tempDir } from '../helpers/records.js';

const hole = (n: number): Hole => ({
  lastGoodExecId: `${1000 + n};${n}`,
  from: `2026-11-23T10:0${n % 10}:00.000Z`,
  to: `2026-11-23T10:0${n % 10}:30.000Z`,
  reason: `journal LSNs ${n}..${n + 2} lost (test ${n})`,
  recordedAt: '2026-11-23T10:10:00.000Z',
});

/** A log of `count` holes written by the service, and the byte offset each line starts at. */
async function logOf(count: number): Promise<{ path: string; offsets: number[] }> {
  const path = join(tempDir(), 'holes.jsonl');
  const log = await HoleLog.open(path);
  const offsets: number[] = [];
  for (let n = 0; n < count; n++) {
    offsets.push(existsSync(path) ? statSync(path).size : 0);
    await log.record(hole(n));
  }
  await log.close();
  return { path, offsets };
}

function flipByte(path: string, offset: number): void {
  const data = readFileSync(path);
  data[offset] = data[offset]! ^ 0x04;
  writeFileSync(path, data);
}

describe('HoleLog', () => {
  describe('a torn line', () => {
    it('cuts a hole line a crash tore, reports it with its offset, and the next hole survives', async () => {
      // Prepare: two holes, then a kill in the middle of writing the third (only the primary had begun).
      const { path } = await logOf(2);
      const end = statSync(path).size;
      appendFileSync(path, encodeLine(JSON.stringify(hole(2))).subarray(0, 40));

      // Act
      const reopened = await HoleLog.open(path);
      await reopened.record(hole(3));
      await reopened.close();
      const again = await HoleLog.open(path);

      // Assess: the torn bytes reported (offset, size) and kept aside; the next hole read back whole.
      expect(reopened.damage).toEqual([
        { file: path, offset: end, bytes: 40, reason: 'torn_tail', recovered: false, keptAt: `${path}.damaged-${end}` },
      ]);
      expect(reopened.failure?.code).toBe('ERR_SPOOL_LINE_DAMAGED');
      expect(readFileSync(`${path}.damaged-${end}`)).toEqual(encodeLine(JSON.stringify(hole(2))).subarray(0, 40));
      expect(again.holes).toEqual([hole(0), hole(1), hole(3)]);
      expect(again.damage).toEqual([]);
      expect(readFileSync(`${path}.mirror`)).toEqual(readFileSync(path));
    });

    it(
      'cuts back an append the disk refused half-way (a file size limit), and the next hole survives',
      { timeout: 30_000 },
      async () => {
        // Prepare: a log well under one block; a hole line longer than the block, so the kernel
        // writes part of it and refuses the rest (EFBIG) in a process limited to one block.
        const { path } = await logOf(2);
        const before = readFileSync(path);

        // Act
        const outcome = await appendOverLimit('holes', path, 1500);
        const sizeAfterFailure = statSync(path).size;
        const reopened = await HoleLog.open(path);
        await reopened.record(hole(3));
        await reopened.close();
        const again = await HoleLog.open(path);

        // Assess: refused, cut back to the last whole line; nothing to report; the next hole whole.
        expect(outcome).toEqual({ ok: false, codes: ['EFBIG'] });
        expect(sizeAfterFailure).toBe(before.length);
        expect(reopened.damage).toEqual([]);
        expect(again.holes).toEqual([hole(0), hole(1), hole(3)]);
        expect(readFileSync(`${path}.mirror`)).toEqual(readFileSync(path));
      },
    );
  });

  describe('a damaged line', () => {
    it('reads a hole whose line has a flipped byte from the mirror, and reports the damaged copy with its offset', async () => {
      // Prepare
      const { path, offsets } = await logOf(4);
      flipByte(path, offsets[2]! + 30);

      // Act
      const reopened = await HoleLog.open(path);

      // Assess: every hole there; the damage named (copy, offset, length) as recovered; repaired.
      expect(reopened.holes).toEqual([0, 1, 2, 3].map(hole));
      expect(reopened.damage).toEqual([
        { file: path, offset: offsets[2], bytes: offsets[3]! - offsets[2]!, reason: 'checksum', recovered: true },
      ]);
      expect(reopened.failure?.code).toBe('ERR_SPOOL_LINE_REPAIRED');
      expect(readFileSync(path)).toEqual(readFileSync(`${path}.mirror`));
      expect((await HoleLog.open(path)).damage).toEqual([]);
    });

    it('reports a line damaged in both copies with its offset, keeps the other holes, and the line stays in the file', async () => {
      // Prepare: the same byte flipped in both copies (nothing holds that hole good any more).
      const { path, offsets } = await logOf(4);
      flipByte(path, offsets[1]! + 30);
      flipByte(`${path}.mirror`, offsets[1]! + 30);
      const damaged = readFileSync(path);

      // Act
      const reopened = await HoleLog.open(path);
      const readBack = [...reopened.holes];
      await reopened.record(hole(4));
      await reopened.close();
      const again = await HoleLog.open(path);

      // Assess
      expect(readBack).toEqual([hole(0), hole(2), hole(3)]);
      expect(reopened.damage).toEqual([
        { file: path, offset: offsets[1], bytes: offsets[2]! - offsets[1]!, reason: 'checksum', recovered: false },
      ]);
      expect(reopened.failure).toMatchObject({ code: 'ERR_SPOOL_LINE_DAMAGED', details: { path } });
      expect(reopened.failure?.message).toContain(`at byte ${offsets[1]}`);
      expect(readFileSync(path).subarray(0, damaged.length)).toEqual(damaged);
      // Still reported at every start (it is still there), and the later hole read back.
      expect(again.holes).toEqual([hole(0), hole(2), hole(3), hole(4)]);
      expect(again.damage).toHaveLength(1);
    });
  });

  describe('a missing copy', () => {
    it.each(['holes.jsonl', 'holes.jsonl.mirror'])('restores a deleted %s from the other copy', async (name) => {
      // Prepare
      const { path } = await logOf(3);
      const whole = readFileSync(path);
      rmSync(join(path, '..', name));

      // Act
      const reopened = await HoleLog.open(path);

      // Assess
      expect(reopened.holes).toEqual([0, 1, 2].map(hole));
      expect(reopened.damage).toEqual([
        { file: join(path, '..', name), offset: 0, bytes: whole.length, reason: 'missing', recovered: true },
      ]);
      expect(readFileSync(path)).toEqual(whole);
      expect(readFileSync(`${path}.mirror`)).toEqual(whole);
    });
  });

  describe('a copy that cannot be read or repaired', () => {
    it('opens with the holes of the other copy, and makes the repair before the next hole', async () => {
      // Prepare: a directory where the mirror should be (it can be neither read nor replaced).
      const { path } = await logOf(2);
      const whole = readFileSync(path);
      rmSync(`${path}.mirror`);
      mkdirSync(`${path}.mirror`);

      // Act
      const opened = await HoleLog.open(path);
      const refused = await opened.record(hole(2)).catch((error: unknown) => error);
      rmSync(`${path}.mirror`, { recursive: true });
      await opened.record(hole(3));
      await opened.close();
      const again = await HoleLog.open(path);

      // Assess: nothing lost, the copy named; the hole refused while the copies could not be made
      // alike, taken once they could.
      expect(opened.holes).toEqual([hole(0), hole(1), hole(3)]);
      expect(opened.damage).toEqual([
        { file: `${path}.mirror`, offset: 0, bytes: whole.length, reason: 'unreadable', recovered: true },
      ]);
      expect(refused).toMatchObject({ code: 'EISDIR' });
      expect(again.holes).toEqual([hole(0), hole(1), hole(3)]);
      expect(again.damage).toEqual([]);
      expect(readFileSync(`${path}.mirror`)).toEqual(readFileSync(path));
    });
  });

  describe('a log in an unreleased format (plain JSON lines, one copy)', () => {
    it('reports its lines as damaged and keeps them in the file, never read as holes or dropped', async () => {
      // Prepare: holes.jsonl with lines that carry no checksum, and no mirror.
      const path = join(tempDir(), 'holes.jsonl');
      const plain = `${JSON.stringify(hole(0))}\n${JSON.stringify(hole(1))}\n`;
      writeFileSync(path, plain);

      // Act
      const opened = await HoleLog.open(path);
      await opened.record(hole(2));
      await opened.close();
      const again = await HoleLog.open(path);

      // Assess: one stretch neither copy holds good, at every start while it is there; the next
      // hole is recorded after it as usual.
      const damage = [{ file: path, offset: 0, bytes: plain.length, reason: 'unparsable', recovered: false }];
      expect(opened.holes).toEqual([hole(2)]);
      expect(opened.damage).toEqual(damage);
      expect(opened.failure).toMatchObject({ code: 'ERR_SPOOL_LINE_DAMAGED', details: { path, damage } });
      expect(again.holes).toEqual([hole(2)]);
      expect(again.damage).toEqual(damage);
      expect(readFileSync(path, 'utf8')).toBe(`${plain}${encodeLine(JSON.stringify(hole(2))).toString('utf8')}`);
      expect(readFileSync(`${path}.mirror`)).toEqual(readFileSync(path));
    });
  });
});

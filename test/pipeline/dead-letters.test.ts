import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeLine } from '../../src/core/checked-lines.js';
import { DeadLetterBox, type DeadLetter } from '../../src/pipeline/dead-letters.js';
import { tempDir } from '../helpers/records.js';

const letter = (n: number, sink = 'fills'): DeadLetter => ({
  sink,
  lsn: n,
  execId: `${1000 + n};${n}`,
  code: 'ERR_SQS_MESSAGE_REFUSED',
  reason: `InvalidMessageContents (test ${n})`,
  body: JSON.stringify({ exec_id: `${1000 + n};${n}`, text: 'é\n"' }),
});

/** The letters in a copy: each line its checksum (8 hex digits), a space, the JSON. */
const lettersIn = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l.slice(9)) as { execId: string }).execId);

describe('DeadLetterBox', () => {
  it('counts a letter whose line is damaged from the mirror, and reports the damaged copy with its offset', async () => {
    // Prepare: three letters; a byte of the second flipped in the file.
    const dir = tempDir();
    const box = await DeadLetterBox.open({ dir });
    const offsets: number[] = [];
    for (const n of [1, 2, 3]) {
      offsets.push(n === 1 ? 0 : statSync(box.path).size);
      await box.park(letter(n, n === 3 ? 'archive' : 'fills'));
    }
    await box.close();
    const data = readFileSync(box.path);
    data[offsets[1]! + 20] = data[offsets[1]! + 20]! ^ 0x01;
    writeFileSync(box.path, data);

    // Act
    const reopened = await DeadLetterBox.open({ dir });
    await reopened.close();

    // Assess
    expect([reopened.count('fills'), reopened.count('archive')]).toEqual([2, 1]);
    expect(reopened.damage).toEqual([
      { file: box.path, offset: offsets[1], bytes: offsets[2]! - offsets[1]!, reason: 'checksum', recovered: true },
    ]);
    expect(reopened.failure?.code).toBe('ERR_SPOOL_LINE_REPAIRED');
    expect(lettersIn(box.path)).toEqual(['1001;1', '1002;2', '1003;3']);
  });

  it('keeps the next letter readable after a crash tore one', async () => {
    // Prepare: a kill in the middle of parking letter 2 (its line half in the file, not in the mirror).
    const dir = tempDir();
    const box = await DeadLetterBox.open({ dir });
    await box.park(letter(1));
    await box.close();
    const end = statSync(box.path).size;
    appendFileSync(box.path, encodeLine(JSON.stringify(letter(2))).subarray(0, 50));

    // Act: the publisher parks it again after the restart, then another.
    const reopened = await DeadLetterBox.open({ dir });
    await reopened.park(letter(2));
    await reopened.park(letter(3));
    await reopened.close();
    const again = await DeadLetterBox.open({ dir });
    await again.close();

    // Assess
    expect(reopened.damage).toEqual([
      {
        file: box.path,
        offset: end,
        bytes: 50,
        reason: 'torn_tail',
        recovered: false,
        keptAt: `${box.path}.damaged-${end}`,
      },
    ]);
    expect(again.count('fills')).toBe(3);
    expect(again.damage).toEqual([]);
    expect(lettersIn(box.path)).toEqual(['1001;1', '1002;2', '1003;3']);
    expect(lettersIn(`${box.path}.mirror`)).toEqual(['1001;1', '1002;2', '1003;3']);
  });

  it('reports a file of plain JSON lines in one copy (an unreleased format) as damaged, counting none of it', async () => {
    // Prepare: two letters as lines without a checksum, and no mirror.
    const dir = tempDir();
    const path = join(dir, 'dead-letters.jsonl');
    const plain = [1, 2].map((n) => `${JSON.stringify({ at: '2026-11-23T10:00:00.000Z', ...letter(n) })}\n`).join('');
    writeFileSync(path, plain);

    // Act
    const box = await DeadLetterBox.open({ dir });
    await box.close();

    // Assess: the stretch reported with its offset and kept in both copies, for a person to read.
    const damage = [{ file: path, offset: 0, bytes: Buffer.byteLength(plain), reason: 'unparsable', recovered: false }];
    expect(box.count('fills')).toBe(0);
    expect(box.damage).toEqual(damage);
    expect(box.failure).toMatchObject({ code: 'ERR_SPOOL_LINE_DAMAGED', details: { path, damage } });
    expect(readFileSync(path, 'utf8')).toBe(plain);
    expect(readFileSync(`${path}.mirror`, 'utf8')).toBe(plain);
  });
});

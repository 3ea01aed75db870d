import { mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CursorStore, type CursorState } from '../../src/pipeline/cursor-store.js';
import { tempDir } from '../helpers/records.js';

interface ArchiveCursor extends CursorState {
  uploaded?: Array<[number, number]>;
  intent?: { ranges: Array<[number, number]> };
  note?: string;
}

const primaryOf = (dir: string, sink: string) => join(dir, `cursor-${sink}.json`);
const mirrorOf = (dir: string, sink: string) => join(dir, `cursor-${sink}.json.mirror`);

/** A store in `dir` after saving each state in turn for `sink`. */
async function savedStore(dir: string, sink: string, states: CursorState[]): Promise<CursorStore> {
  const store = await CursorStore.open(dir);
  for (const state of states) expect(await store.save(sink, state)).toBe(true);
  return store;
}

/** The parts of a cursor line: `kfl-cursor 3 <crc32 hex> <generation> <size> <json>\n`, padded to `size`. */
function parseLine(text: string): { crc: string; body: string; generation: number; json: string } {
  const match = /^kfl-cursor 3 ([0-9a-f]{8}) ((\d+) \d+ (.*))\n *$/.exec(text);
  if (match === null) throw new Error(`not a cursor line: ${JSON.stringify(text)}`);
  return { crc: match[1]!, body: match[2]!, generation: Number(match[3]), json: match[4]! };
}

describe('CursorStore', () => {
  describe('save', () => {
    it('writes both copies, each a checksummed line with its generation and the state', async () => {
      // Prepare
      const dir = tempDir();
      const store = await CursorStore.open(dir);
      // Act
      const saved = await store.save('fills', { through: 17 });
      // Assess
      expect(saved).toBe(true);
      const primary = readFileSync(primaryOf(dir, 'fills'), 'utf8');
      expect(readFileSync(mirrorOf(dir, 'fills'), 'utf8')).toBe(primary);
      const line = parseLine(primary);
      expect(line.crc).toBe(crc32(line.body).toString(16).padStart(8, '0'));
      expect(line.generation).toBe(1);
      expect(JSON.parse(line.json)).toEqual({ through: 17 });
      expect(store.failure).toBeUndefined();
    });

    it('numbers each save with the next generation, across a reopen', async () => {
      // Prepare
      const dir = tempDir();
      await savedStore(dir, 'fills', [{ through: 1 }, { through: 2 }]);
      const reopened = await CursorStore.open(dir);
      // Act
      await reopened.save('fills', { through: 3 });
      // Assess
      expect(parseLine(readFileSync(primaryOf(dir, 'fills'), 'utf8')).generation).toBe(3);
      expect(parseLine(readFileSync(mirrorOf(dir, 'fills'), 'utf8')).generation).toBe(3);
    });

    it('returns false and sets failure when the write fails, keeping the state last written', async () => {
      // Prepare: a saved cursor, then the directory removed under the store.
      const dir = tempDir();
      const store = await savedStore(dir, 'archive', [{ through: 5 }]);
      rmSync(dir, { recursive: true });
      // Act
      const saved = await store.save('archive', { through: 9 });
      // Assess
      expect(saved).toBe(false);
      expect(store.failure).toMatchObject({
        code: 'ERR_JOURNAL_CURSOR',
        details: { path: primaryOf(dir, 'archive') },
        cause: { code: 'ENOENT' },
      });
      expect(store.load('archive')).toEqual({ through: 5 });
      expect(store.floor()).toBe(5); // segments are deleted only below what is on disk
    });

    it('clears failure with the next save that lands, which takes the next generation', async () => {
      // Prepare: one save landed (generation 1), one refused.
      const dir = tempDir();
      const store = await savedStore(dir, 'archive', [{ through: 5 }]);
      rmSync(dir, { recursive: true });
      await store.save('archive', { through: 9 });
      mkdirSync(dir);
      // Act
      const saved = await store.save('archive', { through: 12 });
      // Assess
      expect(saved).toBe(true);
      expect(store.failure).toBeUndefined();
      expect(store.load('archive')).toEqual({ through: 12 });
      expect(parseLine(readFileSync(primaryOf(dir, 'archive'), 'utf8')).generation).toBe(2);
      expect((await CursorStore.open(dir)).load('archive')).toEqual({ through: 12 });
    });

    it('keeps a copy of the state, not the object the sink goes on changing', async () => {
      // Prepare
      const store = await CursorStore.open(tempDir());
      const state: ArchiveCursor = { through: 4, uploaded: [[1, 4]] };
      await store.save('archive', state);
      // Act
      state.through = 99;
      state.uploaded!.push([5, 99]);
      // Assess
      expect(store.load('archive')).toEqual({ through: 4, uploaded: [[1, 4]] });
      expect(store.floor()).toBe(4);
    });
  });

  describe('open and load', () => {
    it('loads the last saved state of each sink, and nothing for a sink never saved', async () => {
      // Prepare
      const dir = tempDir();
      const store = await savedStore(dir, 'archive', [{ through: 3 }, { through: 8 }]);
      await store.save('fills', { through: 6 });
      writeFileSync(join(dir, 'cursor-fills.json.tmp-123'), 'left by a crash mid-write');
      // Act
      const reopened = await CursorStore.open(dir);
      // Assess
      expect(reopened.load('archive')).toEqual({ through: 8 });
      expect(reopened.load('fills')).toEqual({ through: 6 });
      expect(reopened.load('other')).toBeUndefined();
      expect(reopened.damage).toEqual([]);
    });

    it('takes the copy with the higher generation when a crash came between the two writes', async () => {
      // Prepare: the mirror left at generation 2 while the primary reached generation 3.
      const dir = tempDir();
      await savedStore(dir, 'fills', [{ through: 1 }, { through: 2 }]);
      const olderMirror = readFileSync(mirrorOf(dir, 'fills'));
      await (await CursorStore.open(dir)).save('fills', { through: 3 });
      writeFileSync(mirrorOf(dir, 'fills'), olderMirror);
      // Act
      const store = await CursorStore.open(dir);
      // Assess
      expect(store.load('fills')).toEqual({ through: 3 });
      expect(store.damage).toEqual([]);
    });

    it('takes the mirror when it is the newer copy', async () => {
      // Prepare: the copies swapped, so the mirror holds generation 2 and the primary generation 1.
      const dir = tempDir();
      await savedStore(dir, 'fills', [{ through: 1 }]);
      const first = readFileSync(primaryOf(dir, 'fills'));
      await (await CursorStore.open(dir)).save('fills', { through: 2 });
      writeFileSync(primaryOf(dir, 'fills'), first);
      // Act
      const store = await CursorStore.open(dir);
      // Assess
      expect(store.load('fills')).toEqual({ through: 2 });
    });

    it('resumes from the mirror when the primary is damaged, and reports it', async () => {
      // Prepare
      const dir = tempDir();
      await savedStore(dir, 'fills', [{ through: 10 }, { through: 20 }]);
      const bytes = readFileSync(primaryOf(dir, 'fills'));
      bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x01;
      writeFileSync(primaryOf(dir, 'fills'), bytes);
      // Act
      const store = await CursorStore.open(dir);
      // Assess
      expect(store.load('fills')).toEqual({ through: 20 });
      expect(store.damage).toEqual([
        {
          kind: 'cursor',
          segment: 'cursor-fills.json',
          offset: 0,
          lsns: null,
          note: expect.stringMatching(/^damaged; .*fills.*other copy.*through LSN 20/) as unknown,
        },
      ]);
    });

    it('resumes from the primary when the mirror is missing after a second save, and reports it', async () => {
      // Prepare
      const dir = tempDir();
      await savedStore(dir, 'fills', [{ through: 10 }, { through: 20 }]);
      rmSync(mirrorOf(dir, 'fills'));
      // Act
      const store = await CursorStore.open(dir);
      // Assess
      expect(store.load('fills')).toEqual({ through: 20 });
      expect(store.damage).toEqual([
        expect.objectContaining({
          kind: 'cursor',
          segment: 'cursor-fills.json.mirror',
          note: expect.stringMatching(/^missing; .*through LSN 20/) as unknown,
        }),
      ]);
    });

    it('reports no damage for a mirror missing after the first save (a crash between the two writes)', async () => {
      // Prepare
      const dir = tempDir();
      await savedStore(dir, 'fills', [{ through: 10 }]);
      rmSync(mirrorOf(dir, 'fills'));
      // Act
      const store = await CursorStore.open(dir);
      // Assess
      expect(store.load('fills')).toEqual({ through: 10 });
      expect(store.damage).toEqual([]);
    });

    it('resumes from the mirror when the primary is missing, and reports it', async () => {
      // Prepare
      const dir = tempDir();
      await savedStore(dir, 'archive', [{ through: 7 }]);
      rmSync(primaryOf(dir, 'archive'));
      // Act
      const store = await CursorStore.open(dir);
      // Assess
      expect(store.load('archive')).toEqual({ through: 7 });
      expect(store.damage).toEqual([
        expect.objectContaining({
          kind: 'cursor',
          segment: 'cursor-archive.json',
          note: expect.stringMatching(/^missing; /) as unknown,
        }),
      ]);
    });

    it('loads nothing when both copies are damaged, and says the sink starts from the oldest record', async () => {
      // Prepare
      const dir = tempDir();
      await savedStore(dir, 'fills', [{ through: 10 }, { through: 20 }]);
      truncateSync(primaryOf(dir, 'fills'), 10);
      writeFileSync(mirrorOf(dir, 'fills'), 'not a cursor');
      // Act
      const store = await CursorStore.open(dir);
      // Assess
      expect(store.load('fills')).toBeUndefined();
      expect(store.floor()).toBe(0);
      expect(store.damage.map((d) => d.segment)).toEqual(['cursor-fills.json', 'cursor-fills.json.mirror']);
      for (const d of store.damage) expect(d.note).toMatch(/^damaged and no good copy is left/);
    });

    it('reports cursors in the unreleased earlier formats (plain JSON, kfl-cursor 2) as damaged, never taken', async () => {
      // Prepare: the archive cursor as plain JSON, the fills cursor as a whole-file `kfl-cursor 2` line.
      const dir = tempDir();
      writeFileSync(primaryOf(dir, 'archive'), JSON.stringify({ through: 42, uploaded: [[1, 42]] }));
      const body = '3 {"through":42}';
      const v2 = `kfl-cursor 2 ${crc32(body).toString(16).padStart(8, '0')} ${body}\n`;
      writeFileSync(primaryOf(dir, 'fills'), v2);
      writeFileSync(mirrorOf(dir, 'fills'), v2);
      // Act
      const store = await CursorStore.open(dir);
      // Assess: nothing loaded; each file named as damaged, the sink starting from the oldest record.
      expect(store.load('archive')).toBeUndefined();
      expect(store.load('fills')).toBeUndefined();
      expect(store.floor()).toBe(0);
      expect(store.damage.map((d) => [d.kind, d.segment])).toEqual([
        ['cursor', 'cursor-archive.json'],
        ['cursor', 'cursor-fills.json'],
        ['cursor', 'cursor-fills.json.mirror'],
      ]);
      for (const d of store.damage) expect(d.note).toMatch(/^damaged and no good copy is left/);
    });

    it('reports a cursor whose state has no valid through as damaged', async () => {
      // Prepare: a well-formed copy with a good checksum and size, but a negative LSN.
      const dir = tempDir();
      const signed = '1 512 {"through":-1}';
      const line = `kfl-cursor 3 ${crc32(signed).toString(16).padStart(8, '0')} ${signed}\n`;
      const copy = Buffer.alloc(512, ' ');
      copy.write(line);
      writeFileSync(primaryOf(dir, 'fills'), copy);
      writeFileSync(mirrorOf(dir, 'fills'), copy);
      // Act
      const store = await CursorStore.open(dir);
      // Assess
      expect(store.load('fills')).toBeUndefined();
      expect(store.damage).toHaveLength(2);
    });
  });

  describe('floor', () => {
    it('is 0 with no cursor', async () => {
      // Prepare
      const store = await CursorStore.open(tempDir());
      // Act
      const floor = store.floor();
      // Assess
      expect(floor).toBe(0);
    });

    it('is the highest through of all sinks', async () => {
      // Prepare
      const store = await CursorStore.open(tempDir());
      await store.save('archive', { through: 31 });
      await store.save('fills', { through: 17 });
      // Act
      const floor = store.floor();
      // Assess
      expect(floor).toBe(31);
    });

    it('counts the ends of uploaded ranges and of the intent, and ignores malformed ranges', async () => {
      // Prepare: three sinks, each whose highest LSN comes from a different place.
      const dir = tempDir();
      const store = await CursorStore.open(dir);
      await store.save('a', {
        through: 5,
        uploaded: [
          [1, 5],
          [9, 23],
        ],
      } as ArchiveCursor);
      await store.save('b', { through: 2, intent: { ranges: [[3, 27]] } } as ArchiveCursor);
      await store.save('c', { through: 1, uploaded: [[1, 'x'], [2], 'junk'] } as unknown as CursorState);
      // Act
      const floor = store.floor();
      const afterReopen = (await CursorStore.open(dir)).floor();
      // Assess
      expect(floor).toBe(27);
      expect(afterReopen).toBe(27);
    });

    it('takes an uploaded range past every intent and through', async () => {
      // Prepare
      const store = await CursorStore.open(tempDir());
      await store.save('archive', { through: 5, uploaded: [[6, 40]], intent: { ranges: [[41, 39]] } } as ArchiveCursor);
      // Act
      const floor = store.floor();
      // Assess
      expect(floor).toBe(40);
    });
  });

  // A file written and synced at every run: more than the 5 s default on a busy disk.
  describe('for any single flipped bit or truncation of either copy', { timeout: 30_000 }, () => {
    const SINK = 'archive';
    const FIRST: ArchiveCursor = { through: 12, uploaded: [[1, 12]] };
    const LAST: ArchiveCursor = { through: 42, uploaded: [[1, 40]], intent: { ranges: [[41, 42]] }, note: 'reçu ✓' };
    let dir: string;
    let original: Buffer;
    beforeAll(async () => {
      // Two saves: both copies hold generation 2 of the last state.
      dir = tempDir();
      await savedStore(dir, SINK, [FIRST, LAST]);
      original = readFileSync(primaryOf(dir, SINK));
    });

    it('loads exactly the last saved state, and reports damage if and only if the file changed', async () => {
      // Prepare
      expect(parseLine(original.toString('utf8')).generation).toBe(2);
      const damage = fc.record({
        copy: fc.constantFrom('primary' as const, 'mirror' as const),
        kind: fc.constantFrom('flip' as const, 'truncate' as const),
        offset: fc.integer({ min: 0, max: original.length }),
        bit: fc.integer({ min: 0, max: 7 }),
      });
      await fc.assert(
        fc.asyncProperty(damage, async ({ copy, kind, offset, bit }) => {
          // Prepare: both copies as saved, then one damaged.
          writeFileSync(primaryOf(dir, SINK), original);
          writeFileSync(mirrorOf(dir, SINK), original);
          const path = copy === 'primary' ? primaryOf(dir, SINK) : mirrorOf(dir, SINK);
          let damaged: Buffer;
          if (kind === 'truncate') damaged = original.subarray(0, offset);
          else {
            damaged = Buffer.from(original);
            const at = offset % original.length;
            damaged[at] = damaged[at]! ^ (1 << bit);
          }
          writeFileSync(path, damaged);
          const changed = !damaged.equals(original);

          // Act
          const store = await CursorStore.open(dir);

          // Assess
          expect(store.load(SINK)).toEqual(LAST);
          expect(store.floor()).toBe(42);
          if (!changed) expect(store.damage).toEqual([]);
          else
            expect(store.damage).toEqual([
              {
                kind: 'cursor',
                segment: copy === 'primary' ? `cursor-${SINK}.json` : `cursor-${SINK}.json.mirror`,
                offset: 0,
                lsns: null,
                note: expect.stringMatching(/^damaged; .*through LSN 42/) as unknown,
              },
            ]);
        }),
        {
          numRuns: 500,
          // A cut at the full length changes nothing: always among the cases tried.
          examples: [[{ copy: 'mirror', kind: 'truncate', offset: original.length, bit: 0 }]],
        },
      );
      expect(readdirSync(dir).sort()).toEqual([`cursor-${SINK}.json`, `cursor-${SINK}.json.mirror`]);
    });
  });
});

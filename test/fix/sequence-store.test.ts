import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlotPair } from '../../src/core/slot-pair.js';
import { FileSequenceStore, MemorySequenceStore } from '../../src/fix/sequence-store.js';
import { tempDir } from '../helpers/records.js';

describe('FileSequenceStore', () => {
  describe('save', () => {
    it('returns before the disk is touched and leaves the state on disk, atomically, once it resolves', async () => {
      // Prepare
      const dir = tempDir();
      const store = new FileSequenceStore(join(dir, 'session.json'));

      // Act
      const saving = store.save({ nextInbound: 7, nextOutbound: 3 });
      const onDiskAtReturn = readdirSync(dir);
      await saving;

      // Assess: nothing written synchronously; then the file, and no temp file left beside it.
      expect(onDiskAtReturn).toEqual([]);
      expect(new FileSequenceStore(join(dir, 'session.json')).load()).toEqual({ nextInbound: 7, nextOutbound: 3 });
      expect(readdirSync(dir).sort()).toEqual(['session.json', 'session.json.mirror']);
    });

    it('coalesces saves made while one is being written: the file ends at the latest state', async () => {
      // Prepare
      const dir = tempDir();
      const store = new FileSequenceStore(join(dir, 'session.json'));

      // Act: three saves in one turn of the event loop.
      const saves = [1, 2, 3].map((n) => store.save({ nextInbound: 10 * n, nextOutbound: n }));
      await Promise.all(saves);

      // Assess
      expect(store.load()).toEqual({ nextInbound: 30, nextOutbound: 3 });
    });

    it('rejects with ERR_SEQUENCE_STORE when the file cannot be written, and writes again afterwards', async () => {
      // Prepare: the store's path is taken by a directory.
      const dir = tempDir();
      const path = join(dir, 'session.json');
      mkdirSync(path);
      const store = new FileSequenceStore(path);

      // Act
      const failed = await store.save({ nextInbound: 5, nextOutbound: 2 }).then(
        () => undefined,
        (error: unknown) => error,
      );
      rmSync(path, { recursive: true });
      await store.save({ nextInbound: 6, nextOutbound: 2 });

      // Assess
      expect(failed).toMatchObject({ code: 'ERR_SEQUENCE_STORE', message: expect.stringContaining(path) as unknown });
      expect(store.load()).toEqual({ nextInbound: 6, nextOutbound: 2 });
    });
  });

  describe('load', () => {
    it('is undefined when nothing was saved', () => {
      // Act / Assess
      expect(new FileSequenceStore(join(tempDir(), 'none.json')).load()).toBeUndefined();
    });

    it('starts afresh, never throws, when a file is not JSON or holds no valid sequence numbers, and says why', async () => {
      // Prepare: one file cut short; two good copies whose numbers are not valid.
      const dir = tempDir();
      writeFileSync(join(dir, 'garbled.json'), '{"nextInb');
      const slots = new SlotPair(join(dir, 'zero.json'), 'kfl-session 2');
      await slots.write(1, JSON.stringify({ nextInbound: 0, nextOutbound: 1 }));
      await slots.close();
      const garbled = new FileSequenceStore(join(dir, 'garbled.json'));
      const zero = new FileSequenceStore(join(dir, 'zero.json'));

      // Act / Assess
      expect(garbled.load()).toBeUndefined();
      expect(garbled.damage).toMatchObject({
        code: 'ERR_SEQUENCE_STORE',
        message: expect.stringMatching(/starts afresh/) as unknown,
      });
      expect(zero.load()).toBeUndefined();
      expect(zero.damage).toMatchObject({ code: 'ERR_SEQUENCE_STORE' });
    });

    it('reports a plain JSON session file (an unreleased format, no checksum) as damaged and starts afresh', () => {
      // Prepare: valid numbers, as written before the file had a checksum and a mirror.
      const dir = tempDir();
      const path = join(dir, 'session.json');
      writeFileSync(path, JSON.stringify({ nextInbound: 294, nextOutbound: 17 }));
      const store = new FileSequenceStore(path);

      // Act
      const state = store.load();

      // Assess: not taken as written; the file named, the session told to start afresh.
      expect(state).toBeUndefined();
      expect(store.damage).toMatchObject({
        code: 'ERR_SEQUENCE_STORE',
        message: expect.stringMatching(/damaged and no good copy left: the session starts afresh/) as unknown,
        details: { files: [path] },
      });
    });

    it('uses the other copy when one has a raised digit, a cut or is gone, and reports the bad one', async () => {
      for (const harm of ['raise', 'cut', 'delete'] as const)
        for (const which of ['session.json', 'session.json.mirror']) {
          // Prepare: a saved state, then one copy harmed.
          const dir = tempDir();
          const path = join(dir, 'session.json');
          await new FileSequenceStore(path).save({ nextInbound: 294, nextOutbound: 17 });
          const target = join(dir, which);
          const text = readFileSync(target, 'utf8');
          if (harm === 'raise') writeFileSync(target, text.replace('294', '394'));
          else if (harm === 'cut') writeFileSync(target, text.slice(0, -5));
          else rmSync(target);

          // Act
          const store = new FileSequenceStore(path);
          const state = store.load();

          // Assess
          expect(state, `${harm} ${which}`).toEqual({ nextInbound: 294, nextOutbound: 17 });
          expect(store.damage, `${harm} ${which}`).toMatchObject({
            code: 'ERR_SEQUENCE_STORE',
            details: { files: [target] },
          });
        }
    });
  });
});

describe('MemorySequenceStore', () => {
  it('hands back a copy of what was saved', async () => {
    // Prepare
    const store = new MemorySequenceStore();
    const state = { nextInbound: 4, nextOutbound: 9 };

    // Act
    await store.save(state);
    state.nextInbound = 99;

    // Assess
    expect(store.load()).toEqual({ nextInbound: 4, nextOutbound: 9 });
  });
});

describe('FileSequenceStore.load, for any single damage of either copy (property)', () => {
  it('reads back the saved state and reports the damaged copy, never throws', async () => {
    // Prepare: one saved state, kept to copy from.
    const base = tempDir();
    await new FileSequenceStore(join(base, 'session.json')).save({
      nextInbound: 294,
      nextOutbound: 17,
      lastApplicationSeq: 290,
    });
    const damage = fc.record({
      file: fc.constantFrom('session.json', 'session.json.mirror'),
      kind: fc.constantFrom('flip' as const, 'truncate' as const, 'zero' as const, 'delete' as const, 'digit' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      bit: fc.integer({ min: 0, max: 7 }),
    });
    fc.assert(
      fc.property(damage, ({ file, kind, at, bit }) => {
        const dir = tempDir();
        for (const name of ['session.json', 'session.json.mirror'])
          writeFileSync(join(dir, name), readFileSync(join(base, name)));
        const path = join(dir, file);
        const bytes = readFileSync(path);
        const offset = Math.floor(at * bytes.length);
        if (kind === 'delete') rmSync(path);
        else if (kind === 'truncate') writeFileSync(path, bytes.subarray(0, offset));
        else if (kind === 'zero')
          writeFileSync(path, Buffer.concat([bytes.subarray(0, offset), Buffer.alloc(bytes.length - offset)]));
        else if (kind === 'digit') writeFileSync(path, bytes.toString('latin1').replace('294', '394'));
        else {
          bytes[offset] = bytes[offset]! ^ (1 << bit);
          writeFileSync(path, bytes);
        }
        // Act
        const store = new FileSequenceStore(join(dir, 'session.json'));
        const state = store.load();
        // Assess: the other copy holds it; the harmed one is named.
        expect(state).toEqual({ nextInbound: 294, nextOutbound: 17, lastApplicationSeq: 290 });
        expect(store.damage?.details).toEqual({ files: [path] });
      }),
      { numRuns: 500 },
    );
  });
});

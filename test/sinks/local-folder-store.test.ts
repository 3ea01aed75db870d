import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { tempDir } from '../helpers/records.js';

const KEY = 'exec_reports/dt=2026-11-23/hour=22/000000000001-000000000003-3.jsonl.gz';

// What every ObjectStore must do (created, then exists; the bytes under the key) is in
// test/sinks/contract.test.ts; here, what only a folder can get wrong.
describe('LocalFolderStore', () => {
  describe('putIfAbsent', () => {
    it('takes over the half-written temp file a killed process left, leaving no stray file', async () => {
      // Prepare: a crash between writing the temp file and renaming it.
      const root = tempDir();
      mkdirSync(dirname(join(root, KEY)), { recursive: true });
      writeFileSync(join(root, `${KEY}.partial`), 'half an obj');
      const store = new LocalFolderStore(root);

      // Act: the archive's intent redoes the same key.
      const result = await store.putIfAbsent(KEY, Buffer.from('whole object'));

      // Assess
      expect(result).toBe('created');
      expect(readFileSync(join(root, KEY), 'utf8')).toBe('whole object');
      expect(readdirSync(dirname(join(root, KEY)))).toEqual([KEY.split('/').at(-1)]);
      expect(existsSync(join(root, `${KEY}.partial`))).toBe(false);
    });
  });
});

import { mkdir, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../core/atomic-file.js';
import { dirname, join, resolve } from 'node:path';
import type { ObjectStore } from './types.js';

/** The archive in a local folder, same key layout as S3: the embedded default and tests. */
export class LocalFolderStore implements ObjectStore {
  readonly location: string;
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
    this.location = `file://${this.#root}/`;
  }

  async putIfAbsent(key: string, body: Buffer): Promise<'created' | 'exists'> {
    const path = join(this.#root, key);
    if (await exists(path)) return 'exists';
    await mkdir(dirname(path), { recursive: true });
    // Readers (DuckDB, Glue crawlers) must never see half an object: write aside, then rename.
    // The temp name is the key's own, not the process's: a write a crash cut is redone under the
    // same key (the archive's intent), so the next attempt takes over its leftover.
    await writeFileAtomic(path, body, '.partial');
    return 'created';
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

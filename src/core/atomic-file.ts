import { constants } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * O_DSYNC where the platform has it (undefined elsewhere): a file opened with it makes each write
 * durable before the write returns, as write + fdatasync would, in one thread-pool job, not two.
 */
export const O_DSYNC: number | undefined = (constants as { O_DSYNC?: number }).O_DSYNC;

/**
 * Writes a file so that a crash leaves either the old content or the new, never a mix: write a
 * temp file beside it, fsync, rename over, fsync the directory. `tempSuffix` names the temp file
 * (readers of a folder can skip it by that suffix).
 */
export async function writeFileAtomic(
  path: string,
  content: string | Buffer,
  tempSuffix = `.tmp-${process.pid}`,
): Promise<void> {
  const temp = `${path}${tempSuffix}`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  await fsyncDir(dirname(path));
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some filesystems (EFS among them) refuse fsync on a directory; the rename is still atomic.
  } finally {
    await handle.close();
  }
}

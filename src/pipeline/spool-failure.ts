import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ListenerError } from '../core/errors.js';

/**
 * A write to the spool that failed, coded: a full disk is named as such (ERR_JOURNAL_DISK_FULL),
 * with the path and the bytes left, so an operator reads the cause in the first line rather than
 * in a stack; anything else gets `otherCode`. Shared by the segments, the ExecID log and the
 * cursors, which all live on SPOOL_DIR.
 */
export async function spoolWriteFailure(
  path: string,
  message: string,
  cause: unknown,
  otherCode: 'ERR_JOURNAL_WRITE' | 'ERR_JOURNAL_CURSOR' = 'ERR_JOURNAL_WRITE',
): Promise<ListenerError> {
  if ((cause as NodeJS.ErrnoException).code !== 'ENOSPC')
    return new ListenerError(otherCode, message, { cause, details: { path } });
  // The path may be a file that was never created: its directory is on the same file system.
  const freeBytes = await statfs(path)
    .catch(() => statfs(dirname(path)))
    .then(
      (s) => s.bavail * s.bsize,
      () => null,
    );
  return new ListenerError('ERR_JOURNAL_DISK_FULL', `no space left on the spool (${path}): ${message}`, {
    cause,
    details: { path, freeBytes },
  });
}

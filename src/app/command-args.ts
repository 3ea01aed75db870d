import { S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_LISTENER, listenerName } from '../core/env-checks.js';
import type { ArchiveSource } from '../reconcile/archive-reader.js';
import { LocalFolderStore } from '../sinks/local-folder-store.js';
import { S3Store } from '../sinks/s3-store.js';
import type { ObjectStore } from '../sinks/types.js';
import { parseArchiveUrl, type Config } from './config.js';

/**
 * What the archive commands (reconcile, replay, rebuild-parquet) read from their arguments and
 * environment, each problem added to `problems` so a command lists them all at once.
 */

/** `--from` and `--to` as ISO-8601 times, in that order. */
/** What the commands that read and write an S3 or folder archive take from the environment. */
export const ARCHIVE_ENVIRONMENT = [
  ['ARCHIVE_URL', 's3://bucket/prefix/ or file:///dir (required)'],
  ['AWS_REGION, AWS_ENDPOINT_URL_S3', "the AWS SDK's own, for an S3 archive"],
] as const;

/** --from and --to, as reconcile and replay take them (parsed by `timeRange`). */
export const RANGE_OPTIONS = {
  from: { type: 'string', value: 'ISO', help: 'start of the range, an ISO-8601 time (required)' },
  to: { type: 'string', value: 'ISO', help: 'end of the range, inclusive (required)' },
} as const;

export function timeRange(values: { from?: string; to?: string }, problems: string[]): { from: Date; to: Date } {
  const from = new Date(values.from ?? '');
  const to = new Date(values.to ?? '');
  if (Number.isNaN(from.getTime())) problems.push('--from must be an ISO-8601 time');
  if (Number.isNaN(to.getTime())) problems.push('--to must be an ISO-8601 time');
  else if (to < from) problems.push('--to is before --from');
  return { from, to };
}

/** --listener, as the commands over one listener's part of the archive take it (parsed by `listenerFrom`). */
export const LISTENER_OPTION = {
  listener: { type: 'string', value: 'NAME', help: 'whose archive (default: LISTENER_NAME, then default)' },
} as const;

/**
 * `--listener NAME`: whose part of the archive. Default LISTENER_NAME from the environment (a
 * command run beside a listener), then `default` (a single-listener deployment).
 */
export function listenerFrom(value: string | undefined, env: NodeJS.ProcessEnv, problems: string[]): string {
  const before = problems.length;
  const name = listenerName.check(value ?? env['LISTENER_NAME'] ?? DEFAULT_LISTENER, '--listener', problems);
  return problems.length === before ? name : DEFAULT_LISTENER;
}

/** ARCHIVE_URL from the environment: required. */
export function archiveUrlFrom(env: NodeJS.ProcessEnv, problems: string[]): Config['archive'] | undefined {
  const url = parseArchiveUrl(env['ARCHIVE_URL'], problems);
  if (env['ARCHIVE_URL'] === undefined) problems.push('ARCHIVE_URL is required');
  return url;
}

/** The archive to read (and, for rebuild, to write): a folder, or S3 with the SDK's own settings. */
export function archiveAccess(
  url: Config['archive'],
  env: NodeJS.ProcessEnv,
): { source: ArchiveSource; store: ObjectStore } {
  if (url.kind === 'file') return { source: url, store: new LocalFolderStore(url.dir) };
  // Path-style only against an S3-compatible endpoint (AWS_ENDPOINT_URL_S3).
  const client = new S3Client({ forcePathStyle: env['AWS_ENDPOINT_URL_S3'] !== undefined });
  return {
    source: { ...url, client },
    store: new S3Store({ bucket: url.bucket, prefix: url.prefix, client }),
  };
}

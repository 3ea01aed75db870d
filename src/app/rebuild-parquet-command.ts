import { compress, init } from '@bokuweb/zstd-wasm';
import type { ExecutionReportRecord } from '../core/record.js';
import { encodeParquet, ZSTD_LEVEL, type LossyValue } from '../pipeline/parquet-encode.js';
import { decode, deleteObject, hourKeys, readObject, type ArchiveSource } from '../reconcile/archive-reader.js';
import type { ObjectStore } from '../sinks/types.js';
import { CommandRefusal, parseCommand, usageError, type CommandSpec, type Command, type Print } from './cli-command.js';
import { ARCHIVE_ENVIRONMENT, archiveAccess, archiveUrlFrom, LISTENER_OPTION, listenerFrom } from './command-args.js';

const JSONL_NAME = /\/(\d{12})-(\d{12})-(\d+)\.jsonl(\.gz)?$/;
const HOUR = /^(\d{4}-\d{2}-\d{2})T(\d{2})$/;

export interface RebuildResult {
  hour: string;
  jsonlObjects: number;
  records: number;
  parquetKey: string;
  bytes: number;
  result: 'created' | 'exists';
  removed: string[];
  lossy: LossyValue[];
}

/**
 * Rebuilds the Parquet object of one hour from its JSONL objects (the source of truth): one
 * object named for the journal range they hold, exactly as the listener names its own. With
 * `replace`, the hour's other Parquet objects are removed once the rebuilt one is in place, so
 * Athena never counts a row twice nor misses one.
 */
export async function rebuildParquet(input: {
  source: ArchiveSource;
  store: ObjectStore;
  dt: string;
  hour: string;
  replace: boolean;
  listener: string;
}): Promise<RebuildResult | { error: string }> {
  const partition = `listener=${input.listener}/dt=${input.dt}/hour=${input.hour}/`;
  const jsonlKeys = (await hourKeys(input.source, 'exec_reports', input.listener, input.dt, input.hour)).filter((k) =>
    JSONL_NAME.test(k),
  );
  if (jsonlKeys.length === 0) return { error: `no JSONL objects under exec_reports/${partition}` };
  const objects = jsonlKeys
    .map((key) => {
      const [, first, last, count] = JSONL_NAME.exec(key)!;
      return { key, first: Number(first), last: Number(last), count: Number(count) };
    })
    .sort((a, b) => a.first - b.first);
  const records: ExecutionReportRecord[] = [];
  for (const object of objects)
    for (const line of decode(object.key, await readObject(input.source, object.key)).split('\n'))
      if (line.length > 0) records.push(JSON.parse(line) as ExecutionReportRecord);
  const first = Math.min(...objects.map((o) => o.first));
  const last = Math.max(...objects.map((o) => o.last));
  const name = `${String(first).padStart(12, '0')}-${String(last).padStart(12, '0')}-${records.length}`;
  const parquetKey = `exec_reports_parquet/${partition}${name}.parquet`;
  const others = (await hourKeys(input.source, 'exec_reports_parquet', input.listener, input.dt, input.hour)).filter(
    (k) => k.endsWith('.parquet') && k !== parquetKey,
  );
  if (others.length > 0 && !input.replace)
    return {
      error: `${others.length} other Parquet object(s) already hold this hour (${others.join(', ')}); --replace removes them once the rebuilt one is written`,
    };
  await init();
  const lossy: LossyValue[] = [];
  const bytes = encodeParquet(records, { compress: (b) => compress(b, ZSTD_LEVEL), onLossy: (v) => lossy.push(v) });
  const result = await input.store.putIfAbsent(parquetKey, Buffer.from(bytes), {
    contentType: 'application/vnd.apache.parquet',
  });
  for (const key of others) await deleteObject(input.source, key);
  return {
    hour: `${input.dt}T${input.hour}`,
    jsonlObjects: objects.length,
    records: records.length,
    parquetKey,
    bytes: bytes.length,
    result,
    removed: others,
    lossy,
  };
}

export const REBUILD_PARQUET = {
  name: 'rebuild-parquet',
  synopsis: '--hour YYYY-MM-DDTHH [--listener NAME] [--replace] [--force]',
  description:
    "Rebuilds one UTC hour's Parquet object from its JSONL objects (the source of truth), named for the\n" +
    'journal range they hold, and prints a JSON summary. Exit 0 when written, 1 when the hour has no JSONL\n' +
    'or other Parquet objects hold it (without --replace), 2 on bad input.',
  options: {
    hour: { type: 'string', value: 'YYYY-MM-DDTHH', help: 'the UTC hour, e.g. 2026-11-23T09 (required)' },
    ...LISTENER_OPTION,
    replace: { type: 'boolean', help: "remove the hour's other Parquet objects once the rebuilt one is written" },
    force: {
      type: 'boolean',
      help: 'rebuild an hour that ended less than an hour ago (the listener may be writing it)',
    },
  },
  environment: ARCHIVE_ENVIRONMENT,
} as const satisfies CommandSpec;

/**
 * `kalshi-fix-listener rebuild-parquet`, ARCHIVE_URL from the environment. Prints a JSON summary
 * and exits 0 when written; a CommandRefusal with exit 1 when there is nothing to build or other
 * Parquet objects hold the hour (without --replace), with exit 2 on bad input.
 */
export async function rebuildParquetCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: Print,
  now: () => number = Date.now,
): Promise<number> {
  const values = parseCommand(REBUILD_PARQUET, args);
  const problems: string[] = [];
  const listener = listenerFrom(values.listener, env, problems);
  const hour = HOUR.exec(values.hour ?? '');
  if (hour === null) problems.push('--hour must be a UTC hour, e.g. 2026-11-23T09');
  const archiveUrl = archiveUrlFrom(env, problems);
  const hourEnd = hour === null ? Number.NaN : Date.parse(`${hour[1]}T${hour[2]}:00:00Z`) + 3600_000;
  // The listener writes an hour's Parquet once it has closed (plus grace): rebuilding before that
  // would race it and could hold a record twice.
  if (hour !== null && values.force !== true && now() < hourEnd + 3600_000)
    problems.push('the hour ended less than an hour ago: the listener may still be writing it (--force to go on)');
  if (problems.length > 0 || archiveUrl === undefined || hour === null) throw usageError(problems);
  const { source, store } = archiveAccess(archiveUrl, env);
  const result = await rebuildParquet({
    source,
    store,
    dt: hour[1]!,
    hour: hour[2]!,
    replace: values.replace === true,
    listener,
  });
  // Nothing to build, or an hour held by other objects: refused like the rest, with exit 1.
  if ('error' in result) throw new CommandRefusal(result.error, { exitCode: 1 });
  out(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
}

export const COMMAND: Command = {
  spec: REBUILD_PARQUET,
  main: (args, io) => rebuildParquetCommand(args, io.env, io.out),
};

import { CommandRefusal, parseCommand, usageError, type CommandSpec, type Command, type Print } from './cli-command.js';
import { ARCHIVE_ENVIRONMENT, archiveAccess, archiveUrlFrom, LISTENER_OPTION, listenerFrom } from './command-args.js';
import { buildHourParquet, PARQUET_OBJECT_RECORDS } from './parquet-build.js';
import type { HourOutcome } from './parquet-builds.js';

const HOUR = /^\d{4}-\d{2}-\d{2}T\d{2}$/;

export const BUILD_PARQUET = {
  name: 'build-parquet',
  synopsis: '--hours YYYY-MM-DDTHH[,YYYY-MM-DDTHH…] [--listener NAME] [--max-records N]',
  description:
    'Writes the Parquet copy of each hour from its JSONL objects: only the JSONL objects no Parquet object\n' +
    'holds yet, so it may run any number of times (the service runs it as a child process once an hour\n' +
    'closes). Prints one JSON line per hour. Exit 0 when every hour was built, 1 when one failed, 2 on bad input.',
  options: {
    hours: { type: 'string', value: 'HOURS', help: 'UTC hours, comma-separated, e.g. 2026-11-23T09 (required)' },
    ...LISTENER_OPTION,
    'max-records': {
      type: 'string',
      value: 'N',
      default: String(PARQUET_OBJECT_RECORDS),
      help: 'records an object holds at most: the memory the build needs (about 2.5 KB a record)',
    },
  },
  environment: ARCHIVE_ENVIRONMENT,
} as const satisfies CommandSpec;

/** `kalshi-fix-listener build-parquet`: one JSON line per hour on stdout, an hour's failure on its own line. */
export async function buildParquetCommand(args: string[], env: NodeJS.ProcessEnv, out: Print): Promise<number> {
  const values = parseCommand(BUILD_PARQUET, args);
  const problems: string[] = [];
  const listener = listenerFrom(values.listener, env, problems);
  const hours = (values.hours ?? '').split(',').filter((h) => h.length > 0);
  if (hours.length === 0) problems.push('--hours is required: UTC hours, e.g. 2026-11-23T09');
  for (const hour of hours) if (!HOUR.test(hour)) problems.push(`--hours: ${hour} is not a UTC hour (YYYY-MM-DDTHH)`);
  const maxRecords = Number(values['max-records']);
  if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) problems.push('--max-records must be a whole number ≥ 1');
  const archiveUrl = archiveUrlFrom(env, problems);
  if (problems.length > 0 || archiveUrl === undefined) throw usageError(problems);
  const { source, store } = archiveAccess(archiveUrl, env);
  // Run by the service, it goes when the service goes (a killed listener leaves no orphan).
  if (env['KFL_EXIT_WITH_PARENT'] === '1') process.once('disconnect', () => process.exit(1));
  let failed = 0;
  for (const hour of hours) {
    let outcome: HourOutcome;
    try {
      outcome = await buildHourParquet({ source, store, listener, hour, maxRecords });
    } catch (error) {
      failed++;
      const e = error as { code?: unknown; message?: unknown };
      outcome = {
        hour,
        error: { code: typeof e.code === 'string' ? e.code : 'ERR_INTERNAL', message: String(e.message ?? error) },
      };
    }
    out(`${JSON.stringify(outcome)}\n`);
  }
  if (failed > 0) throw new CommandRefusal(`${failed} of ${hours.length} hour(s) failed`, { exitCode: 1 });
  return 0;
}

export const COMMAND: Command = { spec: BUILD_PARQUET, main: (args, io) => buildParquetCommand(args, io.env, io.out) };

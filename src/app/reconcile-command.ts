import { readFileSync } from 'node:fs';
import { parseCommand, usageError, type CommandSpec, type Command, type Print } from './cli-command.js';
import {
  archiveAccess,
  archiveUrlFrom,
  LISTENER_OPTION,
  listenerFrom,
  RANGE_OPTIONS,
  timeRange,
} from './command-args.js';
import { loadRsaPrivateKey } from '../fix/logon-signature.js';
import { readArchive, type ArchiveSource } from '../reconcile/archive-reader.js';
import { KalshiRest, type RestFill } from '../reconcile/kalshi-rest.js';
import { reconcileFills, type ReconcileReport } from '../reconcile/reconcile.js';

export interface ReconcileInput {
  from: Date;
  to: Date;
  archive: ArchiveSource;
  rest: KalshiRest;
  /** Subaccounts to ask REST for; default: 0 and every one the archive mentions. */
  subaccounts?: number[];
  /** Whose archive (default `default`): the listener of the API key REST is asked with. */
  listener?: string;
}

/** Archive fills vs Kalshi REST fills over [from, to]. */
export async function reconcile(
  input: ReconcileInput,
): Promise<ReconcileReport & { subaccounts: number[]; archivedFills: number; restFills: number }> {
  const archived = (await readArchive(input.archive, input.from, input.to, input.listener)).filter((r) => {
    const at = Date.parse(r.transact_time ?? r.received_at);
    return r.exec_type === 'F' && at >= input.from.getTime() && at <= input.to.getTime();
  });
  const subaccounts =
    input.subaccounts ?? [...new Set([0, ...archived.map((r) => r.alloc_account ?? 0)])].sort((a, b) => a - b);
  const rest: RestFill[] = [];
  for (const subaccount of subaccounts) {
    for await (const fill of input.rest.fills({
      minTs: Math.floor(input.from.getTime() / 1000),
      maxTs: Math.ceil(input.to.getTime() / 1000),
      subaccount,
    }))
      rest.push(fill);
  }
  return { ...reconcileFills(archived, rest), subaccounts, archivedFills: archived.length, restFills: rest.length };
}

/** Where reconcile asks unless --rest-url or KALSHI_REST_URL says otherwise. */
export const KALSHI_REST_URL = 'https://external-api.kalshi.com';

export const RECONCILE = {
  name: 'reconcile',
  synopsis: '--from ISO --to ISO [--listener NAME] [--subaccounts LIST] [--rest-url URL]',
  description:
    "Compares the archived fills of [from, to] with Kalshi's REST fills (GET /trade-api/v2/margin/fills,\n" +
    'every page, for each subaccount) and prints a JSON report of what is missing on either side.\n' +
    'Exit 0 when both sides agree, 1 when a fill is missing on either side, 2 on bad input.',
  options: {
    ...RANGE_OPTIONS,
    ...LISTENER_OPTION,
    subaccounts: {
      type: 'string',
      value: 'LIST',
      help: 'subaccounts to ask for, e.g. 0,3 (default: 0 and every one archived)',
    },
    'rest-url': {
      type: 'string',
      value: 'URL',
      help: `Kalshi's REST base URL (default: KALSHI_REST_URL, then ${KALSHI_REST_URL})`,
    },
  },
  environment: [
    ['ARCHIVE_URL', 's3://bucket/prefix/ or file:///dir (required)'],
    ['FIX_API_KEY', 'the API key REST is asked with (required)'],
    ['FIX_PRIVATE_KEY(_FILE)', 'its RSA private key, PEM or a path to it (required)'],
    ['FIX_TLS_CA_FILE', "extra CA certificates to trust (the simulator's)"],
    ['KALSHI_REST_URL', 'REST base URL when --rest-url is not given'],
  ],
} as const satisfies CommandSpec;

/**
 * `kalshi-fix-listener reconcile`, reading the environment above. Prints a JSON report; exit 0
 * when both sides agree, 1 when something is missing; a CommandRefusal (exit 2) on bad input.
 */
export async function reconcileCommand(args: string[], env: NodeJS.ProcessEnv, out: Print): Promise<number> {
  const values = parseCommand(RECONCILE, args);
  const problems: string[] = [];
  const { from, to } = timeRange(values, problems);
  const listener = listenerFrom(values.listener, env, problems);
  if (values.subaccounts !== undefined && !/^\d+(,\d+)*$/.test(values.subaccounts))
    problems.push('--subaccounts must be whole numbers separated by commas, e.g. 0,3');
  const subaccounts = values.subaccounts?.split(',').map(Number);
  const archiveUrl = archiveUrlFrom(env, problems);
  if (env['FIX_API_KEY'] === undefined) problems.push('FIX_API_KEY is required');
  let privateKey;
  try {
    privateKey = loadRsaPrivateKey(env['FIX_PRIVATE_KEY'] ?? readFileSync(env['FIX_PRIVATE_KEY_FILE'] ?? '', 'utf8'));
  } catch {
    problems.push('FIX_PRIVATE_KEY or a readable FIX_PRIVATE_KEY_FILE (RSA) is required');
  }
  let extraCa: string | undefined;
  try {
    extraCa = env['FIX_TLS_CA_FILE'] === undefined ? undefined : readFileSync(env['FIX_TLS_CA_FILE'], 'utf8');
  } catch {
    problems.push(`FIX_TLS_CA_FILE ${env['FIX_TLS_CA_FILE']} cannot be read`);
  }
  if (problems.length > 0 || archiveUrl === undefined || privateKey === undefined) throw usageError(problems);
  const archive = archiveAccess(archiveUrl, env).source;
  const rest = new KalshiRest({
    baseUrl: values['rest-url'] ?? env['KALSHI_REST_URL'] ?? KALSHI_REST_URL,
    apiKey: env['FIX_API_KEY']!,
    privateKey,
    ...(extraCa === undefined ? {} : { extraCa }),
  });
  const report = await reconcile({
    from,
    to,
    archive,
    rest,
    listener,
    ...(subaccounts === undefined ? {} : { subaccounts }),
  });
  out(
    `${JSON.stringify({ from: from.toISOString(), to: to.toISOString(), ...report, missingAtKalshi: report.missingAtKalshi.map((r) => ({ exec_id: r.exec_id, order_id: r.order_id, symbol: r.symbol, last_qty: r.last_qty, last_px: r.last_px, transact_time: r.transact_time })) }, null, 2)}\n`,
  );
  return report.missingInArchive.length === 0 && report.missingAtKalshi.length === 0 ? 0 : 1;
}

export const COMMAND: Command = { spec: RECONCILE, main: (args, io) => reconcileCommand(args, io.env, io.out) };

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { archiveAccess, archiveUrlFrom, listenerFrom, timeRange } from './command-args.js';
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

/**
 * `kalshi-fix-listener reconcile --from ISO --to ISO [--listener NAME] [--subaccounts 0,1] [--rest-url URL]`, with
 * ARCHIVE_URL, FIX_API_KEY and FIX_PRIVATE_KEY(_FILE) from the environment. Prints a JSON report;
 * exit 0 when both sides agree, 1 when something is missing, 2 on bad input.
 */
export async function reconcileCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: (text: string) => void,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      subaccounts: { type: 'string' },
      listener: { type: 'string' },
      'rest-url': { type: 'string' },
    },
  });
  const problems: string[] = [];
  const { from, to } = timeRange(values, problems);
  const listener = listenerFrom(values.listener, env, problems);
  const archiveUrl = archiveUrlFrom(env, problems);
  if (env['FIX_API_KEY'] === undefined) problems.push('FIX_API_KEY is required');
  let privateKey;
  try {
    privateKey = loadRsaPrivateKey(env['FIX_PRIVATE_KEY'] ?? readFileSync(env['FIX_PRIVATE_KEY_FILE'] ?? '', 'utf8'));
  } catch {
    problems.push('FIX_PRIVATE_KEY or a readable FIX_PRIVATE_KEY_FILE (RSA) is required');
  }
  if (problems.length > 0 || archiveUrl === undefined || privateKey === undefined) {
    out(`reconcile: ${problems.join('; ')}\n`);
    return 2;
  }
  const archive = archiveAccess(archiveUrl, env).source;
  const extraCa = env['FIX_TLS_CA_FILE'] === undefined ? undefined : readFileSync(env['FIX_TLS_CA_FILE'], 'utf8');
  const rest = new KalshiRest({
    baseUrl: values['rest-url'] ?? env['KALSHI_REST_URL'] ?? 'https://external-api.kalshi.com',
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
    ...(values.subaccounts === undefined ? {} : { subaccounts: values.subaccounts.split(',').map(Number) }),
  });
  out(
    `${JSON.stringify({ from: from.toISOString(), to: to.toISOString(), ...report, missingAtKalshi: report.missingAtKalshi.map((r) => ({ exec_id: r.exec_id, order_id: r.order_id, symbol: r.symbol, last_qty: r.last_qty, last_px: r.last_px, transact_time: r.transact_time })) }, null, 2)}\n`,
  );
  return report.missingInArchive.length === 0 && report.missingAtKalshi.length === 0 ? 0 : 1;
}

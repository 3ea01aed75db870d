import {
  all,
  apiKeyId,
  archiveUrl,
  DEFAULT_LISTENER,
  fillsUrl,
  flag,
  hostName,
  listenerName,
  matching,
  maxLength,
  minLength,
  oneOf,
  port,
  statusUrls,
  text,
  wholeNumber,
  type Rule,
} from './env-checks.js';

/**
 * The service's environment, each variable once (DESIGN.md §6): its rule, default, range and
 * meaning. loadConfig (app/config.ts) reads the environment by it, the README's configuration
 * table is generated from it (core/environment-doc.ts), and the CDK context checks the settings it
 * passes on to the task with the same rules (infra/context.ts).
 */
export interface Setting<
  N extends string = string,
  U extends Rule<unknown> = Rule<unknown>,
  D = unknown,
  R extends Requirement = Requirement,
> {
  readonly name: N;
  readonly rule: U;
  /** `one of`: this or its sibling (the key inline or in a file); loadConfig checks the pair. */
  readonly required: R;
  /** The value when unset; undefined when there is none or it depends on other variables. */
  readonly default: D;
  /** The default as the docs say it, where it depends on other variables. */
  readonly shown: string | undefined;
  /** Markdown, for the docs. */
  readonly meaning: string;
}

export type Requirement = 'yes' | 'no' | 'one of';

/** What a rule reads a value as. */
export type RuleValue<U> = U extends Rule<infer T> ? T : never;

function setting<
  const N extends string,
  U extends Rule<unknown>,
  const D extends RuleValue<U> | undefined = undefined,
  const R extends Requirement = 'no',
>(name: N, doc: { rule: U; required?: R; default?: D; shown?: string; meaning: string }): Setting<N, U, D, R> {
  return {
    name,
    rule: doc.rule,
    required: doc.required ?? ('no' as R),
    default: doc.default as D,
    shown: doc.shown,
    meaning: doc.meaning,
  };
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The port Kalshi pairs with each TargetCompID; a mismatch is rejected at logon. */
export const FIX_PORTS = { KalshiNR: 8228, KalshiRT: 8230 } as const;

/** MessageRetentionPeriod asked for on KalshiRT when FIX_MESSAGE_RETENTION_H is unset: the most Kalshi keeps. */
export const RT_MESSAGE_RETENTION_H = 72;

/** Where the control plane listens without CONTROL_TOKEN, and with it. */
export const CONTROL_HOSTS = { open: '127.0.0.1', tokened: '0.0.0.0' } as const;

export const ENVIRONMENT = [
  setting('FIX_HOST', {
    rule: hostName,
    required: 'yes',
    meaning:
      'Kalshi FIX host name, e.g. `margin-mm.fix.elections.kalshi.com` (demo environment: `margin-fix.demo.kalshi.co`); a host, not a URL',
  }),
  setting('FIX_PORT', {
    rule: port(),
    shown: `${FIX_PORTS.KalshiNR} (NR) / ${FIX_PORTS.KalshiRT} (RT)`,
    meaning: 'TLS port; must match the TargetCompID',
  }),
  setting('FIX_TARGET_COMP_ID', {
    rule: oneOf(['KalshiNR', 'KalshiRT']),
    default: 'KalshiNR',
    meaning:
      "`KalshiNR` (no retransmission) or `KalshiRT` (retransmission, resumable — recommended; the CDK stack's default). KalshiNR without `FIX_DC_API_KEY` logs a warning (`W_CONFIG_HOLES`) at every start: each restart or reconnect then records a hole",
  }),
  setting('FIX_API_KEY', {
    rule: apiKeyId,
    required: 'yes',
    meaning:
      "the listener's own API key ID (checked; key material here is refused without being echoed), sent as SenderCompID; not the trading session's key",
  }),
  setting('FIX_PRIVATE_KEY', {
    rule: text,
    required: 'one of',
    meaning: 'the RSA private key (2048 bits or more), PEM text (Secrets Manager injects it; `\\n` escapes accepted)',
  }),
  setting('FIX_PRIVATE_KEY_FILE', { rule: text, required: 'one of', meaning: 'path to the RSA private key PEM' }),
  setting('FIX_HEARTBEAT_S', { rule: wholeNumber(3, 300), default: 30, meaning: 'HeartBtInt in seconds' }),
  setting('FIX_CONNECT_TIMEOUT_S', {
    rule: wholeNumber(1, 120),
    default: 10,
    meaning:
      'the TCP connect (DNS included) and the TLS handshake each give up after this many seconds (`ERR_FIX_CONNECT_TIMEOUT`, `ERR_FIX_TLS_HANDSHAKE_TIMEOUT`), then the reconnect back-off and another try',
  }),
  setting('FIX_MESSAGE_RETENTION_H', {
    rule: wholeNumber(1, 72),
    shown: `${RT_MESSAGE_RETENTION_H} on RT`,
    meaning: 'MessageRetentionPeriod (20200) asked for on KalshiRT, hours; KalshiRT only',
  }),
  setting('FIX_TLS_CA_FILE', { rule: text, meaning: 'extra CA certificates (PEM) trusted on top of the system roots' }),
  setting('FIX_DC_API_KEY', {
    rule: apiKeyId,
    meaning:
      'API key ID for KalshiDC drop-copy backfill after gaps (a key of its own is safest); unset = gaps are only reported as holes',
  }),
  setting('FIX_DC_PRIVATE_KEY', {
    rule: text,
    shown: 'the FIX key',
    meaning: 'RSA private key (PEM) of the drop-copy API key',
  }),
  setting('FIX_DC_PRIVATE_KEY_FILE', { rule: text, meaning: 'path to that key' }),
  setting('FIX_DC_HOST', { rule: hostName, shown: '`FIX_HOST`', meaning: 'drop-copy host' }),
  setting('FIX_DC_PORT', { rule: port(), default: 8229, meaning: 'drop-copy port (KalshiDC)' }),
  setting('ARCHIVE_URL', {
    rule: archiveUrl,
    required: 'yes',
    meaning: 'where the archive goes: an S3 bucket and prefix, or a folder',
  }),
  setting('ARCHIVE_FLUSH_S', {
    rule: wholeNumber(1, 3600),
    default: 60,
    meaning:
      'an archive object is written at most this long after its first record arrived, so S3 is never more than about this far behind',
  }),
  setting('ARCHIVE_TIME_OUTLIER_S', {
    rule: wholeNumber(60, 31_536_000),
    default: 86_400,
    meaning:
      'a report whose TransactTime (else SendingTime) is further than this from its receipt is filed under its receive hour ([Time outliers](docs/operations.md#time-outliers))',
  }),
  setting('ARCHIVE_GRACE_S', {
    rule: wholeNumber(0, 86_400),
    default: 300,
    meaning:
      "an hour's last object is written no later than this long after the hour ends, so late reports for it still make it in",
  }),
  setting('ARCHIVE_MAX_OBJECT_MB', {
    rule: wholeNumber(1, 4096),
    default: 64,
    meaning: 'an hour is written early past this size (uncompressed)',
  }),
  setting('ARCHIVE_GZIP', { rule: flag, default: true, meaning: '`.jsonl.gz` objects, or plain `.jsonl`' }),
  setting('ARCHIVE_PARQUET', {
    rule: flag,
    default: true,
    meaning:
      'also write each closed hour as typed Parquet under `exec_reports_parquet/` ([The typed (Parquet) table](docs/archive.md#the-typed-parquet-table))',
  }),
  setting('FILLS_QUEUE_URL', {
    rule: fillsUrl,
    required: 'yes',
    meaning: 'SQS queue URL (FIFO when it ends in `.fifo`) or `file:///path/fills.jsonl`',
  }),
  // Any path: an empty one counts as unset (parseEnvironment), so a length check could never fire.
  setting('SPOOL_DIR', {
    rule: text,
    default: './data/spool',
    meaning: 'journal and session state; must survive restarts (EFS on Fargate)',
  }),
  setting('JOURNAL_LINGER_MS', {
    rule: wholeNumber(0, 100),
    default: 0,
    meaning:
      'how long the journal waits after a report before its group commit, so one durable write serves the reports that arrive meanwhile (0: commit at once; each ms adds to fill latency)',
  }),
  setting('FILLS_BATCH_WAIT_MS', {
    rule: wholeNumber(0, 1000),
    default: 0,
    meaning:
      'how long a part-full batch of fills waits from its oldest fill for more, even with no send in flight, so one SendMessageBatch (one billed SQS request) carries several (0: a fill goes at once; each ms adds to fill latency)',
  }),
  setting('HTTP_PORT', { rule: port(true), default: 8080, meaning: 'control plane port' }),
  setting('HTTP_HOST', {
    rule: hostName,
    shown: `${CONTROL_HOSTS.open} (${CONTROL_HOSTS.tokened} with CONTROL_TOKEN)`,
    meaning:
      'control plane address; anything but loopback requires CONTROL_TOKEN (the service refuses to start otherwise)',
  }),
  setting('CONTROL_TOKEN', {
    rule: minLength(16),
    meaning:
      "the control plane's token: every route but `/healthz` and `/readyz` requires it, as `Authorization: Bearer <token>` or, for reading (a browser on the status page), HTTP Basic with any user and the token as password; without it the routes are open and the control plane listens on loopback only",
  }),
  setting('RECONNECT_MIN_INTERVAL_S', {
    rule: wholeNumber(0, 3600),
    default: 10,
    meaning:
      '`POST /reconnect` is accepted at most once per this many seconds (all callers together); further calls get 429 with `Retry-After` (0 = no limit)',
  }),
  setting('LOG_LEVEL', { rule: oneOf(LOG_LEVELS), default: 'info', meaning: 'the least severe level logged' }),
  setting('SHUTDOWN_TIMEOUT_S', {
    rule: wholeNumber(1, 600),
    default: 20,
    meaning: 'SIGTERM flushes within this bound, then exits',
  }),
  setting('HEALTH_LOG_INTERVAL_S', {
    rule: wholeNumber(5, 3600),
    default: 60,
    meaning:
      'how often the `health` log line is written: `Ready`, `SessionActive`, `ArchiveLagSeconds`, `ArchiveOldestRecordSeconds`, `FillsLagSeconds`, `JournalBacklogRecords`, `Holes`, `DeadLetters`, `JournalStalled`, `ReportsReceived` and `FillsSent` since the last line',
  }),
  setting('METRICS_NAMESPACE', {
    rule: all(
      'letters, digits and . - _ / # :; at most 255',
      maxLength(255),
      matching(/^[\w.\-/#:]+$/, '', (name) => `${name} may hold letters, digits and . - _ / # : only`),
    ),
    meaning:
      'CloudWatch namespace; the health line then carries Embedded Metric Format and CloudWatch Logs turns its figures into metrics (the CDK stack sets it and alarms on them)',
  }),
  setting('LISTENER_NAME', {
    rule: listenerName,
    default: DEFAULT_LISTENER,
    meaning:
      "this listener's name: the archive's `listener=` partition, the fills' `listener` attribute and `listener:symbol` group, a label on every metric and a field of every log line; `reconcile`, `replay` and `rebuild-parquet` take it as their default `--listener`",
  }),
  setting('FLEET_STATUS_URLS', {
    rule: statusUrls,
    meaning:
      "the fleet's status pages, `name=http://host:port/,…`: each listener's status page links the others ([Several listeners](docs/operations.md#several-listeners-a-fleet))",
  }),
] as const;

/** The value a setting has once read: a default or `required: 'yes'` makes it always there. */
export type ValueOf<S> =
  S extends Setting<string, infer U, infer D, infer R>
    ? undefined extends D
      ? R extends 'yes'
        ? RuleValue<U>
        : RuleValue<U> | undefined
      : RuleValue<U>
    : never;

/** The values of an environment read by `table`. */
export type Values<S extends readonly Setting[]> = { [E in S[number] as E['name']]: ValueOf<E> };

/**
 * Reads every variable of `table`, in its order, from `env`; empty counts as unset (ECS and shells
 * often pass VAR= for "nothing"). Every problem is collected, in the table's order; the values only
 * when there is none.
 */
export function parseEnvironment<S extends readonly Setting[]>(
  table: S,
  env: Record<string, string | undefined>,
): { ok: true; values: Values<S> } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const { name, rule, required, default: fallback } of table) {
    const given = Object.hasOwn(env, name) ? env[name] : undefined;
    if (given !== undefined && given !== '') values[name] = rule.check(given, name, problems);
    else if (required === 'yes') problems.push(`${name} is required${rule.range === '' ? '' : ` (${rule.range})`}`);
    else values[name] = fallback;
  }
  return problems.length === 0 ? { ok: true, values: values as Values<S> } : { ok: false, problems };
}

/** The variables of `table` by name. */
export type ByName<S extends readonly Setting[]> = { [E in S[number] as E['name']]: E };

/** One variable of `table`, by name (the name is checked by tsc, so it is there). */
export function settingOf<S extends readonly Setting[], N extends keyof ByName<S>>(table: S, name: N): ByName<S>[N] {
  return table.find((s) => s.name === name) as ByName<S>[N];
}

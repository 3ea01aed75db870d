import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  all,
  DEFAULT_LISTENER,
  flag,
  listenerName,
  matching,
  maxLength,
  minLength,
  oneOf,
  optional,
  parseFields,
  port,
  required,
  text,
  wholeNumber,
  withDefault,
  type Rule,
} from './env-checks.js';
import { ListenerError } from '../core/errors.js';
import { loadRsaPrivateKey } from '../fix/logon-signature.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The validated configuration (DESIGN.md §6). Secrets are parsed into objects, never kept as text. */
export interface Config {
  fix: {
    host: string;
    port: number;
    targetCompId: 'KalshiNR' | 'KalshiRT';
    apiKey: string;
    privateKey: KeyObject;
    heartbeatS: number;
    /** The TCP connect and the TLS handshake each give up after this (FIX_CONNECT_TIMEOUT_S). */
    connectTimeoutMs: number;
    extraCa: string | undefined;
    messageRetentionHours: number | undefined;
  };
  /** KalshiDC replay of gaps (optional: without it every unrecoverable gap is reported as a hole). */
  dropCopy: { host: string; port: number; apiKey: string; privateKey: KeyObject } | undefined;
  archive: { kind: 's3'; bucket: string; prefix: string } | { kind: 'file'; dir: string };
  archiveGraceMs: number;
  archiveFlushMs: number;
  /** A report time further than this from the receipt is filed under the receive hour (ARCHIVE_TIME_OUTLIER_S). */
  archiveTimeOutlierMs: number;
  archiveMaxObjectBytes: number;
  archiveGzip: boolean;
  archiveParquet: boolean;
  fills: { kind: 'sqs'; queueUrl: string } | { kind: 'file'; path: string };
  spoolDir: string;
  httpPort: number;
  /** Where the control plane listens: loopback unless CONTROL_TOKEN is set. */
  httpHost: string;
  controlToken: string | undefined;
  /** POST /reconnect is accepted at most once per this (RECONNECT_MIN_INTERVAL_S; 0 = no limit). */
  reconnectMinIntervalMs: number;
  logLevel: (typeof LOG_LEVELS)[number];
  shutdownTimeoutMs: number;
  /** How often the `health` log line is written. */
  healthLogIntervalMs: number;
  /** CloudWatch namespace the health line's figures are published under (EMF), or none. */
  metricsNamespace: string | undefined;
  /** This listener's name: the `Listener` dimension of its metrics (one per Kalshi key). */
  listenerName: string;
  /** The status pages of the fleet this listener belongs to, linked from its own. */
  fleetStatusUrls: Array<{ name: string; url: string }>;
}

/**
 * Every default, in one place: the schema applies them, the README's table (ENVIRONMENT) shows
 * them, and `demo` gets them by running its settings through loadConfig like `run` does.
 */
export const DEFAULTS = {
  FIX_TARGET_COMP_ID: 'KalshiNR',
  FIX_PORT: { KalshiNR: 8228, KalshiRT: 8230 },
  /** Asked for on KalshiRT only. */
  FIX_MESSAGE_RETENTION_H: 72,
  FIX_HEARTBEAT_S: 30,
  FIX_CONNECT_TIMEOUT_S: 10,
  FIX_DC_PORT: 8229,
  ARCHIVE_GRACE_S: 300,
  ARCHIVE_FLUSH_S: 60,
  ARCHIVE_TIME_OUTLIER_S: 86_400,
  ARCHIVE_MAX_OBJECT_MB: 64,
  ARCHIVE_GZIP: true,
  ARCHIVE_PARQUET: true,
  SPOOL_DIR: './data/spool',
  HTTP_PORT: 8080,
  RECONNECT_MIN_INTERVAL_S: 10,
  LOG_LEVEL: 'info',
  SHUTDOWN_TIMEOUT_S: 20,
  HEALTH_LOG_INTERVAL_S: 60,
  LISTENER_NAME: DEFAULT_LISTENER,
} as const;

/** One documented row per variable: the README's configuration table is generated from this. */
export const ENVIRONMENT: ReadonlyArray<{ name: string; required: string; default: string; meaning: string }> = [
  {
    name: 'FIX_HOST',
    required: 'yes',
    default: '',
    meaning: 'Kalshi FIX host, e.g. margin-mm.fix.elections.kalshi.com (demo: margin-fix.demo.kalshi.co)',
  },
  {
    name: 'FIX_PORT',
    required: 'no',
    default: `${DEFAULTS.FIX_PORT.KalshiNR} (NR) / ${DEFAULTS.FIX_PORT.KalshiRT} (RT)`,
    meaning: 'TLS port; must match the TargetCompID',
  },
  {
    name: 'FIX_TARGET_COMP_ID',
    required: 'no',
    default: DEFAULTS.FIX_TARGET_COMP_ID,
    meaning: 'KalshiNR (no retransmission) or KalshiRT (retransmission, resumable)',
  },
  {
    name: 'FIX_API_KEY',
    required: 'yes',
    default: '',
    meaning: 'the listener API key ID (UUID), sent as SenderCompID',
  },
  {
    name: 'FIX_PRIVATE_KEY',
    required: 'one of',
    default: '',
    meaning: 'RSA private key, PEM text (Secrets Manager injects it)',
  },
  { name: 'FIX_PRIVATE_KEY_FILE', required: 'one of', default: '', meaning: 'path to the RSA private key PEM' },
  {
    name: 'FIX_HEARTBEAT_S',
    required: 'no',
    default: String(DEFAULTS.FIX_HEARTBEAT_S),
    meaning: 'HeartBtInt in seconds (3–300)',
  },
  {
    name: 'FIX_CONNECT_TIMEOUT_S',
    required: 'no',
    default: String(DEFAULTS.FIX_CONNECT_TIMEOUT_S),
    meaning:
      'the TCP connect and the TLS handshake each give up after this many seconds, then the back-off and another try (1–120)',
  },
  {
    name: 'FIX_MESSAGE_RETENTION_H',
    required: 'no',
    default: `${DEFAULTS.FIX_MESSAGE_RETENTION_H} on RT`,
    meaning: 'MessageRetentionPeriod(20200) asked for on KalshiRT, hours (1–72)',
  },
  {
    name: 'FIX_DC_API_KEY',
    required: 'no',
    default: '',
    meaning:
      'API key ID for KalshiDC drop-copy backfill after gaps (its own key is safest); unset = gaps are only reported',
  },
  {
    name: 'FIX_DC_PRIVATE_KEY',
    required: 'no',
    default: 'the FIX key',
    meaning: 'RSA private key (PEM) of the drop-copy API key',
  },
  { name: 'FIX_DC_PRIVATE_KEY_FILE', required: 'no', default: '', meaning: 'path to that key' },
  { name: 'FIX_DC_HOST', required: 'no', default: 'FIX_HOST', meaning: 'drop-copy host' },
  { name: 'FIX_DC_PORT', required: 'no', default: String(DEFAULTS.FIX_DC_PORT), meaning: 'drop-copy port (KalshiDC)' },
  {
    name: 'FIX_TLS_CA_FILE',
    required: 'no',
    default: '',
    meaning: 'extra CA certificates (PEM) to trust on top of the system roots',
  },
  { name: 'ARCHIVE_URL', required: 'yes', default: '', meaning: 's3://bucket/prefix/ or file:///dir' },
  {
    name: 'ARCHIVE_FLUSH_S',
    required: 'no',
    default: String(DEFAULTS.ARCHIVE_FLUSH_S),
    meaning: 'an object is written at most this long after its first record arrived (1–3600)',
  },
  {
    name: 'ARCHIVE_TIME_OUTLIER_S',
    required: 'no',
    default: String(DEFAULTS.ARCHIVE_TIME_OUTLIER_S),
    meaning:
      'a report whose TransactTime (else SendingTime) is further than this from its receipt is filed under its receive hour (60–31536000)',
  },
  {
    name: 'ARCHIVE_GRACE_S',
    required: 'no',
    default: String(DEFAULTS.ARCHIVE_GRACE_S),
    meaning: "an hour's last object is written no later than this long after the hour ends",
  },
  {
    name: 'ARCHIVE_MAX_OBJECT_MB',
    required: 'no',
    default: String(DEFAULTS.ARCHIVE_MAX_OBJECT_MB),
    meaning: 'an hour is written early past this size (uncompressed)',
  },
  {
    name: 'ARCHIVE_GZIP',
    required: 'no',
    default: String(DEFAULTS.ARCHIVE_GZIP),
    meaning: 'gzip archive objects (.jsonl.gz) or not (.jsonl)',
  },
  {
    name: 'ARCHIVE_PARQUET',
    required: 'no',
    default: String(DEFAULTS.ARCHIVE_PARQUET),
    meaning: 'also write each closed hour as typed Parquet under exec_reports_parquet/',
  },
  {
    name: 'FILLS_QUEUE_URL',
    required: 'yes',
    default: '',
    meaning: 'SQS queue URL (FIFO when it ends in .fifo) or file:///path/fills.jsonl',
  },
  {
    name: 'SPOOL_DIR',
    required: 'no',
    default: DEFAULTS.SPOOL_DIR,
    meaning: 'journal and session state; must survive restarts (EFS on Fargate)',
  },
  { name: 'HTTP_PORT', required: 'no', default: String(DEFAULTS.HTTP_PORT), meaning: 'control plane port' },
  {
    name: 'HTTP_HOST',
    required: 'no',
    default: '127.0.0.1 (0.0.0.0 with CONTROL_TOKEN)',
    meaning: 'control plane address; anything but loopback requires CONTROL_TOKEN',
  },
  {
    name: 'CONTROL_TOKEN',
    required: 'no',
    default: '',
    meaning:
      'token every route but /healthz and /readyz requires: Bearer, or HTTP Basic with it as password for reading (open when unset)',
  },
  {
    name: 'RECONNECT_MIN_INTERVAL_S',
    required: 'no',
    default: String(DEFAULTS.RECONNECT_MIN_INTERVAL_S),
    meaning:
      'POST /reconnect is accepted at most once per this many seconds, else 429 with Retry-After (0–3600; 0 = no limit)',
  },
  {
    name: 'LOG_LEVEL',
    required: 'no',
    default: DEFAULTS.LOG_LEVEL,
    meaning: 'fatal, error, warn, info, debug, trace or silent',
  },
  {
    name: 'SHUTDOWN_TIMEOUT_S',
    required: 'no',
    default: String(DEFAULTS.SHUTDOWN_TIMEOUT_S),
    meaning: 'SIGTERM flushes within this bound, then exits',
  },
  {
    name: 'HEALTH_LOG_INTERVAL_S',
    required: 'no',
    default: String(DEFAULTS.HEALTH_LOG_INTERVAL_S),
    meaning: 'how often the `health` log line (readiness, sink lags, backlog) is written (5–3600)',
  },
  {
    name: 'METRICS_NAMESPACE',
    required: 'no',
    default: '',
    meaning:
      'CloudWatch namespace: the health line then carries Embedded Metric Format, so CloudWatch Logs turns it into metrics',
  },
  {
    name: 'LISTENER_NAME',
    required: 'no',
    default: DEFAULTS.LISTENER_NAME,
    meaning:
      "this listener's name (letters, digits, - and _; at most 64): the archive's `listener=` partition, the fills' `listener` attribute and `listener:symbol` group, a label on every metric and a field of every log line",
  },
  {
    name: 'FLEET_STATUS_URLS',
    required: 'no',
    default: '',
    meaning: "the fleet's status pages, `name=http://host:port/,…`: the status page links each one",
  },
];

/** The environment's fields, in the order their problems are listed. */
const FIELDS = {
  FIX_HOST: optional(hostName('FIX_HOST')),
  FIX_PORT: optional(port('FIX_PORT')),
  FIX_TARGET_COMP_ID: withDefault(oneOf('FIX_TARGET_COMP_ID', ['KalshiNR', 'KalshiRT']), DEFAULTS.FIX_TARGET_COMP_ID),
  FIX_API_KEY: optional(apiKeyId('FIX_API_KEY')),
  FIX_PRIVATE_KEY: optional(text),
  FIX_PRIVATE_KEY_FILE: optional(text),
  FIX_HEARTBEAT_S: withDefault(wholeNumber('FIX_HEARTBEAT_S', 3, 300), DEFAULTS.FIX_HEARTBEAT_S),
  FIX_CONNECT_TIMEOUT_S: withDefault(wholeNumber('FIX_CONNECT_TIMEOUT_S', 1, 120), DEFAULTS.FIX_CONNECT_TIMEOUT_S),
  FIX_MESSAGE_RETENTION_H: optional(wholeNumber('FIX_MESSAGE_RETENTION_H', 1, 72)),
  FIX_TLS_CA_FILE: optional(text),
  FIX_DC_API_KEY: optional(apiKeyId('FIX_DC_API_KEY')),
  FIX_DC_HOST: optional(hostName('FIX_DC_HOST')),
  FIX_DC_PORT: withDefault(port('FIX_DC_PORT'), DEFAULTS.FIX_DC_PORT),
  FIX_DC_PRIVATE_KEY: optional(text),
  FIX_DC_PRIVATE_KEY_FILE: optional(text),
  ARCHIVE_URL: required(text, 'ARCHIVE_URL is required (s3://bucket/prefix/ or file:///dir)'),
  ARCHIVE_GRACE_S: withDefault(wholeNumber('ARCHIVE_GRACE_S', 0, 86_400), DEFAULTS.ARCHIVE_GRACE_S),
  ARCHIVE_FLUSH_S: withDefault(wholeNumber('ARCHIVE_FLUSH_S', 1, 3600), DEFAULTS.ARCHIVE_FLUSH_S),
  ARCHIVE_TIME_OUTLIER_S: withDefault(
    wholeNumber('ARCHIVE_TIME_OUTLIER_S', 60, 31_536_000),
    DEFAULTS.ARCHIVE_TIME_OUTLIER_S,
  ),
  ARCHIVE_MAX_OBJECT_MB: withDefault(wholeNumber('ARCHIVE_MAX_OBJECT_MB', 1, 4096), DEFAULTS.ARCHIVE_MAX_OBJECT_MB),
  ARCHIVE_GZIP: withDefault(flag('ARCHIVE_GZIP'), DEFAULTS.ARCHIVE_GZIP),
  ARCHIVE_PARQUET: withDefault(flag('ARCHIVE_PARQUET'), DEFAULTS.ARCHIVE_PARQUET),
  FILLS_QUEUE_URL: required(text, 'FILLS_QUEUE_URL is required (an SQS queue URL or file:///path.jsonl)'),
  SPOOL_DIR: withDefault(minLength(1, 'Too small: expected string to have >=1 characters'), DEFAULTS.SPOOL_DIR),
  HTTP_PORT: withDefault(port('HTTP_PORT', true), DEFAULTS.HTTP_PORT),
  HTTP_HOST: optional(hostName('HTTP_HOST')),
  CONTROL_TOKEN: optional(minLength(16, 'CONTROL_TOKEN must be at least 16 characters')),
  RECONNECT_MIN_INTERVAL_S: withDefault(
    wholeNumber('RECONNECT_MIN_INTERVAL_S', 0, 3600),
    DEFAULTS.RECONNECT_MIN_INTERVAL_S,
  ),
  LOG_LEVEL: withDefault(oneOf('LOG_LEVEL', LOG_LEVELS), DEFAULTS.LOG_LEVEL),
  SHUTDOWN_TIMEOUT_S: withDefault(wholeNumber('SHUTDOWN_TIMEOUT_S', 1, 600), DEFAULTS.SHUTDOWN_TIMEOUT_S),
  HEALTH_LOG_INTERVAL_S: withDefault(wholeNumber('HEALTH_LOG_INTERVAL_S', 5, 3600), DEFAULTS.HEALTH_LOG_INTERVAL_S),
  METRICS_NAMESPACE: optional(
    all(
      maxLength(255, 'METRICS_NAMESPACE must be at most 255 characters'),
      matching(/^[\w.\-/#:]+$/, 'METRICS_NAMESPACE may hold letters, digits and . - _ / # : only'),
    ),
  ),
  LISTENER_NAME: withDefault(listenerName('LISTENER_NAME'), DEFAULTS.LISTENER_NAME),
  FLEET_STATUS_URLS: optional(fleetStatusUrls),
};

/**
 * Reads and validates the environment. Every problem is collected and reported in one
 * ERR_CONFIG error (`details.problems`); values of secrets never appear in it.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings count as unset: ECS and shells often pass VAR= for "nothing".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const problems: string[] = [];
  const parsed = parseFields(FIELDS, cleaned);
  if (!parsed.ok) problems.push(...parsed.problems);
  const raw = parsed.ok ? parsed.data : undefined;

  const archive = parseArchiveUrl(cleaned['ARCHIVE_URL'], problems);
  const fills = parseFillsUrl(cleaned['FILLS_QUEUE_URL'], problems);
  const privateKey = readPrivateKey(cleaned, problems, 'FIX_PRIVATE_KEY', 'FIX_PRIVATE_KEY_FILE', true);
  const dcKey =
    cleaned['FIX_DC_API_KEY'] === undefined
      ? undefined
      : readPrivateKey(cleaned, problems, 'FIX_DC_PRIVATE_KEY', 'FIX_DC_PRIVATE_KEY_FILE', false);
  let extraCa: string | undefined;
  if (cleaned['FIX_TLS_CA_FILE'] !== undefined) {
    try {
      extraCa = readFileSync(cleaned['FIX_TLS_CA_FILE'], 'utf8');
      if (!extraCa.includes('-----BEGIN CERTIFICATE-----'))
        problems.push(`FIX_TLS_CA_FILE ${cleaned['FIX_TLS_CA_FILE']} holds no PEM certificate`);
    } catch {
      problems.push(`FIX_TLS_CA_FILE ${cleaned['FIX_TLS_CA_FILE']} cannot be read`);
    }
  }
  if (cleaned['FIX_HOST'] === undefined) problems.push('FIX_HOST is required');
  if (cleaned['FIX_API_KEY'] === undefined) problems.push('FIX_API_KEY is required');
  for (const [name, key] of [
    ['FIX_PRIVATE_KEY', privateKey],
    ['FIX_DC_PRIVATE_KEY', dcKey],
  ] as const) {
    const bits = key?.asymmetricKeyDetails?.modulusLength;
    if (bits !== undefined && bits < 2048)
      problems.push(`${name}: an RSA key of ${bits} bits; Kalshi needs at least 2048`);
  }
  const controlToken = raw?.CONTROL_TOKEN;
  const httpHost = raw?.HTTP_HOST ?? (controlToken === undefined ? '127.0.0.1' : '0.0.0.0');
  if (controlToken === undefined && !isLoopback(httpHost))
    problems.push(
      `HTTP_HOST ${httpHost} is not a loopback address: set CONTROL_TOKEN to listen beyond this machine (POST /reconnect would be open to anyone who reaches it)`,
    );
  if (raw !== undefined && raw.FIX_MESSAGE_RETENTION_H !== undefined && raw.FIX_TARGET_COMP_ID !== 'KalshiRT') {
    problems.push('FIX_MESSAGE_RETENTION_H applies to KalshiRT only');
  }
  if (
    problems.length > 0 ||
    raw === undefined ||
    raw.FIX_HOST === undefined ||
    raw.FIX_API_KEY === undefined ||
    archive === undefined ||
    fills === undefined ||
    privateKey === undefined
  ) {
    throw new ListenerError('ERR_CONFIG', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      details: { problems },
    });
  }
  return {
    fix: {
      host: raw.FIX_HOST,
      port: raw.FIX_PORT ?? DEFAULTS.FIX_PORT[raw.FIX_TARGET_COMP_ID],
      targetCompId: raw.FIX_TARGET_COMP_ID,
      apiKey: raw.FIX_API_KEY,
      privateKey,
      heartbeatS: raw.FIX_HEARTBEAT_S,
      connectTimeoutMs: raw.FIX_CONNECT_TIMEOUT_S * 1000,
      extraCa,
      messageRetentionHours:
        raw.FIX_MESSAGE_RETENTION_H ??
        (raw.FIX_TARGET_COMP_ID === 'KalshiRT' ? DEFAULTS.FIX_MESSAGE_RETENTION_H : undefined),
    },
    dropCopy:
      cleaned['FIX_DC_API_KEY'] === undefined
        ? undefined
        : {
            host: raw.FIX_DC_HOST ?? raw.FIX_HOST,
            port: raw.FIX_DC_PORT,
            apiKey: cleaned['FIX_DC_API_KEY'],
            privateKey: dcKey ?? privateKey,
          },
    archive,
    archiveGraceMs: raw.ARCHIVE_GRACE_S * 1000,
    archiveFlushMs: raw.ARCHIVE_FLUSH_S * 1000,
    archiveTimeOutlierMs: raw.ARCHIVE_TIME_OUTLIER_S * 1000,
    archiveMaxObjectBytes: raw.ARCHIVE_MAX_OBJECT_MB * 1024 * 1024,
    archiveGzip: raw.ARCHIVE_GZIP,
    archiveParquet: raw.ARCHIVE_PARQUET,
    fills,
    spoolDir: raw.SPOOL_DIR,
    httpPort: raw.HTTP_PORT,
    httpHost,
    controlToken: raw.CONTROL_TOKEN,
    reconnectMinIntervalMs: raw.RECONNECT_MIN_INTERVAL_S * 1000,
    logLevel: raw.LOG_LEVEL,
    shutdownTimeoutMs: raw.SHUTDOWN_TIMEOUT_S * 1000,
    healthLogIntervalMs: raw.HEALTH_LOG_INTERVAL_S * 1000,
    metricsNamespace: raw.METRICS_NAMESPACE,
    listenerName: raw.LISTENER_NAME,
    fleetStatusUrls: raw.FLEET_STATUS_URLS ?? [],
  };
}

/**
 * Settings that are valid but lose data in the normal course of things: said at every start, as
 * a warning line each.
 */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.fix.targetCompId === 'KalshiNR' && config.dropCopy === undefined)
    warnings.push(
      'KalshiNR without a drop copy: the exchange does not resend what was missed, so every restart, deployment or reconnect records a hole. Use KalshiRT (FIX_TARGET_COMP_ID, port 8230), or set FIX_DC_API_KEY for backfill.',
    );
  return warnings;
}

export function parseArchiveUrl(value: string | undefined, problems: string[]): Config['archive'] | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`ARCHIVE_URL is not a URL: expected s3://bucket/prefix/ or file:///dir`);
    return undefined;
  }
  if (url.protocol === 'file:') return { kind: 'file', dir: fileURLToPath(url) };
  if (url.protocol === 's3:' && url.hostname !== '') {
    let prefix = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
    return { kind: 's3', bucket: url.hostname, prefix };
  }
  problems.push(`ARCHIVE_URL must be s3://bucket/prefix/ or file:///dir, got ${url.protocol}//`);
  return undefined;
}

export function parseFillsUrl(value: string | undefined, problems: string[]): Config['fills'] | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(
      'FILLS_QUEUE_URL is not a URL: expected https://sqs.<region>.amazonaws.com/<account>/<name> or file:///path.jsonl',
    );
    return undefined;
  }
  if (url.protocol === 'file:') return { kind: 'file', path: fileURLToPath(url) };
  if ((url.protocol === 'https:' || url.protocol === 'http:') && url.pathname.split('/').filter(Boolean).length >= 2)
    return { kind: 'sqs', queueUrl: value };
  problems.push('FILLS_QUEUE_URL must be an SQS queue URL (…/<account>/<queue>) or file:///path.jsonl');
  return undefined;
}

function readPrivateKey(
  env: Record<string, string | undefined>,
  problems: string[],
  inlineName: string,
  fileName: string,
  required: boolean,
): KeyObject | undefined {
  const inline = env[inlineName];
  const file = env[fileName];
  if (inline !== undefined && file !== undefined) {
    problems.push(`set ${inlineName} or ${fileName}, not both`);
    return undefined;
  }
  let pem: string;
  if (inline !== undefined) {
    pem = inline.replaceAll('\\n', '\n'); // one-line secrets often carry escaped newlines
  } else if (file !== undefined) {
    try {
      pem = readFileSync(file, 'utf8');
    } catch {
      problems.push(`${fileName} ${file} cannot be read`);
      return undefined;
    }
  } else {
    if (required) problems.push(`${inlineName} or ${fileName} is required`);
    return undefined;
  }
  try {
    return loadRsaPrivateKey(pem);
  } catch (error) {
    const source = inline !== undefined ? inlineName : `${fileName} ${file}`;
    problems.push(`${source}: ${(error as Error).message}`);
    return undefined;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A Kalshi API key ID: a UUID. Anything else is refused without being echoed — a key ID is not a
 * secret, but a PEM pasted into the wrong variable is, and it would otherwise reach the log and
 * the wire as SenderCompID.
 */
function apiKeyId(name: string): Rule<string> {
  return (value, problems) => {
    if (!UUID.test(value))
      problems.push(
        /PRIVATE KEY|-----BEGIN|^MII/.test(value)
          ? `${name} holds key material, not an API key ID (a UUID): did you swap it with FIX_PRIVATE_KEY? (value not shown)`
          : `${name} must be the API key ID, a UUID like 0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d (value not shown)`,
      );
    return value;
  };
}

/** A host name or an IP address: not a URL, no port, no path. */
function hostName(name: string): Rule<string> {
  return matching(
    /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^[0-9a-fA-F:]+$/,
    `${name} must be a host name or an IP address (no scheme, port or path), e.g. fix.elections.kalshi.com`,
  );
}

/** FLEET_STATUS_URLS: `name=http(s)://…` pairs, comma-separated. */
function fleetStatusUrls(value: string, problems: string[]): Array<{ name: string; url: string }> {
  return value
    .split(',')
    .filter((item) => item.trim() !== '')
    .flatMap((item) => {
      const at = item.indexOf('=');
      const name = item.slice(0, at).trim();
      const url = item.slice(at + 1).trim();
      if (at > 0 && /^https?:\/\/[^\s]+$/.test(url)) return [{ name, url }];
      problems.push(`FLEET_STATUS_URLS holds name=http(s)://… pairs, got "${item}"`);
      return [];
    });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { archiveUrl, fillsUrl, type ArchiveLocation, type FillsTarget } from '../core/env-checks.js';
import {
  CONTROL_HOSTS,
  ENVIRONMENT,
  FIX_PORTS,
  LOG_LEVELS,
  parseEnvironment,
  RT_MESSAGE_RETENTION_H,
} from '../core/environment.js';
import { ListenerError } from '../core/errors.js';
import { loadRsaPrivateKey } from '../fix/logon-signature.js';

/** The environment's table (core/environment.ts): the README's rows, the task's variables. */
export { ENVIRONMENT, LOG_LEVELS };

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
  archive: ArchiveLocation;
  archiveGraceMs: number;
  archiveFlushMs: number;
  /** A report time further than this from the receipt is filed under the receive hour (ARCHIVE_TIME_OUTLIER_S). */
  archiveTimeOutlierMs: number;
  archiveMaxObjectBytes: number;
  archiveGzip: boolean;
  archiveParquet: boolean;
  fills: FillsTarget;
  spoolDir: string;
  /** The journal's wait before a group commit, for the reports that arrive meanwhile (JOURNAL_LINGER_MS). */
  journalLingerMs: number;
  /** A part-full batch of fills waits this long for more (FILLS_BATCH_WAIT_MS). */
  fillsBatchWaitMs: number;
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

/** The variables the table gives a default, with it. */
type Defaults = {
  [S in (typeof ENVIRONMENT)[number] as undefined extends S['default'] ? never : S['name']]: S['default'];
};

/**
 * Every default, from the environment's table, and those that depend on other variables: `demo`
 * and `sim` start from them as `run` does.
 */
export const DEFAULTS = {
  ...(Object.fromEntries(
    ENVIRONMENT.filter((s) => s.default !== undefined).map((s) => [s.name, s.default]),
  ) as Defaults),
  FIX_PORT: FIX_PORTS,
  /** Asked for on KalshiRT only. */
  FIX_MESSAGE_RETENTION_H: RT_MESSAGE_RETENTION_H,
};

/**
 * Reads and validates the environment. Every problem is collected and reported in one
 * ERR_CONFIG error (`details.problems`); values of secrets never appear in it.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings count as unset: ECS and shells often pass VAR= for "nothing".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const problems: string[] = [];
  const parsed = parseEnvironment(ENVIRONMENT, cleaned);
  if (!parsed.ok) problems.push(...parsed.problems);
  const raw = parsed.ok ? parsed.values : undefined;

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
  for (const [name, key] of [
    ['FIX_PRIVATE_KEY', privateKey],
    ['FIX_DC_PRIVATE_KEY', dcKey],
  ] as const) {
    const bits = key?.asymmetricKeyDetails?.modulusLength;
    if (bits !== undefined && bits < 2048)
      problems.push(`${name}: an RSA key of ${bits} bits; Kalshi needs at least 2048`);
  }
  const controlToken = raw?.CONTROL_TOKEN;
  const httpHost = raw?.HTTP_HOST ?? (controlToken === undefined ? CONTROL_HOSTS.open : CONTROL_HOSTS.tokened);
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
    raw.ARCHIVE_URL === undefined ||
    raw.FILLS_QUEUE_URL === undefined ||
    privateKey === undefined
  ) {
    throw new ListenerError('ERR_CONFIG', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      details: { problems },
    });
  }
  return {
    fix: {
      host: raw.FIX_HOST,
      port: raw.FIX_PORT ?? FIX_PORTS[raw.FIX_TARGET_COMP_ID],
      targetCompId: raw.FIX_TARGET_COMP_ID,
      apiKey: raw.FIX_API_KEY,
      privateKey,
      heartbeatS: raw.FIX_HEARTBEAT_S,
      connectTimeoutMs: raw.FIX_CONNECT_TIMEOUT_S * 1000,
      extraCa,
      messageRetentionHours:
        raw.FIX_MESSAGE_RETENTION_H ?? (raw.FIX_TARGET_COMP_ID === 'KalshiRT' ? RT_MESSAGE_RETENTION_H : undefined),
    },
    dropCopy:
      raw.FIX_DC_API_KEY === undefined
        ? undefined
        : {
            host: raw.FIX_DC_HOST ?? raw.FIX_HOST,
            port: raw.FIX_DC_PORT,
            apiKey: raw.FIX_DC_API_KEY,
            privateKey: dcKey ?? privateKey,
          },
    archive: raw.ARCHIVE_URL,
    archiveGraceMs: raw.ARCHIVE_GRACE_S * 1000,
    archiveFlushMs: raw.ARCHIVE_FLUSH_S * 1000,
    archiveTimeOutlierMs: raw.ARCHIVE_TIME_OUTLIER_S * 1000,
    archiveMaxObjectBytes: raw.ARCHIVE_MAX_OBJECT_MB * 1024 * 1024,
    archiveGzip: raw.ARCHIVE_GZIP,
    archiveParquet: raw.ARCHIVE_PARQUET,
    fills: raw.FILLS_QUEUE_URL,
    spoolDir: raw.SPOOL_DIR,
    journalLingerMs: raw.JOURNAL_LINGER_MS,
    fillsBatchWaitMs: raw.FILLS_BATCH_WAIT_MS,
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

/** ARCHIVE_URL's rule, for the commands that read the archive without the rest of the service. */
export function parseArchiveUrl(value: string | undefined, problems: string[]): Config['archive'] | undefined {
  return value === undefined ? undefined : archiveUrl.check(value, 'ARCHIVE_URL', problems);
}

/** FILLS_QUEUE_URL's rule, for `replay`'s queue. */
export function parseFillsUrl(value: string | undefined, problems: string[]): Config['fills'] | undefined {
  return value === undefined ? undefined : fillsUrl.check(value, 'FILLS_QUEUE_URL', problems);
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

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

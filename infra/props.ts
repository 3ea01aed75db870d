import { DEFAULT_LISTENER } from '../src/core/env-checks.js';
import { ENVIRONMENT, FIX_PORTS as SERVICE_FIX_PORTS, settingOf, type ByName } from '../src/core/environment.js';
import { taskSizeFor } from './sizing.js';

/** What a deployment chooses; everything else in the stack follows from these. */
export interface ListenerStackSettings {
  fix: {
    /** Kalshi margin gateway (kalshi-fix-margin.md §1.1). */
    host: string;
    targetCompId: 'KalshiNR' | 'KalshiRT';
    /** TLS port; must match the TargetCompID (8228 NR, 8230 RT). */
    port: number;
    heartbeatS: number;
    /**
     * KalshiDC backfill after gaps, from a secret of its own (`dropCopySecretArn`, or one the
     * stack creates): the task gets FIX_DC_API_KEY / FIX_DC_PRIVATE_KEY. On by default: without it
     * every restart or reconnect on KalshiNR leaves a hole.
     */
    dropCopy: boolean;
    /** DC port, opened in the task's egress only when dropCopy is on. */
    dropCopyPort: number;
  };
  /**
   * An existing Secrets Manager secret (complete ARN) holding JSON `{"apiKey": "...", "privateKey":
   * "-----BEGIN PRIVATE KEY-----\n..."}`. Unset: the stack creates an empty one to fill before the
   * service can log on.
   */
  fixSecretArn: string | undefined;
  /** As fixSecretArn, for the drop-copy key (a key of its own: Kalshi allows one session per key). */
  dropCopySecretArn: string | undefined;
  /** Key prefix inside the archive bucket, ending in `/` (DESIGN.md §3 `{prefix}`). */
  archivePrefix: string;
  /** Archive objects move to S3 Standard-IA after this many days. */
  infrequentAccessAfterDays: number;
  /** First day of partition projection (`projection.dt.range` start). */
  archiveStartDate: string;
  /**
   * The sustained reports/s to size the task for (infra/sizing.ts: the 72-hour ExecID window is
   * most of the heap). cpu and memoryMiB follow from it unless given.
   */
  reportsPerSecond: number;
  /** Fargate task size (ARM64). */
  cpu: number;
  memoryMiB: number;
  /**
   * 1 in service, 0 to park it. Never more: Kalshi allows one connection per API key. Unless given,
   * 1 once the keys are there: given as secret ARNs, or put into the secrets this stack created and
   * then said with `-c start=…` (startOf).
   */
  desiredCount: 0 | 1;
  /**
   * desiredCount is 0 because the keys are in secrets this stack created and nobody has said they
   * were put yet: the stack prints the next step (put the keys, deploy with `-c start=…`).
   */
  waitingForKeys: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  logRetentionDays: number;
  /** SIGTERM flush bound; ECS waits a little longer before SIGKILL. */
  shutdownTimeoutS: number;
  /**
   * JOURNAL_LINGER_MS of the task: fewer durable writes on the spool (and a cheaper EFS mode,
   * infra/sizing.ts spoolThroughput) for that much more fill latency.
   */
  journalLingerMs: number;
  /**
   * FILLS_BATCH_WAIT_MS of the task: fewer SQS requests (one SendMessageBatch for several fills)
   * for that much more fill latency.
   */
  fillsBatchWaitMs: number;
  /** Container Insights on the cluster (~20 metrics, ~$6 a month a listener); TaskNotRunning reads ECS's free metrics without it. */
  containerInsights: boolean;
  /** Import this VPC (no look-up: ids and zones are given) instead of creating one. */
  existingVpc: { vpcId: string; availabilityZones: string[]; privateSubnetIds: string[] } | undefined;
  /** LISTENER_NAME of the task: the `Listener` dimension of its metrics and its dashboard's name. */
  listenerName: string;
  /**
   * A fleet: one ECS service per listener, each with its own key secrets, EFS file system, log
   * group and alarms, sharing the cluster, the archive bucket and tables, the fills queue, the
   * alarm topic and the dashboard. Each holds its own listener's fields (the top-level ones for a
   * single listener). Construct ids follow the names, never the order (infra/names.ts).
   */
  listeners: ListenerSpec[];
  /**
   * The listener whose resources keep the bare construct ids of a single-listener stack: `default`,
   * or (`-c legacyFirstListener=NAME`) the one that was first in a fleet deployed before ids
   * followed names, so that deployment upgrades in place too.
   */
  unsuffixedListener: string;
  /** NAT gateways of the VPC the stack creates: 1 (one egress address) or 2 (one per zone). */
  natGateways: 1 | 2;
  /** Alarm notifications by e-mail (the SNS topic exists either way). */
  alarmEmail: string | undefined;
  /** Minutes without /readyz answering 200 once before the readiness alarm fires. */
  notReadyMinutes: number;
  /** Age (minutes) of the oldest fill waiting in the queue before its alarm fires: consumers stalled. */
  fillsQueueMaxAgeMinutes: number;
  /**
   * ECS Exec into the task (`aws ecs execute-command`), to reach the control plane on loopback
   * without opening a port. Adds the SSM agent's writable paths (the root file system stays
   * read-only) and its IAM permissions.
   */
  ecsExec: boolean;
  /**
   * A CIDR (VPN, bastion subnet) allowed to reach the control plane (/status, /readyz, /metrics,
   * POST /reconnect) on the task's private address. Unset: nothing can.
   */
  controlPlaneCidr: string | undefined;
}

/** What differs between the listeners of a fleet. */
export type ListenerSpec = Pick<
  ListenerStackSettings,
  | 'listenerName'
  | 'fix'
  | 'fixSecretArn'
  | 'dropCopySecretArn'
  | 'reportsPerSecond'
  | 'cpu'
  | 'memoryMiB'
  | 'desiredCount'
  | 'waitingForKeys'
>;

/** The listener the top-level settings describe (a single-listener stack). */
export function listenerOf(settings: Omit<ListenerStackSettings, 'listeners'>): ListenerSpec {
  const { listenerName, fix, fixSecretArn, dropCopySecretArn, reportsPerSecond, cpu, memoryMiB } = settings;
  const { desiredCount, waitingForKeys } = settings;
  return {
    listenerName,
    fix,
    fixSecretArn,
    dropCopySecretArn,
    reportsPerSecond,
    cpu,
    memoryMiB,
    desiredCount,
    waitingForKeys,
  };
}

/** Whether every key the listener needs comes from a secret the deployer gave by ARN. */
export function keysGiven(listener: Pick<ListenerSpec, 'fix' | 'fixSecretArn' | 'dropCopySecretArn'>): boolean {
  return listener.fixSecretArn !== undefined && (!listener.fix.dropCopy || listener.dropCopySecretArn !== undefined);
}

/**
 * A listener's desiredCount: as given; else 1 when its keys are there (given by ARN, or `started`:
 * the deployer says they were put into the secrets this stack created); else 0, waiting for them.
 * A task started on an empty secret cannot be given its key, fails, and fails the deployment
 * (and a first deployment's rollback leaves every retained resource behind).
 */
export function startOf(
  listener: Pick<ListenerSpec, 'fix' | 'fixSecretArn' | 'dropCopySecretArn'>,
  given: 0 | 1 | undefined,
  started: boolean,
): Pick<ListenerSpec, 'desiredCount' | 'waitingForKeys'> {
  if (given !== undefined) return { desiredCount: given, waitingForKeys: false };
  const ready = started || keysGiven(listener);
  return { desiredCount: ready ? 1 : 0, waitingForKeys: !ready };
}

/** The stack's settings as one listener sees them: the shared ones, with its own over them. */
export function settingsOf(settings: ListenerStackSettings, listener: ListenerSpec): ListenerStackSettings {
  return { ...settings, ...listener };
}

/** The service's own default for a variable the stack sets (src/core/environment.ts). */
function serviceDefault<
  N extends
    | 'FIX_HEARTBEAT_S'
    | 'FIX_DC_PORT'
    | 'LOG_LEVEL'
    | 'SHUTDOWN_TIMEOUT_S'
    | 'JOURNAL_LINGER_MS'
    | 'FILLS_BATCH_WAIT_MS',
>(name: N): ByName<typeof ENVIRONMENT>[N]['default'] {
  return settingOf(ENVIRONMENT, name).default;
}

const BASE_SETTINGS: Omit<ListenerStackSettings, 'listeners'> = {
  // KalshiRT: the exchange resends what the listener missed while it was away, and the drop copy
  // fills what a resend cannot. KalshiNR without it records a hole at every restart.
  fix: {
    host: 'margin-mm.fix.elections.kalshi.com',
    targetCompId: 'KalshiRT',
    port: SERVICE_FIX_PORTS.KalshiRT,
    heartbeatS: serviceDefault('FIX_HEARTBEAT_S'),
    dropCopy: true,
    dropCopyPort: serviceDefault('FIX_DC_PORT'),
  },
  fixSecretArn: undefined,
  dropCopySecretArn: undefined,
  archivePrefix: 'kalshi-fix-listener/',
  infrequentAccessAfterDays: 30,
  archiveStartDate: '2026-01-01',
  reportsPerSecond: 100,
  ...taskSizeFor(100),
  // No key secrets given: the stack creates empty ones and waits for them (startOf).
  desiredCount: 0,
  waitingForKeys: true,
  logLevel: serviceDefault('LOG_LEVEL'),
  logRetentionDays: 90,
  shutdownTimeoutS: serviceDefault('SHUTDOWN_TIMEOUT_S'),
  journalLingerMs: serviceDefault('JOURNAL_LINGER_MS'),
  fillsBatchWaitMs: serviceDefault('FILLS_BATCH_WAIT_MS'),
  containerInsights: false,
  existingVpc: undefined,
  listenerName: DEFAULT_LISTENER,
  alarmEmail: undefined,
  notReadyMinutes: 5,
  fillsQueueMaxAgeMinutes: 15,
  ecsExec: false,
  controlPlaneCidr: undefined,
  unsuffixedListener: DEFAULT_LISTENER,
  natGateways: 1,
};

export const DEFAULT_SETTINGS: ListenerStackSettings = { ...BASE_SETTINGS, listeners: [listenerOf(BASE_SETTINGS)] };

/** The port Kalshi pairs with each TargetCompID (the service's table); a mismatch is rejected at logon. */
export const FIX_PORTS: Record<ListenerStackSettings['fix']['targetCompId'], number> = SERVICE_FIX_PORTS;

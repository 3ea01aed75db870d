import { readFileSync } from 'node:fs';
import { oneOf, text, wholeNumber, type WholeNumber } from '../src/core/env-checks.js';
import { ENVIRONMENT, settingOf, type ByName } from '../src/core/environment.js';
import {
  atMost,
  checked,
  given,
  ipv4Cidr,
  isoDate,
  keyPrefix,
  list,
  oneOfNumbers,
  optional,
  orDefault,
  secretArn,
  type Check,
} from './context-checks.js';
import {
  DEFAULT_SETTINGS,
  FIX_PORTS,
  listenerOf,
  startOf,
  type ListenerSpec,
  type ListenerStackSettings,
} from './props.js';
import { taskSizeFor } from './sizing.js';

/** Context keys `cdk deploy -c key=value` (or cdk.json "context") understands. */
export const CONTEXT_KEYS = [
  'fixHost',
  'fixTargetCompId',
  'fixPort',
  'fixHeartbeatS',
  'dropCopy',
  'fixSecretArn',
  'dropCopySecretArn',
  'archivePrefix',
  'infrequentAccessAfterDays',
  'archiveStartDate',
  'reportsPerSecond',
  'cpu',
  'memoryMiB',
  'desiredCount',
  'start',
  'logLevel',
  'logRetentionDays',
  'shutdownTimeoutS',
  'journalLingerMs',
  'fillsBatchWaitMs',
  'containerInsights',
  'vpcId',
  'availabilityZones',
  'privateSubnetIds',
  'listenerName',
  'listeners',
  'listenersFile',
  'legacyFirstListener',
  'natGateways',
  'alarmEmail',
  'notReadyMinutes',
  'fillsQueueMaxAgeMinutes',
  'ecsExec',
  'controlPlaneCidr',
  'controlPlaneCidrWide',
] as const;

/** The retention periods CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export type ContextKey = (typeof CONTEXT_KEYS)[number];

/** `-c` values arrive as text, cdk.json values as JSON: numbers and booleans count as their text. */
function normalized(get: (key: ContextKey) => unknown): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) {
    const value = get(key);
    if (value === undefined || value === null || value === '') continue;
    values[key] = typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
  }
  return values;
}

/**
 * The service's own rule for a variable the stack passes on to the task (taskEnvironment): a range
 * changed in core/environment.ts is the one `cdk synth` checks.
 */
function service<N extends keyof Variables>(name: N): Variables[N]['rule'] {
  return settingOf(ENVIRONMENT, name).rule;
}
type Variables = ByName<typeof ENVIRONMENT>;

/** ECS waits at most 120 s after SIGTERM (stopTimeout), and the task adds its margin to the flush bound. */
const MAX_SHUTDOWN_TIMEOUT_S = 100;

const LOG_LEVEL = service('LOG_LEVEL');
/** `silent` would silence the health line, and with it the metrics the alarms read. */
const deployedLogLevel = oneOf(
  LOG_LEVEL.values.filter((l): l is Exclude<typeof l, 'silent'> => l !== 'silent') as [
    ListenerStackSettings['logLevel'],
    ...ListenerStackSettings['logLevel'][],
  ],
);
const trueFalse = oneOf(['true', 'false']);
const count = (rule: WholeNumber) => optional(given(rule));

const d = DEFAULT_SETTINGS;
const CHECKS = {
  fixHost: orDefault(given(service('FIX_HOST')), d.fix.host),
  fixTargetCompId: orDefault(given(service('FIX_TARGET_COMP_ID')), d.fix.targetCompId),
  fixPort: optional(given(service('FIX_PORT'))),
  fixHeartbeatS: orDefault(given(service('FIX_HEARTBEAT_S')), d.fix.heartbeatS),
  dropCopy: orDefault(given(trueFalse), d.fix.dropCopy ? 'true' : 'false'),
  fixSecretArn: optional(given(secretArn)),
  dropCopySecretArn: optional(given(secretArn)),
  archivePrefix: orDefault(given(keyPrefix), d.archivePrefix),
  infrequentAccessAfterDays: orDefault(given(wholeNumber(30, 3650)), d.infrequentAccessAfterDays),
  archiveStartDate: orDefault(given(isoDate), d.archiveStartDate),
  reportsPerSecond: orDefault(given(wholeNumber(1, 5000)), d.reportsPerSecond),
  cpu: count(wholeNumber(256, 16384)),
  memoryMiB: count(wholeNumber(512, 122880)),
  // Unset: 1 once the keys are there, else 0 (props.ts startOf).
  desiredCount: count(wholeNumber(0, 1)),
  // `true` (every listener), or the names of the listeners whose keys were put into the secrets
  // the stack created: they start. Kept on every later deployment (or in cdk.json's context).
  start: optional(list),
  logLevel: orDefault(given(deployedLogLevel), d.logLevel),
  logRetentionDays: orDefault(given(oneOfNumbers(LOG_RETENTION_DAYS, "CloudWatch's values")), d.logRetentionDays),
  shutdownTimeoutS: orDefault(given(atMost(service('SHUTDOWN_TIMEOUT_S'), MAX_SHUTDOWN_TIMEOUT_S)), d.shutdownTimeoutS),
  journalLingerMs: orDefault(given(service('JOURNAL_LINGER_MS')), d.journalLingerMs),
  fillsBatchWaitMs: orDefault(given(service('FILLS_BATCH_WAIT_MS')), d.fillsBatchWaitMs),
  containerInsights: orDefault(given(trueFalse), d.containerInsights ? 'true' : 'false'),
  vpcId: optional(given(text)),
  availabilityZones: optional(list),
  privateSubnetIds: optional(list),
  listenerName: orDefault(given(service('LISTENER_NAME')), d.listenerName),
  listenersFile: optional(given(text)),
  legacyFirstListener: optional(given(service('LISTENER_NAME'))),
  natGateways: orDefault(given(wholeNumber(1, 2)), d.natGateways),
  alarmEmail: optional(given(text)),
  notReadyMinutes: orDefault(given(wholeNumber(1, 1440)), d.notReadyMinutes),
  fillsQueueMaxAgeMinutes: orDefault(given(wholeNumber(1, 20160)), d.fillsQueueMaxAgeMinutes),
  ecsExec: orDefault(given(trueFalse), d.ecsExec ? 'true' : 'false'),
  controlPlaneCidrWide: optional(given(trueFalse)),
  controlPlaneCidr: optional(given(ipv4Cidr)),
} satisfies Partial<Record<ContextKey, Check<unknown>>>;

/**
 * An existing VPC is given, not looked up (a look-up needs credentials at synth time), so its
 * subnets and zones must come with it. Checked on the raw values, so it is reported beside any
 * other problem.
 */
function vpcProblems(values: Record<string, unknown>): string[] {
  if (values['vpcId'] === undefined) return [];
  if (values['natGateways'] !== undefined)
    return ['natGateways is for the VPC the stack creates; with vpcId the egress is your VPC’s own'];
  const length = (key: ContextKey) => list(values[key] ?? '', key, []).length;
  const subnets = length('privateSubnetIds');
  return subnets > 0 && subnets === length('availabilityZones')
    ? []
    : ['vpcId needs privateSubnetIds and availabilityZones, comma-separated, one zone per subnet'];
}

/**
 * The control plane can reconnect the session: a CIDR wider than /8 (0.0.0.0/0 is the whole
 * internet) is refused unless `controlPlaneCidrWide=true` says it is meant.
 */
function cidrProblems(values: Record<string, unknown>): string[] {
  const cidr = values['controlPlaneCidr'];
  const match = typeof cidr === 'string' ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr) : null;
  if (match === null) return [];
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return [`controlPlaneCidr ${String(cidr)} is not a valid IPv4 CIDR`];
  if (prefix < 8 && values['controlPlaneCidrWide'] !== 'true')
    return [
      `controlPlaneCidr ${String(cidr)} opens the control plane (POST /reconnect) to ${prefix === 0 ? 'the whole internet' : `2^${32 - prefix} addresses`}: give the operators' network, or add -c controlPlaneCidrWide=true if that is meant`,
    ];
  return [];
}

/**
 * Settings from CDK context. Every problem is reported at once, before anything is synthesized.
 */
export function settingsFromContext(get: (key: ContextKey) => unknown): ListenerStackSettings {
  const values = normalized(get);
  const problems: string[] = [];
  const c = checked(CHECKS, values, problems);
  problems.push(...vpcProblems(values), ...cidrProblems(values));
  if (problems.length > 0) throw new Error(`invalid CDK context:\n  - ${problems.join('\n  - ')}`);
  const sized = taskSizeFor(c.reportsPerSecond, c.cpu);
  const given = c.desiredCount as 0 | 1 | undefined;
  const flag = c.start?.join();
  const starts = { everyone: flag === 'true', names: new Set(flag === 'true' || flag === 'false' ? [] : c.start) };
  const started = (name: string) => starts.everyone || starts.names.has(name);
  const fix: ListenerStackSettings['fix'] = {
    host: c.fixHost,
    targetCompId: c.fixTargetCompId,
    port: c.fixPort ?? FIX_PORTS[c.fixTargetCompId],
    heartbeatS: c.fixHeartbeatS,
    dropCopy: c.dropCopy === 'true',
    dropCopyPort: d.fix.dropCopyPort,
  };
  const keys = { fix, fixSecretArn: c.fixSecretArn, dropCopySecretArn: c.dropCopySecretArn };
  const base: Omit<ListenerStackSettings, 'listeners'> = {
    ...keys,
    archivePrefix: c.archivePrefix,
    infrequentAccessAfterDays: c.infrequentAccessAfterDays,
    archiveStartDate: c.archiveStartDate,
    reportsPerSecond: c.reportsPerSecond,
    cpu: c.cpu ?? sized.cpu,
    memoryMiB: c.memoryMiB ?? sized.memoryMiB,
    ...startOf(keys, given, started(c.listenerName)),
    logLevel: c.logLevel,
    logRetentionDays: c.logRetentionDays,
    shutdownTimeoutS: c.shutdownTimeoutS,
    journalLingerMs: c.journalLingerMs,
    fillsBatchWaitMs: c.fillsBatchWaitMs,
    containerInsights: c.containerInsights === 'true',
    existingVpc:
      c.vpcId === undefined
        ? undefined
        : { vpcId: c.vpcId, availabilityZones: c.availabilityZones ?? [], privateSubnetIds: c.privateSubnetIds ?? [] },
    listenerName: c.listenerName,
    alarmEmail: c.alarmEmail,
    notReadyMinutes: c.notReadyMinutes,
    fillsQueueMaxAgeMinutes: c.fillsQueueMaxAgeMinutes,
    ecsExec: c.ecsExec === 'true',
    controlPlaneCidr: c.controlPlaneCidr,
    unsuffixedListener: c.legacyFirstListener ?? d.unsuffixedListener,
    natGateways: c.natGateways as 1 | 2,
  };
  const fleet = fleetFrom(values['listeners'], c.listenersFile, base, readFile, { given, started });
  if (typeof fleet === 'string') throw new Error(`invalid CDK context:\n  - ${fleet}`);
  const listeners = fleet ?? [listenerOf(base)];
  const unknown = [...starts.names].filter((n) => !listeners.some((l) => l.listenerName === n));
  if (unknown.length > 0)
    throw new Error(
      `invalid CDK context:\n  - start names no listener of this stack: ${unknown.join(', ')} (give true, or listener names)`,
    );
  return { ...base, listeners };
}

/** What a fleet entry may set; the rest comes from the top-level context. */
const ENTRY_CHECKS = {
  name: (value: unknown, _key: string, problems: string[]) =>
    value === undefined
      ? (problems.push('a listener name is required'), '')
      : given(service('LISTENER_NAME'))(value, 'a listener name', problems),
  fixTargetCompId: optional(given(service('FIX_TARGET_COMP_ID'))),
  fixPort: optional(given(service('FIX_PORT'))),
  fixHeartbeatS: optional(given(service('FIX_HEARTBEAT_S'))),
  dropCopy: optional((value, key, problems) =>
    typeof value === 'boolean' ? value : given(trueFalse)(value, key, problems) === 'true',
  ),
  fixSecretArn: optional(given(secretArn)),
  dropCopySecretArn: optional(given(secretArn)),
  reportsPerSecond: optional(given(wholeNumber(1, 5000))),
  cpu: count(wholeNumber(256, 16384)),
  memoryMiB: count(wholeNumber(512, 122880)),
  desiredCount: count(wholeNumber(0, 1)),
};

/** The fleet's entries, each checked by ENTRY_CHECKS and holding no other key. */
function entriesOf(raw: unknown, problems: string[]): Array<ReturnType<typeof entryOf>> {
  if (!Array.isArray(raw)) {
    problems.push('listeners must be a JSON array of listeners, like [{"name":"member-a"}]');
    return [];
  }
  if (raw.length === 0) problems.push('listeners needs at least one entry');
  return raw.map((entry) => entryOf(entry, problems));
}

function entryOf(entry: unknown, problems: string[]) {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    problems.push(`each listener is an object like {"name":"member-a"}, got ${JSON.stringify(entry)}`);
    return checked(ENTRY_CHECKS, {}, []);
  }
  const unknown = Object.keys(entry).filter((key) => !Object.hasOwn(ENTRY_CHECKS, key));
  if (unknown.length > 0)
    problems.push(`a listener entry cannot set ${unknown.join(', ')} (only ${Object.keys(ENTRY_CHECKS).join(', ')})`);
  return checked(ENTRY_CHECKS, entry as Record<string, unknown>, problems);
}

/**
 * `-c listeners='[{"name":"member-a"},…]'` (or an array in cdk.json), or `-c listenersFile=fleet.json`
 * holding that array: each entry over the top-level settings. Undefined when neither is given; a
 * string naming every problem when something is wrong.
 */
function fleetFrom(
  inline: unknown,
  file: string | undefined,
  base: Omit<ListenerStackSettings, 'listeners'>,
  read: (path: string) => string,
  start: { given: 0 | 1 | undefined; started: (name: string) => boolean },
): ListenerSpec[] | string | undefined {
  if (inline !== undefined && file !== undefined) return 'give listeners or listenersFile, not both';
  let raw: unknown = inline;
  try {
    if (file !== undefined) raw = JSON.parse(read(file));
    else if (typeof inline === 'string') raw = JSON.parse(inline);
  } catch (error) {
    return `${file ?? 'listeners'} is not JSON: ${(error as Error).message}`;
  }
  if (raw === undefined) return undefined;
  const problems: string[] = [];
  const entries = entriesOf(raw, problems);
  if (problems.length > 0) return problems.join('\n  - ');
  const names = entries.map((l) => l.name);
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length > 0) return `listener names must differ: ${[...new Set(twice)].join(', ')} given twice`;
  // Stack output ids keep a name's letters and digits only (FixSecretArn<name>).
  const bare = names.map((n) => n.replace(/[^A-Za-z0-9]/g, ''));
  const alike = names.filter((n, i) => bare.indexOf(bare[i]!) !== i);
  if (alike.length > 0)
    return `listener names must differ in their letters and digits: ${alike.join(', ')} reads like another`;
  return entries.map((l) => {
    const targetCompId = l.fixTargetCompId ?? base.fix.targetCompId;
    const reportsPerSecond = l.reportsPerSecond ?? base.reportsPerSecond;
    const sized = taskSizeFor(reportsPerSecond, l.cpu);
    const keys = {
      fix: {
        ...base.fix,
        targetCompId,
        port: l.fixPort ?? (l.fixTargetCompId === undefined ? base.fix.port : FIX_PORTS[targetCompId]),
        heartbeatS: l.fixHeartbeatS ?? base.fix.heartbeatS,
        dropCopy: l.dropCopy ?? base.fix.dropCopy,
      },
      fixSecretArn: l.fixSecretArn,
      dropCopySecretArn: l.dropCopySecretArn,
    };
    return {
      listenerName: l.name,
      ...keys,
      reportsPerSecond,
      cpu: l.cpu ?? sized.cpu,
      memoryMiB: l.memoryMiB ?? sized.memoryMiB,
      ...startOf(keys, (l.desiredCount as 0 | 1 | undefined) ?? start.given, start.started(l.name)),
    };
  });
}

function readFile(path: string): string {
  return readFileSync(path, 'utf8');
}

import { z } from 'zod';
import { listenerName, oneOf, problemsOf, wholeNumber } from '../src/core/settings-schema.js';
import { readFileSync } from 'node:fs';
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

const text = (key: ContextKey) => z.string({ error: `${key} must be a string` });
/** A comma-separated list, or a JSON array. */
const list = (key: ContextKey) =>
  z.union([z.array(z.coerce.string()), text(key)]).transform((v) =>
    Array.isArray(v)
      ? v
      : v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
  );

/** A complete Secrets Manager ARN: ECS needs the suffix to resolve JSON keys of it. */
const secretArn = (key: ContextKey) =>
  text(key).regex(
    /^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/,
    `${key} must be the complete secret ARN (ending in the 6-character suffix Secrets Manager adds)`,
  );

const d = DEFAULT_SETTINGS;
const schema = z.object({
  fixHost: text('fixHost').default(d.fix.host),
  fixTargetCompId: oneOf('fixTargetCompId', ['KalshiNR', 'KalshiRT']).default(d.fix.targetCompId),
  fixPort: wholeNumber('fixPort', 1, 65535).optional(),
  fixHeartbeatS: wholeNumber('fixHeartbeatS', 3, 300).default(d.fix.heartbeatS),
  dropCopy: oneOf('dropCopy', ['true', 'false']).default(d.fix.dropCopy ? 'true' : 'false'),
  fixSecretArn: secretArn('fixSecretArn').optional(),
  dropCopySecretArn: secretArn('dropCopySecretArn').optional(),
  archivePrefix: text('archivePrefix')
    .transform((p) => (p.endsWith('/') ? p : `${p}/`))
    .refine((p) => !p.startsWith('/') && !p.includes('*'), {
      error: (issue) => `archivePrefix must be a relative key prefix without *, got ${String(issue.input)}`,
    })
    .default(d.archivePrefix),
  infrequentAccessAfterDays: wholeNumber('infrequentAccessAfterDays', 30, 3650).default(d.infrequentAccessAfterDays),
  archiveStartDate: text('archiveStartDate')
    .regex(/^\d{4}-\d{2}-\d{2}$/, {
      error: (issue) => `archiveStartDate must be YYYY-MM-DD, got ${String(issue.input)}`,
    })
    .default(d.archiveStartDate),
  reportsPerSecond: wholeNumber('reportsPerSecond', 1, 5000).default(d.reportsPerSecond),
  cpu: wholeNumber('cpu', 256, 16384).optional(),
  memoryMiB: wholeNumber('memoryMiB', 512, 122880).optional(),
  // Unset: 1 once the keys are there, else 0 (props.ts startOf).
  desiredCount: wholeNumber('desiredCount', 0, 1).optional(),
  // `true` (every listener), or the names of the listeners whose keys were put into the secrets
  // the stack created: they start. Kept on every later deployment (or in cdk.json's context).
  start: list('start').optional(),
  logLevel: oneOf('logLevel', ['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default(d.logLevel),
  logRetentionDays: wholeNumber('logRetentionDays', 1, 3653)
    .refine((days) => LOG_RETENTION_DAYS.includes(days), {
      error: (issue) =>
        `logRetentionDays must be one of CloudWatch's values (${LOG_RETENTION_DAYS.join(', ')}), got ${String(issue.input)}`,
    })
    .default(d.logRetentionDays),
  shutdownTimeoutS: wholeNumber('shutdownTimeoutS', 1, 100).default(d.shutdownTimeoutS),
  vpcId: text('vpcId').optional(),
  availabilityZones: list('availabilityZones').optional(),
  privateSubnetIds: list('privateSubnetIds').optional(),
  listenerName: listenerName('listenerName').default(d.listenerName),
  listeners: z.unknown().optional(),
  listenersFile: text('listenersFile').optional(),
  legacyFirstListener: listenerName('legacyFirstListener').optional(),
  natGateways: wholeNumber('natGateways', 1, 2).default(d.natGateways),
  alarmEmail: text('alarmEmail').optional(),
  notReadyMinutes: wholeNumber('notReadyMinutes', 1, 1440).default(d.notReadyMinutes),
  fillsQueueMaxAgeMinutes: wholeNumber('fillsQueueMaxAgeMinutes', 1, 20160).default(d.fillsQueueMaxAgeMinutes),
  ecsExec: oneOf('ecsExec', ['true', 'false']).default(d.ecsExec ? 'true' : 'false'),
  controlPlaneCidrWide: z.enum(['true', 'false']).optional(),
  controlPlaneCidr: text('controlPlaneCidr')
    .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, {
      error: (issue) => `controlPlaneCidr must be an IPv4 CIDR such as 10.0.0.0/16, got ${String(issue.input)}`,
    })
    .optional(),
});

/**
 * An existing VPC is given, not looked up (a look-up needs credentials at synth time), so its
 * subnets and zones must come with it. Checked on the raw values, so it is reported beside any
 * other problem.
 */
function vpcProblems(values: Record<string, unknown>): string[] {
  if (values['vpcId'] === undefined) return [];
  if (values['natGateways'] !== undefined)
    return ['natGateways is for the VPC the stack creates; with vpcId the egress is your VPC’s own'];
  const count = (key: ContextKey) => list(key).safeParse(values[key] ?? '').data?.length ?? 0;
  const subnets = count('privateSubnetIds');
  return subnets > 0 && subnets === count('availabilityZones')
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
  const parsed = schema.safeParse(values);
  const problems = [
    ...(parsed.success ? [] : problemsOf(parsed.error)),
    ...vpcProblems(values),
    ...cidrProblems(values),
  ];
  if (!parsed.success || problems.length > 0) throw new Error(`invalid CDK context:\n  - ${problems.join('\n  - ')}`);
  const c = parsed.data;
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
const listenerEntry = z
  .object({
    name: listenerName('a listener name'),
    fixTargetCompId: oneOf('fixTargetCompId', ['KalshiNR', 'KalshiRT']).optional(),
    fixPort: wholeNumber('fixPort', 1, 65535).optional(),
    fixHeartbeatS: wholeNumber('fixHeartbeatS', 3, 300).optional(),
    dropCopy: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).optional(),
    fixSecretArn: secretArn('fixSecretArn').optional(),
    dropCopySecretArn: secretArn('dropCopySecretArn').optional(),
    reportsPerSecond: wholeNumber('reportsPerSecond', 1, 5000).optional(),
    cpu: wholeNumber('cpu', 256, 16384).optional(),
    memoryMiB: wholeNumber('memoryMiB', 512, 122880).optional(),
    desiredCount: wholeNumber('desiredCount', 0, 1).optional(),
  })
  .strict();

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
  const parsed = z.array(listenerEntry).min(1, 'listeners needs at least one entry').safeParse(raw);
  if (!parsed.success) return problemsOf(parsed.error).join('\n  - ');
  const names = parsed.data.map((l) => l.name);
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length > 0) return `listener names must differ: ${[...new Set(twice)].join(', ')} given twice`;
  // Stack output ids keep a name's letters and digits only (FixSecretArn<name>).
  const bare = names.map((n) => n.replace(/[^A-Za-z0-9]/g, ''));
  const alike = names.filter((n, i) => bare.indexOf(bare[i]!) !== i);
  if (alike.length > 0)
    return `listener names must differ in their letters and digits: ${alike.join(', ')} reads like another`;
  return parsed.data.map((l) => {
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

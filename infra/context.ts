import { DEFAULT_SETTINGS, FIX_PORTS, type ListenerStackSettings } from './props.js';

/** Context keys `cdk deploy -c key=value` (or cdk.json "context") understands. */
export const CONTEXT_KEYS = [
  'fixHost',
  'fixTargetCompId',
  'fixPort',
  'fixHeartbeatS',
  'dropCopy',
  'fixSecretArn',
  'archivePrefix',
  'infrequentAccessAfterDays',
  'archiveStartDate',
  'cpu',
  'memoryMiB',
  'desiredCount',
  'logLevel',
  'logRetentionDays',
  'shutdownTimeoutS',
  'vpcId',
  'availabilityZones',
  'privateSubnetIds',
  'alarmEmail',
  'controlPlaneCidr',
] as const;

/** The retention periods CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export type ContextKey = (typeof CONTEXT_KEYS)[number];

/**
 * Settings from CDK context. `-c` values arrive as strings, cdk.json values as JSON: both are
 * accepted. Every problem is reported at once, before anything is synthesized.
 */
export function settingsFromContext(get: (key: ContextKey) => unknown): ListenerStackSettings {
  const problems: string[] = [];
  const text = (key: ContextKey): string | undefined => {
    const value = get(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
    problems.push(`${key} must be a string`);
    return undefined;
  };
  const int = (key: ContextKey, fallback: number, min: number, max: number): number => {
    const raw = text(key);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${key} must be a whole number from ${min} to ${max}, got ${raw}`);
      return fallback;
    }
    return value;
  };
  const oneOf = <T extends string>(key: ContextKey, allowed: readonly T[], fallback: T): T => {
    const raw = text(key);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${key} must be one of ${allowed.join(', ')}, got ${raw}`);
    return fallback;
  };
  const list = (key: ContextKey): string[] | undefined => {
    const value = get(key);
    if (Array.isArray(value)) return value.map(String);
    return text(key)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  };

  const retention = (): number => {
    const days = int('logRetentionDays', DEFAULT_SETTINGS.logRetentionDays, 1, 3653);
    if (LOG_RETENTION_DAYS.includes(days)) return days;
    problems.push(
      `logRetentionDays must be one of CloudWatch's values (${LOG_RETENTION_DAYS.join(', ')}), got ${days}`,
    );
    return DEFAULT_SETTINGS.logRetentionDays;
  };

  const d = DEFAULT_SETTINGS;
  const targetCompId = oneOf('fixTargetCompId', ['KalshiNR', 'KalshiRT'] as const, d.fix.targetCompId);
  let archivePrefix = text('archivePrefix') ?? d.archivePrefix;
  if (!archivePrefix.endsWith('/')) archivePrefix += '/';
  if (archivePrefix.startsWith('/') || archivePrefix.includes('*'))
    problems.push(`archivePrefix must be a relative key prefix without *, got ${archivePrefix}`);
  const archiveStartDate = text('archiveStartDate') ?? d.archiveStartDate;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(archiveStartDate))
    problems.push(`archiveStartDate must be YYYY-MM-DD, got ${archiveStartDate}`);
  const fixSecretArn = text('fixSecretArn');
  if (
    fixSecretArn !== undefined &&
    !/^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/.test(fixSecretArn)
  ) {
    problems.push(
      'fixSecretArn must be the complete secret ARN (ending in the 6-character suffix Secrets Manager adds)',
    );
  }

  const vpcId = text('vpcId');
  let existingVpc: ListenerStackSettings['existingVpc'];
  if (vpcId !== undefined) {
    const availabilityZones = list('availabilityZones') ?? [];
    const privateSubnetIds = list('privateSubnetIds') ?? [];
    // Given, not looked up: a look-up needs credentials at synth time.
    if (privateSubnetIds.length === 0 || privateSubnetIds.length !== availabilityZones.length) {
      problems.push('vpcId needs privateSubnetIds and availabilityZones, comma-separated, one zone per subnet');
    }
    existingVpc = { vpcId, availabilityZones, privateSubnetIds };
  }

  const controlPlaneCidr = text('controlPlaneCidr');
  if (controlPlaneCidr !== undefined && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(controlPlaneCidr))
    problems.push(`controlPlaneCidr must be an IPv4 CIDR such as 10.0.0.0/16, got ${controlPlaneCidr}`);

  const settings: ListenerStackSettings = {
    fix: {
      host: text('fixHost') ?? d.fix.host,
      targetCompId,
      port: int('fixPort', FIX_PORTS[targetCompId], 1, 65535),
      heartbeatS: int('fixHeartbeatS', d.fix.heartbeatS, 3, 300),
      dropCopy: oneOf('dropCopy', ['true', 'false'] as const, String(d.fix.dropCopy) as 'true' | 'false') === 'true',
      dropCopyPort: d.fix.dropCopyPort,
    },
    fixSecretArn,
    archivePrefix,
    infrequentAccessAfterDays: int('infrequentAccessAfterDays', d.infrequentAccessAfterDays, 30, 3650),
    archiveStartDate,
    cpu: int('cpu', d.cpu, 256, 16384),
    memoryMiB: int('memoryMiB', d.memoryMiB, 512, 122880),
    desiredCount: int('desiredCount', d.desiredCount, 0, 1) as 0 | 1,
    logLevel: oneOf('logLevel', ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const, d.logLevel),
    logRetentionDays: retention(),
    shutdownTimeoutS: int('shutdownTimeoutS', d.shutdownTimeoutS, 1, 100),
    existingVpc,
    alarmEmail: text('alarmEmail'),
    controlPlaneCidr,
  };
  if (problems.length > 0) throw new Error(`invalid CDK context:\n  - ${problems.join('\n  - ')}`);
  return settings;
}

import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHIVE_LAG_PERIODS, FILLS_LAG_MINUTES, RESTART_STARTS } from '../../infra/alarms.js';
import {
  JSON_SERDE,
  PARQUET_SERDE,
  PARQUET_TABLE_NAME,
  PARTITION_KEYS,
  TABLE_NAME,
} from '../../infra/archive-table.js';
import { MAX_RECEIVE_COUNT } from '../../infra/fills-queue.js';
import { HEALTH_CHECK_SCRIPT, HTTP_PORT, RUNTIME_USER, SPOOL_DIR } from '../../infra/image-contract.js';
import { LOG_LISTENER_FIELD, LOG_MESSAGES } from '../../infra/log-signals.js';
import { DEFAULT_SETTINGS } from '../../infra/props.js';
import { FIX_SECRET_KEYS } from '../../infra/secrets.js';
import { configWarnings, ENVIRONMENT, loadConfig } from '../../src/app/config.js';
import { healthFigures } from '../../src/http/health-line.js';
import { DEFAULT_READINESS } from '../../src/http/readiness.js';
import type { ListenerStatus } from '../../src/http/status.js';
import { RECORD_COLUMNS, TYPED_COLUMNS, typedGlueType } from '../../src/core/record.js';
import { only, REPO, resolveIntrinsics, removeSynthOutputs, SYNTH_MS, synthesize, type Resources } from './synth.js';

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** Variables the AWS SDK reads itself (DESIGN.md §6); anything else must be one config.ts reads. */
const AWS_SDK_VARIABLES = ['AWS_REGION', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL_SQS'];
// Read by Node itself.
const RUNTIME_VARIABLES = ['NODE_OPTIONS'];

const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

let template: Template;
let resources: Resources;
let container: Record<string, unknown>;

// One synthesis of the default stack (a few seconds), shared by every concern below.
afterAll(removeSynthOutputs);
beforeAll(() => {
  ({ template } = synthesize());
  resources = template.toJSON()['Resources'] as Resources;
  container = (
    only(template, 'AWS::ECS::TaskDefinition').properties['ContainerDefinitions'] as Array<Record<string, unknown>>
  )[0]!;
}, SYNTH_MS);

function idsOf(type: string, predicate: (properties: Record<string, unknown>) => boolean = () => true): string[] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === type && predicate(r.Properties ?? {}))
    .map(([id]) => id);
}

function idOf(type: string, predicate?: (properties: Record<string, unknown>) => boolean): string {
  const ids = idsOf(type, predicate);
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.length}`);
  return ids[0]!;
}

/** The names the health line publishes (through EMF, as metrics). */
function healthFigureNames(): string[] {
  return Object.keys(
    healthFigures({
      fatal: undefined,
      session: { state: 'active' },
      sinks: [],
      journal: { backlog: {}, integrity: { damage: [], stalled: null } },
      backfill: { holes: [] },
      counters: { executionReports: 0, fillsPublished: 0 },
    } as unknown as ListenerStatus),
  );
}

/** The service's own log group (the VPC flow logs have another). */
const serviceLogGroupId = () => idsOf('AWS::Logs::LogGroup').find((id) => id.startsWith('ListenerLogs'))!;
const archiveBucketId = () => idOf('AWS::S3::Bucket', (p) => p['VersioningConfiguration'] !== undefined);
const fillsQueueId = () => idOf('AWS::SQS::Queue', (p) => p['RedrivePolicy'] !== undefined);
const deadLetterQueueId = () => idOf('AWS::SQS::Queue', (p) => p['RedrivePolicy'] === undefined);
const taskRoleId = () =>
  (only(template, 'AWS::ECS::TaskDefinition').properties['TaskRoleArn'] as { 'Fn::GetAtt': string[] })[
    'Fn::GetAtt'
  ][0]!;
const executionRoleId = () =>
  (only(template, 'AWS::ECS::TaskDefinition').properties['ExecutionRoleArn'] as { 'Fn::GetAtt': string[] })[
    'Fn::GetAtt'
  ][0]!;

/** Every statement of the identity policies attached to a role. */
function roleStatements(roleId: string): Statement[] {
  return Object.values(resources)
    .filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        asList(r.Properties!['Roles'] as Array<{ Ref: string }>).some((ref) => ref.Ref === roleId),
    )
    .flatMap((r) => (r.Properties!['PolicyDocument'] as { Statement: Statement[] }).Statement);
}

describe('Fargate service: one task, never two', () => {
  it('runs at most one task and stops it before starting a replacement, rolling back a failed deployment', () => {
    // Assess: 0 until the keys are there (test/infra/first-deploy.test.ts), never more than 1.
    template.resourceCountIs('AWS::ECS::Service', 1);
    template.hasResourceProperties('AWS::ECS::Service', {
      DesiredCount: 0,
      LaunchType: 'FARGATE',
      DeploymentConfiguration: {
        MinimumHealthyPercent: 0,
        MaximumPercent: 100,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      },
      AvailabilityZoneRebalancing: 'DISABLED',
      DeploymentController: { Type: 'ECS' },
      EnableExecuteCommand: false,
    });
  });

  it('rolls a deployment back when its new task cannot get ready (the readiness alarm fires during it)', () => {
    // Prepare
    const readiness = idsOf('AWS::CloudWatch::Alarm').find((id) => id.startsWith('AlarmsReadinessFailing'))!;
    // Assess: the process may pass its health check (/healthz) and still never log on.
    template.hasResourceProperties('AWS::ECS::Service', {
      DeploymentConfiguration: Match.objectLike({
        Alarms: { AlarmNames: [{ Ref: readiness }], Enable: true, Rollback: true },
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      }),
    });
    // The alarm reads the health line alone: it does not refer to the service that names it.
    expect(JSON.stringify(resources[readiness])).not.toContain('ListenerService');
  });

  it('places the task in the private subnets without a public address, and starts it once EFS is mountable', () => {
    // Prepare
    const service = only(template, 'AWS::ECS::Service');
    const network = (
      service.properties['NetworkConfiguration'] as {
        AwsvpcConfiguration: { Subnets: Array<{ Ref: string }>; AssignPublicIp: string };
      }
    ).AwsvpcConfiguration;
    // Assess
    expect(network.AssignPublicIp).toBe('DISABLED');
    expect(network.Subnets).toHaveLength(2);
    expect(network.Subnets.every((s) => /private/i.test(s.Ref))).toBe(true);
    expect(
      asList(service.resource.DependsOn).filter((id) => resources[id]?.Type === 'AWS::EFS::MountTarget'),
    ).toHaveLength(2);
  });

  it('is an ARM64 Fargate task of the configured size, from the Dockerfile asset', () => {
    // Assess
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: String(DEFAULT_SETTINGS.cpu),
      Memory: String(DEFAULT_SETTINGS.memoryMiB),
      RequiresCompatibilities: ['FARGATE'],
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
    });
    expect(JSON.stringify(container['Image'])).toMatch(/container-assets.*:[0-9a-f]{64}/);
  });

  it('checks liveness with the Dockerfile probe, and lets SIGTERM flush before the kill', () => {
    // Assess
    expect(container['HealthCheck']).toMatchObject({ Command: ['CMD', 'node', '-e', HEALTH_CHECK_SCRIPT] });
    expect(container['StopTimeout']).toBeGreaterThan(DEFAULT_SETTINGS.shutdownTimeoutS);
    expect(container['ReadonlyRootFilesystem']).toBe(true);
    expect(container['PortMappings']).toEqual([expect.objectContaining({ ContainerPort: HTTP_PORT })]);
  });

  it('logs to its own log group with retention, without blocking the event loop on CloudWatch', () => {
    // Assess
    expect(resources[serviceLogGroupId()]!.Properties).toMatchObject({
      RetentionInDays: DEFAULT_SETTINGS.logRetentionDays,
    });
    expect(container['LogConfiguration']).toMatchObject({
      LogDriver: 'awslogs',
      Options: { 'awslogs-group': { Ref: serviceLogGroupId() }, mode: 'non-blocking' },
    });
  });

  it('sends only to AWS APIs (443), the Kalshi FIX and drop-copy ports and the spool file system, and accepts nothing by default', () => {
    // Prepare
    const taskGroup = idOf('AWS::EC2::SecurityGroup', (p) => p['GroupDescription'] === 'kalshi-fix-listener task');
    const egress = (
      resources[taskGroup]!.Properties!['SecurityGroupEgress'] as Array<{
        FromPort: number;
        ToPort: number;
        CidrIp: string;
      }>
    ).map((e) => [e.FromPort, e.ToPort]);
    const toSpool = idsOf('AWS::EC2::SecurityGroupEgress', (p) => JSON.stringify(p['GroupId']).includes(taskGroup));
    // Assess
    expect(egress).toEqual([
      [443, 443],
      [DEFAULT_SETTINGS.fix.port, DEFAULT_SETTINGS.fix.port],
      [DEFAULT_SETTINGS.fix.dropCopyPort, DEFAULT_SETTINGS.fix.dropCopyPort],
    ]);
    expect(toSpool.map((id) => resources[id]!.Properties!['FromPort'])).toEqual([2049]);
    expect(resources[taskGroup]!.Properties!['SecurityGroupIngress']).toBeUndefined();
  });
});

describe('task environment and secrets (DESIGN.md §6)', () => {
  const environment = () =>
    Object.fromEntries(
      (container['Environment'] as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]),
    );
  const secrets = () => container['Secrets'] as Array<{ Name: string; ValueFrom: unknown }>;

  it('sets only variables the service or the AWS SDK reads', () => {
    // Prepare
    const known = new Set([...ENVIRONMENT.map((v) => v.name), ...AWS_SDK_VARIABLES, ...RUNTIME_VARIABLES]);
    // Assess
    for (const name of [...Object.keys(environment()), ...secrets().map((s) => s.Name)])
      expect(known, name).toContain(name);
  });

  it('sets every required variable, the private key among them, and keeps secrets out of the plain environment', () => {
    // Prepare
    const set = new Set([...Object.keys(environment()), ...secrets().map((s) => s.Name)]);
    // Assess
    for (const variable of ENVIRONMENT.filter((v) => v.required === 'yes'))
      expect(set, variable.name).toContain(variable.name);
    expect(set).toContain('FIX_PRIVATE_KEY');
    expect(Object.keys(environment()).filter((n) => /KEY|TOKEN/.test(n))).toEqual([]);
    expect(environment()).toMatchObject({ SPOOL_DIR, HTTP_PORT: String(HTTP_PORT) });
  });

  it('caps the V8 heap below the task memory, so a long outage cannot grow the process past it', () => {
    // Prepare
    const memoryMiB = Number(only(template, 'AWS::ECS::TaskDefinition').properties['Memory']);
    // Act
    const cap = Number(/--max-old-space-size=(\d+)/.exec(String(environment()['NODE_OPTIONS']))?.[1]);
    // Assess
    expect(cap).toBeGreaterThan(memoryMiB / 2);
    expect(cap).toBeLessThan(memoryMiB);
  });

  it('injects the FIX key, the drop-copy key (a secret of its own) and a generated control token', () => {
    // Prepare
    const byName = Object.fromEntries(secrets().map((s) => [s.Name, JSON.stringify(s.ValueFrom)]));
    const secretIds = idsOf('AWS::SecretsManager::Secret');
    const fix = secretIds.find((id) => id.startsWith('SecretsFix'))!;
    const dropCopy = secretIds.find((id) => id.startsWith('SecretsDropCopy'))!;
    // Assess
    expect(secretIds).toHaveLength(3);
    expect(byName['FIX_API_KEY']).toMatch(new RegExp(`${fix}.*:${FIX_SECRET_KEYS.apiKey}::`));
    expect(byName['FIX_PRIVATE_KEY']).toMatch(new RegExp(`${fix}.*:${FIX_SECRET_KEYS.privateKey}::`));
    expect(byName['FIX_DC_API_KEY']).toMatch(new RegExp(`${dropCopy}.*:${FIX_SECRET_KEYS.apiKey}::`));
    expect(byName['FIX_DC_PRIVATE_KEY']).toMatch(new RegExp(`${dropCopy}.*:${FIX_SECRET_KEYS.privateKey}::`));
    expect(byName['CONTROL_TOKEN']).toBeDefined();
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ PasswordLength: 40, ExcludePunctuation: true }),
    });
  });

  it("is accepted by the service's own configuration check once the secrets are filled in", () => {
    // Prepare: resolve the template's references as ECS would at task start.
    const plain = resolveIntrinsics(environment(), resources, (id, type) =>
      type === 'AWS::SQS::Queue' ? `https://sqs.us-east-1.amazonaws.com/123456789012/${id}.fifo` : id.toLowerCase(),
    ) as Record<string, string>;
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    // Act
    const config = loadConfig({
      ...plain,
      FIX_API_KEY: '0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d',
      FIX_PRIVATE_KEY: privateKey,
      FIX_DC_API_KEY: '9d2c1b4a-2222-4c3d-8e4f-0a1b2c3d4e5f',
      FIX_DC_PRIVATE_KEY: privateKey,
      CONTROL_TOKEN: 'x'.repeat(40),
    });
    // Assess
    expect(config.archive).toEqual({
      kind: 's3',
      bucket: archiveBucketId().toLowerCase(),
      prefix: DEFAULT_SETTINGS.archivePrefix,
    });
    expect(config.fills).toEqual({
      kind: 'sqs',
      queueUrl: expect.stringContaining(`${fillsQueueId()}.fifo`) as unknown,
    });
    expect(config.fix).toMatchObject({ host: DEFAULT_SETTINGS.fix.host, port: 8230, targetCompId: 'KalshiRT' });
    expect(config.dropCopy).toMatchObject({ host: DEFAULT_SETTINGS.fix.host, port: DEFAULT_SETTINGS.fix.dropCopyPort });
    expect(config.listenerName).toBe('default');
    expect(configWarnings(config)).toEqual([]);
    expect(config.spoolDir).toBe(SPOOL_DIR);
    expect(config.httpPort).toBe(HTTP_PORT);
  });
});

describe('spool on EFS', () => {
  it('is encrypted, has a mount target in each private subnet and survives the stack', () => {
    // Assess
    template.hasResource('AWS::EFS::FileSystem', {
      Properties: Match.objectLike({ Encrypted: true }),
      DeletionPolicy: 'Retain',
    });
    const subnets = idsOf('AWS::EFS::MountTarget').map(
      (id) => (resources[id]!.Properties!['SubnetId'] as { Ref: string }).Ref,
    );
    expect(subnets).toHaveLength(2);
    expect(subnets.every((s) => /private/i.test(s))).toBe(true);
  });

  it("is mounted at SPOOL_DIR through an access point owned by the image's runtime user, with TLS and IAM", () => {
    // Prepare
    const accessPoint = idOf('AWS::EFS::AccessPoint');
    // Assess
    template.hasResourceProperties('AWS::EFS::AccessPoint', {
      PosixUser: { Uid: String(RUNTIME_USER.uid), Gid: String(RUNTIME_USER.gid) },
      RootDirectory: {
        CreationInfo: { OwnerUid: String(RUNTIME_USER.uid), OwnerGid: String(RUNTIME_USER.gid), Permissions: '750' },
      },
    });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Volumes: [
        {
          Name: 'spool',
          EFSVolumeConfiguration: {
            TransitEncryption: 'ENABLED',
            AuthorizationConfig: { AccessPointId: { Ref: accessPoint }, IAM: 'ENABLED' },
          },
        },
      ],
    });
    expect(container['MountPoints']).toEqual([{ ContainerPath: SPOOL_DIR, SourceVolume: 'spool', ReadOnly: false }]);
  });

  it("admits the task role only, over TLS, and NFS only from the task's security group", () => {
    // Prepare
    const policy = only(template, 'AWS::EFS::FileSystem').properties['FileSystemPolicy'] as { Statement: Statement[] };
    const allows = policy.Statement.filter((s) => s.Effect === 'Allow');
    const ingress = idsOf('AWS::EC2::SecurityGroupIngress').map((id) => resources[id]!.Properties!);
    // Assess
    expect(allows).toHaveLength(1);
    expect(allows[0]!.Principal).toEqual({ AWS: { 'Fn::GetAtt': [taskRoleId(), 'Arn'] } });
    expect(asList(allows[0]!.Action)).not.toContain('elasticfilesystem:ClientRootAccess');
    expect(policy.Statement.filter((s) => s.Effect === 'Deny')).toEqual([
      expect.objectContaining({ Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    ]);
    expect(ingress).toEqual([
      expect.objectContaining({ FromPort: 2049, ToPort: 2049, SourceSecurityGroupId: expect.anything() as unknown }),
    ]);
  });
});

describe('archive bucket', () => {
  it('is encrypted, private, TLS-only, versioned and kept when the stack goes', () => {
    // Prepare
    const bucket = archiveBucketId();
    // Assess
    template.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        VersioningConfiguration: { Status: 'Enabled' },
      }),
      DeletionPolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('moves the archive prefix to Standard-IA after the configured days (30 by default)', () => {
    // Assess
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Prefix: DEFAULT_SETTINGS.archivePrefix,
            Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
          }),
        ]),
      },
    });
  });
});

describe('Glue table and Athena workgroup', () => {
  const tableNamed = (name: string) =>
    resources[idOf('AWS::Glue::Table', (p) => (p['TableInput'] as { Name?: string } | undefined)?.Name === name)]!
      .Properties!['TableInput'] as {
      Name: string;
      Parameters: Record<string, unknown>;
      PartitionKeys: Array<{ Name: string; Type: string }>;
      StorageDescriptor: {
        Columns: Array<{ Name: string; Type: string }>;
        Location: unknown;
        InputFormat: string;
        OutputFormat: string;
        SerdeInfo: { SerializationLibrary: string };
      };
    };
  const table = () => tableNamed(TABLE_NAME);
  const parquetTable = () => tableNamed(PARQUET_TABLE_NAME);
  const resolve = (value: unknown) => resolveIntrinsics(value, resources, (id) => id.toLowerCase());

  it("has exactly the archive record's columns and types, in order (one source: src/core/record.ts)", () => {
    // Assess
    expect(table().StorageDescriptor.Columns.map((c) => [c.Name, c.Type])).toEqual(
      RECORD_COLUMNS.map((c) => [c.name, c.glueType]),
    );
  });

  it("reads the writer's prefix with the Hive JSON SerDe, gzip or not, partitioned by dt and hour", () => {
    // Prepare
    const environment = Object.fromEntries(
      (container['Environment'] as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]),
    );
    // Assess
    expect(table().Name).toBe(TABLE_NAME);
    expect(resolve(table().StorageDescriptor.Location)).toBe(
      `${resolve(environment['ARCHIVE_URL']) as string}exec_reports/`,
    );
    expect(table().StorageDescriptor.SerdeInfo.SerializationLibrary).toBe(JSON_SERDE);
    expect(table().StorageDescriptor.InputFormat).toBe('org.apache.hadoop.mapred.TextInputFormat');
    expect(table().StorageDescriptor.OutputFormat).toBe('org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat');
    expect(table().PartitionKeys.map((k) => [k.Name, k.Type])).toEqual(PARTITION_KEYS.map((k) => [k.name, k.type]));
  });

  it('has a second, typed table over the Parquet objects, with the same columns and partitions', () => {
    // Prepare
    const environment = Object.fromEntries(
      (container['Environment'] as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]),
    );
    const parameters = resolve(parquetTable().Parameters) as Record<string, string>;
    // Assess
    expect(parquetTable().StorageDescriptor.Columns.map((c) => [c.Name, c.Type])).toEqual(
      RECORD_COLUMNS.map((c) => [c.name, typedGlueType(TYPED_COLUMNS[c.name])]),
    );
    expect(resolve(parquetTable().StorageDescriptor.Location)).toBe(
      `${resolve(environment['ARCHIVE_URL']) as string}exec_reports_parquet/`,
    );
    expect(parquetTable().StorageDescriptor.SerdeInfo.SerializationLibrary).toBe(PARQUET_SERDE);
    expect(parquetTable().StorageDescriptor.InputFormat).toBe(
      'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
    );
    expect(parquetTable().PartitionKeys.map((k) => [k.Name, k.Type])).toEqual(
      PARTITION_KEYS.map((k) => [k.name, k.type]),
    );
    expect(parameters['storage.location.template']).toBe(
      `${resolve(parquetTable().StorageDescriptor.Location) as string}listener=\${listener}/dt=\${dt}/hour=\${hour}/`,
    );
  });

  it("projects the stack's listener, dt as a date and hour as a two-digit integer onto the key template", () => {
    // Prepare
    const parameters = resolve(table().Parameters) as Record<string, string>;
    // Assess
    expect(parameters).toMatchObject({
      'projection.enabled': 'true',
      'projection.listener.type': 'enum',
      'projection.listener.values': DEFAULT_SETTINGS.listenerName,
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.dt.range': `${DEFAULT_SETTINGS.archiveStartDate},NOW`,
      'projection.hour.type': 'integer',
      'projection.hour.range': '0,23',
      'projection.hour.digits': '2',
    });
    expect(parameters['storage.location.template']).toBe(
      `${resolve(table().StorageDescriptor.Location) as string}listener=\${listener}/dt=\${dt}/hour=\${hour}/`,
    );
  });

  it('has a workgroup that enforces its own encrypted results location, outside the archive bucket', () => {
    // Prepare
    const workGroup = only(template, 'AWS::Athena::WorkGroup').properties as {
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: boolean;
        ResultConfiguration: { OutputLocation: unknown; EncryptionConfiguration: unknown };
      };
    };
    const output = JSON.stringify(workGroup.WorkGroupConfiguration.ResultConfiguration.OutputLocation);
    // Assess
    expect(workGroup.WorkGroupConfiguration.EnforceWorkGroupConfiguration).toBe(true);
    expect(workGroup.WorkGroupConfiguration.ResultConfiguration.EncryptionConfiguration).toEqual({
      EncryptionOption: 'SSE_S3',
    });
    expect(output).not.toContain(archiveBucketId());
    expect(idsOf('AWS::S3::Bucket').some((id) => id !== archiveBucketId() && output.includes(id))).toBe(true);
  });

  it('saves the operator queries on each table, in the workgroup', () => {
    // Prepare
    const queries = idsOf('AWS::Athena::NamedQuery').map(
      (id) => resources[id]!.Properties as { Name: string; QueryString: string; Database: string; WorkGroup: unknown },
    );
    // Assess
    expect(queries.map((q) => q.Name).sort()).toEqual([
      'duplicate-exec-ids',
      'fills-per-symbol-per-hour',
      'order-life-by-order-id',
      'parquet-fills-per-symbol-per-hour',
      'parquet-order-life-by-order-id',
    ]);
    for (const query of queries) {
      expect(query.QueryString).toContain(
        `FROM ${query.Name.startsWith('parquet-') ? PARQUET_TABLE_NAME : TABLE_NAME}\n`,
      );
      expect(query.Database).toBe(
        (only(template, 'AWS::Glue::Database').properties['DatabaseInput'] as { Name: string }).Name,
      );
      expect(query.WorkGroup).toEqual({ Ref: idOf('AWS::Athena::WorkGroup') });
    }
  });
});

describe('fills queue', () => {
  it('is FIFO, encrypted, deduplicated by the producer, with a FIFO dead-letter queue', () => {
    // Assess
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: false,
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [deadLetterQueueId(), 'Arn'] },
        maxReceiveCount: MAX_RECEIVE_COUNT,
      },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      SqsManagedSseEnabled: true,
      RedrivePolicy: Match.absent(),
    });
  });

  it('refuses plain HTTP on both queues', () => {
    // Prepare
    const policies = idsOf('AWS::SQS::QueuePolicy').map(
      (id) =>
        resources[id]!.Properties as { Queues: Array<{ Ref: string }>; PolicyDocument: { Statement: Statement[] } },
    );
    // Assess
    expect(policies.flatMap((p) => p.Queues.map((q) => q.Ref)).sort()).toEqual(
      [fillsQueueId(), deadLetterQueueId()].sort(),
    );
    for (const policy of policies)
      expect(policy.PolicyDocument.Statement).toEqual([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]);
  });
});

describe('least-privilege IAM', () => {
  const allStatements = () =>
    Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => (r.Properties!['PolicyDocument'] as { Statement: Statement[] }).Statement);

  it('grants no wildcard action anywhere, and Resource "*" only where AWS requires it (ECR login)', () => {
    // Assess
    for (const statement of allStatements()) {
      for (const action of asList(statement.Action)) expect(action, JSON.stringify(statement)).not.toContain('*');
      if (asList(statement.Resource).includes('*'))
        expect(asList(statement.Action)).toEqual(['ecr:GetAuthorizationToken']);
    }
  });

  it("lets the task role put and read its own listener's part of the archive, list it, and send fills — nothing else", () => {
    // Prepare
    const statements = roleStatements(taskRoleId());
    const bySid = Object.fromEntries(statements.map((s): [string, Statement] => [s.Sid ?? '(no Sid)', s]));
    const bucketArn = { 'Fn::GetAtt': [archiveBucketId(), 'Arn'] };
    const prefix = DEFAULT_SETTINGS.archivePrefix;
    const own = [
      `${prefix}exec_reports/listener=default/*`,
      `${prefix}exec_reports_parquet/listener=default/*`,
      `${prefix}dead_letters/listener=default/*`,
    ];
    // Assess
    expect(Object.keys(bySid).sort()).toEqual([
      'ArchiveObjects',
      'ListArchivePrefix',
      'MountSpoolAccessPoint',
      'ReplaceOwnParquet',
      'SendFills',
    ]);
    expect(bySid['ArchiveObjects']).toMatchObject({
      Action: ['s3:PutObject', 's3:GetObject'],
      Resource: own.map((p) => ({ 'Fn::Join': ['', [bucketArn, `/${p}`]] })),
    });
    expect(bySid['ListArchivePrefix']).toMatchObject({
      Action: 's3:ListBucket',
      Resource: bucketArn,
      Condition: { StringLike: { 's3:prefix': own } },
    });
    // rebuild-parquet --replace removes the hour's old Parquet object (src/app/rebuild-parquet-command.ts
    // lists exec_reports_parquet/listener=NAME/dt=…/hour=…/): delete there and nowhere else.
    expect(bySid['ReplaceOwnParquet']).toMatchObject({
      Action: 's3:DeleteObject',
      Resource: { 'Fn::Join': ['', [bucketArn, `/${prefix}exec_reports_parquet/listener=default/*`]] },
    });
    expect(statements.filter((s) => asList(s.Action).some((a) => /Delete/.test(a))).map((s) => s.Sid)).toEqual([
      'ReplaceOwnParquet',
    ]);
    expect(bySid['SendFills']).toMatchObject({
      Action: 'sqs:SendMessage',
      Resource: { 'Fn::GetAtt': [fillsQueueId(), 'Arn'] },
    });
    expect(bySid['MountSpoolAccessPoint']).toMatchObject({
      Resource: { 'Fn::GetAtt': [idOf('AWS::EFS::FileSystem'), 'Arn'] },
      Condition: { StringEquals: { 'elasticfilesystem:AccessPointArn': expect.anything() as unknown } },
    });
    expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
  });

  it('lets the execution role read exactly the three secrets, write its log group and pull the image', () => {
    // Prepare
    const statements = roleStatements(executionRoleId());
    const secretResources = statements
      .filter((s) => asList(s.Action).some((a) => a.startsWith('secretsmanager:')))
      .map((s) => s.Resource);
    // Assess
    expect(secretResources.map((r) => (r as { Ref: string }).Ref).sort()).toEqual(
      idsOf('AWS::SecretsManager::Secret').sort(),
    );
    expect(statements.find((s) => asList(s.Action).includes('logs:PutLogEvents'))?.Resource).toEqual({
      'Fn::GetAtt': [serviceLogGroupId(), 'Arn'],
    });
    expect(statements.flatMap((s) => asList(s.Action)).filter((a) => !/^(secretsmanager|logs|ecr):/.test(a))).toEqual(
      [],
    );
  });
});

describe('alarms', () => {
  const alarms = () =>
    idsOf('AWS::CloudWatch::Alarm').map((id): Record<string, unknown> & { id: string } => ({
      id,
      ...resources[id]!.Properties,
    }));
  const alarm = (name: string) => alarms().find((a) => a.id.includes(name))!;

  it('notifies one SNS topic of every alarm and every recovery', () => {
    // Prepare
    const topic = { Ref: idOf('AWS::SNS::Topic') };
    // Assess
    expect(
      alarms()
        .map((a) => a.id.replace(/^Alarms|[0-9A-F]{8}$/g, ''))
        .sort(),
    ).toEqual([
      'ArchiveLagging',
      'DeadLettersWaiting',
      'FillsLagging',
      'FillsQueueStale',
      'ReadinessFailing',
      'RecordsParked',
      'ReportsMissed',
      'TaskNotRunning',
      'TaskRestarting',
    ]);
    for (const a of alarms()) expect([a['AlarmActions'], a['OKActions']]).toEqual([[topic], [topic]]);
  });

  it('has a runbook line in docs/operations.md for every alarm', () => {
    // Prepare
    const readme = readFileSync(join(REPO, 'docs', 'operations.md'), 'utf8');
    // Assess
    for (const a of alarms()) {
      const name = a.id.replace(/^Alarms|[0-9A-F]{8}$/g, '');
      expect(readme, `docs/operations.md runbook for ${name}`).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
      expect(String(a['AlarmDescription'])).not.toBe('');
    }
  });

  it('fires when a record is parked in the dead letters, and clears once an interval parks none', () => {
    // Prepare
    const parked = alarm('RecordsParked') as unknown as {
      Metrics: Array<{
        Id: string;
        Expression?: string;
        MetricStat?: { Metric: { MetricName: string }; Stat: string };
      }>;
      Threshold: number;
      ComparisonOperator: string;
    };
    // Assess: the increase of the running total (DIFF), not the total, so it returns to OK.
    expect(parked.Metrics.find((m) => m.Expression !== undefined)?.Expression).toBe('DIFF(parked)');
    expect(parked.Metrics.find((m) => m.Id === 'parked')?.MetricStat).toMatchObject({
      Metric: { MetricName: 'DeadLetters' },
      Stat: 'Maximum',
    });
    expect([parked.ComparisonOperator, parked.Threshold]).toEqual(['GreaterThanThreshold', 0]);
  });

  it('fires when no task reports to ECS (its free CPU metric), notifying once the listener is started', () => {
    // Prepare: the default stack waits for its keys (desiredCount 0); started, it runs one task.
    type TaskAlarm = {
      Namespace?: string;
      MetricName?: string;
      Statistic?: string;
      Threshold: number;
      ComparisonOperator: string;
      TreatMissingData: string;
      ActionsEnabled?: boolean;
    };
    const started = Object.values(synthesize({ start: 'true' }).template.toJSON()['Resources'] as Resources).find(
      (r) => r.Type === 'AWS::CloudWatch::Alarm' && JSON.stringify(r.Properties).includes('has not been running'),
    )!.Properties as unknown as TaskAlarm;
    const waiting = alarm('TaskNotRunning') as unknown as TaskAlarm;
    // Assess: ECS's own metric has data only while a task runs; Container Insights is off.
    for (const taskAlarm of [waiting, started])
      expect(taskAlarm).toMatchObject({
        Namespace: 'AWS/ECS',
        MetricName: 'CPUUtilization',
        Statistic: 'SampleCount',
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
      });
    expect([waiting.ActionsEnabled, started.ActionsEnabled]).toEqual([false, true]);
    expect(only(template, 'AWS::ECS::Cluster').properties['ClusterSettings']).toEqual([
      { Name: 'containerInsights', Value: 'disabled' },
    ]);
  });

  it('compares running with desired tasks through Container Insights with containerInsights=true', () => {
    // Act
    const { template: insights } = synthesize({ containerInsights: 'true' });
    const taskAlarm = Object.values(insights.toJSON()['Resources'] as Resources).find(
      (r) => r.Type === 'AWS::CloudWatch::Alarm' && JSON.stringify(r.Properties).includes('has not been running'),
    )!.Properties as unknown as {
      Metrics: Array<{ MetricStat?: { Metric: { Namespace: string; MetricName: string } } }>;
      TreatMissingData: string;
    };
    // Assess
    expect(
      taskAlarm.Metrics.flatMap((m) =>
        m.MetricStat ? [`${m.MetricStat.Metric.Namespace}/${m.MetricStat.Metric.MetricName}`] : [],
      ).sort(),
    ).toEqual(['ECS/ContainerInsights/DesiredTaskCount', 'ECS/ContainerInsights/RunningTaskCount']);
    expect(taskAlarm.TreatMissingData).toBe('breaching');
    expect(only(insights, 'AWS::ECS::Cluster').properties['ClusterSettings']).toEqual([
      { Name: 'containerInsights', Value: 'enabled' },
    ]);
  });

  /** The task's METRICS_NAMESPACE and the stack's log metric filters. */
  function signals() {
    const namespace = (container['Environment'] as Array<{ Name: string; Value: unknown }>).find(
      (e) => e.Name === 'METRICS_NAMESPACE',
    )?.Value;
    const filters = idsOf('AWS::Logs::MetricFilter').map(
      (id) =>
        resources[id]!.Properties as {
          LogGroupName: unknown;
          FilterPattern: string;
          MetricTransformations: Array<{
            MetricName: string;
            MetricNamespace: string;
            MetricValue: string;
            DefaultValue: number;
          }>;
        },
    );
    return { namespace, filters };
  }

  it('fires when the health line says not ready for 5 minutes, fills or the archive late past what /readyz tolerates, and when a hole is logged', () => {
    // Prepare
    const { namespace, filters } = signals();
    const listener = [{ Name: 'Listener', Value: 'default' }];
    // Assess: the alarms read the metrics the task's health line publishes, in the namespace and
    // under the listener dimension it is given.
    expect(namespace).toMatch(/^KalshiFixListener\//);
    expect(
      (container['Environment'] as Array<{ Name: string; Value: unknown }>).find((e) => e.Name === 'LISTENER_NAME')
        ?.Value,
    ).toBe('default');
    expect(alarm('ReadinessFailing')).toMatchObject({
      Namespace: namespace,
      MetricName: 'Ready',
      Dimensions: listener,
      Statistic: 'Maximum',
      Period: 60,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      EvaluationPeriods: DEFAULT_SETTINGS.notReadyMinutes,
    });
    expect(alarm('FillsLagging')).toMatchObject({
      Namespace: namespace,
      MetricName: 'FillsLagSeconds',
      Dimensions: listener,
      Statistic: 'Minimum',
      Period: 60,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: DEFAULT_READINESS.maxFillLagSeconds,
      EvaluationPeriods: FILLS_LAG_MINUTES,
    });
    expect(alarm('ArchiveLagging')).toMatchObject({
      Namespace: namespace,
      MetricName: 'ArchiveLagSeconds',
      Dimensions: listener,
      Statistic: 'Minimum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: DEFAULT_READINESS.maxArchiveLagSeconds,
      EvaluationPeriods: ARCHIVE_LAG_PERIODS,
    });
    const metricNames = healthFigureNames();
    for (const name of ['Ready', 'FillsLagSeconds', 'ArchiveLagSeconds', 'DeadLetters'])
      expect(metricNames).toContain(name);
    const holes = filters.find((f) => f.MetricTransformations[0]!.MetricName === 'HolesRecorded')!;
    expect(JSON.stringify(holes.LogGroupName)).toBe(JSON.stringify({ Ref: serviceLogGroupId() }));
    expect(holes.FilterPattern).toContain(`"${LOG_MESSAGES.hole}"`);
    expect(holes.MetricTransformations[0]!.MetricNamespace).toBe(namespace);
    expect(alarm('ReportsMissed')).toMatchObject({ MetricName: 'HolesRecorded', EvaluationPeriods: 1 });
  });

  it('fires when the service starts twice or more in 30 minutes (it keeps exiting)', () => {
    // Prepare
    const { namespace, filters } = signals();
    const starts = filters.find((f) => f.MetricTransformations[0]!.MetricName === 'Starts')!;
    // Assess: counted under the listener's own dimension, from the line's `listener` field.
    expect(starts.FilterPattern).toBe(`{ ($.msg = "${LOG_MESSAGES.starting}") }`);
    expect(starts.MetricTransformations[0]).toEqual({
      MetricValue: '1',
      MetricName: 'Starts',
      MetricNamespace: namespace,
      Dimensions: [{ Key: 'Listener', Value: `$.${LOG_LISTENER_FIELD}` }],
    });
    expect(alarm('TaskRestarting')).toMatchObject({
      MetricName: 'Starts',
      Dimensions: [{ Name: 'Listener', Value: 'default' }],
      Statistic: 'Sum',
      Period: 1800,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: RESTART_STARTS,
      TreatMissingData: 'notBreaching',
    });
  });

  it('fires when a fill has waited in the fills queue past fillsQueueMaxAgeMinutes (consumers stalled)', () => {
    // Assess
    expect(alarm('FillsQueueStale')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [fillsQueueId(), 'QueueName'] } }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: DEFAULT_SETTINGS.fillsQueueMaxAgeMinutes * 60,
    });
  });

  it('lets the holes alarm return to OK after an interval without a hole (its metric counts events, not a total)', () => {
    // Prepare
    const { namespace, filters } = signals();
    // Assess: the alarm sums a 1 per hole log line under the listener's dimension (CloudWatch takes
    // no default value beside a dimension), so a period without a hole has no data, which the alarm
    // reads as OK; and no health-line figure (the running totals published through EMF in the same
    // namespace and dimensions) shares its name and could keep it above 0.
    const holes = alarm('ReportsMissed');
    const filter = filters.find((f) => f.MetricTransformations[0]!.MetricName === holes['MetricName'])!;
    expect(filter.MetricTransformations[0]).toEqual({
      MetricValue: '1',
      MetricName: 'HolesRecorded',
      MetricNamespace: namespace,
      Dimensions: [{ Key: 'Listener', Value: `$.${LOG_LISTENER_FIELD}` }],
    });
    expect(holes).toMatchObject({
      Dimensions: [{ Name: 'Listener', Value: 'default' }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    const healthNames = healthFigureNames();
    for (const f of filters) expect(healthNames).not.toContain(f.MetricTransformations[0]!.MetricName);
  });

  it('fires as soon as one fill sits in the dead-letter queue', () => {
    // Assess
    expect(alarm('DeadLetters')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [deadLetterQueueId(), 'QueueName'] } }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  });
});

describe('outputs', () => {
  it('exports the bucket, the queue URL and the workgroup for consumers and operators', () => {
    // Assess
    template.hasOutput('ArchiveBucketName', { Value: { Ref: archiveBucketId() } });
    template.hasOutput('FillsQueueUrl', { Value: { Ref: fillsQueueId() } });
    template.hasOutput('AthenaWorkGroup', { Value: { Ref: idOf('AWS::Athena::WorkGroup') } });
    template.hasOutput('FixSecretArn', Match.anyValue());
    template.hasOutput('DropCopySecretArn', Match.anyValue());
    template.hasOutput('DashboardName', Match.anyValue());
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settingsFromContext, type ContextKey } from '../../infra/context.js';
import { tempDir } from '../helpers/records.js';
import { removeSynthOutputs, synthesize, type Resources } from './synth.js';

/**
 * A fleet from one deployment: one ECS service per listener, each with its own secrets, EFS access
 * point, log group, alarms and IAM limited to its own part of the archive, sharing the cluster,
 * the bucket and tables, the queue, the topic and the dashboard.
 */

const NAMES = ['member-a', 'member-b', 'member-c', 'fcm-1', 'fcm-2'];
const from = (context: Partial<Record<ContextKey, unknown>>) => settingsFromContext((key) => context[key]);

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

function ofType(resources: Resources, type: string): Array<[string, Resources[string]]> {
  return Object.entries(resources).filter(([, r]) => r.Type === type);
}

/** Every statement of the identity policies attached to a role. */
function roleStatements(resources: Resources, roleId: string): Statement[] {
  return ofType(resources, 'AWS::IAM::Policy')
    .filter(([, r]) => asList(r.Properties!['Roles'] as Array<{ Ref: string }>).some((ref) => ref.Ref === roleId))
    .flatMap(([, r]) => (r.Properties!['PolicyDocument'] as { Statement: Statement[] }).Statement);
}

describe('fleet settings from CDK context', () => {
  it('reads listeners inline or from a file, each over the top-level settings', () => {
    // Prepare
    const file = join(tempDir(), 'fleet.json');
    writeFileSync(
      file,
      JSON.stringify([{ name: 'member-a' }, { name: 'member-b', fixTargetCompId: 'KalshiNR', dropCopy: false }]),
    );
    // Act
    const inline = from({ listeners: '[{"name":"member-a","reportsPerSecond":10}]', fixHeartbeatS: '20' });
    const fromFile = from({ listenersFile: file });
    // Assess
    expect(inline.listeners).toEqual([
      expect.objectContaining({
        listenerName: 'member-a',
        fix: expect.objectContaining({
          targetCompId: 'KalshiRT',
          port: 8230,
          heartbeatS: 20,
          dropCopy: true,
        }) as unknown,
        cpu: 512,
        memoryMiB: 1024,
      }),
    ]);
    expect(fromFile.listeners.map((l) => [l.listenerName, l.fix.targetCompId, l.fix.port, l.fix.dropCopy])).toEqual([
      ['member-a', 'KalshiRT', 8230, true],
      ['member-b', 'KalshiNR', 8228, false],
    ]);
    expect(from({}).listeners.map((l) => l.listenerName)).toEqual(['default']);
  });

  it('refuses a name given twice, a bad name, an unknown key, and both forms at once', () => {
    // Act + Assess
    expect(() => from({ listeners: '[{"name":"a"},{"name":"a"}]' })).toThrow(
      /listener names must differ: a given twice/,
    );
    expect(() => from({ listeners: '[{"name":"a b"}]' })).toThrow(/a listener name may hold letters, digits, - and _/);
    expect(() => from({ listeners: '[{"name":"a","cpus":1}]' })).toThrow(/cpus/);
    expect(() => from({ listeners: '[]', listenersFile: 'x.json' })).toThrow(/listeners or listenersFile, not both/);
    expect(() => from({ listeners: 'not json' })).toThrow(/listeners is not JSON/);
  });
});

describe('a stack of five listeners', () => {
  let template: Template;
  let resources: Resources;
  afterAll(removeSynthOutputs);
  beforeAll(() => {
    ({ template } = synthesize({ listeners: JSON.stringify(NAMES.map((name) => ({ name }))) }));
    resources = template.toJSON().Resources as Resources;
  });

  it('runs one single-task service per listener in one cluster, sharing the bucket, tables, queue, topic and dashboard', () => {
    // Assess
    const count = (type: string) => ofType(resources, type).length;
    expect(count('AWS::ECS::Service')).toBe(5);
    expect(count('AWS::ECS::TaskDefinition')).toBe(5);
    expect(count('AWS::ECS::Cluster')).toBe(1);
    expect(count('AWS::EFS::FileSystem')).toBe(5); // a journal no other listener can mount
    expect(count('AWS::EFS::AccessPoint')).toBe(5);
    expect(count('AWS::SecretsManager::Secret')).toBe(15); // FIX key, drop-copy key, control token each
    expect(count('AWS::SQS::Queue')).toBe(2);
    expect(count('AWS::S3::Bucket')).toBe(3);
    expect(count('AWS::Glue::Table')).toBe(2);
    expect(count('AWS::SNS::Topic')).toBe(1);
    expect(count('AWS::CloudWatch::Dashboard')).toBe(1);
    expect(count('AWS::CloudWatch::Alarm')).toBe(5 * 7 + 2); // seven per listener, two on the queue
    for (const [, service] of ofType(resources, 'AWS::ECS::Service'))
      expect(service.Properties).toMatchObject({
        DesiredCount: 1,
        DeploymentConfiguration: { MinimumHealthyPercent: 0, MaximumPercent: 100 },
      });
  });

  it('names each listener in its task (LISTENER_NAME) and projects all five in both tables', () => {
    // Prepare
    const names = ofType(resources, 'AWS::ECS::TaskDefinition').map(
      ([, t]) =>
        (
          t.Properties!['ContainerDefinitions'] as Array<{ Environment: Array<{ Name: string; Value: string }> }>
        )[0]!.Environment.find((e) => e.Name === 'LISTENER_NAME')!.Value,
    );
    // Assess
    expect(names.sort()).toEqual([...NAMES].sort());
    for (const [, table] of ofType(resources, 'AWS::Glue::Table')) {
      const input = table.Properties!['TableInput'] as {
        Parameters: Record<string, unknown>;
        PartitionKeys: Array<{ Name: string }>;
      };
      expect(input.Parameters['projection.listener.values']).toBe(NAMES.join(','));
      expect(input.PartitionKeys.map((k) => k.Name)).toEqual(['listener', 'dt', 'hour']);
    }
  });

  it("limits each task role to its own listener's part of the archive, and each to its own file system", () => {
    for (const [, task] of ofType(resources, 'AWS::ECS::TaskDefinition')) {
      // Prepare
      const name = (
        task.Properties!['ContainerDefinitions'] as Array<{ Environment: Array<{ Name: string; Value: string }> }>
      )[0]!.Environment.find((e) => e.Name === 'LISTENER_NAME')!.Value;
      const roleId = (task.Properties!['TaskRoleArn'] as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
      const statements = roleStatements(resources, roleId);
      const s3 = statements.filter((s) => asList(s.Action).some((a) => a.startsWith('s3:')));
      const objectPaths = s3
        .filter((s) => asList(s.Action).includes('s3:PutObject'))
        .flatMap((s) => asList(s.Resource))
        .map((r) => JSON.stringify(r));
      const listPrefixes = s3.find((s) => asList(s.Action).includes('s3:ListBucket'))!.Condition!['StringLike']![
        's3:prefix'
      ] as string[];
      const mount = statements.find((s) => asList(s.Action).includes('elasticfilesystem:ClientMount'))!;
      const fileSystem = (
        task.Properties!['Volumes'] as Array<{ EFSVolumeConfiguration: { FilesystemId: { Ref: string } } }>
      )[0]!.EFSVolumeConfiguration.FilesystemId.Ref;
      const volume = (
        task.Properties!['Volumes'] as Array<{
          EFSVolumeConfiguration: { AuthorizationConfig: { AccessPointId: { Ref: string } } };
        }>
      )[0]!.EFSVolumeConfiguration.AuthorizationConfig.AccessPointId.Ref;
      // Assess
      expect(objectPaths).toHaveLength(3);
      for (const path of objectPaths) expect(path).toContain(`listener=${name}/*`);
      expect(listPrefixes.every((p) => p.includes(`listener=${name}/`))).toBe(true);
      expect(JSON.stringify(mount.Condition)).toContain(volume);
      expect(JSON.stringify(mount.Resource)).toContain(fileSystem);
      const policy = resources[fileSystem]!.Properties!['FileSystemPolicy'] as {
        Statement: Array<{ Effect: string; Principal?: { AWS?: unknown } }>;
      };
      const allowed = policy.Statement.filter((st) => st.Effect === 'Allow').map((st) => JSON.stringify(st.Principal));
      expect(allowed).toEqual([expect.stringContaining(roleId)]);
    }
  });

  it("lets each execution role read only its own listener's three secrets", () => {
    for (const [, task] of ofType(resources, 'AWS::ECS::TaskDefinition')) {
      // Prepare
      const roleId = (task.Properties!['ExecutionRoleArn'] as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
      const secrets = roleStatements(resources, roleId)
        .filter((s) => asList(s.Action).some((a) => a.startsWith('secretsmanager:')))
        .flatMap((s) => asList(s.Resource))
        .map((r) => (r as { Ref: string }).Ref);
      const injected = (
        task.Properties!['ContainerDefinitions'] as Array<{ Secrets: Array<{ ValueFrom: unknown }> }>
      )[0]!.Secrets.map((s) => JSON.stringify(s.ValueFrom));
      // Assess
      expect(new Set(secrets).size).toBe(3);
      for (const secret of secrets) expect(injected.some((v) => v.includes(secret))).toBe(true);
    }
  });

  it('has a dashboard block per listener', () => {
    // Prepare
    const [, dashboard] = ofType(resources, 'AWS::CloudWatch::Dashboard')[0]!;
    const parts = (dashboard.Properties!['DashboardBody'] as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
    const text = parts.map((p) => (typeof p === 'string' ? p : '"REF"')).join('');
    // Assess
    for (const name of NAMES) {
      expect(text).toContain(`"title":"${name}: logged on and ready (1 = yes)"`);
      expect(text).toContain(`"Listener","${name}"`);
    }
  });
});

describe('a single listener, named in a list', () => {
  afterAll(removeSynthOutputs);

  it('is the very same stack as without the list: an existing deployment upgrades in place', () => {
    // Act
    const plain = synthesize().template.toJSON() as { Resources: Resources };
    const listed = synthesize({ listeners: '[{"name":"default"}]' }).template.toJSON() as { Resources: Resources };
    // Assess
    expect(Object.keys(listed.Resources).sort()).toEqual(Object.keys(plain.Resources).sort());
    expect(listed.Resources).toEqual(plain.Resources);
  });
});

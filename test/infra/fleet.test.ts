import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settingsFromContext, type ContextKey } from '../../infra/context.js';
import { tempDir } from '../helpers/records.js';
import { removeSynthOutputs, SYNTH_MS, synthesize, type Resources } from './synth.js';

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
    // Stack outputs keep a name's letters and digits (FixSecretArn<name>): these two would be one.
    expect(() => from({ listeners: '[{"name":"member-a"},{"name":"membera"}]' })).toThrow(
      /differ in their letters and digits: membera/,
    );
  });

  it('gives the bare ids to `default`, or to the listener legacyFirstListener names', () => {
    // Act + Assess
    expect(from({}).unsuffixedListener).toBe('default');
    expect(from({ listeners: '[{"name":"a"},{"name":"b"}]', legacyFirstListener: 'a' }).unsuffixedListener).toBe('a');
    expect(() => from({ legacyFirstListener: 'a b' })).toThrow(/legacyFirstListener/);
  });
});

describe('a stack of five listeners', { timeout: SYNTH_MS }, () => {
  let template: Template;
  let resources: Resources;
  afterAll(removeSynthOutputs);
  beforeAll(() => {
    ({ template } = synthesize({ listeners: JSON.stringify(NAMES.map((name) => ({ name }))) }));
    resources = template.toJSON().Resources as Resources;
  }, SYNTH_MS);

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
    // None of them has its keys yet (no ARNs given, no -c start): test/infra/first-deploy.test.ts.
    for (const [, service] of ofType(resources, 'AWS::ECS::Service'))
      expect(service.Properties).toMatchObject({
        DesiredCount: 0,
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

  it('has a dashboard block per listener, each showing that listener alone', () => {
    // Prepare
    const [, dashboard] = ofType(resources, 'AWS::CloudWatch::Dashboard')[0]!;
    const parts = (dashboard.Properties!['DashboardBody'] as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
    // References sit inside JSON strings: `REF:<logical id>` keeps the body parseable.
    const body = JSON.parse(
      parts.map((p) => (typeof p === 'string' ? p : `REF:${JSON.stringify(p).replace(/\W/g, '')}`)).join(''),
    ) as { widgets: Array<{ properties: { title?: string; metrics?: unknown[][] } }> };
    const serviceOf = Object.fromEntries(
      ofType(resources, 'AWS::ECS::Service').map(([id, service]) => [
        listenerOfTask(resources, (service.Properties!['TaskDefinition'] as { Ref: string }).Ref),
        id,
      ]),
    );
    // Assess: every metric of a listener's row carries its Listener dimension or its own service.
    for (const name of NAMES) {
      const widgets = body.widgets.filter((w) => w.properties.title?.startsWith(`${name}: `));
      expect(widgets).toHaveLength(6);
      for (const widget of widgets)
        for (const metric of widget.properties.metrics ?? []) {
          const text = JSON.stringify(metric);
          if (text.includes('"expression"')) continue; // reads a metric of the same row by id
          expect(
            [`"Listener","${name}"`, serviceOf[name]!].some((own) => text.includes(own)),
            text,
          ).toBe(true);
          for (const other of NAMES.filter((n) => n !== name))
            expect(text, `${name}'s row shows ${other}`).not.toMatch(
              new RegExp(`"Listener","${other}"|${serviceOf[other]!}`),
            );
        }
    }
  });

  it("puts every alarm and log metric filter of a listener under that listener's dimension", () => {
    // Prepare
    const filters = ofType(resources, 'AWS::Logs::MetricFilter');
    const listenerAlarms = ofType(resources, 'AWS::CloudWatch::Alarm').filter(
      ([, a]) => !JSON.stringify(a.Properties).includes('AWS/SQS'),
    );
    // Assess: a fleet of five has five of each filter, each on its own log group, each metric
    // keyed by the line's listener field; every alarm names exactly one listener.
    expect(filters).toHaveLength(5 * 2);
    for (const [, filter] of filters)
      expect(filter.Properties!['MetricTransformations']).toEqual([
        expect.objectContaining({ Dimensions: [{ Key: 'Listener', Value: '$.listener' }] }),
      ]);
    expect(new Set(filters.map(([, f]) => JSON.stringify(f.Properties!['LogGroupName']))).size).toBe(5);
    expect(listenerAlarms).toHaveLength(5 * 7);
    for (const [id, alarm] of listenerAlarms) {
      const text = JSON.stringify(alarm.Properties);
      const named = NAMES.filter(
        (n) => text.includes(`{"Name":"Listener","Value":"${n}"}`) || text.includes(`Listener${n.replace(/-/g, '')}`),
      );
      expect(named, id).toHaveLength(1);
    }
  });
});

describe('deployment alarms in a fleet', { timeout: SYNTH_MS }, () => {
  afterAll(removeSynthOutputs);

  it("rolls each listener's deployment back on that listener's own readiness alarm", () => {
    // Act
    const resources = synthesize({ listeners: '[{"name":"default"},{"name":"member-b"}]' }).template.toJSON()
      .Resources as Resources;
    // Assess
    for (const [, service] of ofType(resources, 'AWS::ECS::Service')) {
      const name = listenerOfTask(resources, (service.Properties!['TaskDefinition'] as { Ref: string }).Ref);
      const alarms = (
        service.Properties!['DeploymentConfiguration'] as {
          Alarms: { AlarmNames: Array<{ Ref: string }>; Enable: boolean; Rollback: boolean };
        }
      ).Alarms;
      expect(alarms).toMatchObject({ Enable: true, Rollback: true });
      expect(alarms.AlarmNames.map((a) => resources[a.Ref]!.Properties)).toEqual([
        expect.objectContaining({ MetricName: 'Ready', Dimensions: [{ Name: 'Listener', Value: name }] }),
      ]);
    }
  });
});

/** LISTENER_NAME of a task definition. */
function listenerOfTask(resources: Resources, taskId: string): string {
  return (
    resources[taskId]!.Properties!['ContainerDefinitions'] as Array<{
      Environment: Array<{ Name: string; Value: string }>;
    }>
  )[0]!.Environment.find((e) => e.Name === 'LISTENER_NAME')!.Value;
}

/** For each listener name, the logical ids of its service, task definition, file system and secrets. */
function identities(resources: Resources): Record<string, string[]> {
  const byName: Record<string, string[]> = {};
  for (const [serviceId, service] of ofType(resources, 'AWS::ECS::Service')) {
    const taskId = (service.Properties!['TaskDefinition'] as { Ref: string }).Ref;
    const task = resources[taskId]!.Properties!;
    const fileSystem = (task['Volumes'] as Array<{ EFSVolumeConfiguration: { FilesystemId: { Ref: string } } }>)[0]!
      .EFSVolumeConfiguration.FilesystemId.Ref;
    const secrets = (task['ContainerDefinitions'] as Array<{ Secrets: Array<{ ValueFrom: unknown }> }>)[0]!.Secrets.map(
      (s) => /"Ref":"(\w+)"/.exec(JSON.stringify(s.ValueFrom))![1]!,
    );
    byName[listenerOfTask(resources, taskId)] = [serviceId, taskId, fileSystem, ...new Set(secrets)].sort();
  }
  return byName;
}

describe('identity by name', { timeout: SYNTH_MS }, () => {
  afterAll(removeSynthOutputs);
  const fleetOf = (...names: string[]) =>
    synthesize({ listeners: JSON.stringify(names.map((name) => ({ name }))) }).template.toJSON() as {
      Resources: Resources;
      Outputs: Record<string, unknown>;
    };

  it("never hands a listener's key, journal, task or service to another when listeners are added, removed, reordered or renamed", () => {
    // Act: the last list renames b to d.
    const templates = [fleetOf('a', 'b', 'c'), fleetOf('b', 'c'), fleetOf('c', 'a', 'b'), fleetOf('c', 'a', 'd')];
    const ids = templates.map((t) => identities(t.Resources));
    // Assess: each name keeps its own ids in every list, and no two names ever share one.
    expect(ids.map((byName) => Object.keys(byName).sort())).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c'],
      ['a', 'b', 'c'],
      ['a', 'c', 'd'],
    ]);
    for (const name of ['a', 'b', 'c', 'd']) {
      const mine = ids.filter((byName) => byName[name] !== undefined).map((byName) => byName[name]);
      for (const other of mine) expect(other).toEqual(mine[0]);
      expect(mine[0]).toHaveLength(6); // service, task, file system, FIX, drop-copy and token secrets
    }
    const owner = new Map<string, string>();
    for (const byName of ids)
      for (const [name, own] of Object.entries(byName))
        for (const id of own) {
          expect(owner.get(id) ?? name, `${id} held by ${owner.get(id)} and ${name}`).toBe(name);
          owner.set(id, name);
        }
    // What the fleet shares keeps the ids a single-listener stack gave it, whoever is listed.
    for (const t of templates) expect(Object.keys(t.Resources)).toEqual(expect.arrayContaining(SHARED_IDS));
  });

  it('keeps the ids of a single-listener stack for `default`, wherever it stands in a list', () => {
    // Act
    const single = identities(synthesize().template.toJSON().Resources as Resources);
    const listed = identities(fleetOf('member-b', 'default').Resources);
    const legacy = identities(
      synthesize({
        listeners: JSON.stringify([{ name: 'member-a' }, { name: 'member-b' }]),
        legacyFirstListener: 'member-a',
      }).template.toJSON().Resources as Resources,
    );
    // Assess: the ids a single-listener stack has had since before fleets (construct paths
    // Listener/…, Spool/…, Secrets/…), so an existing deployment upgrades in place.
    expect(single['default']).toEqual(DEFAULT_IDS);
    expect(listed['default']).toEqual(DEFAULT_IDS);
    // A fleet deployed when the first entry held those ids names it once, and it keeps them.
    expect(legacy['member-a']).toEqual(DEFAULT_IDS);
    expect(legacy['member-b']).toEqual(listed['member-b']);
  });
});

/** A single-listener stack's own resources, by logical id (unchanged since before fleets). */
const DEFAULT_IDS = [
  'ListenerServiceF0CC91CD',
  'ListenerTask70A9C114',
  'SecretsControlTokenD34A3989',
  'SecretsDropCopy4D994659',
  'SecretsFix647C18A0',
  'SpoolFileSystem00C4E14A',
].sort();

/** What every stack shares, with the ids a single-listener stack gave it. */
const SHARED_IDS = ['ListenerClusterF8FAE342', 'AlarmsTopic3A2DFEBA', 'AlarmsFillsQueueStale39F60579'];

describe('a single listener, named in a list', { timeout: SYNTH_MS }, () => {
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

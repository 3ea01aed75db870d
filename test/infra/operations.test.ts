import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_LOG_DAYS } from '../../infra/access-logs.js';
import { settingsFromContext, type ContextKey } from '../../infra/context.js';
import { ListenerStack } from '../../infra/listener-stack.js';
import { ECS_EXEC_PATHS } from '../../infra/listener-service.js';
import { DEFAULT_SETTINGS } from '../../infra/props.js';
import {
  EFS_BURSTING_BASELINE_MIBPS,
  EFS_BURSTING_SHARE,
  EFS_PROVISIONED_HEADROOM,
  spoolMeteredMiBps,
  spoolThroughput,
} from '../../infra/sizing.js';
import { REPO, removeSynthOutputs, SYNTH_MS, synthesize, type Resources } from './synth.js';

/**
 * What an operator gets beside the task: the dashboard, the access and flow logs, ECS Exec, the
 * memory check, and cdk-nag's AwsSolutions rules with every acknowledgement explained.
 */

const CDK_JSON_CONTEXT = (JSON.parse(readFileSync(join(REPO, 'cdk.json'), 'utf8')) as { context: object }).context;

/** Synthesizes like `cdk synth` with cdk-nag registered as infra/app.ts does; returns the error text or ''. */
function nagFindings(context: Partial<Record<ContextKey, string>> = {}): string {
  const outdir = mkdtempSync(join(tmpdir(), 'kfl-nag-'));
  try {
    const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT, ...context } });
    new ListenerStack(app, 'KalshiFixListener', {
      settings: settingsFromContext((key) => app.node.tryGetContext(key)),
      imageDirectory: REPO,
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    app.synth();
    return '';
  } catch (error) {
    return (error as Error).message;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

describe('cdk-nag AwsSolutions', { timeout: SYNTH_MS }, () => {
  it('finds nothing unacknowledged in the default stack', () => {
    // Act
    const findings = nagFindings();
    // Assess
    expect(findings).toBe('');
  });

  it('finds nothing unacknowledged with ECS Exec, in an existing VPC, on KalshiNR without the drop copy, and in a fleet', () => {
    // Act
    const withExec = nagFindings({ ecsExec: 'true' });
    const existing = nagFindings({
      vpcId: 'vpc-0123456789abcdef0',
      availabilityZones: 'us-east-1a',
      privateSubnetIds: 'subnet-0aaaaaaaaaaaaaaa1',
      fixTargetCompId: 'KalshiNR',
      dropCopy: 'false',
    });
    const fleet = nagFindings({
      listeners: '[{"name":"default"},{"name":"member-b"},{"name":"fcm-1","dropCopy":false}]',
      natGateways: '2',
      reportsPerSecond: '1000',
    });
    // Assess
    expect(withExec).toBe('');
    expect(existing).toBe('');
    expect(fleet).toBe('');
  });

  it('gives a reason for every acknowledgement in the stack', () => {
    // Prepare
    const { stack } = synthesize();
    // Each acknowledgement is metadata {"Annotation::<rule>": reason}; CDK adds some of its own.
    const acknowledged = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .filter(([key]) => key.includes('AwsSolutions-'))
      .map(([key, reason]) => ({ id: key.replace(/^Annotation::/, ''), reason }));
    // Assess
    const ids = acknowledged.map((a) => a.id);
    expect(ids.filter((id) => !id.startsWith('AwsSolutions-IAM5[Resource::<ArchiveBucket')).sort()).toEqual([
      'AwsSolutions-ECS2',
      'AwsSolutions-ECS4',
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-S1',
      'AwsSolutions-SMG4',
      'AwsSolutions-SMG4',
      'AwsSolutions-SMG4',
    ]);
    // The archive wildcards: the listener's own partitions.
    expect(
      ids
        .filter((id) => id.startsWith('AwsSolutions-IAM5[Resource::<ArchiveBucket'))
        .map((id) => id.replace(/^AwsSolutions-IAM5\[Resource::<ArchiveBucket\w+\.Arn>\/kalshi-fix-listener\//, ''))
        .sort(),
    ).toEqual([
      'dead_letters/listener=default/*]',
      'exec_reports/listener=default/*]',
      'exec_reports_parquet/listener=default/*]',
    ]);
    for (const a of acknowledged) expect(a.reason.length, a.id).toBeGreaterThan(40);
  });
});

describe('operations resources', { timeout: SYNTH_MS }, () => {
  let template: Template;
  let resources: Resources;
  afterAll(removeSynthOutputs);
  beforeAll(() => {
    ({ template } = synthesize());
    resources = template.toJSON().Resources as Resources;
  }, SYNTH_MS);

  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  it('logs every request to the archive and the Athena results into an access-log bucket kept a year', () => {
    // Prepare
    const buckets = ofType('AWS::S3::Bucket');
    const logBucket = buckets.find(([id]) => id.startsWith('AccessLogs'))!;
    // Assess
    expect(buckets).toHaveLength(3);
    for (const [id, bucket] of buckets.filter(([bid]) => bid !== logBucket[0]))
      expect(bucket.Properties!['LoggingConfiguration'], id).toEqual({
        DestinationBucketName: { Ref: logBucket[0] },
        LogFilePrefix: expect.stringMatching(/^(archive|athena-results)\/$/) as unknown,
      });
    expect(logBucket[1].Properties).toMatchObject({
      LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: ACCESS_LOG_DAYS })] },
    });
    expect(logBucket[1].DeletionPolicy).toBe('Retain');
  });

  it('records the VPC flow logs in CloudWatch Logs', () => {
    // Assess
    template.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
    });
  });

  it('keeps ECS Exec off by default', () => {
    // Assess
    template.hasResourceProperties('AWS::ECS::Service', { EnableExecuteCommand: false });
  });

  describe('the dashboard', () => {
    const body = () => {
      const [, dashboard] = ofType('AWS::CloudWatch::Dashboard')[0]!;
      // The body is a Fn::Join of strings and references: the strings are enough to read it.
      const parts = (dashboard.Properties!['DashboardBody'] as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
      return parts.map((p) => (typeof p === 'string' ? p : '"REF"')).join('');
    };

    it('shows session state, reports/s, fills/s, sink lags, journal backlog, holes, dead letters, the queue and task CPU and memory', () => {
      // Prepare
      const text = body();
      // Assess
      expect(ofType('AWS::CloudWatch::Dashboard')).toHaveLength(1);
      for (const metric of [
        'SessionActive',
        'Ready',
        'ReportsReceived',
        'FillsSent',
        'FillsLagSeconds',
        'ArchiveLagSeconds',
        'ArchiveOldestRecordSeconds',
        'JournalBacklogRecords',
        'JournalStalled',
        'HolesRecorded',
        'DeadLetters',
        'ApproximateAgeOfOldestMessage',
        'ApproximateNumberOfMessagesVisible',
        'CPUUtilization',
        'MemoryUtilization',
        'Starts',
      ])
        expect(text, metric).toContain(`"${metric}"`);
      expect(text).toContain('"Listener","default"');
      expect(text).toContain('"type":"alarm"');
    });
  });
});

describe('ECS Exec (ecsExec=true)', { timeout: SYNTH_MS }, () => {
  let template: Template;
  let stack: ListenerStack;
  afterAll(removeSynthOutputs);
  beforeAll(() => {
    ({ template, stack } = synthesize({ ecsExec: 'true' }));
  }, SYNTH_MS);

  it('turns on execute-command and gives the SSM agent scratch volumes, the root file system staying read-only', () => {
    // Assess
    template.hasResourceProperties('AWS::ECS::Service', { EnableExecuteCommand: true });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          ReadonlyRootFilesystem: true,
          MountPoints: Match.arrayWith(
            ECS_EXEC_PATHS.map((path) => Match.objectLike({ ContainerPath: path, ReadOnly: false })),
          ),
        }),
      ],
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: Match.arrayWith(['ssmmessages:CreateControlChannel']) }),
        ]),
      },
    });
  });

  it('logs every exec session to a log group of its own, kept like the service logs', () => {
    // Prepare
    const resources = template.toJSON().Resources as Resources;
    const execLogs = Object.keys(resources).find((id) => id.startsWith('ExecLogs'))!;
    // Assess
    expect(resources[execLogs]).toMatchObject({
      Type: 'AWS::Logs::LogGroup',
      Properties: { RetentionInDays: DEFAULT_SETTINGS.logRetentionDays },
      DeletionPolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::ECS::Cluster', {
      Configuration: {
        ExecuteCommandConfiguration: {
          Logging: 'OVERRIDE',
          LogConfiguration: { CloudWatchLogGroupName: { Ref: execLogs }, CloudWatchEncryptionEnabled: false },
        },
      },
    });
    template.hasOutput('ExecLogGroupName', { Value: { Ref: execLogs } });
  });

  it('lets the task role write only to the exec log group, and says why each wildcard is there', () => {
    // Prepare
    const resources = template.toJSON().Resources as Resources;
    const execLogs = Object.keys(resources).find((id) => id.startsWith('ExecLogs'))!;
    const task = Object.values(resources).find((r) => r.Type === 'AWS::ECS::TaskDefinition')!;
    const roleId = (task.Properties!['TaskRoleArn'] as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
    const statements = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties!['Roles']).includes(roleId))
      .flatMap(
        (r) =>
          (r.Properties!['PolicyDocument'] as { Statement: Array<{ Action: string | string[]; Resource: unknown }> })
            .Statement,
      );
    const logs = statements.filter((st) => [st.Action].flat().some((a) => a.startsWith('logs:')));
    const acknowledged = stack.node
      .findAll()
      .filter((c) => c.node.path.endsWith('/TaskRole'))
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    // Assess: the agent lists log groups (a call IAM cannot narrow), then writes its session's
    // stream into the exec group and nowhere else.
    expect(logs).toEqual([
      expect.objectContaining({ Action: 'logs:DescribeLogGroups', Resource: '*' }),
      expect.objectContaining({
        Action: ['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':logs:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':log-group:',
              { Ref: execLogs },
              ':*',
            ],
          ],
        },
      }),
    ]);
    const reasons = Object.fromEntries(acknowledged.map(([k, v]) => [k.replace(/^Annotation::/, ''), v]));
    expect(reasons['AwsSolutions-IAM5[Resource::*]']).toMatch(/ssmmessages.*DescribeLogGroups/);
    expect(
      reasons[
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:<${execLogs}>:*]`
      ],
    ).toMatch(/exec log group/);
  });
});

describe('egress', { timeout: SYNTH_MS }, () => {
  afterAll(removeSynthOutputs);
  const outputs = (context: Partial<Record<ContextKey, string>>) => {
    const json = synthesize(context).template.toJSON() as {
      Resources: Resources;
      Outputs: Record<string, { Value: unknown }>;
    };
    const eips = Object.entries(json.Resources)
      .filter(([, r]) => r.Type === 'AWS::EC2::EIP')
      .map(([id]) => id);
    const nats = Object.values(json.Resources).filter((r) => r.Type === 'AWS::EC2::NatGateway');
    return { eips, nats, egress: json.Outputs['EgressIps']?.Value };
  };

  it("prints the NAT gateways' Elastic IPs, one by default and one per zone with natGateways=2", () => {
    // Act
    const one = outputs({});
    const two = outputs({ natGateways: '2' });
    // Assess: the addresses Kalshi sees the listeners connect from.
    expect([one.nats.length, two.nats.length]).toEqual([1, 2]);
    expect(one.egress).toEqual({ 'Fn::GetAtt': [one.eips[0], 'PublicIp'] });
    expect(two.egress).toEqual({ 'Fn::Join': [',', two.eips.map((id) => ({ 'Fn::GetAtt': [id, 'PublicIp'] }))] });
    expect(two.eips).toHaveLength(2);
  });

  it('prints none in an existing VPC, whose egress is its own, and refuses natGateways there', () => {
    // Prepare
    const vpc = {
      vpcId: 'vpc-0123456789abcdef0',
      availabilityZones: 'us-east-1a',
      privateSubnetIds: 'subnet-0aaaaaaaaaaaaaaa1',
    };
    // Act
    const existing = outputs(vpc);
    // Assess
    expect(existing.egress).toBeUndefined();
    expect(() => settingsFromContext((key) => ({ ...vpc, natGateways: '2' })[key as string])).toThrow(
      /natGateways is for the VPC the stack creates/,
    );
    expect(() => settingsFromContext((key) => ({ natGateways: '3' })[key as string])).toThrow(/natGateways/);
  });
});

describe('task size', { timeout: SYNTH_MS }, () => {
  afterAll(removeSynthOutputs);

  it("gives each listener's spool the EFS throughput mode its rate costs least in", () => {
    // Prepare
    const rates = [10, 100, 1000];
    const fileSystems = (rate: number) =>
      Object.values(
        synthesize({ listeners: JSON.stringify([{ name: 'default', reportsPerSecond: rate }]) }).template.toJSON()
          .Resources as Resources,
      )
        .filter((r) => r.Type === 'AWS::EFS::FileSystem')
        .map((r) => r.Properties!);
    // Act
    const modes = rates.map((rate) => spoolThroughput(rate));
    // Assess: Bursting while the metered rate stays well inside its free 1 MiB/s; above it,
    // Provisioned with headroom (Elastic would bill every metered byte of a steady stream).
    for (const [i, rate] of rates.entries()) {
      const metered = spoolMeteredMiBps(rate);
      expect(modes[i]).toEqual(
        metered <= EFS_BURSTING_BASELINE_MIBPS * EFS_BURSTING_SHARE
          ? { mode: 'bursting' }
          : { mode: 'provisioned', mibps: Math.ceil(metered * EFS_PROVISIONED_HEADROOM) },
      );
    }
    expect(spoolThroughput(10)).toEqual({ mode: 'bursting' });
    // A linger gathers reports into fewer commits: at 100/s, 100 ms of it keeps the spool on Bursting.
    expect(spoolThroughput(100)).toEqual({ mode: 'provisioned', mibps: 5 });
    expect(spoolThroughput(100, 100)).toEqual({ mode: 'bursting' });
    expect(spoolMeteredMiBps(100, 50)).toBeLessThan(spoolMeteredMiBps(100, 0) / 2);
    const lingering = Object.values(
      synthesize({ reportsPerSecond: '100', journalLingerMs: '100', fillsBatchWaitMs: '250' }).template.toJSON()
        .Resources as Resources,
    );
    expect(lingering.filter((r) => r.Type === 'AWS::EFS::FileSystem').map((r) => r.Properties)).toEqual([
      expect.objectContaining({ ThroughputMode: 'bursting' }),
    ]);
    const task = lingering.find((r) => r.Type === 'AWS::ECS::TaskDefinition')!.Properties as {
      ContainerDefinitions: Array<{ Environment: Array<{ Name: string; Value: string }> }>;
    };
    expect(task.ContainerDefinitions[0]!.Environment).toContainEqual({ Name: 'JOURNAL_LINGER_MS', Value: '100' });
    expect(task.ContainerDefinitions[0]!.Environment).toContainEqual({ Name: 'FILLS_BATCH_WAIT_MS', Value: '250' });
    expect(fileSystems(10)).toEqual([expect.objectContaining({ ThroughputMode: 'bursting' })]);
    const busy = spoolThroughput(1000);
    expect(busy.mode).toBe('provisioned');
    expect(fileSystems(1000)).toEqual([
      expect.objectContaining({
        ThroughputMode: 'provisioned',
        ProvisionedThroughputInMibps: busy.mode === 'provisioned' ? busy.mibps : 0,
      }),
    ]);
  });

  it('warns at synth when memoryMiB or cpu is below what reportsPerSecond needs', () => {
    // Act
    const small = synthesize({ cpu: '256', memoryMiB: '512', reportsPerSecond: '5000' });
    const sized = synthesize();
    // Assess
    Annotations.fromStack(small.stack).hasWarning('*', Match.stringLikeRegexp('memoryMiB 512 .* needs 454 MB'));
    // (0.25 + 5,000 × 250 µs) × 1.5 × 1024 = 2,304 units.
    Annotations.fromStack(small.stack).hasWarning('*', Match.stringLikeRegexp('cpu 256 is below the 2304 units'));
    expect(Annotations.fromStack(sized.stack).findWarning('*', Match.stringLikeRegexp('memoryMiB|cpu '))).toEqual([]);
    sized.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: String(DEFAULT_SETTINGS.cpu),
      Memory: String(DEFAULT_SETTINGS.memoryMiB),
    });
  });
});

import { Match } from 'aws-cdk-lib/assertions';
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settingsFromContext, type ContextKey } from '../../infra/context.js';
import { DEFAULT_SETTINGS } from '../../infra/props.js';
import { only, removeSynthOutputs, SYNTH_MS, synthesize } from './synth.js';

const from = (context: Partial<Record<ContextKey, unknown>>) => settingsFromContext((key) => context[key]);

describe('settings from CDK context', () => {
  it('defaults to the production margin gateway on KalshiRT with the drop copy, one task, sized for 100 reports/s', () => {
    // Act
    const settings = from({});
    // Assess
    expect(settings).toEqual(DEFAULT_SETTINGS);
    expect(settings.fix).toMatchObject({
      host: 'margin-mm.fix.elections.kalshi.com',
      port: 8230,
      targetCompId: 'KalshiRT',
      dropCopy: true,
    });
    // 130 MB + 100/s × 72 h × 0.25 B = 136 MB of heap at ¾ of the task: the smallest size, 1 GiB on 0.5 vCPU.
    expect(settings).toMatchObject({ reportsPerSecond: 100, cpu: 512, memoryMiB: 1024, notReadyMinutes: 5 });
    expect(settings.ecsExec).toBe(false);
  });

  it('sizes the task from reportsPerSecond, and keeps a size that is given', () => {
    // Act
    const quiet = from({ reportsPerSecond: '10' });
    const busy = from({ reportsPerSecond: '5000', cpu: '256' });
    const sizedBusy = from({ reportsPerSecond: '2000' });
    const given = from({ reportsPerSecond: '200', cpu: '512', memoryMiB: '4096' });
    // Assess
    expect([quiet.cpu, quiet.memoryMiB]).toEqual([512, 1024]);
    // The ExecID window no longer decides the size: 5,000/s needs a 454 MB heap, 1 GiB on the CPU given.
    expect([busy.cpu, busy.memoryMiB]).toEqual([256, 1024]);
    // CPU does: (0.25 + 2,000 × 250 µs) × 1.5 = 1.1 vCPU, so 2 vCPU (and Fargate's 4 GiB floor for it).
    expect([sizedBusy.cpu, sizedBusy.memoryMiB]).toEqual([2048, 4096]);
    expect([given.cpu, given.memoryMiB]).toEqual([512, 4096]);
  });

  it('reads `-c key=value` strings and cdk.json values alike, and pairs the port with the TargetCompID', () => {
    // Act
    const settings = from({
      fixTargetCompId: 'KalshiRT',
      cpu: '1024',
      memoryMiB: 2048,
      infrequentAccessAfterDays: '60',
      archivePrefix: 'fix',
      dropCopy: 'true',
      desiredCount: '0',
    });
    // Assess
    expect(settings.fix).toMatchObject({ targetCompId: 'KalshiRT', port: 8230, dropCopy: true });
    expect(settings).toMatchObject({
      cpu: 1024,
      memoryMiB: 2048,
      infrequentAccessAfterDays: 60,
      archivePrefix: 'fix/',
      desiredCount: 0,
    });
  });

  it('lists every bad value in one error, and never allows a second task', () => {
    // Act
    const attempt = () =>
      from({
        desiredCount: '2',
        fixTargetCompId: 'KalshiDC',
        logRetentionDays: '42',
        fixSecretArn: 'my-secret',
        vpcId: 'vpc-1',
        infrequentAccessAfterDays: '7',
        controlPlaneCidr: '0.0.0.0',
      });
    // Assess
    expect(attempt).toThrow(/desiredCount must be a whole number from 0 to 1/);
    expect(attempt).toThrow(/fixTargetCompId must be one of KalshiNR, KalshiRT/);
    expect(attempt).toThrow(/logRetentionDays must be one of CloudWatch's values/);
    expect(attempt).toThrow(/fixSecretArn must be the complete secret ARN/);
    expect(attempt).toThrow(/vpcId needs privateSubnetIds and availabilityZones/);
    expect(attempt).toThrow(/infrequentAccessAfterDays must be a whole number from 30/);
    expect(attempt).toThrow(/controlPlaneCidr must be an IPv4 CIDR/);
  });

  it.each([
    ['journalLingerMs', 'JOURNAL_LINGER_MS', 100],
    ['fillsBatchWaitMs', 'FILLS_BATCH_WAIT_MS', 1000],
  ] as const)("takes %s with the service's own rule for %s (0–%i, default 0)", (key, _, most) => {
    // Act
    const unset = from({});
    const set = from({ [key]: String(most) });
    const tooLong = () => from({ [key]: String(most + 1) });
    // Assess
    expect(unset[key]).toBe(0);
    expect(set[key]).toBe(most);
    expect(tooLong).toThrow(new RegExp(`${key} must be a whole number from 0 to ${most}`));
  });

  it('refuses a control-plane CIDR wider than /8 unless controlPlaneCidrWide=true says it is meant', () => {
    // Act
    const open = () => from({ controlPlaneCidr: '0.0.0.0/0' });
    const invalid = () => from({ controlPlaneCidr: '10.0.0.0/40' });
    const forced = from({ controlPlaneCidr: '0.0.0.0/0', controlPlaneCidrWide: 'true' });
    // Assess
    expect(open).toThrow(
      /controlPlaneCidr 0\.0\.0\.0\/0 opens the control plane \(POST \/reconnect\) to the whole internet/,
    );
    expect(invalid).toThrow(/controlPlaneCidr 10\.0\.0\.0\/40 is not a valid IPv4 CIDR/);
    expect(forced.controlPlaneCidr).toBe('0.0.0.0/0');
    expect(from({ controlPlaneCidr: '10.20.0.0/16' }).controlPlaneCidr).toBe('10.20.0.0/16');
  });
});

// An existing VPC is given by ids and zones rather than looked up, so this path synthesizes offline too.
describe(
  "stack in an existing VPC, with existing secrets, drop-copy backfill and an operators' network",
  { timeout: SYNTH_MS },
  () => {
    const secretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kalshi/fix-AbCdEf';
    const dropCopySecretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kalshi/dc-GhIjKl';
    let template: Template;

    afterAll(removeSynthOutputs);
    beforeAll(() => {
      ({ template } = synthesize({
        vpcId: 'vpc-0123456789abcdef0',
        availabilityZones: 'us-east-1a,us-east-1b',
        privateSubnetIds: 'subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2',
        fixSecretArn: secretArn,
        dropCopySecretArn: dropCopySecretArn,
        dropCopy: 'true',
        fixTargetCompId: 'KalshiRT',
        controlPlaneCidr: '10.20.0.0/16',
      }));
    }, SYNTH_MS);

    it('creates no VPC and puts the task and the mount targets in the given subnets', () => {
      // Assess
      template.resourceCountIs('AWS::EC2::VPC', 0);
      template.resourceCountIs('AWS::EC2::NatGateway', 0);
      template.hasResourceProperties('AWS::ECS::Service', {
        NetworkConfiguration: {
          AwsvpcConfiguration: { Subnets: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'] },
        },
      });
      expect(
        Object.values(template.findResources('AWS::EFS::MountTarget'))
          .map((r) => (r as { Properties: { SubnetId: string } }).Properties.SubnetId)
          .sort(),
      ).toEqual(['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2']);
    });

    it('reads the given secrets, the FIX key and the drop-copy key, and creates only the control token', () => {
      // Prepare
      const container = (
        only(template, 'AWS::ECS::TaskDefinition').properties['ContainerDefinitions'] as Array<{
          Secrets: Array<{ Name: string; ValueFrom: unknown }>;
        }>
      )[0]!;
      const byName = Object.fromEntries(container.Secrets.map((s) => [s.Name, s.ValueFrom]));
      // Assess
      template.resourceCountIs('AWS::SecretsManager::Secret', 1);
      expect(byName).toMatchObject({
        FIX_API_KEY: `${secretArn}:apiKey::`,
        FIX_PRIVATE_KEY: `${secretArn}:privateKey::`,
        FIX_DC_API_KEY: `${dropCopySecretArn}:apiKey::`,
        FIX_DC_PRIVATE_KEY: `${dropCopySecretArn}:privateKey::`,
      });
    });

    it('connects to KalshiRT on 8230 and may reach the drop copy on 8229', () => {
      // Assess
      template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        ContainerDefinitions: [
          Match.objectLike({
            Environment: Match.arrayWith([
              { Name: 'FIX_PORT', Value: '8230' },
              { Name: 'FIX_TARGET_COMP_ID', Value: 'KalshiRT' },
            ]),
          }),
        ],
      });
      template.hasResourceProperties('AWS::EC2::SecurityGroup', {
        GroupDescription: 'kalshi-fix-listener task',
        SecurityGroupEgress: Match.arrayWith([
          Match.objectLike({ FromPort: 8230 }),
          Match.objectLike({ FromPort: 8229 }),
        ]),
      });
    });

    it("lets the operators' network, and only it, reach the control plane", () => {
      // Assess
      template.hasResourceProperties('AWS::EC2::SecurityGroup', {
        GroupDescription: 'kalshi-fix-listener task',
        SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.20.0.0/16', FromPort: 8080, ToPort: 8080 })],
      });
    });
  },
);

import { afterAll, describe, expect, it } from 'vitest';
import { accountUniqueName, DEFAULT_STACK_NAME } from '../../infra/names.js';
import { removeSynthOutputs, SYNTH_MS, synthesize, type Resources } from './synth.js';

/**
 * Two deployments in one account and region (staging beside production, or a second firm's keys):
 * every name the account holds once — whatever CloudFormation does not name itself — comes from
 * the stack's name.
 */

/** Where each resource type takes a fixed physical name, if one is set. */
const PHYSICAL_NAMES: Record<string, string[]> = {
  'AWS::Glue::Database': ['DatabaseInput', 'Name'],
  'AWS::Athena::WorkGroup': ['Name'],
  'AWS::CloudWatch::Dashboard': ['DashboardName'],
  'AWS::S3::Bucket': ['BucketName'],
  'AWS::SQS::Queue': ['QueueName'],
  'AWS::SNS::Topic': ['TopicName'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::SecretsManager::Secret': ['Name'],
  'AWS::ECS::Cluster': ['ClusterName'],
  'AWS::ECS::Service': ['ServiceName'],
  'AWS::ECS::TaskDefinition': ['Family'],
  'AWS::CloudWatch::Alarm': ['AlarmName'],
  'AWS::IAM::Role': ['RoleName'],
  'AWS::Logs::MetricFilter': ['FilterName'],
  'AWS::EC2::SecurityGroup': ['GroupName'],
};

/** Every fixed physical name of a stack, as `type name`. */
function fixedNames(stackName: string): string[] {
  const resources = synthesize({ listeners: '[{"name":"default"},{"name":"member-b"}]' }, stackName).template.toJSON()
    .Resources as Resources;
  return Object.values(resources).flatMap((r) => {
    const path = PHYSICAL_NAMES[r.Type];
    const value = path?.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], r.Properties);
    return typeof value === 'string' ? [`${r.Type} ${value}`] : [];
  });
}

describe('two stacks in one account', { timeout: SYNTH_MS }, () => {
  afterAll(removeSynthOutputs);

  it('share no name the account holds once: the Glue database, the Athena workgroup, the dashboard', () => {
    // Act
    const first = fixedNames(DEFAULT_STACK_NAME);
    const second = fixedNames('KalshiFixListener-staging');
    // Assess: CDK names the task definition families after the stack and the construct (a shared
    // family would interleave two stacks' revisions); the other names are the stack's own choice.
    expect([...new Set(first.map((n) => n.split(' ')[0]))].sort()).toEqual([
      'AWS::Athena::WorkGroup',
      'AWS::CloudWatch::Dashboard',
      'AWS::ECS::TaskDefinition',
      'AWS::Glue::Database',
    ]);
    expect(second.filter((n) => first.includes(n))).toEqual([]);
  });

  it('keeps the names the default stack has always had, and tells apart stack names that read alike', () => {
    // Act + Assess: renaming a Glue database would replace it (and its tables) in place.
    expect(accountUniqueName(DEFAULT_STACK_NAME, '_')).toBe('kalshi_fix_listener');
    expect(accountUniqueName(DEFAULT_STACK_NAME, '-')).toBe('kalshi-fix-listener');
    // Stack names are case-sensitive and may hold '-': Glue and Athena names are narrower.
    const alike = ['Prod', 'prod', 'kalshi-fix-listener', 'kalshi-Fix-listener', 'a-b', 'aB'];
    for (const separator of ['_', '-'] as const) {
      const names = [DEFAULT_STACK_NAME, ...alike].map((s) => accountUniqueName(s, separator));
      expect(new Set(names).size).toBe(names.length);
      for (const name of names) expect(name).toMatch(separator === '_' ? /^[a-z0-9_]{1,128}$/ : /^[a-z0-9-]{1,128}$/);
    }
    expect(accountUniqueName('Fills-Prod', '_')).toMatch(/^fills_prod_[0-9a-f]{8}$/);
  });
});

import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { settingsFromContext, type ContextKey } from '../../infra/context.js';
import { removeSynthOutputs, SYNTH_MS, synthesize, type Resources } from './synth.js';

/**
 * `cdk deploy` with no secret ARNs: the stack creates empty key secrets, so a task started at once
 * could not be given its key, would fail, and would fail the whole first deployment. Each listener
 * waits (desiredCount 0) until its keys are there — given by ARN, or put and then said with
 * `-c start=…` — and the stack prints the exact next step.
 */

const FIX_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kalshi/fix-AbCdEf';
const DC_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kalshi/dc-GhIjKl';
const from = (context: Partial<Record<ContextKey, unknown>>) => settingsFromContext((key) => context[key]);

interface Template {
  Resources: Resources;
  Outputs: Record<string, { Value: unknown; Description: string }>;
}

const desiredCounts = (t: Template) =>
  Object.values(t.Resources)
    .filter((r) => r.Type === 'AWS::ECS::Service')
    .map((r) => r.Properties!['DesiredCount']);

/** An output's value as the shell sees it once CloudFormation resolved its references. */
function shellText(value: unknown): string {
  if (typeof value === 'string') return value;
  const [, parts] = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return parts.map((p) => (typeof p === 'string' ? p : `<${(p as { Ref: string }).Ref}>`)).join('');
}

describe('a first deployment without secret ARNs', { timeout: SYNTH_MS }, () => {
  afterAll(removeSynthOutputs);

  it('creates the service stopped, and prints how to put the keys and start it', () => {
    // Act
    const { stack, template } = synthesize();
    const json = template.toJSON() as Template;
    const step = json.Outputs['NextStep']!;
    const secret = (prefix: string) => Object.keys(json.Resources).find((id) => id.startsWith(prefix))!;
    // Assess: nothing is started on an empty secret, so nothing can fail the create.
    expect(desiredCounts(json)).toEqual([0]);
    expect(shellText(step.Value).split(' && ')).toEqual([
      `aws secretsmanager put-secret-value --secret-id <${secret('SecretsFix')}> --secret-string "$(jq -n --arg apiKey "$KALSHI_KEY_ID" --rawfile privateKey kalshi-key.pem '{apiKey: $apiKey, privateKey: $privateKey}')"`,
      `aws secretsmanager put-secret-value --secret-id <${secret('SecretsDropCopy')}> --secret-string "$(jq -n --arg apiKey "$KALSHI_DC_KEY_ID" --rawfile privateKey kalshi-dc-key.pem '{apiKey: $apiKey, privateKey: $privateKey}')"`,
      'npx cdk deploy -c start=true',
    ]);
    expect(step.Description).toMatch(/keep -c start on every later deployment/i);
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('default: not started .* -c start=true'));
  });

  it('starts the service once -c start=true says the keys were put, or when they are given by ARN', () => {
    // Act
    const started = synthesize({ start: 'true' }).template.toJSON() as Template;
    const given = synthesize({ fixSecretArn: FIX_ARN, dropCopySecretArn: DC_ARN }).template.toJSON() as Template;
    // Assess
    expect(desiredCounts(started)).toEqual([1]);
    expect(desiredCounts(given)).toEqual([1]);
    expect(started.Outputs['NextStep']).toBeUndefined();
    expect(given.Outputs['NextStep']).toBeUndefined();
  });

  it('waits for a drop-copy key the stack created even when the FIX key is given, and asks only for that one', () => {
    // Act
    const json = synthesize({ fixSecretArn: FIX_ARN }).template.toJSON() as Template;
    const lines = shellText(json.Outputs['NextStep']!.Value).split(' && ');
    // Assess
    expect(desiredCounts(json)).toEqual([0]);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/--secret-id <SecretsDropCopy\w+> .*KALSHI_DC_KEY_ID/);
  });
});

describe('when a listener starts', { timeout: SYNTH_MS }, () => {
  it('is 1 once its keys are there, 0 before, and whatever desiredCount says when given', () => {
    // Act + Assess
    expect(from({}).desiredCount).toBe(0);
    expect(from({ start: 'true' }).desiredCount).toBe(1);
    expect(from({ start: true }).desiredCount).toBe(1); // cdk.json's context holds JSON
    expect(from({ start: 'false' }).desiredCount).toBe(0);
    expect(from({ fixSecretArn: FIX_ARN, dropCopy: 'false' }).desiredCount).toBe(1);
    expect(from({ fixSecretArn: FIX_ARN, dropCopySecretArn: DC_ARN, desiredCount: '0' })).toMatchObject({
      desiredCount: 0,
      waitingForKeys: false,
    });
    expect(from({ desiredCount: '1' })).toMatchObject({ desiredCount: 1, waitingForKeys: false });
  });

  it('in a fleet, starts the listeners -c start names, and those whose keys are given', () => {
    // Act
    const settings = from({
      listeners: JSON.stringify([
        { name: 'default' },
        { name: 'member-b' },
        { name: 'member-c', fixSecretArn: FIX_ARN, dropCopySecretArn: DC_ARN },
        { name: 'member-d', desiredCount: 0 },
      ]),
      start: 'member-b,member-d',
    });
    // Assess
    expect(settings.listeners.map((l) => [l.listenerName, l.desiredCount, l.waitingForKeys])).toEqual([
      ['default', 0, true],
      ['member-b', 1, false],
      ['member-c', 1, false],
      ['member-d', 0, false],
    ]);
    expect(() => from({ listeners: '[{"name":"a"}]', start: 'a,b' })).toThrow(
      /start names no listener of this stack: b/,
    );
  });

  it("prints a fleet listener's next step under its own name, with -c start naming it", () => {
    // Act
    const json = synthesize({
      listeners: '[{"name":"default"},{"name":"member-b","dropCopy":false}]',
      start: 'default',
    }).template.toJSON() as Template;
    // Assess
    expect(json.Outputs['NextStep']).toBeUndefined();
    const lines = shellText(json.Outputs['NextStepmemberb']!.Value).split(' && ');
    expect(lines).toEqual([
      expect.stringMatching(/^aws secretsmanager put-secret-value --secret-id <SecretsmemberbFix\w+> /),
      'npx cdk deploy -c start=member-b',
    ]);
  });
});

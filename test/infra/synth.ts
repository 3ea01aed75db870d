import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { settingsFromContext, type ContextKey } from '../../infra/context.js';
import { ListenerStack } from '../../infra/listener-stack.js';
import { DEFAULT_STACK_NAME } from '../../infra/names.js';

export const REPO = join(import.meta.dirname, '../..');

/** cdk.json's feature flags, so tests synthesize as `cdk synth` does (template validation included). */
const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(join(REPO, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }
).context;

const outdirs: string[] = [];

/**
 * The time a test or hook that synthesizes is given. A synth takes about a second, but the first
 * one in a process (the infra suites share one per worker) also compiles aws-cdk-lib's template
 * validation rules: ~8 s on two idle cores, and several times that on a busy machine.
 */
export const SYNTH_MS = 60_000;

/** The stack as `cdk synth -c key=value ...` builds it: context in, template out. */
export function synthesize(
  context: Partial<Record<ContextKey, string>> = {},
  stackName = DEFAULT_STACK_NAME,
): {
  stack: ListenerStack;
  template: Template;
} {
  const outdir = mkdtempSync(join(tmpdir(), 'kfl-cdk-'));
  outdirs.push(outdir);
  // Without the CloudFormation rules validation that every synth otherwise runs (~0.4 s a synth,
  // ~1.5 s more the first time in a process: most of the infra suites' time). It still runs where
  // it is the point: cdk-nag's suite (operations.test.ts) synthesizes the default stack, ECS Exec,
  // an existing VPC, KalshiNR and a fleet with it, and CI's `cdk synth` runs it on the default.
  const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT, ...context }, builtinCloudFormationValidation: false });
  const stack = new ListenerStack(app, stackName, {
    settings: settingsFromContext((key) => app.node.tryGetContext(key)),
    imageDirectory: REPO,
  });
  const template = Template.fromStack(stack);
  // Template.fromStack does not fail on a context look-up error: make sure there was none.
  Annotations.fromStack(stack).hasNoError('*', Match.anyValue());
  return { stack, template };
}

/** Removes what synthesize() staged (the image context is copied into each cloud assembly). */
export function removeSynthOutputs(): void {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export type Resources = Record<
  string,
  {
    Type: string;
    Properties?: Record<string, unknown>;
    DependsOn?: string[] | string;
    DeletionPolicy?: string;
    UpdateReplacePolicy?: string;
  }
>;

/** The one resource of a type (fails when there are more or none). */
export function only(
  template: Template,
  type: string,
): { id: string; properties: Record<string, unknown>; resource: Resources[string] } {
  const found = Object.entries(template.findResources(type) as Resources);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  const [id, resource] = found[0]!;
  return { id, properties: resource.Properties ?? {}, resource };
}

/**
 * CloudFormation intrinsics → plain strings, for checking values the way a task would see them:
 * `Ref`s become what `name(logicalId, type)` says, joins are joined.
 */
export function resolveIntrinsics(
  value: unknown,
  resources: Resources,
  name: (logicalId: string, type: string) => string,
): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, resources, name));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  if ('Ref' in object) {
    const ref = object['Ref'] as string;
    if (ref === 'AWS::Region') return 'us-east-1';
    if (ref === 'AWS::AccountId') return '123456789012';
    if (ref === 'AWS::Partition') return 'aws';
    if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
    return name(ref, resources[ref]?.Type ?? 'unknown');
  }
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => resolveIntrinsics(p, resources, name)).join(separator);
  }
  if ('Fn::GetAtt' in object) {
    const [id, attribute] = object['Fn::GetAtt'] as [string, string];
    return `${name(id, resources[id]?.Type ?? 'unknown')}.${attribute}`;
  }
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, resolveIntrinsics(v, resources, name)]));
}

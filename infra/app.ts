#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { settingsFromContext } from './context.js';
import { ListenerStack } from './listener-stack.js';
import { DEFAULT_STACK_NAME } from './names.js';

/** The directory holding the Dockerfile, whether this runs from infra/ (tsx) or dist/infra/. */
export function repositoryRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'Dockerfile'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no Dockerfile above ${from}`);
  }
}

const app = new App();
// Environment-agnostic on purpose: synth needs no credentials and makes no look-up (no
// cdk.context.json), and `cdk deploy` puts the template in whichever account and region it targets.
new ListenerStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? DEFAULT_STACK_NAME, {
  settings: settingsFromContext((key) => app.node.tryGetContext(key)),
  imageDirectory: repositoryRoot(import.meta.dirname),
  description:
    'kalshi-fix-listener: one Kalshi FIX listener session on Fargate, archive to S3 and Athena, fills to SQS FIFO',
});
// cdk-nag's AwsSolutions rules at every synth: a new finding fails it (each acknowledgement in the
// stack says why).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();

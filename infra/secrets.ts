import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { ListenerStackSettings } from './props.js';

/** The JSON keys of the FIX secret. */
export const FIX_SECRET_KEYS = {
  apiKey: 'apiKey',
  privateKey: 'privateKey',
  dcApiKey: 'dcApiKey',
  dcPrivateKey: 'dcPrivateKey',
} as const;

/**
 * The Kalshi API key and its RSA private key (one JSON secret), and the control-plane token. ECS
 * injects them as environment variables at task start, so they never appear in the template, the
 * task definition or a log line.
 */
export class ListenerSecrets extends Construct {
  readonly fix: secretsmanager.ISecret;
  readonly controlToken: secretsmanager.Secret;
  /** Environment variable → ECS secret, for the container definition. */
  readonly containerSecrets: Record<string, ecs.Secret>;

  constructor(scope: Construct, id: string, settings: Pick<ListenerStackSettings, 'fixSecretArn' | 'fix'>) {
    super(scope, id);
    this.fix =
      settings.fixSecretArn === undefined
        ? new secretsmanager.Secret(this, 'Fix', {
            description:
              'Kalshi FIX listener API key: JSON {"apiKey": "<key id>", "privateKey": "<PEM>"} (plus dcApiKey/dcPrivateKey for drop-copy backfill)',
            // Empty: the real key is put with `aws secretsmanager put-secret-value` (a deleted
            // stack leaves it recoverable for Secrets Manager's 30-day window).
            secretObjectValue: {},
          })
        : secretsmanager.Secret.fromSecretCompleteArn(this, 'Fix', settings.fixSecretArn);
    this.controlToken = new secretsmanager.Secret(this, 'ControlToken', {
      description: 'Bearer token for POST /reconnect on the kalshi-fix-listener control plane',
      generateSecretString: { passwordLength: 40, excludePunctuation: true },
    });
    this.containerSecrets = {
      FIX_API_KEY: ecs.Secret.fromSecretsManager(this.fix, FIX_SECRET_KEYS.apiKey),
      FIX_PRIVATE_KEY: ecs.Secret.fromSecretsManager(this.fix, FIX_SECRET_KEYS.privateKey),
      CONTROL_TOKEN: ecs.Secret.fromSecretsManager(this.controlToken),
      ...(settings.fix.dropCopy
        ? {
            FIX_DC_API_KEY: ecs.Secret.fromSecretsManager(this.fix, FIX_SECRET_KEYS.dcApiKey),
            FIX_DC_PRIVATE_KEY: ecs.Secret.fromSecretsManager(this.fix, FIX_SECRET_KEYS.dcPrivateKey),
          }
        : {}),
    };
  }
}

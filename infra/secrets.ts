import { Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { ListenerStackSettings } from './props.js';

/** The JSON keys of a Kalshi key secret (the FIX key and the drop-copy key alike). */
export const FIX_SECRET_KEYS = {
  apiKey: 'apiKey',
  privateKey: 'privateKey',
} as const;

const KEY_SECRET_FORMAT = 'JSON {"apiKey": "<key id>", "privateKey": "<PEM>"}';

/**
 * The Kalshi API key and its RSA private key (one JSON secret), the drop-copy key (a secret of its
 * own: Kalshi allows one session per key), and the control-plane token. ECS injects them as
 * environment variables at task start, so they never appear in the template, the task definition
 * or a log line.
 */
export class ListenerSecrets extends Construct {
  readonly fix: secretsmanager.ISecret;
  readonly dropCopy: secretsmanager.ISecret | undefined;
  readonly controlToken: secretsmanager.Secret;
  /** Environment variable → ECS secret, for the container definition. */
  readonly containerSecrets: Record<string, ecs.Secret>;

  constructor(
    scope: Construct,
    id: string,
    settings: Pick<ListenerStackSettings, 'fixSecretArn' | 'dropCopySecretArn' | 'fix'>,
  ) {
    super(scope, id);
    this.fix = this.#keySecret('Fix', settings.fixSecretArn, `Kalshi FIX listener API key: ${KEY_SECRET_FORMAT}`);
    this.dropCopy = settings.fix.dropCopy
      ? this.#keySecret(
          'DropCopy',
          settings.dropCopySecretArn,
          `Kalshi drop-copy (KalshiDC) API key for backfill after gaps: ${KEY_SECRET_FORMAT}`,
        )
      : undefined;
    this.controlToken = new secretsmanager.Secret(this, 'ControlToken', {
      description: 'Bearer token for POST /reconnect on the kalshi-fix-listener control plane',
      generateSecretString: { passwordLength: 40, excludePunctuation: true },
    });
    Validations.of(this.controlToken).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The task reads the token at start; rotating it is a put-secret-value and a forced deployment (README, operations). It guards POST /reconnect only, on a private subnet.',
    });
    this.containerSecrets = {
      FIX_API_KEY: ecs.Secret.fromSecretsManager(this.fix, FIX_SECRET_KEYS.apiKey),
      FIX_PRIVATE_KEY: ecs.Secret.fromSecretsManager(this.fix, FIX_SECRET_KEYS.privateKey),
      CONTROL_TOKEN: ecs.Secret.fromSecretsManager(this.controlToken),
      ...(this.dropCopy === undefined
        ? {}
        : {
            FIX_DC_API_KEY: ecs.Secret.fromSecretsManager(this.dropCopy, FIX_SECRET_KEYS.apiKey),
            FIX_DC_PRIVATE_KEY: ecs.Secret.fromSecretsManager(this.dropCopy, FIX_SECRET_KEYS.privateKey),
          }),
    };
  }

  /** An existing secret by complete ARN, or an empty one to fill before the service can log on. */
  #keySecret(id: string, arn: string | undefined, description: string): secretsmanager.ISecret {
    if (arn !== undefined) return secretsmanager.Secret.fromSecretCompleteArn(this, id, arn);
    // Empty: the real key is put with `aws secretsmanager put-secret-value` (a deleted stack
    // leaves it recoverable for Secrets Manager's 30-day window).
    const secret = new secretsmanager.Secret(this, id, { description, secretObjectValue: {} });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        "A Kalshi API key pair is created in Kalshi's web interface from a public key the member uploads; no Lambda can rotate it. Rotation is manual (README: rotate a key).",
    });
    return secret;
  }
}

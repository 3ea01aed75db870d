import { Duration, RemovalPolicy, Stack, Validations, type CfnResource } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/**
 * The archive of DESIGN.md §3: private, encrypted, TLS only, kept when the stack goes. Hourly objects
 * are read often while fresh and rarely after, so they move to Standard-IA after a while.
 */
export class ArchiveBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly prefix: string;

  constructor(
    scope: Construct,
    id: string,
    props: { prefix: string; infrequentAccessAfterDays: number; accessLogs: s3.IBucket },
  ) {
    super(scope, id);
    this.prefix = props.prefix;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      // A version survives an accidental overwrite or delete of an hour's object.
      versioned: true,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'archive/',
      lifecycleRules: [
        {
          id: 'archive-to-infrequent-access',
          prefix: props.prefix,
          transitions: [
            {
              storageClass: s3.StorageClass.INFREQUENT_ACCESS,
              transitionAfter: Duration.days(props.infrequentAccessAfterDays),
            },
          ],
          // Conditional writes make overwrites rare; old versions need not stay for ever.
          noncurrentVersionExpiration: Duration.days(90),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** `s3://bucket/prefix/`: the service's ARCHIVE_URL. */
  get url(): string {
    return `s3://${this.bucket.bucketName}/${this.prefix}`;
  }

  /** Where the Glue table reads: the writer's `exec_reports/` under the prefix. */
  get tableLocation(): string {
    return `s3://${this.bucket.bucketName}/${this.prefix}exec_reports/`;
  }

  /** Where the typed (Parquet) table reads: the writer's `exec_reports_parquet/`. */
  get parquetTableLocation(): string {
    return `s3://${this.bucket.bucketName}/${this.prefix}exec_reports_parquet/`;
  }

  /**
   * Write (conditional PutObject) and read back its own listener's part of the archive — reading is
   * for `reconcile` and `rebuild-parquet`, run as one-off tasks of the same definition: its
   * `listener=` partitions of both tables and its dead letters. Delete only its own Parquet
   * objects: `rebuild-parquet --replace` removes an hour's old object once the rebuilt one is in
   * (else Athena counts the hour twice); the JSONL source of truth and the dead letters cannot be
   * deleted, and a deleted Parquet object stays a noncurrent version for 90 days. Nothing else in
   * the bucket.
   */
  grantArchiveAccess(role: iam.IRole, listener: string): void {
    const parquet = `${this.prefix}exec_reports_parquet/listener=${listener}/*`;
    const own = [
      `${this.prefix}exec_reports/listener=${listener}/*`,
      parquet,
      `${this.prefix}dead_letters/listener=${listener}/*`,
    ];
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ArchiveObjects',
        actions: ['s3:PutObject', 's3:GetObject'],
        resources: own.map((p) => this.bucket.arnForObjects(p)),
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReplaceOwnParquet',
        actions: ['s3:DeleteObject'],
        resources: [this.bucket.arnForObjects(parquet)],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListArchivePrefix',
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': own } },
      }),
    );
    const logicalId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnResource);
    for (const pattern of own)
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${pattern}]`,
        reason:
          "Objects under the listener's own partition of the archive: hourly keys it names itself, deleting only its own Parquet objects (rebuild-parquet --replace); nothing else in the bucket.",
      });
  }
}

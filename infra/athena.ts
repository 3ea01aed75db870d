import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { ArchiveTable } from './archive-table.js';
import { namedQueries, parquetNamedQueries } from './athena-queries.js';

/**
 * An Athena workgroup of its own: results in their own bucket (never mixed into the archive),
 * encrypted, settings enforced on every query, a scan cap against a runaway query.
 */
export class ArchiveQueries extends Construct {
  readonly workGroup: athena.CfnWorkGroup;
  readonly resultsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: { name: string; table: ArchiveTable; accessLogs: s3.IBucket }) {
    super(scope, id);
    this.resultsBucket = new s3.Bucket(this, 'Results', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'athena-results/',
      // Query results are copies: re-run the query to get them back.
      lifecycleRules: [
        {
          id: 'expire-query-results',
          expiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: props.name,
      description: 'Queries over the Kalshi FIX listener archive',
      state: 'ENABLED',
      // Lets the stack be deleted although the workgroup has saved queries and history.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: 100 * 1024 ** 3,
        engineVersion: { selectedEngineVersion: 'AUTO' },
        resultConfiguration: {
          outputLocation: `s3://${this.resultsBucket.bucketName}/results/`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });
    for (const query of [
      ...namedQueries(props.table.tableName),
      ...parquetNamedQueries(props.table.parquetTableName),
    ]) {
      const named = new athena.CfnNamedQuery(this, query.name, {
        name: query.name,
        description: query.description,
        database: props.table.databaseName,
        workGroup: this.workGroup.ref,
        queryString: query.sql,
      });
      named.node.addDependency(props.table.table, props.table.parquetTable);
    }
  }
}

import { RemovalPolicy, Size } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as efs from 'aws-cdk-lib/aws-efs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { RUNTIME_USER } from './image-contract.js';
import { PRIVATE_SUBNETS } from './network.js';
import { spoolThroughput } from './sizing.js';

/**
 * The journal and session state (SPOOL_DIR) on EFS, so a replaced task resumes every sink from its
 * cursor and KalshiRT from its sequence numbers. Encrypted at rest and in transit, mounted through
 * one access point as the image's runtime user, with IAM authorization: only the task role mounts.
 */
export class SpoolVolume extends Construct {
  readonly fileSystem: efs.FileSystem;
  readonly accessPoint: efs.AccessPoint;

  constructor(scope: Construct, id: string, vpc: ec2.IVpc, reportsPerSecond: number, journalLingerMs = 0) {
    super(scope, id);
    // The cheapest throughput mode for this listener's rate (infra/sizing.ts spoolThroughput): the
    // spool writes a few KiB at a time, steadily, which Elastic bills per metered byte and Bursting
    // or Provisioned do not.
    const throughput = spoolThroughput(reportsPerSecond, journalLingerMs);
    this.fileSystem = new efs.FileSystem(this, 'FileSystem', {
      vpc,
      vpcSubnets: PRIVATE_SUBNETS,
      // NFS only answers: the mount targets need no outbound rule.
      securityGroup: new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc,
        description: 'kalshi-fix-listener spool (EFS mount targets)',
        allowAllOutbound: false,
      }),
      encrypted: true,
      // The journal fsyncs every group commit: General Purpose latency.
      performanceMode: efs.PerformanceMode.GENERAL_PURPOSE,
      ...(throughput.mode === 'bursting'
        ? { throughputMode: efs.ThroughputMode.BURSTING }
        : {
            throughputMode: efs.ThroughputMode.PROVISIONED,
            provisionedThroughputPerSecond: Size.mebibytes(throughput.mibps),
          }),
      enableAutomaticBackups: true,
      // (allowAnonymousAccess is left unset: `false` would make CDK allow every IAM principal
      // write and root access. The file system policy of grantMount admits the task role only.)
      // Unarchived reports may live only here: never delete it with the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.accessPoint = this.fileSystem.addAccessPoint('Spool', {
      path: '/kalshi-fix-listener',
      createAcl: { ownerUid: String(RUNTIME_USER.uid), ownerGid: String(RUNTIME_USER.gid), permissions: '750' },
      posixUser: { uid: String(RUNTIME_USER.uid), gid: String(RUNTIME_USER.gid) },
    });
  }

  /** Mount and write through this access point only (no root access, no other path). */
  grantMount(role: iam.IRole): void {
    // The file system policy: with one present, clients without IAM (and other roles) cannot mount.
    // Its statements are attached to this file system, so "*" names it; naming its ARN would make
    // the file system depend on itself.
    this.fileSystem.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'TaskRoleMountsThroughMountTargets',
        principals: [new iam.ArnPrincipal(role.roleArn)],
        actions: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
        resources: ['*'],
        conditions: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' } },
      }),
    );
    this.fileSystem.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyUnencryptedTransport',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [
          'elasticfilesystem:ClientMount',
          'elasticfilesystem:ClientWrite',
          'elasticfilesystem:ClientRootAccess',
        ],
        resources: ['*'],
        conditions: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'MountSpoolAccessPoint',
        actions: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
        resources: [this.fileSystem.fileSystemArn],
        conditions: { StringEquals: { 'elasticfilesystem:AccessPointArn': this.accessPoint.accessPointArn } },
      }),
    );
  }
}

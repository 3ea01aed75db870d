import { Duration, RemovalPolicy, Size, Stack, Validations, type CfnResource } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { HEALTH_CHECK_SCRIPT, HTTP_PORT, SPOOL_DIR } from './image-contract.js';
import { PRIVATE_SUBNETS } from './network.js';
import type { ListenerStackSettings } from './props.js';
import type { SpoolVolume } from './spool-volume.js';

export interface ListenerServiceProps {
  vpc: ec2.IVpc;
  settings: ListenerStackSettings;
  /** The repository root: the Dockerfile and its context. */
  imageDirectory: string;
  /** This listener's own file system: no listener of a fleet can mount another's journal. */
  spool: SpoolVolume;
  /** The fleet's shared cluster (listenerCluster). */
  cluster: ecs.ICluster;
  environment: Record<string, string>;
  secrets: Record<string, ecs.Secret>;
}

const VOLUME = 'spool';
/**
 * Where ECS Exec's SSM agent writes: the root file system stays read-only, these are task-local
 * scratch volumes (https://github.com/aws/containers-roadmap/issues/1359).
 */
export const ECS_EXEC_PATHS = ['/managed-agents', '/var/lib/amazon/ssm', '/var/log/amazon/ssm'] as const;
/** ECS waits this much past the service's own flush bound before SIGKILL. */
const STOP_MARGIN_S = 15;

/**
 * The fleet's one ECS cluster, in the `Listener` scope where a single-listener stack has always had
 * it. With ECS Exec on, every exec session is logged to a log group of its own (the commands run,
 * their output: an exec user can read the task's environment, the private key among it).
 */
export function listenerCluster(
  scope: Construct,
  vpc: ec2.IVpc,
  execLogs: logs.ILogGroup | undefined,
  containerInsights: boolean,
): ecs.Cluster {
  const cluster = new ecs.Cluster(scope, 'Cluster', {
    vpc,
    containerInsightsV2: containerInsights ? ecs.ContainerInsights.ENABLED : ecs.ContainerInsights.DISABLED,
    ...(execLogs === undefined
      ? {}
      : {
          executeCommandConfiguration: {
            logging: ecs.ExecuteCommandLogging.OVERRIDE,
            // CloudWatch Logs encrypts every log group at rest; `cloudWatchEncryptionEnabled` would
            // demand a KMS key of our own on the group, or the agent refuses to open a session.
            logConfiguration: { cloudWatchLogGroup: execLogs, cloudWatchEncryptionEnabled: false },
          },
        }),
  });
  if (!containerInsights)
    Validations.of(cluster).acknowledge({
      id: 'AwsSolutions-ECS4',
      reason:
        'Container Insights is off by default for its cost (~20 metrics, ~$6 a month a listener): the task CPU and memory on the dashboard are ECS’s own free metrics, TaskNotRunning reads them, and the service publishes its own health metrics; -c containerInsights=true turns it on.',
    });
  return cluster;
}

/**
 * One Fargate task (ARM64) running the image, on a service that can never run two: Kalshi allows
 * one connection per API key. With minimum 0 % and maximum 100 %, ECS stops the old task before it
 * starts the new one, on deployments and on replacements alike. Built into the listener's own
 * scope (infra/names.ts listenerScopeId), which adds no level to the construct ids: the unsuffixed
 * listener's resources keep the ids a single-listener stack had.
 */
export class ListenerService {
  readonly cluster: ecs.ICluster;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;
  readonly service: ecs.FargateService;
  readonly logGroup: logs.LogGroup;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, props: ListenerServiceProps) {
    const { settings } = props;
    this.cluster = props.cluster;

    this.logGroup = new logs.LogGroup(scope, 'Logs', {
      retention: settings.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.taskDefinition = new ecs.FargateTaskDefinition(scope, 'Task', {
      cpu: settings.cpu,
      memoryLimitMiB: settings.memoryMiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    this.taskDefinition.addVolume({
      name: VOLUME,
      efsVolumeConfiguration: {
        fileSystemId: props.spool.fileSystem.fileSystemId,
        transitEncryption: 'ENABLED',
        authorizationConfig: { accessPointId: props.spool.accessPoint.accessPointId, iam: 'ENABLED' },
      },
    });
    props.spool.grantMount(this.taskDefinition.taskRole);

    this.container = this.taskDefinition.addContainer('listener', {
      // Synth only hashes the context (.dockerignore applies); `cdk deploy` builds and pushes it.
      image: ecs.ContainerImage.fromAsset(props.imageDirectory, { platform: Platform.LINUX_ARM64 }),
      essential: true,
      environment: props.environment,
      secrets: props.secrets,
      portMappings: [{ containerPort: HTTP_PORT, name: 'control' }],
      // Same probe as the Dockerfile's HEALTHCHECK (ECS ignores that one): liveness, not readiness.
      healthCheck: {
        command: ['CMD', 'node', '-e', HEALTH_CHECK_SCRIPT],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      stopTimeout: Duration.seconds(settings.shutdownTimeoutS + STOP_MARGIN_S),
      // Nothing but the spool is written; an init process reaps children and forwards SIGTERM.
      readonlyRootFilesystem: true,
      linuxParameters: new ecs.LinuxParameters(scope, 'Linux', { initProcessEnabled: true }),
      logging: ecs.LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: 'listener',
        // A CloudWatch hiccup must not block stdout and with it the FIX event loop (heartbeats).
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
    });
    this.container.addMountPoints({ containerPath: SPOOL_DIR, sourceVolume: VOLUME, readOnly: false });
    if (settings.ecsExec)
      ECS_EXEC_PATHS.forEach((containerPath, i) => {
        this.taskDefinition.addVolume({ name: `ecs-exec-${i}` });
        this.container.addMountPoints({ containerPath, sourceVolume: `ecs-exec-${i}`, readOnly: false });
      });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The plain environment holds settings only (host, ports, bucket and queue URLs, log level); the API keys and the control token come from Secrets Manager as ECS secrets.',
    });
    // ecr:GetAuthorizationToken and logs:CreateLogStream's defaults, as CDK grants them: the first
    // cannot be scoped to a resource.
    Validations.of(this.taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken has no resource-level permissions; ECS pulls the image with it.',
    });

    // Outbound only where the service talks: AWS APIs on 443, Kalshi's FIX ports, NFS to the spool.
    this.securityGroup = new ec2.SecurityGroup(scope, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'kalshi-fix-listener task',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'AWS APIs (S3, SQS, Secrets Manager, ECR, CloudWatch Logs)',
    );
    for (const port of new Set([settings.fix.port, ...(settings.fix.dropCopy ? [settings.fix.dropCopyPort] : [])])) {
      this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), `Kalshi FIX ${port}`);
    }
    props.spool.fileSystem.connections.allowDefaultPortFrom(this.securityGroup, 'kalshi-fix-listener spool');
    if (settings.controlPlaneCidr !== undefined) {
      this.securityGroup.addIngressRule(
        ec2.Peer.ipv4(settings.controlPlaneCidr),
        ec2.Port.tcp(HTTP_PORT),
        'control plane (operators)',
      );
    }

    this.service = new ecs.FargateService(scope, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: settings.desiredCount,
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
      circuitBreaker: { enable: true, rollback: true },
      // Rebalancing launches a task in another zone, then stops the excess one: a twin, briefly.
      availabilityZoneRebalancing: ecs.AvailabilityZoneRebalancing.DISABLED,
      platformVersion: ecs.FargatePlatformVersion.LATEST,
      vpcSubnets: PRIVATE_SUBNETS,
      securityGroups: [this.securityGroup],
      assignPublicIp: false,
      enableExecuteCommand: settings.ecsExec,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
    });
    const execLogs = props.cluster.executeCommandConfiguration?.logConfiguration?.cloudWatchLogGroup;
    if (settings.ecsExec && execLogs !== undefined) {
      // ECS adds the agent's permissions: the ssmmessages channel and logs:DescribeLogGroups on
      // "*", session logging limited to the exec log group (the cluster's configuration).
      Validations.of(this.taskDefinition.taskRole).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          "ECS Exec: the SSM agent's ssmmessages channel actions and logs:DescribeLogGroups (a list call, which it makes to find the exec log group) have no resource-level permissions; writing is limited to the exec log group.",
      });
      Validations.of(this.taskDefinition.taskRole).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:<${Stack.of(scope).getLogicalId(execLogs.node.defaultChild as CfnResource)}>:*]`,
        reason:
          'ECS Exec session logging: the SSM agent creates a log stream per session in the exec log group and writes to it; the wildcard is the log streams of that one group.',
      });
    }
    // The service starts only once the file system can be mounted.
    this.service.node.addDependency(props.spool.fileSystem.mountTargetsAvailable);
  }
}

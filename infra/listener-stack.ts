import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AccessLogsBucket } from './access-logs.js';
import { ListenerAlarms, metricsNamespace } from './alarms.js';
import { ArchiveBucket } from './archive-bucket.js';
import { ArchiveTable } from './archive-table.js';
import { ArchiveQueries } from './athena.js';
import { FillsQueue } from './fills-queue.js';
import { HTTP_PORT, SPOOL_DIR } from './image-contract.js';
import { ListenerService } from './listener-service.js';
import { listenerVpc } from './network.js';
import { settingsOf, type ListenerStackSettings } from './props.js';
import { ListenerDashboard } from './dashboard.js';
import { ListenerSecrets } from './secrets.js';
import { cpuNeeded, heapNeededMb, HEAP_SHARE } from './sizing.js';
import { SpoolVolume } from './spool-volume.js';

export interface ListenerStackProps extends StackProps {
  settings: ListenerStackSettings;
  /** The repository root (Dockerfile and build context). */
  imageDirectory: string;
}

/**
 * The whole deployment of DESIGN.md: one listener task on Fargate with its journal on EFS, the
 * archive bucket with its Glue table and Athena workgroup, the fills queue, secrets and alarms.
 */
export class ListenerStack extends Stack {
  readonly archive: ArchiveBucket;
  readonly fills: FillsQueue;
  readonly table: ArchiveTable;
  readonly queries: ArchiveQueries;
  readonly secrets: ListenerSecrets;
  readonly spool: SpoolVolume;
  readonly listener: ListenerService;
  readonly alarms: ListenerAlarms;
  /** Every listener's own resources, the first one's also as secrets/listener/alarms above. */
  readonly fleet: Array<{ name: string; secrets: ListenerSecrets; service: ListenerService; alarms: ListenerAlarms }>;
  readonly dashboard: ListenerDashboard;
  readonly accessLogs: AccessLogsBucket;

  constructor(scope: Construct, id: string, props: ListenerStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const vpc = listenerVpc(this, settings.existingVpc, settings.logRetentionDays);
    this.accessLogs = new AccessLogsBucket(this, 'AccessLogs');
    this.archive = new ArchiveBucket(this, 'Archive', {
      prefix: settings.archivePrefix,
      infrequentAccessAfterDays: settings.infrequentAccessAfterDays,
      accessLogs: this.accessLogs.bucket,
    });
    this.table = new ArchiveTable(this, 'ArchiveTable', {
      databaseName: 'kalshi_fix_listener',
      location: this.archive.tableLocation,
      parquetLocation: this.archive.parquetTableLocation,
      startDate: settings.archiveStartDate,
      gzip: true,
      listeners: settings.listeners.map((l) => l.listenerName),
    });
    this.queries = new ArchiveQueries(this, 'Athena', {
      name: 'kalshi-fix-listener',
      table: this.table,
      accessLogs: this.accessLogs.bucket,
    });
    this.fills = new FillsQueue(this, 'FillsQueue');
    this.spool = new SpoolVolume(this, 'Spool', vpc);

    // The first listener keeps the ids of a single-listener stack (so one upgrades in place) and
    // holds what the fleet shares: the cluster and the alarm topic. The others are `…-<name>`.
    this.fleet = [];
    for (const [index, spec] of settings.listeners.entries()) {
      const own = settingsOf(settings, spec);
      const first = this.fleet[0];
      const suffix = index === 0 ? '' : `-${spec.listenerName}`;
      const heapMb = (own.memoryMiB * HEAP_SHARE * 2 ** 20) / 1e6;
      if (heapMb < heapNeededMb(own.reportsPerSecond))
        Annotations.of(this).addWarningV2(
          `kfl:memory${suffix}`,
          `${own.listenerName}: memoryMiB ${own.memoryMiB} gives a ${Math.round(heapMb)} MB heap; ${own.reportsPerSecond} reports/s over the 72-hour ExecID window needs ${Math.round(heapNeededMb(own.reportsPerSecond))} MB (infra/sizing.ts). Leave memoryMiB unset to size it from reportsPerSecond.`,
        );
      const cpuUnits = cpuNeeded(own.reportsPerSecond);
      if (own.cpu < cpuUnits)
        Annotations.of(this).addWarningV2(
          `kfl:cpu${suffix}`,
          `${own.listenerName}: cpu ${own.cpu} is below the ${Math.ceil(cpuUnits)} units ${own.reportsPerSecond} reports/s needs with headroom (infra/sizing.ts, from the bench's CPU per report); a starved task falls behind the exchange. Leave cpu unset to size it from reportsPerSecond.`,
        );
      const secrets = new ListenerSecrets(this, `Secrets${suffix}`, own);
      const service = new ListenerService(this, `Listener${suffix}`, {
        vpc,
        settings: own,
        imageDirectory: props.imageDirectory,
        // A file system per listener: in one account a file system policy alone grants a mount,
        // so a shared one could not keep a listener out of another's access point.
        spool: first === undefined ? this.spool : new SpoolVolume(this, `Spool${suffix}`, vpc),
        ...(first === undefined ? {} : { cluster: first.service.cluster }),
        environment: taskEnvironment(own, {
          archiveUrl: this.archive.url,
          fillsQueueUrl: this.fills.queue.queueUrl,
          region: this.region,
          stackName: this.stackName,
        }),
        secrets: secrets.containerSecrets,
      });
      this.archive.grantArchiveAccess(service.taskDefinition.taskRole, spec.listenerName);
      this.fills.grantSend(service.taskDefinition.taskRole);
      const alarms = new ListenerAlarms(this, `Alarms${suffix}`, {
        service: service.service,
        cluster: service.cluster,
        logGroup: service.logGroup,
        ...(first === undefined
          ? { queues: { fillsQueue: this.fills.queue, deadLetterQueue: this.fills.deadLetterQueue } }
          : { topic: first.alarms.topic }),
        alarmEmail: settings.alarmEmail,
        listenerName: spec.listenerName,
        notReadyMinutes: settings.notReadyMinutes,
        fillsQueueMaxAgeMinutes: settings.fillsQueueMaxAgeMinutes,
      });
      this.fleet.push({ name: spec.listenerName, secrets, service, alarms });
    }
    const [first] = this.fleet;
    this.secrets = first!.secrets;
    this.listener = first!.service;
    this.alarms = first!.alarms;
    this.dashboard = new ListenerDashboard(this, 'Dashboard', {
      name: this.fleet.length === 1 ? `${this.stackName}-${first!.name}` : this.stackName,
      listeners: this.fleet.map((l) => ({ name: l.name, alarms: l.alarms, service: l.service.service })),
      fillsQueue: this.fills.queue,
      deadLetterQueue: this.fills.deadLetterQueue,
    });

    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output('ArchiveBucketName', this.archive.bucket.bucketName, 'S3 bucket of the hourly JSONL archive');
    output('ArchiveUrl', this.archive.url, 'ARCHIVE_URL the service writes to');
    output('FillsQueueUrl', this.fills.queue.queueUrl, 'SQS FIFO queue of fills (consumers read here)');
    output('FillsQueueArn', this.fills.queue.queueArn, 'ARN of the fills queue, for consumer IAM policies');
    output(
      'FillsDeadLetterQueueUrl',
      this.fills.deadLetterQueue.queueUrl,
      'Where fills land after repeated consumer failures',
    );
    output('AthenaWorkGroup', this.queries.workGroup.ref, 'Athena workgroup with the saved queries');
    output('GlueTable', `${this.table.databaseName}.${this.table.tableName}`, 'Glue database.table over the archive');
    output('FixSecretArn', this.secrets.fix.secretArn, 'Put {"apiKey": ..., "privateKey": ...} here');
    if (this.secrets.dropCopy !== undefined)
      output(
        'DropCopySecretArn',
        this.secrets.dropCopy.secretArn,
        'Put the drop-copy key {"apiKey": ..., "privateKey": ...} here',
      );
    output('ControlTokenSecretArn', this.secrets.controlToken.secretArn, 'Bearer token for POST /reconnect');
    output('ClusterName', this.listener.cluster.clusterName, 'ECS cluster');
    output('ServiceName', this.listener.service.serviceName, 'ECS service (one task)');
    output('LogGroupName', this.listener.logGroup.logGroupName, 'Service logs (JSON lines)');
    output('AlarmTopicArn', this.alarms.topic.topicArn, 'SNS topic the alarms notify');
    output('DashboardName', this.dashboard.dashboard.dashboardName, 'CloudWatch dashboard of the deployment');
    // The other listeners of a fleet: where each one's keys go, and its service and logs.
    for (const l of this.fleet.slice(1)) {
      const id = l.name.replace(/[^A-Za-z0-9]/g, '');
      output(`FixSecretArn${id}`, l.secrets.fix.secretArn, `${l.name}: put its FIX key here`);
      if (l.secrets.dropCopy !== undefined)
        output(`DropCopySecretArn${id}`, l.secrets.dropCopy.secretArn, `${l.name}: put its drop-copy key here`);
      output(
        `ControlTokenSecretArn${id}`,
        l.secrets.controlToken.secretArn,
        `${l.name}: bearer token for POST /reconnect`,
      );
      output(`ServiceName${id}`, l.service.service.serviceName, `${l.name}: ECS service (one task)`);
      output(`LogGroupName${id}`, l.service.logGroup.logGroupName, `${l.name}: service logs`);
    }
  }
}

/**
 * The container's plain environment (DESIGN.md §6); the secrets come from ListenerSecrets. Every
 * name is one src/app/config.ts reads, or the AWS SDK's own (test/infra/listener-stack.test.ts).
 */
export function taskEnvironment(
  settings: ListenerStackSettings,
  resources: { archiveUrl: string; fillsQueueUrl: string; region: string; stackName: string },
): Record<string, string> {
  return {
    FIX_HOST: settings.fix.host,
    FIX_PORT: String(settings.fix.port),
    FIX_TARGET_COMP_ID: settings.fix.targetCompId,
    FIX_HEARTBEAT_S: String(settings.fix.heartbeatS),
    ...(settings.fix.dropCopy ? { FIX_DC_PORT: String(settings.fix.dropCopyPort) } : {}),
    ARCHIVE_URL: resources.archiveUrl,
    FILLS_QUEUE_URL: resources.fillsQueueUrl,
    SPOOL_DIR,
    HTTP_PORT: String(HTTP_PORT),
    LOG_LEVEL: settings.logLevel,
    SHUTDOWN_TIMEOUT_S: String(settings.shutdownTimeoutS),
    AWS_REGION: resources.region,
    // V8 otherwise keeps growing its heap reservation under allocation pressure (measured: RSS up
    // ~140 MB/min through an S3 outage while the live heap stayed flat) until the task is killed
    // for memory. A cap at three quarters of the task leaves room for buffers and the TLS stack.
    // The health line then carries Embedded Metric Format: the readiness and lag alarms read it.
    METRICS_NAMESPACE: metricsNamespace(resources.stackName),
    LISTENER_NAME: settings.listenerName,
    NODE_OPTIONS: `--max-old-space-size=${Math.floor(settings.memoryMiB * 0.75)}`,
  };
}

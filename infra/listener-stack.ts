import { Annotations, CfnOutput, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import { AlarmBehavior } from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AccessLogsBucket } from './access-logs.js';
import { FleetAlarms, ListenerAlarms, metricsNamespace } from './alarms.js';
import { ArchiveBucket } from './archive-bucket.js';
import { ArchiveTable } from './archive-table.js';
import { ArchiveQueries } from './athena.js';
import { FillsQueue } from './fills-queue.js';
import { HTTP_PORT, SPOOL_DIR } from './image-contract.js';
import { listenerCluster, ListenerService } from './listener-service.js';
import { accountUniqueName, listenerScopeId, outputSuffix } from './names.js';
import { listenerVpc } from './network.js';
import { settingsOf, type ListenerSpec, type ListenerStackSettings } from './props.js';
import { ListenerDashboard } from './dashboard.js';
import { ListenerSecrets } from './secrets.js';
import { cpuNeeded, heapNeededMb, HEAP_SHARE } from './sizing.js';
import { SpoolVolume } from './spool-volume.js';

export interface ListenerStackProps extends StackProps {
  settings: ListenerStackSettings;
  /** The repository root (Dockerfile and build context). */
  imageDirectory: string;
}

/** One listener's own resources. */
export interface FleetMember {
  name: string;
  secrets: ListenerSecrets;
  spool: SpoolVolume;
  service: ListenerService;
  alarms: ListenerAlarms;
}

/**
 * The whole deployment of DESIGN.md: per listener, one task on Fargate with its journal on EFS, its
 * key secrets and alarms; shared, the archive bucket with its Glue tables and Athena workgroup,
 * the fills queue, the cluster, the alarm topic and the dashboard.
 */
export class ListenerStack extends Stack {
  readonly archive: ArchiveBucket;
  readonly fills: FillsQueue;
  readonly table: ArchiveTable;
  readonly queries: ArchiveQueries;
  readonly cluster: ecs.Cluster;
  readonly fleetAlarms: FleetAlarms;
  /** Every listener's own resources, in the order the settings list them. */
  readonly fleet: FleetMember[];
  readonly dashboard: ListenerDashboard;
  readonly accessLogs: AccessLogsBucket;

  constructor(scope: Construct, id: string, props: ListenerStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const { vpc, egressIps } = listenerVpc(this, settings);
    this.accessLogs = new AccessLogsBucket(this, 'AccessLogs');
    this.archive = new ArchiveBucket(this, 'Archive', {
      prefix: settings.archivePrefix,
      infrequentAccessAfterDays: settings.infrequentAccessAfterDays,
      accessLogs: this.accessLogs.bucket,
    });
    // Names unique in the account and region follow the stack's name: a second stack beside this
    // one (another environment, another firm's keys) gets its own.
    this.table = new ArchiveTable(this, 'ArchiveTable', {
      databaseName: accountUniqueName(this.stackName, '_'),
      location: this.archive.tableLocation,
      parquetLocation: this.archive.parquetTableLocation,
      startDate: settings.archiveStartDate,
      gzip: true,
      listeners: settings.listeners.map((l) => l.listenerName),
    });
    this.queries = new ArchiveQueries(this, 'Athena', {
      name: accountUniqueName(this.stackName, '-'),
      table: this.table,
      accessLogs: this.accessLogs.bucket,
    });
    this.fills = new FillsQueue(this, 'FillsQueue');

    // Construct ids follow each listener's name, never its place in the list (infra/names.ts); the
    // unsuffixed listener (`default`) keeps the ids of a single-listener stack. What the fleet
    // shares sits in the `Listener` and `Alarms` scopes, where a single-listener stack has always had
    // it, whether or not that listener is in the list.
    const scopeOf = (base: string, name: string): Construct => {
      const scopeId = listenerScopeId(base, name, settings.unsuffixedListener);
      return this.node.tryFindChild(scopeId) ?? new Construct(this, scopeId);
    };
    const unsuffixed = settings.unsuffixedListener;
    // Exec sessions are recorded: who ran what in the task (which holds the keys).
    const execLogs = settings.ecsExec
      ? new logs.LogGroup(this, 'ExecLogs', {
          retention: settings.logRetentionDays as logs.RetentionDays,
          removalPolicy: RemovalPolicy.RETAIN,
        })
      : undefined;
    this.cluster = listenerCluster(scopeOf('Listener', unsuffixed), vpc, execLogs, settings.containerInsights);
    this.fleetAlarms = new FleetAlarms(scopeOf('Alarms', unsuffixed), {
      fillsQueue: this.fills.queue,
      deadLetterQueue: this.fills.deadLetterQueue,
      alarmEmail: settings.alarmEmail,
      fillsQueueMaxAgeMinutes: settings.fillsQueueMaxAgeMinutes,
    });

    this.fleet = settings.listeners.map((spec) => this.#listener(spec, settings, vpc, props.imageDirectory, scopeOf));
    this.dashboard = new ListenerDashboard(this, 'Dashboard', {
      name: this.fleet.length === 1 ? `${this.stackName}-${this.fleet[0]!.name}` : this.stackName,
      listeners: this.fleet.map((l) => ({ name: l.name, alarms: l.alarms, service: l.service.service })),
      queueAlarms: this.fleetAlarms.all(),
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
    output('ClusterName', this.cluster.clusterName, 'ECS cluster');
    output('AlarmTopicArn', this.fleetAlarms.topic.topicArn, 'SNS topic the alarms notify');
    output('DashboardName', this.dashboard.dashboard.dashboardName, 'CloudWatch dashboard of the deployment');
    if (egressIps.length > 0)
      output(
        'EgressIps',
        Fn.join(',', egressIps),
        'Public addresses the listeners connect to Kalshi from (the NAT gateways): give these to an allow-list',
      );
    if (execLogs !== undefined)
      output('ExecLogGroupName', execLogs.logGroupName, 'ECS Exec sessions: who ran what in a task');
    // Per listener: where its keys go, its service and logs; the unsuffixed one's without a suffix.
    for (const l of this.fleet) {
      const id = outputSuffix(l.name, unsuffixed);
      const who = id === '' ? '' : `${l.name}: `;
      output(
        `FixSecretArn${id}`,
        l.secrets.fix.secretArn,
        `${who}put the FIX key {"apiKey": ..., "privateKey": ...} here`,
      );
      if (l.secrets.dropCopy !== undefined)
        output(
          `DropCopySecretArn${id}`,
          l.secrets.dropCopy.secretArn,
          `${who}put the drop-copy key {"apiKey": ..., "privateKey": ...} here`,
        );
      output(`ControlTokenSecretArn${id}`, l.secrets.controlToken.secretArn, `${who}bearer token for POST /reconnect`);
      output(`ServiceName${id}`, l.service.service.serviceName, `${who}ECS service (one task)`);
      output(`LogGroupName${id}`, l.service.logGroup.logGroupName, `${who}service logs (JSON lines)`);
      const spec = settings.listeners.find((s) => s.listenerName === l.name)!;
      if (spec.waitingForKeys)
        output(`NextStep${id}`, nextStep(l, spec, settings.listeners.length > 1), nextStepNote(l.name));
    }
  }

  /** One listener: its secrets, file system, service and alarms, in scopes named after it. */
  #listener(
    spec: ListenerSpec,
    settings: ListenerStackSettings,
    vpc: ReturnType<typeof listenerVpc>['vpc'],
    imageDirectory: string,
    scopeOf: (base: string, name: string) => Construct,
  ): FleetMember {
    const own = settingsOf(settings, spec);
    const name = spec.listenerName;
    const suffix = listenerScopeId('', name, settings.unsuffixedListener);
    const heapMb = (own.memoryMiB * HEAP_SHARE * 2 ** 20) / 1e6;
    if (heapMb < heapNeededMb(own.reportsPerSecond))
      Annotations.of(this).addWarningV2(
        `kfl:memory${suffix}`,
        `${name}: memoryMiB ${own.memoryMiB} gives a ${Math.round(heapMb)} MB heap; ${own.reportsPerSecond} reports/s over the 72-hour ExecID window needs ${Math.round(heapNeededMb(own.reportsPerSecond))} MB (infra/sizing.ts). Leave memoryMiB unset to size it from reportsPerSecond.`,
      );
    const cpuUnits = cpuNeeded(own.reportsPerSecond);
    if (own.cpu < cpuUnits)
      Annotations.of(this).addWarningV2(
        `kfl:cpu${suffix}`,
        `${name}: cpu ${own.cpu} is below the ${Math.ceil(cpuUnits)} units ${own.reportsPerSecond} reports/s needs with headroom (infra/sizing.ts, from the bench's CPU per report); a starved task falls behind the exchange. Leave cpu unset to size it from reportsPerSecond.`,
      );
    if (spec.waitingForKeys)
      Annotations.of(this).addWarningV2(
        `kfl:keys${suffix}`,
        `${name}: not started (desiredCount 0) until its keys are in the secrets this stack creates: put them (output NextStep${outputSuffix(name, settings.unsuffixedListener)}), then deploy with -c start=${settings.listeners.length > 1 ? name : 'true'}, and keep it on every later deployment (or in cdk.json's context) — without it the listener is stopped again.`,
      );
    const secrets = new ListenerSecrets(this, listenerScopeId('Secrets', name, settings.unsuffixedListener), own);
    // A file system per listener: in one account a file system policy alone grants a mount, so a
    // shared one could not keep a listener out of another's access point.
    const spool = new SpoolVolume(
      this,
      listenerScopeId('Spool', name, settings.unsuffixedListener),
      vpc,
      own.reportsPerSecond,
      own.journalLingerMs,
    );
    const service = new ListenerService(scopeOf('Listener', name), {
      vpc,
      settings: own,
      imageDirectory,
      spool,
      cluster: this.cluster,
      environment: taskEnvironment(own, {
        archiveUrl: this.archive.url,
        fillsQueueUrl: this.fills.queue.queueUrl,
        region: this.region,
        stackName: this.stackName,
      }),
      secrets: secrets.containerSecrets,
    });
    this.archive.grantArchiveAccess(service.taskDefinition.taskRole, name);
    this.fills.grantSend(service.taskDefinition.taskRole);
    const alarms = new ListenerAlarms(scopeOf('Alarms', name), {
      service: service.service,
      cluster: this.cluster,
      logGroup: service.logGroup,
      topic: this.fleetAlarms.topic,
      listenerName: name,
      notReadyMinutes: settings.notReadyMinutes,
      containerInsights: settings.containerInsights,
      desiredCount: own.desiredCount,
    });
    // A new task that passes its health check (the process is alive) but never gets ready (a key
    // Kalshi refuses, an image that cannot log on) fails its deployment once the readiness alarm
    // fires, and ECS goes back to the last deployment that completed: not a page hours later. (The
    // alarm reads the health line alone, never the service, so naming it here makes no cycle.)
    service.service.enableDeploymentAlarms([alarms.readinessFailing.alarmName], {
      behavior: AlarmBehavior.ROLLBACK_ON_ALARM,
    });
    return { name, secrets, spool, service, alarms };
  }
}

/**
 * The shell line that puts a listener's keys into the secrets the stack created (not those given
 * by ARN), then starts it: with the key ids in KALSHI_KEY_ID and KALSHI_DC_KEY_ID and the private
 * keys in the files `kalshi-fix-listener keygen` writes, as the README's deployment section has
 * them. jq turns the PEM's line breaks into JSON.
 */
function nextStep(listener: FleetMember, spec: ListenerSpec, fleet: boolean): string {
  const put = (secretArn: string, keyId: string, pem: string) =>
    `aws secretsmanager put-secret-value --secret-id ${secretArn} --secret-string "$(jq -n --arg apiKey "$${keyId}" --rawfile privateKey ${pem} '{apiKey: $apiKey, privateKey: $privateKey}')"`;
  const { fix, dropCopy } = listener.secrets;
  return [
    ...(spec.fixSecretArn === undefined ? [put(fix.secretArn, 'KALSHI_KEY_ID', 'kalshi-key.pem')] : []),
    ...(dropCopy !== undefined && spec.dropCopySecretArn === undefined
      ? [put(dropCopy.secretArn, 'KALSHI_DC_KEY_ID', 'kalshi-dc-key.pem')]
      : []),
    `npx cdk deploy -c start=${fleet ? listener.name : 'true'}`,
  ].join(' && ');
}

function nextStepNote(name: string): string {
  return `${name} is not started (desiredCount 0) until its keys are in the secrets this stack created. Run this, adding to cdk deploy the -c options this stack was deployed with (in a fleet, -c start lists every listener started: a,b). Keep -c start on every later deployment, or the listener is stopped again.`;
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
    JOURNAL_LINGER_MS: String(settings.journalLingerMs),
    FILLS_BATCH_WAIT_MS: String(settings.fillsBatchWaitMs),
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

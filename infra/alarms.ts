import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_READINESS } from '../src/http/readiness.js';
import { anyMessagePattern, LOG_MESSAGES } from './log-signals.js';

const SIGNAL_PERIOD = Duration.minutes(5);

/**
 * Periods in which the service never once reported ready before the readiness alarm fires: a
 * reconnect or a throttled batch recovers within minutes, a quarter of an hour is an outage.
 */
export const NOT_READY_PERIODS = 3;

/** The archive is late past what /readyz tolerates (DEFAULT_READINESS) for a whole period. */
export const ARCHIVE_LAG_PERIODS = 1;

/**
 * Where the service's health line publishes its figures (METRICS_NAMESPACE, Embedded Metric
 * Format) and the log metric filters count: one namespace per stack.
 */
export function metricsNamespace(stackName: string): string {
  return `KalshiFixListener/${stackName}`;
}

/** Minutes without the desired task running; a deployment (stop, then start) takes less. */
export const TASK_MISSING_MINUTES = 5;

export interface ListenerAlarmsProps {
  service: ecs.FargateService;
  cluster: ecs.ICluster;
  logGroup: logs.ILogGroup;
  deadLetterQueue: sqs.IQueue;
  alarmEmail: string | undefined;
}

/** The four conditions of issue 5 (task, readiness, DLQ, archive lag) plus unrecoverable holes. */
export class ListenerAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly taskNotRunning: cloudwatch.Alarm;
  readonly readinessFailing: cloudwatch.Alarm;
  readonly deadLettersWaiting: cloudwatch.Alarm;
  readonly archiveLagging: cloudwatch.Alarm;
  readonly reportsMissed: cloudwatch.Alarm;
  readonly fillsParked: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ListenerAlarmsProps) {
    super(scope, id);
    const namespace = metricsNamespace(Stack.of(this).stackName);
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'kalshi-fix-listener alarms', enforceSSL: true });
    if (props.alarmEmail !== undefined)
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    // Container Insights' service metrics: running against desired, so a parked service (0) is quiet.
    const insight = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'ECS/ContainerInsights',
        metricName,
        dimensionsMap: { ClusterName: props.cluster.clusterName, ServiceName: props.service.serviceName },
        statistic: 'Minimum',
        period: Duration.minutes(1),
      });
    this.taskNotRunning = new cloudwatch.MathExpression({
      expression: 'desired - running',
      usingMetrics: { desired: insight('DesiredTaskCount'), running: insight('RunningTaskCount') },
      period: Duration.minutes(1),
      label: 'tasks missing',
    }).createAlarm(this, 'TaskNotRunning', {
      alarmDescription: `The listener task has not been running for ${TASK_MISSING_MINUTES} minutes: no FIX session, nothing journaled. See the service events and the log group.`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: TASK_MISSING_MINUTES,
      // No data at all means Container Insights sees no service: as bad as no task.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    const signal = (name: string, metricName: string, messages: readonly string[]) => {
      const filter = new logs.MetricFilter(this, name, {
        logGroup: props.logGroup,
        filterPattern: logs.FilterPattern.literal(anyMessagePattern(messages)),
        metricNamespace: namespace,
        metricName,
        metricValue: '1',
        defaultValue: 0,
      });
      return filter.metric({ statistic: 'Sum', period: SIGNAL_PERIOD });
    };

    // The service's own figures (src/http/health-line.ts), one health line a minute.
    const health = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({ namespace, metricName, statistic, period: SIGNAL_PERIOD });

    this.readinessFailing = health('Ready', 'Maximum').createAlarm(this, 'ReadinessFailing', {
      alarmDescription: `/readyz has not answered 200 once in ${NOT_READY_PERIODS * SIGNAL_PERIOD.toMinutes()} minutes: the session is down or recovering, or a sink is behind its limit. GET /status (reasons in /readyz) tells which.`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: NOT_READY_PERIODS,
      // No health line means no task: TaskNotRunning speaks for that (and a parked service is quiet).
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.archiveLagging = health('ArchiveLagSeconds', 'Minimum').createAlarm(this, 'ArchiveLagging', {
      alarmDescription: `An archive object (a closed hour, or one S3 keeps refusing) has waited more than ${DEFAULT_READINESS.maxArchiveLagSeconds} s past its due time for ${ARCHIVE_LAG_PERIODS * SIGNAL_PERIOD.toMinutes()} minutes: the records are safe in the journal, but Athena is behind and the spool grows. /status sinks[archive].lastError says why.`,
      threshold: DEFAULT_READINESS.maxArchiveLagSeconds,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: ARCHIVE_LAG_PERIODS,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // One per hole log line, 0 otherwise: the alarm clears after an interval without a new hole.
    // Not `Holes`: the health line publishes that name as the running total (never back to 0).
    this.reportsMissed = signal('Holes', 'HolesRecorded', [LOG_MESSAGES.hole]).createAlarm(this, 'ReportsMissed', {
      alarmDescription:
        'A sequence gap could not be recovered: reports may be missing. GET /status backfill.holes lists them; run `reconcile` for the window.',
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // The health line carries the spool's running total; an increase is what pages, so the alarm
    // clears after an interval in which nothing more was parked.
    this.fillsParked = new cloudwatch.MathExpression({
      expression: 'DIFF(parked)',
      usingMetrics: { parked: health('DeadLetters', 'Maximum') },
      period: SIGNAL_PERIOD,
      label: 'records parked in the dead letters',
    }).createAlarm(this, 'RecordsParked', {
      alarmDescription:
        'A record a sink can never deliver (a fill SQS refuses for its content) was parked in the spool dead letters (dead-letters.jsonl, with a copy under dead_letters/ in the archive bucket). The flow goes on; the log line names its exec_id. Fix the cause, then republish it from the archive.',
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.deadLettersWaiting = props.deadLetterQueue
      .metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1) })
      .createAlarm(this, 'DeadLettersWaiting', {
        alarmDescription:
          'Fills reached the dead-letter queue: a consumer failed on them repeatedly. They are kept there for 14 days; redrive after fixing the consumer.',
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    const notify = new actions.SnsAction(this.topic);
    for (const alarm of [
      this.taskNotRunning,
      this.readinessFailing,
      this.archiveLagging,
      this.reportsMissed,
      this.fillsParked,
      this.deadLettersWaiting,
    ]) {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
    }
  }
}

import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { LISTENER_DIMENSION } from '../src/http/health-line.js';
import { DEFAULT_READINESS } from '../src/http/readiness.js';
import { anyMessagePattern, LOG_LISTENER_FIELD, LOG_MESSAGES } from './log-signals.js';

const SIGNAL_PERIOD = Duration.minutes(5);
const MINUTE = Duration.minutes(1);
/** Fires at the first one (a fill dead-lettered, a record parked): each is a thing to act on; none reported is none. */
const ANY_AT_ALL = {
  threshold: 0,
  comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  evaluationPeriods: 1,
  treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
};

/** The archive is late past what /readyz tolerates (DEFAULT_READINESS) for a whole period. */
export const ARCHIVE_LAG_PERIODS = 1;

/** Minutes the fills may lag past /readyz's limit before paging: a throttled minute is not an outage. */
export const FILLS_LAG_MINUTES = 5;

/** Starts in this window that mean the task is restarting (a deployment is one). */
export const RESTART_WINDOW = Duration.minutes(30);
export const RESTART_STARTS = 2;

/**
 * Where the service's health line publishes its figures (METRICS_NAMESPACE, Embedded Metric
 * Format) and the log metric filters count: one namespace per stack.
 */
export function metricsNamespace(stackName: string): string {
  return `KalshiFixListener/${stackName}`;
}

/** Minutes without the desired task running; a deployment (stop, then start) takes less. */
export const TASK_MISSING_MINUTES = 5;

export interface FleetAlarmsProps {
  fillsQueue: sqs.IQueue;
  deadLetterQueue: sqs.IQueue;
  alarmEmail: string | undefined;
  fillsQueueMaxAgeMinutes: number;
}

/**
 * What the listeners share: the SNS topic every alarm notifies, and the two alarms on the shared
 * fills queue. Built into the `Alarms` scope whichever listeners the stack has, so the topic and
 * these alarms keep their ids when listeners come and go.
 */
export class FleetAlarms {
  readonly topic: sns.Topic;
  readonly fillsQueueStale: cloudwatch.Alarm;
  readonly deadLettersWaiting: cloudwatch.Alarm;

  constructor(scope: Construct, props: FleetAlarmsProps) {
    this.topic = new sns.Topic(scope, 'Topic', { displayName: 'kalshi-fix-listener alarms', enforceSSL: true });
    if (props.alarmEmail !== undefined)
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    this.fillsQueueStale = props.fillsQueue
      .metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: MINUTE })
      .createAlarm(scope, 'FillsQueueStale', {
        alarmDescription: `A fill has waited in the fills queue more than ${props.fillsQueueMaxAgeMinutes} minutes: the consumers are down or stuck on a message group. The listener is fine; look at the consumers.`,
        threshold: props.fillsQueueMaxAgeMinutes * 60,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    this.deadLettersWaiting = props.deadLetterQueue
      .metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: MINUTE })
      .createAlarm(scope, 'DeadLettersWaiting', {
        alarmDescription:
          'Fills reached the dead-letter queue: a consumer failed on them repeatedly. They are kept there for 14 days; redrive after fixing the consumer.',
        ...ANY_AT_ALL,
      });
    notifyTopic(this.topic, this.all());
  }

  /** The queue's alarms, in the order the README's runbook lists them. */
  all(): cloudwatch.Alarm[] {
    return [this.fillsQueueStale, this.deadLettersWaiting];
  }
}

export interface ListenerAlarmsProps {
  service: ecs.FargateService;
  cluster: ecs.ICluster;
  logGroup: logs.ILogGroup;
  /** The fleet's topic (FleetAlarms). */
  topic: sns.ITopic;
  /** LISTENER_NAME: the `Listener` dimension of every metric these alarms read. */
  listenerName: string;
  notReadyMinutes: number;
  /**
   * Container Insights is on for the cluster: TaskNotRunning compares its running and desired task
   * counts. Off (the default: ~20 metrics, ~$6 a month a listener), it reads ECS's own free
   * CPUUtilization, which has data only while a task runs.
   */
  containerInsights: boolean;
  /** The service's desired count as deployed: with 0 (waiting for its keys) TaskNotRunning notifies nobody. */
  desiredCount: number;
}

/**
 * Every alarm means one thing an operator does something about; each has its runbook line in the
 * README (operations, alarms) and the same words in its description. All notify the SNS topic on
 * ALARM and on OK. One listener's alarms, built into its own scope (`Alarms-<name>`, or `Alarms`
 * for the unsuffixed listener, beside the fleet's): each reads that listener's metrics alone.
 */
export class ListenerAlarms {
  readonly taskNotRunning: cloudwatch.Alarm;
  readonly taskRestarting: cloudwatch.Alarm;
  readonly readinessFailing: cloudwatch.Alarm;
  readonly fillsLagging: cloudwatch.Alarm;
  readonly archiveLagging: cloudwatch.Alarm;
  readonly reportsMissed: cloudwatch.Alarm;
  readonly recordsParked: cloudwatch.Alarm;
  /** The service's own figures (src/http/health-line.ts) by name, for the dashboard. */
  readonly health: (metricName: string, statistic: string, period?: Duration) => cloudwatch.Metric;
  /** Log-line counts (holes, starts), for the dashboard. */
  readonly holesRecorded: cloudwatch.Metric;
  readonly starts: cloudwatch.Metric;

  constructor(scope: Construct, props: ListenerAlarmsProps) {
    const namespace = metricsNamespace(Stack.of(scope).stackName);
    const listener = { [LISTENER_DIMENSION]: props.listenerName };

    const taskMissing = {
      alarmDescription: `The listener task has not been running for ${TASK_MISSING_MINUTES} minutes: no FIX session, nothing journaled. See the service events and the log group.`,
      evaluationPeriods: TASK_MISSING_MINUTES,
      // No data at all means no task reports to ECS: as bad as a task missing.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    };
    const ecsService = { ClusterName: props.cluster.clusterName, ServiceName: props.service.serviceName };
    if (props.containerInsights) {
      // Container Insights' service metrics: running against desired, so a parked service (0) is quiet.
      const insight = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: 'ECS/ContainerInsights',
          metricName,
          dimensionsMap: ecsService,
          statistic: 'Minimum',
          period: MINUTE,
        });
      this.taskNotRunning = new cloudwatch.MathExpression({
        expression: 'desired - running',
        usingMetrics: { desired: insight('DesiredTaskCount'), running: insight('RunningTaskCount') },
        period: MINUTE,
        label: 'tasks missing',
      }).createAlarm(scope, 'TaskNotRunning', {
        ...taskMissing,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
    } else {
      // ECS's own service metrics (free, every minute) exist only while a task runs: none is
      // missing data, breaching. A service deployed at 0 (waiting for its keys) would be in ALARM
      // all along, so it notifies nobody until a deployment starts the listener.
      this.taskNotRunning = new cloudwatch.Metric({
        namespace: 'AWS/ECS',
        metricName: 'CPUUtilization',
        dimensionsMap: ecsService,
        statistic: 'SampleCount',
        period: MINUTE,
      }).createAlarm(scope, 'TaskNotRunning', {
        ...taskMissing,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        actionsEnabled: props.desiredCount > 0,
      });
    }

    // A count of log lines, under the listener's dimension like every other metric of the
    // namespace: without it, every listener of a fleet would publish into one metric and each
    // listener's alarm would fire on another's lines. The dimension's value comes from the line
    // itself (every line names its listener); CloudWatch allows no default value beside a
    // dimension, so a period without such a line has no data, which these alarms read as OK.
    const signal = (name: string, metricName: string, messages: readonly string[], period: Duration) => {
      new logs.MetricFilter(scope, name, {
        logGroup: props.logGroup,
        filterPattern: logs.FilterPattern.literal(anyMessagePattern(messages)),
        metricNamespace: namespace,
        metricName,
        metricValue: '1',
        dimensions: { [LISTENER_DIMENSION]: `$.${LOG_LISTENER_FIELD}` },
      });
      return new cloudwatch.Metric({ namespace, metricName, dimensionsMap: listener, statistic: 'Sum', period });
    };

    this.health = (metricName, statistic, period = SIGNAL_PERIOD) =>
      new cloudwatch.Metric({
        namespace,
        metricName,
        statistic,
        period,
        dimensionsMap: listener,
      });

    this.starts = signal('Starts', 'Starts', [LOG_MESSAGES.starting], RESTART_WINDOW);
    this.taskRestarting = this.starts.createAlarm(scope, 'TaskRestarting', {
      alarmDescription: `The service started ${RESTART_STARTS} times or more in ${RESTART_WINDOW.toMinutes()} minutes: it is exiting (a fatal error, the memory limit, a failed health check) and ECS restarts it. The log's last lines before each "starting" say why; /status fatal, the service events and the task's stopped reason too.`,
      threshold: RESTART_STARTS,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // One health line a minute: each minute is its own datapoint, so the alarm clears within a
    // minute of the first ready line.
    this.readinessFailing = this.health('Ready', 'Maximum', MINUTE).createAlarm(scope, 'ReadinessFailing', {
      alarmDescription: `/readyz has not answered 200 once in ${props.notReadyMinutes} minutes: the session is down or recovering, a sink is behind its limit, or the journal cannot write. /readyz lists the reasons; /status has the detail.`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: props.notReadyMinutes,
      // No health line means no task: TaskNotRunning speaks for that (and a parked service is quiet).
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.fillsLagging = this.health('FillsLagSeconds', 'Minimum', MINUTE).createAlarm(scope, 'FillsLagging', {
      alarmDescription: `Fills have waited more than ${DEFAULT_READINESS.maxFillLagSeconds} s to reach the queue for ${FILLS_LAG_MINUTES} minutes: SQS is refusing or throttling (sinks[fills].lastError), or the task is starved. They are safe in the journal and go out in order once SQS takes them.`,
      threshold: DEFAULT_READINESS.maxFillLagSeconds,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: FILLS_LAG_MINUTES,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.archiveLagging = this.health('ArchiveLagSeconds', 'Minimum').createAlarm(scope, 'ArchiveLagging', {
      alarmDescription: `An archive object (a closed hour, or one S3 keeps refusing) has waited more than ${DEFAULT_READINESS.maxArchiveLagSeconds} s past its due time for ${ARCHIVE_LAG_PERIODS * SIGNAL_PERIOD.toMinutes()} minutes: the records are safe in the journal, but Athena is behind and the spool grows. /status sinks[archive].lastError says why.`,
      threshold: DEFAULT_READINESS.maxArchiveLagSeconds,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: ARCHIVE_LAG_PERIODS,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // One per hole log line, 0 otherwise: the alarm clears after an interval without a new hole.
    // Not `Holes`: the health line publishes that name as the running total (never back to 0).
    this.holesRecorded = signal('Holes', 'HolesRecorded', [LOG_MESSAGES.hole], SIGNAL_PERIOD);
    this.reportsMissed = this.holesRecorded.createAlarm(scope, 'ReportsMissed', {
      alarmDescription:
        'A sequence gap could not be recovered: reports may be missing. GET /status backfill.holes lists them; run `reconcile` for the window.',
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // The health line carries the spool's running total; an increase is what pages, so the alarm
    // clears after an interval in which nothing more was parked.
    this.recordsParked = new cloudwatch.MathExpression({
      expression: 'DIFF(parked)',
      usingMetrics: { parked: this.health('DeadLetters', 'Maximum') },
      period: SIGNAL_PERIOD,
      label: 'records parked in the dead letters',
    }).createAlarm(scope, 'RecordsParked', {
      alarmDescription:
        'A record a sink can never deliver (a fill SQS refuses for its content) was parked in the spool dead letters (dead-letters.jsonl, with a copy under dead_letters/ in the archive bucket). The flow goes on; the log line names its exec_id. Fix the cause, then republish it from the archive.',
      ...ANY_AT_ALL,
    });

    notifyTopic(props.topic, this.all());
  }

  /** The listener's alarms, in the order the README's runbook lists them. */
  all(): cloudwatch.Alarm[] {
    return [
      this.taskNotRunning,
      this.taskRestarting,
      this.readinessFailing,
      this.reportsMissed,
      this.fillsLagging,
      this.archiveLagging,
      this.recordsParked,
    ];
  }
}

/** Every alarm tells the topic when it fires and when it clears. */
function notifyTopic(topic: sns.ITopic, alarms: readonly cloudwatch.Alarm[]): void {
  const notify = new actions.SnsAction(topic);
  for (const alarm of alarms) {
    alarm.addAlarmAction(notify);
    alarm.addOkAction(notify);
  }
}

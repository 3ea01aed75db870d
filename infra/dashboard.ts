import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ListenerAlarms } from './alarms.js';

export interface ListenerDashboardProps {
  name: string;
  /** One block of rows per listener, in the fleet's order; each shows that listener's metrics alone. */
  listeners: ReadonlyArray<{ name: string; alarms: ListenerAlarms; service: ecs.FargateService }>;
  /** The shared queue's alarms (FleetAlarms), after the listeners' in the alarm row. */
  queueAlarms: readonly cloudwatch.Alarm[];
  fillsQueue: sqs.IQueue;
  deadLetterQueue: sqs.IQueue;
}

const MINUTE = Duration.minutes(1);

/**
 * One CloudWatch dashboard for the deployment: the alarms of every listener on top, the shared
 * queue, then per listener: is it up, how much flows, is anything behind, what the task costs.
 */
export class ListenerDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ListenerDashboardProps) {
    super(scope, id);
    const queueRow: cloudwatch.IWidget[] = [
      new cloudwatch.GraphWidget({
        title: 'Fills queue: oldest message (s) and dead-letter depth',
        left: [
          props.fillsQueue.metricApproximateAgeOfOldestMessage({ period: MINUTE, label: 'oldest fill waiting (s)' }),
        ],
        right: [
          props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            period: MINUTE,
            label: 'dead-letter queue',
          }),
        ],
        leftYAxis: { min: 0 },
        rightYAxis: { min: 0 },
        width: 24,
        height: 5,
      }),
    ];
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.name,
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new cloudwatch.AlarmStatusWidget({
            title: 'Alarms',
            alarms: [...props.listeners.flatMap((l) => l.alarms.all()), ...props.queueAlarms],
            width: 24,
            height: 3,
          }),
        ],
        queueRow,
        ...props.listeners.flatMap((l) => listenerRows(l.name, l.alarms, l.service)),
      ],
    });
  }
}

/** A listener's rows: the session, what flows, what is behind, and its task. */
function listenerRows(name: string, alarms: ListenerAlarms, service: ecs.FargateService): cloudwatch.IWidget[][] {
  const health = (metric: string, statistic: string, label: string) =>
    alarms.health(metric, statistic, MINUTE).with({ label });
  // The health line counts per line (one a minute): the sum over a period, per second of it.
  const perSecond = (metric: string, label: string) => {
    const id = metric.toLowerCase();
    return new cloudwatch.MathExpression({
      expression: `${id} / PERIOD(${id})`,
      usingMetrics: { [id]: alarms.health(metric, 'Sum', MINUTE) },
      period: MINUTE,
      label,
    });
  };
  const title = (text: string) => `${name}: ${text}`;
  return [
    [
      new cloudwatch.GraphWidget({
        title: title('logged on and ready (1 = yes)'),
        left: [health('SessionActive', 'Minimum', 'session active'), health('Ready', 'Minimum', 'ready')],
        leftYAxis: { min: 0, max: 1.1 },
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: title('reports received and fills sent, per second'),
        left: [perSecond('ReportsReceived', 'reports/s'), perSecond('FillsSent', 'fills/s')],
        leftYAxis: { min: 0 },
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: title('holes recorded and records parked'),
        left: [alarms.holesRecorded.with({ label: 'holes recorded (5 min)' })],
        right: [health('DeadLetters', 'Maximum', 'dead letters (total)')],
        leftYAxis: { min: 0 },
        rightYAxis: { min: 0 },
        width: 8,
      }),
    ],
    [
      new cloudwatch.GraphWidget({
        title: title('sink lag, seconds'),
        left: [
          health('FillsLagSeconds', 'Maximum', 'fills lag'),
          health('ArchiveLagSeconds', 'Maximum', 'archive lag (past due)'),
          health('ArchiveOldestRecordSeconds', 'Maximum', 'oldest record not yet archived'),
        ],
        leftYAxis: { min: 0 },
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: title('journal backlog (records the slowest sink has not handled)'),
        left: [health('JournalBacklogRecords', 'Maximum', 'backlog')],
        right: [health('JournalStalled', 'Maximum', 'journal stalled (1 = yes)')],
        leftYAxis: { min: 0 },
        rightYAxis: { min: 0, max: 1.1 },
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: title('task CPU and memory, % of its size; starts'),
        left: [
          service.metricCpuUtilization({ period: MINUTE, statistic: 'Maximum', label: 'CPU' }),
          service.metricMemoryUtilization({ period: MINUTE, statistic: 'Maximum', label: 'memory' }),
        ],
        right: [alarms.starts.with({ label: 'starts (30 min)' })],
        leftYAxis: { min: 0, max: 100 },
        rightYAxis: { min: 0 },
        width: 8,
      }),
    ],
  ];
}

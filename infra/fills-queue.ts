import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** A consumer failing on one fill this often moves it to the DLQ instead of blocking its symbol. */
export const MAX_RECEIVE_COUNT = 5;

/**
 * Fills for consumers (DESIGN.md §4): FIFO, grouped by symbol and deduplicated by exec_id by the
 * producer (so no content-based deduplication), high-throughput mode since groups are independent.
 * Retention is the longest SQS allows, so a consumer outage of days loses nothing.
 */
export class FillsQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const common = {
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Fills not yet consumed outlive the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    } satisfies sqs.QueueProps;
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', common);
    this.queue = new sqs.Queue(this, 'Fills', {
      ...common,
      contentBasedDeduplication: false,
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      visibilityTimeout: Duration.seconds(60),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
  }

  /** SendMessageBatch is authorized by sqs:SendMessage; the service calls nothing else. */
  grantSend(role: iam.IRole): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'SendFills', actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] }),
    );
  }
}

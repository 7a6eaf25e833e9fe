import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '#lambdas/shared/environment';
import {
  WAITING_ROOM_PARTITION_KEY,
  WAITING_ROOM_POLL_MINUTES,
  WAITING_ROOM_SORT_KEY,
  WAITING_ROOM_TTL_ATTRIBUTE,
  WAITING_ROOM_WRITE_SLACK_MS,
} from '#lambdas/shared/waiting-room-schema';
import { consumerSdkBudget } from './timeout-budget';
import { DEFAULT_REMOVAL_POLICY, type LogLevel } from './wal-defaults';
import { LAMBDA_ENTRIES, WalFunction } from './wal-function';
import type { WalQueues } from './wal-queues';

/** Under the rule's period, so one run ends before the next starts (a late overlap is still safe: conditional checkpoint). */
const POLLER_TIMEOUT = Duration.seconds(50);
const POLLER_MEMORY_SIZE = 256;

export interface WalWaitingRoomProps {
  /** Encrypts the table (the WAL's customer-managed key, as the ledger). */
  readonly encryptionKey: kms.IKey;
  /** The queues the poller sends due messages to (the delay and retry queues, shared and isolated) and the DLQ. */
  readonly queues: WalQueues;
  /**
   * What happens to the table and the poller's log group when they leave the stack.
   * @default DEFAULT_REMOVAL_POLICY (RemovalPolicy.RETAIN)
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * @default DEFAULT_LOG_LEVEL ('INFO')
   */
  readonly logLevel?: LogLevel;
  /**
   * @default DEFAULT_LOG_RETENTION (one month)
   */
  readonly logRetention?: logs.RetentionDays;
}

/** A writer's PutItem could land behind the poller's checkpoint. */
export class WaitingRoomWriterTooSlowError extends Error {
  constructor(
    readonly writer: string,
    readonly timeout: Duration,
    options?: { cause?: unknown },
  ) {
    super(
      `${writer}'s timeout ${timeout.toSeconds()} s must be shorter than the waiting room's write slack ` +
        `${WAITING_ROOM_WRITE_SLACK_MS / 1000} s (900 s minus the poller's lookahead), or an item it writes late ` +
        'could land in a bucket the poller has passed: lower the consumer timeout',
      options,
    );
    this.name = 'WaitingRoomWriterTooSlowError';
  }
}

/**
 * Delays longer than SQS's 900 s at a cost that does not grow with them (lambdas/shared/waiting-room-schema.ts): the
 * waiting room table, and the poller that an EventBridge rule runs every minute to send what is due to the delay
 * queues.
 */
export class WalWaitingRoom extends Construct {
  /** Pay per request, KMS-encrypted, point-in-time recovery, items expire by TTL. */
  readonly table: dynamodb.Table;
  readonly poller: WalFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: WalWaitingRoomProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? DEFAULT_REMOVAL_POLICY;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: WAITING_ROOM_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: WAITING_ROOM_SORT_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      timeToLiveAttribute: WAITING_ROOM_TTL_ATTRIBUTE,
      // It holds acknowledged mutations until they are due: as protected as the ledger.
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
    this.poller = new WalFunction(this, 'Poller', {
      entry: LAMBDA_ENTRIES.waitingRoomPoller,
      serviceName: 'wal-waiting-room-poller',
      description:
        'serverless-wal: sends delayed mutations from the waiting room to the delay queues when due',
      timeout: POLLER_TIMEOUT,
      memorySize: POLLER_MEMORY_SIZE,
      sdkBudget: consumerSdkBudget(POLLER_TIMEOUT),
      logLevel: props.logLevel,
      logRetention: props.logRetention,
      removalPolicy,
      environment: {
        [ENV.waitingRoomTableName]: this.table.tableName,
        [ENV.delayQueueUrl]: props.queues.delayQueue.queueUrl,
        [ENV.deadLetterQueueUrl]: props.queues.deadLetterQueue.queueUrl,
      },
    });
    // A failed run is not retried: the next scheduled run a minute later goes on from the same checkpoint.
    this.poller.handler.configureAsyncInvoke({ retryAttempts: 0 });
    this.table.grant(this.poller, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:Scan');
    props.encryptionKey.grantEncryptDecrypt(this.poller);
    props.queues.grantDelayedSend(this.poller);
    // A message SQS refuses for good goes to the DLQ, so it does not hold up every later one.
    props.queues.deadLetterQueue.grantSendMessages(this.poller);
    this.rule = new events.Rule(this, 'Schedule', {
      description: 'serverless-wal: runs the waiting room poller',
      schedule: events.Schedule.rate(Duration.minutes(WAITING_ROOM_POLL_MINUTES)),
      targets: [new targets.LambdaFunction(this.poller.handler)],
    });
  }

  /**
   * Lets a consumer put waits in the room (PutItem only) and tells it the table. Its timeout must fit the write
   * slack, or a late PutItem could land behind the poller.
   */
  grantWait(writer: WalFunction): iam.Grant {
    if (writer.timeout.toMilliseconds() >= WAITING_ROOM_WRITE_SLACK_MS) {
      throw new WaitingRoomWriterTooSlowError(writer.node.path, writer.timeout);
    }
    writer.handler.addEnvironment(ENV.waitingRoomTableName, this.table.tableName);
    return this.table.grant(writer, 'dynamodb:PutItem');
  }
}

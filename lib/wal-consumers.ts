import { Duration, type RemovalPolicy, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '#lambdas/shared/environment';
import type { NamespaceParameters } from './namespace-parameters';
import { consumerSdkBudget } from './timeout-budget';
import {
  DEFAULT_CONFIG_MAX_AGE,
  DEFAULT_CONSUMER_TIMEOUT,
  DEFAULT_MEMORY_SIZE,
  DEFAULT_QUEUE_BATCH_SIZE,
  DEFAULT_REMOVAL_POLICY,
  DEFAULT_STREAM_BATCH_SIZE,
  DEFAULT_STREAM_MAX_RECORD_AGE,
  DEFAULT_STREAM_RETRY_ATTEMPTS,
  type LogLevel,
  STREAM_SETTING_RANGES,
} from './wal-defaults';
import { LAMBDA_ENTRIES, WalFunction, type WalFunctionProps } from './wal-function';
import { VISIBILITY_TIMEOUT_FACTOR, type WalQueues } from './wal-queues';
import type { WalStorage } from './wal-storage';
import type { WalWaitingRoom } from './wal-waiting-room';

/** The commit timeout is this many ingest timeouts unless set: a prepare has long lost its commit. */
const COMMIT_TIMEOUT_FACTOR = 3;

export interface WalConsumersProps {
  readonly storage: WalStorage;
  readonly queues: WalQueues;
  readonly namespaces: NamespaceParameters;
  /** Where waits longer than SQS's 900 s go: both consumers put them there. */
  readonly waitingRoom: WalWaitingRoom;
  /** Timeout of the ingest Lambda: no commit can arrive later than this after its prepare. */
  readonly ingestTimeout: Duration;
  /**
   * How long a consumer waits for a record's commit before it fences the key ABORTED. Must be
   * longer than `ingestTimeout`, or a commit that is still possible would be fenced.
   * @default - {@link COMMIT_TIMEOUT_FACTOR} x `ingestTimeout`
   */
  readonly commitTimeout?: Duration;
  /**
   * Timeout of both consumer Lambdas. The queues' visibility timeout must be at least
   * {@link VISIBILITY_TIMEOUT_FACTOR} times it.
   * @default DEFAULT_CONSUMER_TIMEOUT (60 s)
   */
  readonly timeout?: Duration;
  /**
   * @default DEFAULT_MEMORY_SIZE (512)
   */
  readonly memorySize?: number;
  /**
   * How long a consumer trusts its cached namespace config.
   * @default DEFAULT_CONFIG_MAX_AGE (60 s)
   */
  readonly configMaxAge?: Duration;
  /**
   * Records per invocation of the stream consumer. An integer from 1 to 10000.
   * @default DEFAULT_STREAM_BATCH_SIZE (100)
   */
  readonly streamBatchSize?: number;
  /**
   * Retries of a failing stream batch (bisected each time) before it goes to the stream-failure
   * queue. An integer from 0 to 10000.
   * @default DEFAULT_STREAM_RETRY_ATTEMPTS (10)
   */
  readonly streamRetryAttempts?: number;
  /**
   * Age after which a stream record goes to the stream-failure queue instead of being retried.
   * Whole seconds from 60 s to 7 days, and shorter than the stream's retention: the queue consumer
   * re-reads a failed range from the stream, so it must still be there.
   * @default DEFAULT_STREAM_MAX_RECORD_AGE (6 hours)
   */
  readonly streamMaxRecordAge?: Duration;
  /**
   * Messages per invocation of the queue consumer.
   * @default DEFAULT_QUEUE_BATCH_SIZE (10)
   */
  readonly queueBatchSize?: number;
  /**
   * Let http targets POST to plain `http://` URLs (local mode only): sets WAL_ALLOW_HTTP_TARGETS.
   * @default false
   */
  readonly allowHttpTargets?: boolean;
  /**
   * @default DEFAULT_LOG_LEVEL ('INFO')
   */
  readonly logLevel?: LogLevel;
  /**
   * @default DEFAULT_LOG_RETENTION (one month)
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log groups when they leave the stack.
   * @default DEFAULT_REMOVAL_POLICY (RemovalPolicy.RETAIN)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The commit timeout would fence mutations whose commit may still arrive. */
export class CommitTimeoutTooShortError extends Error {
  constructor(
    readonly commitTimeout: Duration,
    readonly ingestTimeout: Duration,
    options?: { cause?: unknown },
  ) {
    super(
      `Commit timeout ${commitTimeout.toSeconds()} s must be longer than the ingest Lambda's timeout ` +
        `${ingestTimeout.toSeconds()} s, or a commit still in flight would be fenced ABORTED`,
      options,
    );
    this.name = 'CommitTimeoutTooShortError';
  }
}

/** The queues would hand a message to a second consumer while the first still works on it. */
export class VisibilityTimeoutTooShortError extends Error {
  constructor(
    readonly visibilityTimeout: Duration,
    readonly consumerTimeout: Duration,
    options?: { cause?: unknown },
  ) {
    super(
      `Queue visibility timeout ${visibilityTimeout.toSeconds()} s must be at least ` +
        `${VISIBILITY_TIMEOUT_FACTOR} x the queue consumer's timeout ${consumerTimeout.toSeconds()} s`,
      options,
    );
    this.name = 'VisibilityTimeoutTooShortError';
  }
}

/** A stream setting that Lambda would reject, or that would lose failed records. */
export class InvalidStreamSettingError extends Error {
  constructor(
    readonly setting: string,
    readonly value: number | Duration,
    readonly expected: string,
    options?: { cause?: unknown },
  ) {
    super(`Invalid ${setting} ${describe(value)}: ${expected}`, options);
    this.name = 'InvalidStreamSettingError';
  }
}

/**
 * The read path: the stream consumer (Kinesis -> ledger check -> route to targets) and the queue
 * consumer (delay, retry and stream-failure queues). Both get exactly the target tables named in
 * the stage's namespace configs.
 */
export class WalConsumers extends Construct {
  readonly streamConsumer: WalFunction;
  readonly queueConsumer: WalFunction;
  readonly commitTimeout: Duration;

  constructor(scope: Construct, id: string, props: WalConsumersProps) {
    super(scope, id);
    const timeout = props.timeout ?? DEFAULT_CONSUMER_TIMEOUT;
    this.commitTimeout = checkedCommitTimeout(props);
    if (props.queues.visibilityTimeout.toSeconds() < timeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR) {
      throw new VisibilityTimeoutTooShortError(props.queues.visibilityTimeout, timeout);
    }
    const streamSettings = checkedStreamSettings(props);
    const common = this.commonFunctionProps(props, timeout);
    this.streamConsumer = this.createStreamConsumer(props, streamSettings, common);
    this.queueConsumer = this.createQueueConsumer(props, common);
    for (const consumer of [this.streamConsumer, this.queueConsumer]) {
      grantConsumer(consumer, props);
      props.waitingRoom.grantWait(consumer);
    }
  }

  /** What both consumers share: timeouts, log settings and the environment that names the WAL's resources. */
  private commonFunctionProps(props: WalConsumersProps, timeout: Duration): ConsumerFunctionProps {
    const { storage, queues, namespaces } = props;
    return {
      timeout,
      sdkBudget: consumerSdkBudget(timeout),
      memorySize: props.memorySize ?? DEFAULT_MEMORY_SIZE,
      logLevel: props.logLevel,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy ?? DEFAULT_REMOVAL_POLICY,
      environment: {
        [ENV.stage]: namespaces.stage,
        [ENV.ledgerTableName]: storage.ledger.tableName,
        [ENV.streamName]: storage.stream.streamName,
        [ENV.namespaceParameterPrefix]: namespaces.parameterPrefix,
        [ENV.delayQueueUrl]: queues.delayQueue.queueUrl,
        [ENV.retryQueueUrl]: queues.retryQueue.queueUrl,
        [ENV.deadLetterQueueUrl]: queues.deadLetterQueue.queueUrl,
        [ENV.commitTimeoutSeconds]: String(this.commitTimeout.toSeconds()),
        [ENV.configMaxAgeSeconds]: String((props.configMaxAge ?? DEFAULT_CONFIG_MAX_AGE).toSeconds()),
        // Only where it is allowed: a deployed consumer without the variable refuses http:// URLs.
        ...(props.allowHttpTargets === true ? { [ENV.allowHttpTargets]: 'true' } : {}),
      },
    };
  }

  /** The Kinesis consumer: one batch per shard at a time, failed ranges to the stream-failure queue. */
  private createStreamConsumer(
    { storage, queues }: WalConsumersProps,
    { streamBatchSize, streamRetryAttempts, streamMaxRecordAge }: StreamSettings,
    common: ConsumerFunctionProps,
  ): WalFunction {
    const consumer = new WalFunction(this, 'StreamConsumer', {
      ...common,
      entry: LAMBDA_ENTRIES.streamConsumer,
      serviceName: 'wal-stream-consumer',
      description: 'serverless-wal: checks stream records against the ledger and routes them',
      // Invoked by Kinesis, it only writes to queues another function consumes: no loop to allow.
      recursiveLoop: lambda.RecursiveLoop.TERMINATE,
    });
    consumer.handler.addEventSource(
      new KinesisEventSource(storage.stream, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: streamBatchSize,
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        retryAttempts: streamRetryAttempts,
        maxRecordAge: streamMaxRecordAge,
        // One batch per shard at a time: records of a key are handled in order.
        parallelizationFactor: 1,
        // Metadata (shard, sequence range) of what exhausted its retries; the queue consumer re-reads it.
        onFailure: new SqsDlq(queues.streamFailureQueue),
      }),
    );
    return consumer;
  }

  /** The SQS consumer of the delay, retry and stream-failure queues. */
  private createQueueConsumer(props: WalConsumersProps, common: ConsumerFunctionProps): WalFunction {
    const { queues } = props;
    const consumer = new WalFunction(this, 'QueueConsumer', {
      ...common,
      entry: LAMBDA_ENTRIES.queueConsumer,
      serviceName: 'wal-queue-consumer',
      description: 'serverless-wal: delivers delayed and retried mutations, recovers stream failures',
      // It re-enqueues on the queues it consumes on purpose: retries, and delay hops past 900 s of messages too large
      // for the waiting room (up to ~2,900 for 30 days). Lambda would stop that chain after about 16 invocations.
      recursiveLoop: lambda.RecursiveLoop.ALLOW,
    });
    const batchSize = props.queueBatchSize ?? DEFAULT_QUEUE_BATCH_SIZE;
    for (const queue of [queues.delayQueue, queues.retryQueue, queues.streamFailureQueue]) {
      consumer.handler.addEventSource(
        new SqsEventSource(queue, { batchSize, reportBatchItemFailures: true }),
      );
    }
    // An isolated namespace's queues have mappings of their own: its backlog waits behind nobody else's, and
    // its cap bounds what a retry storm in it can take of the function's concurrency.
    for (const { namespace, delay, retry } of queues.namespaceQueues.values()) {
      for (const queue of [delay, retry]) {
        consumer.handler.addEventSource(
          new SqsEventSource(queue, {
            batchSize,
            reportBatchItemFailures: true,
            ...(namespace.maxConcurrency === undefined ? {} : { maxConcurrency: namespace.maxConcurrency }),
          }),
        );
      }
    }
    return consumer;
  }
}

type ConsumerFunctionProps = Omit<WalFunctionProps, 'entry' | 'serviceName'>;

type StreamSettings = Required<
  Pick<WalConsumersProps, 'streamBatchSize' | 'streamRetryAttempts' | 'streamMaxRecordAge'>
>;

/** The Kinesis mapping's settings (set or default), checked against what Lambda accepts. */
function checkedStreamSettings(props: WalConsumersProps): StreamSettings {
  const settings = {
    streamBatchSize: props.streamBatchSize ?? DEFAULT_STREAM_BATCH_SIZE,
    streamRetryAttempts: props.streamRetryAttempts ?? DEFAULT_STREAM_RETRY_ATTEMPTS,
    streamMaxRecordAge: props.streamMaxRecordAge ?? DEFAULT_STREAM_MAX_RECORD_AGE,
  };
  validateStreamSettings(
    settings.streamBatchSize,
    settings.streamRetryAttempts,
    settings.streamMaxRecordAge,
    props.storage.streamRetention,
  );
  return settings;
}

/** The commit timeout (set or derived), checked to outlast every commit still in flight. */
function checkedCommitTimeout(props: WalConsumersProps): Duration {
  const commitTimeout =
    props.commitTimeout ?? Duration.seconds(props.ingestTimeout.toSeconds() * COMMIT_TIMEOUT_FACTOR);
  if (commitTimeout.toSeconds() <= props.ingestTimeout.toSeconds()) {
    throw new CommitTimeoutTooShortError(commitTimeout, props.ingestTimeout);
  }
  return commitTimeout;
}

/** A consumer reads the stream and the ledger, enqueues, reads the namespace configs and writes the targets. */
function grantConsumer(consumer: WalFunction, { storage, queues, namespaces }: WalConsumersProps): void {
  storage.grantConsume(consumer);
  queues.grantEnqueue(consumer);
  namespaces.grantRead(consumer);
  // A namespace removed by a deploy must read as ParameterNotFound (-> DLQ with a reason), not AccessDenied.
  namespaces.grantLookup(consumer);
  namespaces.grantDeliver(consumer);
}

function validateStreamSettings(
  batchSize: number,
  retryAttempts: number,
  maxRecordAge: Duration,
  streamRetention: Duration,
): void {
  for (const [setting, value] of [
    ['streamBatchSize', batchSize],
    ['streamRetryAttempts', retryAttempts],
  ] as const) {
    const { min, max } = STREAM_SETTING_RANGES[setting];
    if (Token.isUnresolved(value)) continue;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidStreamSettingError(setting, value, `an integer from ${min} to ${max}`);
    }
  }
  const { min, max } = STREAM_SETTING_RANGES.streamMaxRecordAgeSeconds;
  const seconds = maxRecordAge.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < min || seconds > max) {
    throw new InvalidStreamSettingError(
      'streamMaxRecordAge',
      maxRecordAge,
      `whole seconds from ${min} s to ${max} s (7 days)`,
    );
  }
  if (seconds >= streamRetention.toSeconds({ integral: false })) {
    throw new InvalidStreamSettingError(
      'streamMaxRecordAge',
      maxRecordAge,
      `it must be shorter than the stream retention ${describe(streamRetention)}, ` +
        'or a failed batch could expire before the queue consumer re-reads it',
    );
  }
}

function describe(value: number | Duration): string {
  return typeof value === 'number' ? String(value) : value.toHumanString();
}

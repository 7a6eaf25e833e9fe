import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '#lambdas/shared/environment';
import type { NamespaceParameters } from './namespace-parameters';
import type { LogLevel } from './stage-config';
import { consumerSdkBudget } from './timeout-budget';
import { LAMBDA_ENTRIES, WalFunction } from './wal-function';
import { VISIBILITY_TIMEOUT_FACTOR, type WalQueues } from './wal-queues';
import type { WalStorage } from './wal-storage';

/** The commit timeout is this many ingest timeouts unless set: a prepare has long lost its commit. */
export const COMMIT_TIMEOUT_FACTOR = 3;

/** Records per invocation of the stream consumer, unless set. */
export const DEFAULT_STREAM_BATCH_SIZE = 100;
/** Retries of a failing stream batch before it goes to the stream-failure queue, unless set. */
export const DEFAULT_STREAM_RETRY_ATTEMPTS = 10;
/** Age after which a stream record goes to the stream-failure queue, unless set. */
export const DEFAULT_STREAM_MAX_RECORD_AGE = Duration.hours(6);

/** What a Kinesis event source mapping accepts (and the WAL allows) for each stream setting. */
export const STREAM_SETTING_RANGES = {
  /** `BatchSize` of a Kinesis mapping. */
  streamBatchSize: { min: 1, max: 10_000 },
  /** `MaximumRetryAttempts`; infinite (-1) is not offered: a failing batch must reach the queue. */
  streamRetryAttempts: { min: 0, max: 10_000 },
  /** `MaximumRecordAgeInSeconds`; infinite (-1) is not offered either. */
  streamMaxRecordAgeSeconds: { min: 60, max: 7 * 24 * 3600 },
} as const;

export interface WalConsumersProps {
  readonly storage: WalStorage;
  readonly queues: WalQueues;
  readonly namespaces: NamespaceParameters;
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
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * How long a consumer trusts its cached namespace config.
   * @default Duration.seconds(60)
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
   * @default 10
   */
  readonly queueBatchSize?: number;
  /**
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;
  /**
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log groups when they leave the stack.
   * @default RemovalPolicy.RETAIN
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
    const { storage, queues, namespaces } = props;
    const timeout = props.timeout ?? Duration.seconds(60);
    this.commitTimeout =
      props.commitTimeout ?? Duration.seconds(props.ingestTimeout.toSeconds() * COMMIT_TIMEOUT_FACTOR);
    if (this.commitTimeout.toSeconds() <= props.ingestTimeout.toSeconds()) {
      throw new CommitTimeoutTooShortError(this.commitTimeout, props.ingestTimeout);
    }
    if (queues.visibilityTimeout.toSeconds() < timeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR) {
      throw new VisibilityTimeoutTooShortError(queues.visibilityTimeout, timeout);
    }
    const streamBatchSize = props.streamBatchSize ?? DEFAULT_STREAM_BATCH_SIZE;
    const streamRetryAttempts = props.streamRetryAttempts ?? DEFAULT_STREAM_RETRY_ATTEMPTS;
    const streamMaxRecordAge = props.streamMaxRecordAge ?? DEFAULT_STREAM_MAX_RECORD_AGE;
    validateStreamSettings(streamBatchSize, streamRetryAttempts, streamMaxRecordAge, storage.streamRetention);

    const common = {
      timeout,
      sdkBudget: consumerSdkBudget(timeout),
      memorySize: props.memorySize ?? 512,
      logLevel: props.logLevel,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      environment: {
        [ENV.stage]: namespaces.stage,
        [ENV.ledgerTableName]: storage.ledger.tableName,
        [ENV.streamName]: storage.stream.streamName,
        [ENV.namespaceParameterPrefix]: namespaces.parameterPrefix,
        [ENV.delayQueueUrl]: queues.delayQueue.queueUrl,
        [ENV.retryQueueUrl]: queues.retryQueue.queueUrl,
        [ENV.deadLetterQueueUrl]: queues.deadLetterQueue.queueUrl,
        [ENV.commitTimeoutSeconds]: String(this.commitTimeout.toSeconds()),
        [ENV.configMaxAgeSeconds]: String((props.configMaxAge ?? Duration.seconds(60)).toSeconds()),
      },
    };

    this.streamConsumer = new WalFunction(this, 'StreamConsumer', {
      ...common,
      entry: LAMBDA_ENTRIES.streamConsumer,
      serviceName: 'wal-stream-consumer',
      description: 'serverless-wal: checks stream records against the ledger and routes them',
      // Invoked by Kinesis, it only writes to queues another function consumes: no loop to allow.
      recursiveLoop: lambda.RecursiveLoop.TERMINATE,
    });
    this.streamConsumer.handler.addEventSource(
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

    this.queueConsumer = new WalFunction(this, 'QueueConsumer', {
      ...common,
      entry: LAMBDA_ENTRIES.queueConsumer,
      serviceName: 'wal-queue-consumer',
      description: 'serverless-wal: delivers delayed and retried mutations, recovers stream failures',
      // It re-enqueues on the queues it consumes on purpose: delay hops past 900 s (up to ~2,900 for
      // 30 days) and retries. Lambda would stop that chain after about 16 invocations.
      recursiveLoop: lambda.RecursiveLoop.ALLOW,
    });
    for (const queue of [queues.delayQueue, queues.retryQueue, queues.streamFailureQueue]) {
      this.queueConsumer.handler.addEventSource(
        new SqsEventSource(queue, { batchSize: props.queueBatchSize ?? 10, reportBatchItemFailures: true }),
      );
    }

    for (const consumer of [this.streamConsumer, this.queueConsumer]) {
      storage.grantConsume(consumer);
      queues.grantEnqueue(consumer);
      namespaces.grantRead(consumer);
      // A namespace removed by a deploy must read as ParameterNotFound (-> DLQ with a reason), not AccessDenied.
      namespaces.grantLookup(consumer);
      namespaces.grantWriteTargets(consumer);
    }
  }
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

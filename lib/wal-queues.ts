import { createHash } from 'node:crypto';
import { ArnFormat, Aws, Duration, Fn, type RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_MAX_RECEIVE_COUNT, DEFAULT_REMOVAL_POLICY, MAX_RECEIVE_COUNT_RANGE } from './wal-defaults';

/** SQS's longest retention: a message waits two weeks for a fix or a redrive. */
const RETENTION = Duration.days(14);
/** AWS guidance: a queue's visibility timeout is at least six times its consumer's timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
/** SQS queue names: at most 80 characters of [A-Za-z0-9_-]. */
const QUEUE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;
/**
 * The longest suffix {@link WalQueues} appends to the prefix: a role and the first group of the stack
 * id's UUID (8 hex digits), e.g. `-stream-failures-1a2b3c4d`.
 */
const LONGEST_SUFFIX = '-stream-failures-12345678';
/**
 * SQS's largest message since 2025: 1 MiB (1,048,576 bytes). A queue left at its default takes only
 * 256 KiB, so every WAL queue sets it explicitly (docs/aws-limits.md).
 */
export const QUEUE_MAX_MESSAGE_BYTES = 1_048_576;

export interface WalQueuesProps {
  /** Encrypts every queue (SSE-KMS with a customer-managed key). */
  readonly encryptionKey: kms.IKey;
  /**
   * Timeout of the Lambda that consumes the delay, retry and stream-failure queues; their
   * visibility timeout is {@link VISIBILITY_TIMEOUT_FACTOR} times it.
   */
  readonly consumerTimeout: Duration;
  /**
   * Receives after which the delay, retry and stream-failure queues move a message to the DLQ
   * (catches messages that crash their consumer). An integer from 1 to 1000.
   * @default DEFAULT_MAX_RECEIVE_COUNT (5)
   */
  readonly maxReceiveCount?: number;
  /**
   * What happens to the queues (and the messages in them) when they leave the stack.
   * @default DEFAULT_REMOVAL_POLICY (RemovalPolicy.RETAIN)
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Prefix of the names of the delay, retry and stream-failure queues. They are named because the
   * DLQ's redrive allow policy must list their ARNs, and a reference to their generated ARNs would
   * be a circular dependency (each of them names the DLQ in its redrive policy). Each name ends
   * with a part of the stack id, which is new for every creation of the stack: a queue retained
   * by a failed create or a destroy never blocks the next create.
   * @default - the stack name, which is unique per account and region
   */
  readonly queueNamePrefix?: string;
  /**
   * Namespaces that get delay and retry queues of their own (`delivery.isolated` in their config).
   * @default - none: every namespace shares the WAL's queues
   */
  readonly isolatedNamespaces?: readonly IsolatedNamespace[];
}

/** A namespace whose delayed and retried mutations wait on queues of its own. */
export interface IsolatedNamespace {
  readonly name: string;
  /**
   * The most concurrent consumer invocations its queues may use.
   * @default - no cap
   */
  readonly maxConcurrency?: number;
}

/** An isolated namespace's own queues. Its dead letters go to the shared DLQ. */
export interface NamespaceQueues {
  readonly namespace: IsolatedNamespace;
  readonly delay: sqs.Queue;
  readonly retry: sqs.Queue;
}

/** SQS lets a redrive allow policy name at most 10 source queues. */
const MAX_REDRIVE_SOURCE_QUEUES = 10;

/** A queue setting that SQS would reject, or that would break the consumer's guarantees. */
export class InvalidQueueSettingError extends Error {
  constructor(
    readonly setting: string,
    readonly value: unknown,
    readonly expected: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Invalid ${setting} ${typeof value === 'string' ? JSON.stringify(value) : String(value)}: ${expected}`,
      options,
    );
    this.name = 'InvalidQueueSettingError';
  }
}

/**
 * The WAL's SQS queues, all SSE-KMS with the WAL key and TLS-only:
 * - delay queue: mutations whose delivery time lies ahead, and records waiting for their commit;
 * - retry queue: target deliveries that failed and wait for their backoff;
 * - stream-failure queue: the Kinesis mapping's on-failure destination (shard and sequence range);
 * - dead-letter queue: where the three above end; operators redrive it from the console or CLI.
 */
export class WalQueues extends Construct {
  readonly deadLetterQueue: sqs.Queue;
  readonly retryQueue: sqs.Queue;
  readonly delayQueue: sqs.Queue;
  readonly streamFailureQueue: sqs.Queue;
  /** Visibility timeout of the delay, retry and stream-failure queues. */
  readonly visibilityTimeout: Duration;
  readonly maxReceiveCount: number;
  /** The own queues of each isolated namespace, by namespace name. */
  readonly namespaceQueues: ReadonlyMap<string, NamespaceQueues>;

  constructor(scope: Construct, id: string, props: WalQueuesProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? DEFAULT_REMOVAL_POLICY;
    const prefix = props.queueNamePrefix ?? Stack.of(this).stackName;
    this.maxReceiveCount = props.maxReceiveCount ?? DEFAULT_MAX_RECEIVE_COUNT;
    validate(prefix, this.maxReceiveCount);
    this.visibilityTimeout = Duration.seconds(props.consumerTimeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR);

    // A fixed name would collide with a retained queue of an earlier stack of the same name
    // (CloudFormation: "already exists"); the stack id's UUID changes with every creation.
    const instance = stackInstanceId();
    const names = {
      retry: `${prefix}-retry-${instance}`,
      delay: `${prefix}-delay-${instance}`,
      streamFailure: `${prefix}-stream-failures-${instance}`,
    };
    const isolated = (props.isolatedNamespaces ?? []).map((namespace) => ({
      namespace,
      names: isolatedQueueNames(prefix, namespace.name, instance),
    }));
    const sourceNames = [
      ...Object.values(names),
      ...isolated.flatMap(({ names }) => [names.delay, names.retry]),
    ];
    const common = {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod: RETENTION,
      maxMessageSizeBytes: QUEUE_MAX_MESSAGE_BYTES,
      removalPolicy,
    } satisfies sqs.QueueProps;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...common,
      redriveAllowPolicy: this.redriveAllowPolicy(sourceNames),
    });
    const withDeadLetterQueue = {
      ...common,
      visibilityTimeout: this.visibilityTimeout,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    } satisfies sqs.QueueProps;
    this.retryQueue = new sqs.Queue(this, 'RetryQueue', { ...withDeadLetterQueue, queueName: names.retry });
    this.delayQueue = new sqs.Queue(this, 'DelayQueue', { ...withDeadLetterQueue, queueName: names.delay });
    this.streamFailureQueue = new sqs.Queue(this, 'StreamFailureQueue', {
      ...withDeadLetterQueue,
      queueName: names.streamFailure,
    });
    this.namespaceQueues = new Map(
      isolated.map(({ namespace, names }) => [
        namespace.name,
        this.namespaceQueuesOf(namespace, names, withDeadLetterQueue),
      ]),
    );
  }

  /** An isolated namespace's own delay and retry queues, set like the shared ones. */
  private namespaceQueuesOf(
    namespace: IsolatedNamespace,
    names: { delay: string; retry: string },
    props: sqs.QueueProps,
  ): NamespaceQueues {
    const scope = new Construct(this, `Namespace-${namespace.name}`);
    return {
      namespace,
      delay: new sqs.Queue(scope, 'DelayQueue', { ...props, queueName: names.delay }),
      retry: new sqs.Queue(scope, 'RetryQueue', { ...props, queueName: names.retry }),
    };
  }

  /**
   * Only the WAL's own queues may use the DLQ (and be redriven to). SQS names at most 10 source queues; with
   * more (isolated namespaces), any queue of the account may: the DLQ's own policy still limits who sends.
   */
  private redriveAllowPolicy(sourceNames: readonly string[]): sqs.RedriveAllowPolicy {
    if (sourceNames.length > MAX_REDRIVE_SOURCE_QUEUES)
      return { redrivePermission: sqs.RedrivePermission.ALLOW_ALL };
    const sourceQueues = sourceNames.map((name, index) =>
      sqs.Queue.fromQueueArn(this, `Source${index}`, queueArn(this, name)),
    );
    return { redrivePermission: sqs.RedrivePermission.BY_QUEUE, sourceQueues };
  }

  /** Send to the delay, retry and dead-letter queues (what a consumer parks, retries or gives up). */
  grantEnqueue(grantee: iam.IGrantable): iam.Grant {
    return [...this.namespaceQueues.values()]
      .flatMap((queues) => [queues.delay, queues.retry])
      .reduce(
        (all, queue) => all.combine(queue.grantSendMessages(grantee)),
        this.delayQueue
          .grantSendMessages(grantee)
          .combine(this.retryQueue.grantSendMessages(grantee))
          .combine(this.deadLetterQueue.grantSendMessages(grantee)),
      );
  }

  /** Send to the delay and retry queues, shared and isolated (what the waiting room poller sends when due). */
  grantDelayedSend(grantee: iam.IGrantable): iam.Grant {
    return [...this.namespaceQueues.values()]
      .flatMap((queues) => [queues.delay, queues.retry])
      .reduce(
        (all, queue) => all.combine(queue.grantSendMessages(grantee)),
        this.delayQueue.grantSendMessages(grantee).combine(this.retryQueue.grantSendMessages(grantee)),
      );
  }

  /**
   * Inspect the DLQ and move its messages back (`StartMessageMoveTask`), as the CLI and an
   * operator's role need.
   */
  grantRedrive(grantee: iam.IGrantable): iam.Grant {
    return this.deadLetterQueue
      .grantConsumeMessages(grantee)
      .combine(
        this.deadLetterQueue.grant(
          grantee,
          'sqs:StartMessageMoveTask',
          'sqs:CancelMessageMoveTask',
          'sqs:ListMessageMoveTasks',
        ),
      )
      .combine(this.retryQueue.grantSendMessages(grantee))
      .combine(this.delayQueue.grantSendMessages(grantee))
      .combine(this.streamFailureQueue.grantSendMessages(grantee));
  }
}

/**
 * The first group of the UUID in `AWS::StackId` (`arn:...:stack/<name>/<uuid>`): 8 hex digits that
 * are new each time a stack of this name is created. A pseudo parameter, so the DLQ's redrive allow
 * policy can name the queues without referring to them.
 */
/**
 * Names of an isolated namespace's queues: a hash of the namespace keeps them within SQS's 80 characters
 * (names are fixed so the DLQ's redrive allow policy can name them without a dependency cycle).
 */
function isolatedQueueNames(
  prefix: string,
  namespace: string,
  instance: string,
): { delay: string; retry: string } {
  const hash = createHash('sha256').update(namespace).digest('hex').slice(0, 8);
  return { delay: `${prefix}-n${hash}-delay-${instance}`, retry: `${prefix}-n${hash}-retry-${instance}` };
}

function stackInstanceId(): string {
  return Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Aws.STACK_ID))));
}

function queueArn(scope: Construct, name: string): string {
  return Stack.of(scope).formatArn({ service: 'sqs', resource: name, arnFormat: ArnFormat.NO_RESOURCE_NAME });
}

function validate(prefix: string, maxReceiveCount: number): void {
  if (!Token.isUnresolved(prefix) && !QUEUE_NAME_PATTERN.test(`${prefix}${LONGEST_SUFFIX}`)) {
    throw new InvalidQueueSettingError(
      'queueNamePrefix',
      prefix,
      `with "${LONGEST_SUFFIX}" appended it must match ${QUEUE_NAME_PATTERN}`,
    );
  }
  const { min, max } = MAX_RECEIVE_COUNT_RANGE;
  if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < min || maxReceiveCount > max) {
    throw new InvalidQueueSettingError(
      'maxReceiveCount',
      maxReceiveCount,
      `an integer from ${min} to ${max}`,
    );
  }
}

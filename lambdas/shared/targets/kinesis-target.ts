import { type KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import type { KinesisTargetConfig } from '#lambdas/shared/namespace-config';
import { type MessageEnvelope, targetOrderingKey } from './message-envelope';
import { MessageTarget } from './message-target';
import { classifyAwsError, PermanentTargetError } from './target-errors';

/**
 * What Kinesis accepts as a partition key: 1 to 256 Unicode characters. Control characters and lone
 * surrogates are kept out too (they may not survive the request's JSON), so such keys are hashed.
 */
const KINESIS_PARTITION_KEY = { maxLength: 256, allowed: /^[^\p{Cc}\p{Cs}]+$/u };

/**
 * Kinesis errors that say the stream, its key or the request is wrong: retrying cannot help. Throttling
 * (`ProvisionedThroughputExceededException`, `KMSThrottlingException`), `LimitExceededException`, a stream
 * being updated (`ResourceInUseException`), 5xx and network errors are retried.
 */
const KINESIS_PERMANENT_ERRORS = new Set([
  'ResourceNotFoundException',
  'InvalidArgumentException',
  'ValidationException',
  'AccessDeniedException',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
  'KMSOptInRequired',
]);

/** True when a Kinesis PutRecord error means retrying this record cannot help. */
function isPermanentKinesisError(error: unknown): boolean {
  const name = (error as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && KINESIS_PERMANENT_ERRORS.has(name);
}

/** The stream name of `arn:aws:kinesis:<region>:<account>:stream/<name>` (kinesalite takes names only). */
export function streamNameOf(streamArn: string): string {
  const marker = ':stream/';
  const at = streamArn.indexOf(marker);
  return at < 0 ? streamArn : streamArn.slice(at + marker.length);
}

/**
 * A Kinesis data stream: one record per mutation, the envelope as JSON, partition key = the mutation's
 * (hashed when Kinesis would refuse it), so a key's records go to one shard in the order they were put.
 */
export class KinesisTarget extends MessageTarget {
  readonly type = 'kinesis';
  readonly name: string;

  constructor(
    private readonly config: KinesisTargetConfig,
    /** Called on first send only: the ingest Lambda validates with targets and never creates their clients. */
    private readonly kinesis: () => KinesisClient,
  ) {
    super();
    this.name = config.name;
  }

  protected async send(envelope: MessageEnvelope): Promise<void> {
    const streamArn = this.config.streamArn;
    if (!streamArn) {
      throw new PermanentTargetError(
        this.name,
        'the target has no streamArn: the stack fills it in for provisioned streams; deploy the stack again',
      );
    }
    try {
      await this.kinesis().send(
        new PutRecordCommand({
          // By name: the stream is in the WAL's account (kinesalite does not know StreamARN).
          StreamName: streamNameOf(streamArn),
          PartitionKey: targetOrderingKey(
            envelope.partitionKey,
            KINESIS_PARTITION_KEY.maxLength,
            KINESIS_PARTITION_KEY.allowed,
          ),
          Data: Buffer.from(JSON.stringify(envelope), 'utf8'),
        }),
      );
    } catch (error) {
      if (isPermanentKinesisError(error)) {
        const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        throw new PermanentTargetError(this.name, `PutRecord to ${streamArn} failed (${detail})`, {
          cause: error,
        });
      }
      classifyAwsError(this.name, error);
    }
  }
}

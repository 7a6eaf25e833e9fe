import { type MessageAttributeValue, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SqsTargetConfig } from '#lambdas/shared/namespace-config';
import { FIFO_GROUP_ID, type MessageEnvelope, targetOrderingKey } from './message-envelope';
import { MessageTarget } from './message-target';
import { classifyAwsError, PermanentTargetError } from './target-errors';

/**
 * SQS errors that say this message, or the queue's setup, is wrong: retrying cannot help (the DLQ keeps the
 * mutation with the reason; an operator redrives it once the queue is fixed). Names as the SDK gives them
 * (JSON protocol) and as `Code` (the query protocol's names). Throttling (`RequestThrottled`,
 * `KmsThrottled`), 5xx and network errors are not here: they are retried.
 */
const SQS_PERMANENT_ERRORS = new Set([
  // The body is larger than the queue's MaximumMessageSize, or a parameter is refused.
  'InvalidParameterValue',
  'InvalidMessageContents',
  'MissingParameter',
  'UnsupportedOperation',
  'AWS.SimpleQueueService.UnsupportedOperation',
  'InvalidAddress',
  'InvalidSecurity',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'AccessDenied',
  'AccessDeniedException',
  'KmsAccessDenied',
  'KmsDisabled',
  'KmsInvalidState',
  'KmsInvalidKeyUsage',
  'KmsNotFound',
  'KmsOptInRequired',
]);

/** True when an SQS SendMessage error means retrying this message cannot help. */
function isPermanentSqsError(error: unknown): boolean {
  const { name, Code } = (error ?? {}) as { name?: unknown; Code?: unknown };
  return (
    (typeof name === 'string' && SQS_PERMANENT_ERRORS.has(name)) ||
    (typeof Code === 'string' && SQS_PERMANENT_ERRORS.has(Code))
  );
}

/** SQS's default MaximumMessageSize: a queue that never set it refuses larger messages. */
const DEFAULT_QUEUE_MAX_BYTES = 262_144;

/**
 * An SQS queue. The body is the envelope as JSON; two message attributes (`wal-namespace`, `wal-id`) let a
 * receiver or a subscription filter route without parsing it. FIFO (a URL ending in `.fifo`): message group =
 * the partition key (hashed when SQS would refuse it), deduplication id = the mutation id, so SQS drops a
 * resend within its 5-minute window; beyond it the receiver dedups by `id`.
 */
export class SqsTarget extends MessageTarget {
  readonly type = 'sqs';
  readonly name: string;

  constructor(
    private readonly config: SqsTargetConfig,
    /** Called on first send only: the ingest Lambda validates with targets and never creates their clients. */
    private readonly sqs: () => SQSClient,
  ) {
    super();
    this.name = config.name;
  }

  protected async send(envelope: MessageEnvelope): Promise<void> {
    const queueUrl = this.config.queueUrl;
    if (!queueUrl) {
      throw new PermanentTargetError(
        this.name,
        'the target has no queueUrl: the stack fills it in for provisioned queues; deploy the stack again',
      );
    }
    const body = JSON.stringify(envelope);
    const fifo = queueUrl.endsWith('.fifo');
    try {
      await this.sqs().send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: body,
          MessageAttributes: messageAttributes(envelope),
          ...(fifo
            ? {
                MessageGroupId: targetOrderingKey(
                  envelope.partitionKey,
                  FIFO_GROUP_ID.maxLength,
                  FIFO_GROUP_ID.allowed,
                ),
                MessageDeduplicationId: envelope.id,
              }
            : {}),
        }),
      );
    } catch (error) {
      if (isPermanentSqsError(error)) {
        throw new PermanentTargetError(this.name, refusal(error, Buffer.byteLength(body, 'utf8')), {
          cause: error,
        });
      }
      classifyAwsError(this.name, error);
    }
  }
}

function messageAttributes(envelope: MessageEnvelope): Record<string, MessageAttributeValue> {
  return {
    'wal-namespace': { DataType: 'String', StringValue: envelope.namespace },
    'wal-id': { DataType: 'String', StringValue: envelope.id },
  };
}

/** The DLQ reason of a refused send: SQS's message, the body's size, and for a size refusal what to change. */
function refusal(error: unknown, bytes: number): string {
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const tooLarge = /shorter than|too long|too large|size/i.test(detail) || bytes > DEFAULT_QUEUE_MAX_BYTES;
  return (
    `SendMessage of a ${bytes}-byte envelope failed (${detail})` +
    (tooLarge
      ? "; if the queue's MaximumMessageSize is below the envelope, raise it (the WAL's envelopes need up to 1 MiB, 1048576)"
      : '')
  );
}

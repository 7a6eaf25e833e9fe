import { PublishCommand, type PublishCommandInput, type SNSClient } from '@aws-sdk/client-sns';
import type { SnsTargetConfig } from '#lambdas/shared/namespace-config';
import { FIFO_GROUP_ID, type MessageEnvelope, targetOrderingKey } from './message-envelope';
import { MessageTarget } from './message-target';
import { classifyAwsError, PermanentTargetError } from './target-errors';

/**
 * SNS errors, beyond the common ones, that say the topic's setup refuses every message (its KMS key is
 * disabled, gone or not ours to use): the DLQ keeps the mutation until an operator fixes it and redrives.
 */
const PERMANENT_SNS_ERRORS = new Set([
  'KMSDisabledException',
  'KMSNotFoundException',
  'KMSInvalidStateException',
  'KMSAccessDeniedException',
  'KMSOptInRequired',
  'InvalidSecurityException',
]);

/**
 * Publishes the envelope as the message. A FIFO topic (ARN ending in `.fifo`) gets the partition key as
 * its message group (hashed when SNS would refuse it) and the mutation id as its deduplication id, so a
 * redelivery within SNS's 5-minute window is dropped by SNS; after it, receivers dedup by `id`.
 */
export class SnsTarget extends MessageTarget {
  readonly type = 'sns';
  readonly name: string;

  constructor(
    private readonly config: SnsTargetConfig,
    /** The client, created on first send (ingest only validates and never creates it). */
    private readonly sns: () => SNSClient,
  ) {
    super();
    this.name = config.name;
  }

  protected async send(envelope: MessageEnvelope): Promise<void> {
    const topicArn = this.config.topicArn;
    if (topicArn === undefined) {
      throw new PermanentTargetError(this.name, 'no topicArn: the stack fills it in for provisioned topics');
    }
    const input: PublishCommandInput = { TopicArn: topicArn, Message: JSON.stringify(envelope) };
    if (topicArn.endsWith('.fifo')) {
      input.MessageGroupId = targetOrderingKey(
        envelope.partitionKey,
        FIFO_GROUP_ID.maxLength,
        FIFO_GROUP_ID.allowed,
      );
      input.MessageDeduplicationId = envelope.id;
    }
    try {
      await this.sns().send(new PublishCommand(input));
    } catch (error) {
      if (PERMANENT_SNS_ERRORS.has((error as { name?: string } | undefined)?.name ?? '')) {
        throw new PermanentTargetError(this.name, (error as Error).message, { cause: error });
      }
      classifyAwsError(this.name, error);
    }
  }
}

import type { LoggedMutation } from '#lambdas/shared/envelope';
import { type MessageEnvelope, toMessageEnvelope } from './message-envelope';
import type { ApplyOutcome, Target } from './target';

/**
 * The base of targets that send the mutation on as a message (queues, streams, topics, buses, functions,
 * webhooks): any JSON payload and any op is fine for them, and the partition key defaults to the id.
 * `apply` sends the envelope once per attempt; a redelivery sends it again, which the receiver dedups by id.
 */
export abstract class MessageTarget implements Target {
  abstract readonly name: string;
  abstract readonly type: string;

  validate(): string[] {
    return [];
  }

  partitionKeyOf(): string | undefined {
    return undefined;
  }

  async apply(mutation: LoggedMutation): Promise<ApplyOutcome> {
    await this.send(toMessageEnvelope(mutation, this.name), mutation);
    return 'applied';
  }

  /** Sends the envelope; throws PermanentTargetError when retrying cannot help, any other error otherwise. */
  protected abstract send(envelope: MessageEnvelope, mutation: LoggedMutation): Promise<void>;
}

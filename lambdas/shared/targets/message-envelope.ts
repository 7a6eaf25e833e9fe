import { createHash } from 'node:crypto';
import { effectiveTime, type LoggedMutation, walOrder } from '#lambdas/shared/envelope';

/**
 * What message-like targets (queues, streams, topics, buses, functions, webhooks) receive: the client's
 * `payload` as it was sent, inside a small envelope that lets the receiver apply it once and in order.
 * - `id` is the mutation id: the receiver's dedup key (delivery is at least once everywhere; SQS/SNS FIFO
 *   dedup covers only 5 minutes).
 * - `order` compares as a string in the WAL's order per key (effective time, then stream sequence): a
 *   receiver that keeps the greatest `order` it has applied per `partitionKey` discards an older mutation
 *   that arrives late (a retry, a redrive).
 */
export interface MessageEnvelope {
  /** The shape of this envelope. */
  readonly walEnvelope: 1;
  readonly id: string;
  readonly namespace: string;
  readonly target: string;
  /** The namespace config's `version` the mutation was accepted under (absent for older records). */
  readonly configVersion?: number;
  readonly partitionKey: string;
  /** The Kinesis sequence number of the WAL record. */
  readonly sequence: string;
  readonly order: string;
  readonly op: 'put' | 'update' | 'delete';
  /** ISO-8601: the delivery time of a delayed mutation, else its log time. */
  readonly effectiveAt: string;
  readonly loggedAt: string;
  readonly payload: unknown;
  /** For op `update`: attributes to set and numbers to add. */
  readonly update?: { readonly set?: Record<string, unknown>; readonly add?: Record<string, number> };
  /** The region the mutation was first logged in. */
  readonly origin?: string;
}

/** The envelope of `mutation` for `target`. */
export function toMessageEnvelope(mutation: LoggedMutation, target: string): MessageEnvelope {
  const { envelope } = mutation;
  return {
    walEnvelope: 1,
    id: envelope.id,
    namespace: envelope.namespace,
    target,
    ...(envelope.configVersion === undefined ? {} : { configVersion: envelope.configVersion }),
    partitionKey: envelope.partitionKey,
    sequence: mutation.sequence,
    order: walOrder(mutation),
    op: envelope.op,
    effectiveAt: new Date(effectiveTime(envelope)).toISOString(),
    loggedAt: new Date(envelope.loggedAt).toISOString(),
    payload: envelope.payload,
    ...(envelope.update === undefined ? {} : { update: envelope.update }),
    ...(envelope.origin === undefined ? {} : { origin: envelope.origin }),
  };
}

/**
 * A partition key as a target's ordering id (SQS/SNS FIFO `MessageGroupId`: 128 characters of
 * alphanumerics and punctuation; Kinesis `PartitionKey`: 256 characters). A key that fits is used as it is,
 * so receivers see the same grouping as the WAL; any other becomes `sha256:<hex>`, deterministic, so one
 * key always lands in one group or shard. The envelope keeps the original key.
 */
export function targetOrderingKey(partitionKey: string, maxLength: number, allowed: RegExp): string {
  if (partitionKey.length > 0 && partitionKey.length <= maxLength && allowed.test(partitionKey)) {
    return partitionKey;
  }
  return `sha256:${createHash('sha256').update(partitionKey, 'utf8').digest('hex')}`;
}

/** What SQS and SNS accept in a FIFO `MessageGroupId`. */
export const FIFO_GROUP_ID = { maxLength: 128, allowed: /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]+$/ };

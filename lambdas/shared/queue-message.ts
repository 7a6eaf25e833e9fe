import * as z from 'zod/mini';
import { envelopeSchema } from './envelope';
import './zod-locale';

/**
 * The messages on the delay, retry and dead-letter queues. Each carries the full logged mutation,
 * so a consumer (or an operator's redrive) needs nothing else to apply it.
 */
export const loggedMutationSchema = z.object({
  envelope: envelopeSchema,
  sequence: z.string().check(z.minLength(1)),
});

// Defined with the envelope so that ingest does not bundle the queue schemas for one constant.
export { ITEMS_DELIVERY_TARGET } from './envelope';

/** Indices into `envelope.items` that are applied already (or, for a replay to one target, not wanted). */
const itemsDoneSchema = z.optional(z.array(z.number().check(z.int(), z.gte(0))));

/** A delayed delivery of one mutation to one target; `notBefore` (epoch ms) lets it hop past 900 s. */
export const deliverMessageSchema = z.object({
  kind: z.literal('deliver'),
  mutation: loggedMutationSchema,
  target: z.string(),
  notBefore: z.number().check(z.int()),
  itemsDone: itemsDoneSchema,
});

/**
 * A delivery that failed `attempt` times. On the DLQ the same message also carries `reason`; a
 * redrive puts it back on the retry queue, where it is applied once more.
 */
export const retryMessageSchema = z.object({
  kind: z.literal('retry'),
  mutation: loggedMutationSchema,
  target: z.string(),
  attempt: z.number().check(z.int(), z.gte(1)),
  lastError: z.string(),
  firstFailedAt: z.number().check(z.int()),
  notBefore: z.number().check(z.int()),
  reason: z.optional(z.string()),
  itemsDone: itemsDoneSchema,
  /** Multi-item deliveries: why each item still to do failed last (index into `envelope.items`). */
  itemErrors: z.optional(
    z.array(z.object({ index: z.number().check(z.int(), z.gte(0)), error: z.string() })),
  ),
});

/** A prepared record not yet committed when the consumer saw it: check the ledger again later. */
export const recheckMessageSchema = z.object({
  kind: z.literal('recheck'),
  mutation: loggedMutationSchema,
});

/** Something that cannot be parsed or routed at all; kept whole on the DLQ with its reason. */
export const poisonMessageSchema = z.object({
  kind: z.literal('poison'),
  reason: z.string(),
  /** The raw bytes, base64. */
  data: z.string(),
  source: z.string(),
  namespace: z.optional(z.string()),
  id: z.optional(z.string()),
});

/**
 * One stream record whose handling failed every retry of the stream mapping and of the on-failure
 * re-read: a copy of the whole record, so it can still be delivered (retried, dead-lettered, redriven)
 * after the stream trims it. Handled as the stream consumer handles a record.
 */
export const streamRecordMessageSchema = z.object({
  kind: z.literal('stream-record'),
  streamArn: z.string(),
  shardId: z.string(),
  sequenceNumber: z.string(),
  partitionKey: z.string(),
  /** The record's bytes, base64. */
  data: z.string(),
  /** Epoch seconds, as Lambda's Kinesis events give it. */
  approximateArrivalTimestamp: z.number(),
  reason: z.string(),
});

export const queueMessageSchema = z.discriminatedUnion('kind', [
  deliverMessageSchema,
  retryMessageSchema,
  recheckMessageSchema,
  poisonMessageSchema,
  streamRecordMessageSchema,
]);

/**
 * What the Kinesis mapping sends to its on-failure destination (the stream-failure queue): where the
 * batch was, not its records. Not a WAL message: AWS writes it.
 */
export const streamFailureSchema = z.object({
  KinesisBatchInfo: z.object({
    shardId: z.string(),
    startSequenceNumber: z.string(),
    endSequenceNumber: z.string(),
    streamArn: z.string(),
    batchSize: z.optional(z.number().check(z.int())),
  }),
});

export type QueueMessage = z.infer<typeof queueMessageSchema>;
export type DeliverMessage = z.infer<typeof deliverMessageSchema>;
export type RetryMessage = z.infer<typeof retryMessageSchema>;
export type RecheckMessage = z.infer<typeof recheckMessageSchema>;
export type PoisonMessage = z.infer<typeof poisonMessageSchema>;
export type StreamRecordMessage = z.infer<typeof streamRecordMessageSchema>;
export type StreamFailure = z.infer<typeof streamFailureSchema>;

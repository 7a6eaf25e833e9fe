import * as z from 'zod/mini';
import './zod-locale';

/**
 * The one envelope: what ingest writes to the stream and the ledger, and what every queue
 * message carries. Later features (items[], origin region, replay) extend it here.
 */
export const ENVELOPE_VERSION = 1;

export const mutationOpSchema = z.enum(['put', 'update', 'delete']);
export type MutationOp = z.infer<typeof mutationOpSchema>;

/**
 * One item of a multi-item mutation (`items[]`), normalised at ingest to the shape of a single-target
 * mutation: what `target` gets as `payload` (the item for a put, its key for an update or a delete) with
 * its own op and update. Applying an item is applying this to its one target.
 */
export const envelopeItemSchema = z.object({
  target: z.string().check(z.minLength(1)),
  /**
   * The table of the item's target at ingest, set when that target is DynamoDB (absent in records logged before
   * it existed): delivery applies no DynamoDB item when one of them lost its table since, which would split
   * their transaction.
   */
  table: z.optional(z.string()),
  op: mutationOpSchema,
  payload: z.unknown(),
  update: z.optional(
    z.object({
      set: z.optional(z.record(z.string(), z.unknown())),
      add: z.optional(z.record(z.string(), z.number())),
    }),
  ),
});

export type EnvelopeItem = z.infer<typeof envelopeItemSchema>;

/**
 * The `target` of a delivery of a multi-item mutation (`envelope.items`): the whole mutation is one delivery,
 * with per-item state in the message. Not a valid target name, so it cannot collide with one.
 */
export const ITEMS_DELIVERY_TARGET = '*items';

/** A mutation id: a ULID (Crockford base 32, 26 characters). */
export const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/i;

export const envelopeSchema = z.object({
  v: z.literal(ENVELOPE_VERSION),
  /** ULID: sortable by log time. */
  id: z.string().check(z.minLength(1)),
  namespace: z.string().check(z.minLength(1)),
  idempotencyKey: z.string().check(z.minLength(1)),
  partitionKey: z.string().check(z.minLength(1)),
  op: mutationOpSchema,
  // Optional: a multi-item mutation has none (JSON drops it), and zod/mini requires an unknown() key.
  payload: z.optional(z.unknown()),
  /** For op `update`: attributes to set, and numbers to add (counters), on the item `payload` keys. */
  update: z.optional(
    z.object({
      set: z.optional(z.record(z.string(), z.unknown())),
      add: z.optional(z.record(z.string(), z.number())),
    }),
  ),
  /** Target names to deliver to; absent means every target of the namespace. Never set with `items`. */
  targets: z.optional(z.array(z.string())),
  /**
   * A multi-item mutation: each item names its target. DynamoDB items are applied in one transaction,
   * the others one by one. With `items`, `payload` is absent and `op` is `put` (unused).
   */
  items: z.optional(z.array(envelopeItemSchema)),
  /** Log time, epoch milliseconds. */
  loggedAt: z.number().check(z.int()),
  /** Effective (delivery) time for a delayed mutation, epoch milliseconds. */
  deliverAt: z.optional(z.number().check(z.int())),
  /** Region the mutation was first logged in (replication does not send it back there). */
  origin: z.optional(z.string()),
  /** The namespace config's `version` at ingest (absent in records logged before versions existed). */
  configVersion: z.optional(z.number().check(z.int(), z.gte(1))),
});

export type Envelope = z.infer<typeof envelopeSchema>;

/** A mutation as the consumers see it: the envelope plus its place in the stream. */
export interface LoggedMutation {
  readonly envelope: Envelope;
  /** The Kinesis sequence number of the committed prepare. */
  readonly sequence: string;
}

/** The time a mutation takes effect: its delivery time if delayed, else its log time. */
export function effectiveTime(envelope: Envelope): number {
  return envelope.deliverAt ?? envelope.loggedAt;
}

// Kinesis sequence numbers are decimal strings of up to 128 digits; padding makes them compare as strings.
const SEQUENCE_WIDTH = 128;
const TIME_WIDTH = 15;

/**
 * The WAL's order of mutations for one key, as a string that compares lexicographically:
 * (effective time, stream sequence). A target keeps the mutation whose order is greatest.
 */
export function walOrder(mutation: LoggedMutation): string {
  const time = String(effectiveTime(mutation.envelope)).padStart(TIME_WIDTH, '0');
  return `${time}#${mutation.sequence.padStart(SEQUENCE_WIDTH, '0')}`;
}

export class InvalidEnvelopeError extends Error {
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Not a WAL envelope: ${reason}`, options);
    this.name = 'InvalidEnvelopeError';
  }
}

/** Parses an envelope from stream or queue bytes; throws InvalidEnvelopeError with the reason. */
export function parseEnvelope(raw: string): Envelope {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new InvalidEnvelopeError('the data is not JSON', { cause: error });
  }
  const result = envelopeSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new InvalidEnvelopeError(issues.join('; '), { cause: result.error });
  }
  return result.data;
}

import type { LoggedMutation, MutationOp } from '#lambdas/shared/envelope';

/** What an `update` mutation changes: attributes to set, numbers to add. */
export interface UpdateSpec {
  readonly set?: Record<string, unknown> | undefined;
  readonly add?: Record<string, number> | undefined;
}

/**
 * What applying a mutation did: `applied` (in its place in the key's WAL order), `duplicate` when the
 * target already holds it (a redelivery), `superseded` for a put that a later put or delete fully replaces,
 * `replaced` for an update or delete whose every effect later writes in the order replaced (in the final
 * state it has none, which is its place in the order).
 */
export type ApplyOutcome = 'applied' | 'superseded' | 'replaced' | 'duplicate';

/** What a target needs to know besides the mutation. */
export interface ApplyContext {
  /** Epoch milliseconds. */
  readonly now: number;
  /** The namespace's retention: how long a delete's tombstone must outlive it. */
  readonly retentionDays: number;
}

/** The one interface every target type implements (dynamodb now; queues, streams, http... later). */
export interface Target {
  readonly name: string;
  readonly type: string;
  /**
   * Problems with a payload for this target, checked at ingest so that bad input gets a 400 and
   * never reaches the DLQ. Empty when the payload is fine.
   */
  validate(payload: unknown, op: MutationOp, update?: UpdateSpec): string[];
  /** The key that orders mutations of the same item, used when the client gives no partition key. */
  partitionKeyOf(payload: unknown): string | undefined;
  /** Applies the mutation at least once, with effect once. Throws when the target fails. */
  apply(mutation: LoggedMutation, context: ApplyContext): Promise<ApplyOutcome>;
}

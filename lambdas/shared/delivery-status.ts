import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ITEMS_DELIVERY_TARGET, type LoggedMutation } from './envelope';
import { expiresAt } from './ledger';
import { LEDGER_PARTITION_KEY, LEDGER_TTL_ATTRIBUTE } from './ledger-schema';
import { errorMessage } from './logger';
import { LEDGER_MIN_RETENTION_DAYS, type NamespaceConfig } from './namespace-config';
import type { RetryMessage } from './queue-message';
import type { ApplyOutcome } from './targets';
import type { WalDependencies } from './wal-dependencies';

/**
 * The delivery status of a mutation: one item in the ledger table per mutation that has any, at
 * `#status#<namespace>#<id>` ({@link statusKey}), which no ledger entry can collide with (a ledger `pk` starts
 * with a namespace name, and those never start with `#`). One map attribute per target (`t:<target>`), each
 * written with one UpdateItem whose condition keeps it monotonic ({@link TargetStatus.rank}); a mutation-level
 * `hold` for a record the stream consumer could not route yet. Same TTL as the mutation's ledger entry.
 *
 * Failure states (retrying, dead-lettered, held back) are always recorded: they cost nothing on the happy path.
 * Delayed and applied cost a write per mutation and target, so only a namespace with `status.track: all` records
 * them. A status write that fails is logged and does not fail the delivery (docs/decisions.md "Status per target").
 */
export type RecordedState = 'delayed' | 'applied' | 'superseded' | 'retrying' | 'dead-lettered';

/** One target's recorded state. Times are epoch ms. */
export interface TargetStatus {
  readonly state: RecordedState;
  /** When this state was recorded. */
  readonly at: number;
  /**
   * Orders the states of one target: a write lands only over a lower rank (delayed 0; attempt n failed: retrying
   * 2n, dead-lettered 2n+1; done {@link DONE_RANK}). So a late retrying never hides an applied, and a redrive
   * after dead-lettered (its next failure is attempt n+1) or its success moves the state on.
   */
  readonly rank: number;
  /** delayed: when it is due. */
  readonly until?: number;
  /** applied or superseded: what the target did. */
  readonly outcome?: ApplyOutcome;
  /** retrying, dead-lettered: failed attempts so far, the last error, when the next attempt is due. */
  readonly attempts?: number;
  readonly lastError?: string;
  readonly firstFailedAt?: number;
  readonly nextAttemptAt?: number;
  /** dead-lettered: why it went to the DLQ. */
  readonly reason?: string;
  /** A multi-item mutation (target {@link ITEMS_DELIVERY_TARGET}): each item's own state. */
  readonly items?: readonly ItemStatus[];
}

export interface ItemStatus {
  readonly index: number;
  readonly target: string;
  readonly done: boolean;
  readonly error?: string;
}

/** Why the stream consumer did not route a record yet. */
export type HoldKind = 'commit' | 'key-lane' | 'route-failed';

export interface HoldStatus {
  readonly kind: HoldKind;
  readonly reason: string;
  readonly at: number;
}

/** What GET reads: the status item, if the mutation has one. */
export interface MutationStatus {
  readonly targets: ReadonlyMap<string, TargetStatus>;
  readonly hold?: HoldStatus;
}

export const DONE_RANK = 1_000_000_000;
const STATUS_KEY_PREFIX = '#status#';
const TARGET_ATTRIBUTE_PREFIX = 't:';
const HOLD_ATTRIBUTE = 'hold';

type StatusDependencies = Pick<WalDependencies, 'ledger' | 'logger' | 'now' | 'namespaces'>;

/** The status item's key: cannot collide with a ledger entry's `namespace#idempotencyKey`. */
export function statusKey(namespace: string, id: string): string {
  return `${STATUS_KEY_PREFIX}${namespace}#${id}`;
}

/** Delayed until `until` (epoch ms): recorded only when the namespace tracks `all`. */
export function recordDelayed(
  deps: StatusDependencies,
  config: NamespaceConfig,
  mutation: LoggedMutation,
  target: string,
  until: number,
): Promise<void> {
  if (config.status.track !== 'all') return Promise.resolve();
  return writeTargetStatus(deps, config, mutation, target, {
    state: 'delayed',
    at: deps.now(),
    rank: 0,
    until,
  });
}

/**
 * Applied (or superseded, replaced, duplicate): recorded when the namespace tracks `all`, or when an earlier
 * attempt failed (`afterFailure`): a failure was recorded then, and must not stay `retrying` or `dead-lettered`.
 * A first attempt that succeeds writes nothing under `failures`, so the happy path costs no status write.
 */
export function recordApplied(
  deps: StatusDependencies,
  config: NamespaceConfig,
  mutation: LoggedMutation,
  target: string,
  outcome: ApplyOutcome,
  afterFailure = false,
): Promise<void> {
  if (config.status.track !== 'all' && !afterFailure) return Promise.resolve();
  const state = outcome === 'superseded' || outcome === 'replaced' ? 'superseded' : 'applied';
  const items =
    target === ITEMS_DELIVERY_TARGET
      ? (mutation.envelope.items ?? []).map((item, index) => ({ index, target: item.target, done: true }))
      : undefined;
  return writeTargetStatus(deps, config, mutation, target, {
    state,
    at: deps.now(),
    rank: DONE_RANK,
    outcome,
    ...(items ? { items } : {}),
  });
}

/** A failed attempt: `retrying` until the next one, or `dead-lettered` when the failure carries its DLQ reason. */
export function recordFailure(
  deps: StatusDependencies,
  config: NamespaceConfig | undefined,
  failure: RetryMessage,
): Promise<void> {
  const dead = failure.reason !== undefined;
  return writeTargetStatus(deps, config, failure.mutation, failure.target, {
    state: dead ? 'dead-lettered' : 'retrying',
    at: deps.now(),
    rank: 2 * failure.attempt + (dead ? 1 : 0),
    attempts: failure.attempt,
    lastError: failure.lastError,
    firstFailedAt: failure.firstFailedAt,
    ...(dead ? { reason: failure.reason } : { nextAttemptAt: failure.notBefore }),
    ...itemsOf(failure),
  });
}

/** The per-item state of a multi-item delivery's failure, from its `itemsDone` and `itemErrors`. */
function itemsOf(failure: RetryMessage): { items?: ItemStatus[] } {
  const items = failure.mutation.envelope.items;
  if (failure.target !== ITEMS_DELIVERY_TARGET || !items) return {};
  const done = new Set(failure.itemsDone ?? []);
  const errors = new Map((failure.itemErrors ?? []).map(({ index, error }) => [index, error]));
  return {
    items: items.map((item, index) => {
      const error = errors.get(index);
      return { index, target: item.target, done: done.has(index), ...(error !== undefined ? { error } : {}) };
    }),
  };
}

/** The stream consumer did not route the record yet (why: `hold`). Always recorded: it is the failure path. */
export async function recordHold(
  deps: StatusDependencies,
  mutation: LoggedMutation,
  kind: HoldKind,
  reason: string,
): Promise<void> {
  const hold: HoldStatus = { kind, reason, at: deps.now() };
  const config = await configOrUndefined(deps, mutation.envelope.namespace);
  await writeStatus(
    deps,
    mutation,
    'SET #hold = :hold, #ttl = :ttl',
    { '#hold': HOLD_ATTRIBUTE },
    {
      ':hold': hold,
      ':ttl': ttlOf(mutation, config),
    },
  );
}

/** The held record was routed after all (the recheck found it committed): the hold is over. */
export async function clearHold(deps: StatusDependencies, mutation: LoggedMutation): Promise<void> {
  // Conditional: an UpdateItem on a missing item would create one, without a TTL.
  await writeStatus(
    deps,
    mutation,
    'REMOVE #hold',
    { '#hold': HOLD_ATTRIBUTE },
    {},
    'attribute_exists(#hold)',
  );
}

/** One strongly consistent GetItem; undefined when the mutation has no status item. */
export async function readMutationStatus(
  deps: Pick<WalDependencies, 'ledger'>,
  namespace: string,
  id: string,
): Promise<MutationStatus | undefined> {
  const answer = await deps.ledger.documentClient.send(
    new GetCommand({
      TableName: deps.ledger.tableName,
      Key: { [LEDGER_PARTITION_KEY]: statusKey(namespace, id) },
      ConsistentRead: true,
    }),
  );
  if (!answer.Item) return undefined;
  const targets = new Map<string, TargetStatus>();
  for (const [name, value] of Object.entries(answer.Item)) {
    if (name.startsWith(TARGET_ATTRIBUTE_PREFIX)) {
      targets.set(name.slice(TARGET_ATTRIBUTE_PREFIX.length), value as TargetStatus);
    }
  }
  const hold = answer.Item[HOLD_ATTRIBUTE] as HoldStatus | undefined;
  return { targets, ...(hold ? { hold } : {}) };
}

async function writeTargetStatus(
  deps: StatusDependencies,
  config: NamespaceConfig | undefined,
  mutation: LoggedMutation,
  target: string,
  status: TargetStatus,
): Promise<void> {
  // Delayed may be written again (another hop), so it lands over an equal rank; the others only over a lower one.
  const condition = status.rank === 0 ? '#target.#rank <= :rank' : '#target.#rank < :rank';
  await writeStatus(
    deps,
    mutation,
    'SET #target = :status, #ttl = :ttl',
    { '#target': `${TARGET_ATTRIBUTE_PREFIX}${target}`, '#rank': 'rank' },
    { ':status': status, ':rank': status.rank, ':ttl': ttlOf(mutation, config) },
    `attribute_not_exists(#target) OR ${condition}`,
    { target, state: status.state },
  );
}

/**
 * One UpdateItem on the status item. A condition that fails is the monotonic rule at work (a later state is
 * there already); any other failure is logged and swallowed: the status is an observation, and failing the
 * delivery for it would retry (and in the end dead-letter) mutations that were applied.
 */
async function writeStatus(
  deps: StatusDependencies,
  mutation: LoggedMutation,
  update: string,
  names: Record<string, string>,
  values: Record<string, unknown>,
  condition?: string,
  context: Record<string, string> = {},
): Promise<void> {
  const { namespace, id } = mutation.envelope;
  try {
    await deps.ledger.documentClient.send(
      new UpdateCommand({
        TableName: deps.ledger.tableName,
        Key: { [LEDGER_PARTITION_KEY]: statusKey(namespace, id) },
        UpdateExpression: update,
        ...(condition ? { ConditionExpression: condition } : {}),
        ExpressionAttributeNames: {
          ...names,
          ...(update.includes('#ttl') ? { '#ttl': LEDGER_TTL_ATTRIBUTE } : {}),
        },
        ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return;
    deps.logger.warn('Status write failed', { namespace, id, ...context, error: errorMessage(error) });
  }
}

/** The status item lives as long as the mutation's ledger entry. */
function ttlOf(mutation: LoggedMutation, config: NamespaceConfig | undefined): number {
  return expiresAt(mutation.envelope.loggedAt, config?.retentionDays ?? LEDGER_MIN_RETENTION_DAYS);
}

async function configOrUndefined(
  deps: StatusDependencies,
  namespace: string,
): Promise<NamespaceConfig | undefined> {
  try {
    return await deps.namespaces.get(namespace);
  } catch {
    return undefined;
  }
}

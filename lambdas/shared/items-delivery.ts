import type { Logger } from '@aws-lambda-powertools/logger';
import type { EnvelopeItem, LoggedMutation } from './envelope';
import { crashPoint } from './faults';
import { errorMessage } from './logger';
import type { NamespaceConfig, TargetConfig } from './namespace-config';
import { ITEMS_DELIVERY_TARGET, type RetryMessage } from './queue-message';
import { createTarget, type TargetClients } from './targets';
import { DynamoDbTarget } from './targets/dynamodb-target';
import {
  applyInTransaction,
  type TransactionItem,
  TransactionItemError,
} from './targets/dynamodb-transaction';
import { UnorderableMutationError } from './targets/item-history';
import { PermanentTargetError } from './targets/target-errors';

/**
 * The delivery of a multi-item mutation (`envelope.items`), one delivery for all its items: the DynamoDB
 * items not done yet in one transaction (all or none), then every other item on its own. What succeeded goes
 * into `itemsDone`, so a retry, or a redrive of the DLQ message, applies only what is left. Each item is applied
 * as the single-target mutation it was normalised to (same id and place in the WAL's order, the item's op,
 * payload and update), so the per-key semantics of a single-target mutation hold for each item.
 */

/** What applying items needs of the consumers' dependencies. */
export interface ItemsDeliveryDependencies {
  readonly targetClients: TargetClients;
  readonly logger: Logger;
  readonly now: () => number;
}

/** A delivery of a multi-item mutation (the fields of delivery.ts's TargetDelivery it reads). */
export interface ItemsDelivery {
  readonly config: NamespaceConfig;
  readonly mutation: LoggedMutation;
  readonly failedAttempts?: number;
  readonly firstFailedAt?: number | undefined;
  readonly itemsDone?: readonly number[] | undefined;
}

/** One item's failure in this attempt. */
interface ItemFailure {
  readonly index: number;
  readonly error: unknown;
}

/** A failed attempt: the retry (or DLQ) message, and the error that decides whether retrying can help. */
export interface FailedItemsDelivery {
  readonly message: RetryMessage;
  readonly error: unknown;
}

/** The items still to do, by how they are applied. */
interface ItemsPlan {
  readonly transaction: TransactionItem[];
  readonly others: { readonly index: number; readonly item: EnvelopeItem; readonly target: TargetConfig }[];
  readonly failures: ItemFailure[];
}

/**
 * Applies the items of `delivery` not in its `itemsDone`. Resolves with undefined when every item is applied,
 * else with the retry message that carries what is done and why each other item failed.
 */
export async function applyItems(
  deps: ItemsDeliveryDependencies,
  delivery: ItemsDelivery,
): Promise<FailedItemsDelivery | undefined> {
  const { config, mutation } = delivery;
  const done = new Set(delivery.itemsDone ?? []);
  const { transaction, others, failures } = planItems(deps, delivery, done);
  const context = { now: deps.now(), retentionDays: config.retentionDays };
  if (transaction.length > 0) {
    try {
      await applyInTransaction(deps.targetClients.documentClient, transaction, context);
      for (const item of transaction) done.add(item.index);
    } catch (error) {
      failures.push(...transactionFailures(transaction, error));
    }
  }
  for (const { index, item, target } of others) {
    try {
      await createTarget(target, deps.targetClients).apply(itemMutation(mutation, item), context);
      done.add(index);
    } catch (error) {
      failures.push({ index, error });
    }
  }
  crashPoint('after-target-write');
  return failed(deps, delivery, done, failures);
}

/** An item not done yet, with its target in the namespace config of this attempt (undefined: removed). */
interface PendingItem {
  readonly index: number;
  readonly item: EnvelopeItem;
  readonly target: TargetConfig | undefined;
}

/**
 * Sorts the items not done yet: DynamoDB ones into the transaction, the others one by one. When a DynamoDB item's
 * target was removed or changed since ingest, no DynamoDB item is applied: the others alone would split the
 * transaction (all or none); each gets a permanent error (the DLQ, with the reason, for an operator to decide).
 */
function planItems(deps: ItemsDeliveryDependencies, delivery: ItemsDelivery, done: Set<number>): ItemsPlan {
  const { config, mutation } = delivery;
  const plan: ItemsPlan = { transaction: [], others: [], failures: [] };
  const pending = (mutation.envelope.items ?? []).flatMap((item, index): PendingItem[] =>
    done.has(index)
      ? []
      : [{ index, item, target: config.targets.find((candidate) => candidate.name === item.target) }],
  );
  const broken = transactionBreaks(pending);
  const [first] = broken.values();
  for (const { index, item, target } of pending) {
    const cause = broken.get(index);
    if (cause !== undefined) {
      plan.failures.push({ index, error: new PermanentTargetError(item.target, cause) });
    } else if (first !== undefined && isTransactional(item, target)) {
      plan.failures.push({ index, error: new PermanentTargetError(item.target, `not applied: ${first}`) });
    } else if (!target) {
      const removed = new PermanentTargetError(item.target, 'the namespace has no such target any more');
      plan.failures.push({ index, error: removed });
    } else if (target.type === 'dynamodb') {
      const dynamoDb = new DynamoDbTarget(target, deps.targetClients.documentClient);
      plan.transaction.push({ index, target: dynamoDb, mutation: itemMutation(mutation, item) });
    } else {
      plan.others.push({ index, item, target });
    }
  }
  return plan;
}

/** A DynamoDB item at ingest (its table recorded), or now (records logged before tables were recorded). */
function isTransactional(item: EnvelopeItem, target: TargetConfig | undefined): boolean {
  return item.table !== undefined || target?.type === 'dynamodb';
}

/**
 * The items whose change since ingest breaks the transaction, with why (by index). An item logged without its
 * table (before tables were recorded) may have been a DynamoDB item: its removed target breaks it too, when the
 * mutation has DynamoDB items left.
 */
function transactionBreaks(pending: readonly PendingItem[]): Map<number, string> {
  const recorded = pending.some(({ item }) => item.table !== undefined);
  const transactional = pending.some(({ item, target }) => isTransactional(item, target));
  const breaks = new Map<number, string>();
  for (const { index, item, target } of pending) {
    const change = changeSinceIngest(item, target, recorded);
    if (change !== undefined && transactional) {
      breaks.set(
        index,
        `item ${index}'s target "${item.target}" ${change} since the mutation was logged; applying the other ` +
          'DynamoDB items without it would split their transaction (all or none), so none is applied',
      );
    }
  }
  return breaks;
}

function changeSinceIngest(
  item: EnvelopeItem,
  target: TargetConfig | undefined,
  recorded: boolean,
): string | undefined {
  if (item.table === undefined) return recorded || target ? undefined : 'was removed from the namespace';
  if (!target) return `(table "${item.table}") was removed from the namespace`;
  if (target.type !== 'dynamodb') return `(table "${item.table}") became a target of type ${target.type}`;
  if (target.tableName !== item.table) {
    return `moved from table "${item.table}" to table "${target.tableName}"`;
  }
  return undefined;
}

/** The single-target mutation an item stands for: the same id and order, the item's op, payload and update. */
function itemMutation(mutation: LoggedMutation, item: EnvelopeItem): LoggedMutation {
  const { items: _items, targets: _targets, update: _update, ...envelope } = mutation.envelope;
  return {
    sequence: mutation.sequence,
    envelope: {
      ...envelope,
      op: item.op,
      payload: item.payload,
      ...(item.update ? { update: item.update } : {}),
    },
  };
}

/** One item's own failure fails it; the others of the transaction are not applied either (all or none). */
function transactionFailures(transaction: TransactionItem[], error: unknown): ItemFailure[] {
  if (!(error instanceof TransactionItemError)) {
    return transaction.map((item) => ({ index: item.index, error }));
  }
  return transaction.map((item) =>
    item.index === error.index
      ? { index: item.index, error: error.cause }
      : { index: item.index, error: new NotAppliedWithItemError(error.index) },
  );
}

/** An item of a transaction that one other item of it failed: all or none. */
class NotAppliedWithItemError extends Error {
  constructor(readonly failedIndex: number) {
    super(`not applied: item ${failedIndex} of the same transaction failed (all or none)`);
    this.name = 'NotAppliedWithItemError';
  }
}

/** Errors that retrying cannot mend: the DLQ takes the delivery at once, with each item's reason. */
function isPermanent(error: unknown): boolean {
  return (
    error instanceof UnorderableMutationError ||
    error instanceof PermanentTargetError ||
    (error as { name?: string } | undefined)?.name === 'ValidationException'
  );
}

function failed(
  deps: ItemsDeliveryDependencies,
  delivery: ItemsDelivery,
  done: Set<number>,
  failures: ItemFailure[],
): FailedItemsDelivery | undefined {
  const { mutation } = delivery;
  const items = mutation.envelope.items ?? [];
  const log = { namespace: mutation.envelope.namespace, id: mutation.envelope.id, items: items.length };
  if (failures.length === 0) {
    deps.logger.debug('Mutation items applied', log);
    return undefined;
  }
  failures.sort((a, b) => a.index - b.index);
  const itemErrors = failures.map(({ index, error }) => ({ index, error: errorMessage(error) }));
  const permanent = failures.find((failure) => isPermanent(failure.error));
  const lastError = itemErrors
    .map(({ index, error }) => `item ${index} (target "${items[index]?.target}"): ${error}`)
    .join('; ');
  const message: RetryMessage = {
    kind: 'retry',
    mutation,
    target: ITEMS_DELIVERY_TARGET,
    attempt: (delivery.failedAttempts ?? 0) + 1,
    lastError,
    firstFailedAt: delivery.firstFailedAt ?? deps.now(),
    notBefore: deps.now(),
    itemsDone: [...done].sort((a, b) => a - b),
    itemErrors,
  };
  // A permanent item error decides (the DLQ now); otherwise the first failure stands for the attempt.
  return { message, error: permanent?.error ?? failures[0]?.error };
}

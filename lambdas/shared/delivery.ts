import type { SQSClient } from '@aws-sdk/client-sqs';
import { backoffMs } from './backoff';
import { recordApplied, recordDelayed, recordFailure } from './delivery-status';
import type { LoggedMutation } from './envelope';
import { crashPoint } from './faults';
import { applyItems } from './items-delivery';
import { errorMessage } from './logger';
import type { NamespaceConfig } from './namespace-config';
import { UnknownNamespaceError } from './namespace-store';
import { ITEMS_DELIVERY_TARGET, type RetryMessage } from './queue-message';
import { deadLetter, sendToQueue } from './queue-send';
import { type ApplyOutcome, createTarget, type TargetClients } from './targets';
import { UnorderableMutationError } from './targets/item-history';
import { PermanentTargetError } from './targets/target-errors';
import type { WaitingRoom } from './waiting-room';
import type { WalDependencies } from './wal-dependencies';

// Kept here too for the consumers that import them with the rest of delivery.
export { deadLetter, sendToQueue } from './queue-send';

/** How long an uncommitted record waits on the delay queue before its ledger entry is read again. */
export const RECHECK_DELAY_MS = 5_000;

export interface QueueUrls {
  readonly delay: string;
  readonly retry: string;
  readonly deadLetter: string;
}

/** What the consumers need to route and deliver; built once per Lambda container. */
export interface DeliveryDependencies extends WalDependencies {
  readonly sqs: SQSClient;
  /** The clients the targets write with. */
  readonly targetClients: TargetClients;
  readonly queues: QueueUrls;
  /** Where waits longer than SQS's 900 s wait (lambdas/shared/waiting-room-schema.ts). */
  readonly waitingRoom: WaitingRoom;
  /** How long a prepared record may stay uncommitted before the consumer fences it. */
  readonly commitTimeoutMs: number;
}

/**
 * Routes a committed mutation: each selected target gets it now, or through the delay queue when
 * it is due later. Each target has its own retry state. Throws only if a queue cannot be reached,
 * so the caller's batch retries the record and nothing is lost.
 */
export async function routeCommitted(deps: DeliveryDependencies, mutation: LoggedMutation): Promise<void> {
  const { envelope } = mutation;
  const config = await namespaceOrDeadLetter(deps, mutation);
  if (!config) return;
  // A multi-item mutation is one delivery, whatever targets its items name.
  const names = envelope.items
    ? [ITEMS_DELIVERY_TARGET]
    : (envelope.targets ?? config.targets.map((target) => target.name));
  for (const target of names) {
    const due = envelope.deliverAt ?? 0;
    if (due > deps.now()) {
      const queue = deliveryQueues(deps, config).delay;
      await sendToQueue(deps, queue, { kind: 'deliver', mutation, target, notBefore: due }, due);
      await recordDelayed(deps, config, mutation, target, due);
      deps.logger.debug('Mutation delayed', {
        namespace: envelope.namespace,
        id: envelope.id,
        target,
        deliverAt: due,
      });
    } else {
      await deliverToTarget(deps, { config, mutation, target });
    }
  }
}

/** The delay and retry queues of a namespace: its own when it is isolated, else the WAL's shared ones. */
export function deliveryQueues(
  deps: Pick<DeliveryDependencies, 'queues'>,
  config: NamespaceConfig,
): Pick<QueueUrls, 'delay' | 'retry'> {
  return config.delivery.queues ?? deps.queues;
}

/** One delivery of a mutation to one of its targets. */
export interface TargetDelivery {
  readonly config: NamespaceConfig;
  readonly mutation: LoggedMutation;
  readonly target: string;
  /** Earlier failed attempts of this delivery; 0 (the default) for a first one. */
  readonly failedAttempts?: number;
  /** When its first attempt failed (epoch ms); unset for a first delivery. */
  readonly firstFailedAt?: number | undefined;
  /** A multi-item delivery: the items applied already (lambdas/shared/items-delivery.ts). */
  readonly itemsDone?: readonly number[] | undefined;
}

/**
 * Applies a mutation to one target. A failure goes to the retry queue with its backoff, or to the
 * DLQ once the namespace's max attempts are spent.
 */
export async function deliverToTarget(deps: DeliveryDependencies, delivery: TargetDelivery): Promise<void> {
  const { config, mutation, target } = delivery;
  if (target === ITEMS_DELIVERY_TARGET) {
    const failed = await applyItems(deps, delivery);
    if (failed) await retryOrDeadLetter(deps, config, failed.message, failed.error);
    else await recordApplied(deps, config, mutation, target, 'applied', (delivery.failedAttempts ?? 0) > 0);
    return;
  }
  const attempt = (delivery.failedAttempts ?? 0) + 1;
  const targetConfig = config.targets.find((candidate) => candidate.name === target);
  if (!targetConfig) {
    const removed: RetryMessage = {
      kind: 'retry',
      mutation,
      target,
      attempt,
      lastError: `namespace "${mutation.envelope.namespace}" has no target "${target}" any more`,
      firstFailedAt: delivery.firstFailedAt ?? deps.now(),
      notBefore: deps.now(),
      reason: 'target-removed',
    };
    await deadLetter(deps, removed);
    await recordFailure(deps, config, removed);
    return;
  }
  const context = { namespace: mutation.envelope.namespace, id: mutation.envelope.id, target, attempt };
  try {
    const outcome = await createTarget(targetConfig, deps.targetClients).apply(mutation, {
      now: deps.now(),
      retentionDays: config.retentionDays,
    });
    crashPoint('after-target-write');
    // After a failure (retry or DLQ redrive) even `track: failures` records it: else it shows `retrying` forever.
    await recordApplied(deps, config, mutation, target, outcome, attempt > 1);
    deps.logger.debug(OUTCOME_LOG_MESSAGES[outcome], context);
  } catch (error) {
    const failure: RetryMessage = {
      kind: 'retry',
      mutation,
      target,
      attempt,
      lastError: errorMessage(error),
      firstFailedAt: delivery.firstFailedAt ?? deps.now(),
      notBefore: deps.now(),
    };
    await retryOrDeadLetter(deps, config, failure, error);
  }
}

/** A failed attempt: the DLQ if retrying cannot help or the attempts are spent, else the retry queue. */
async function retryOrDeadLetter(
  deps: DeliveryDependencies,
  config: NamespaceConfig,
  failure: RetryMessage,
  error: unknown,
): Promise<void> {
  const reason = giveUpReason(config, failure, error);
  if (reason !== undefined) {
    await deadLetter(deps, { ...failure, reason });
    await recordFailure(deps, config, { ...failure, reason });
    return;
  }
  const notBefore = deps.now() + backoffMs(config.retry, failure.attempt, deps.random);
  await sendToQueue(deps, deliveryQueues(deps, config).retry, { ...failure, notBefore }, notBefore);
  await recordFailure(deps, config, { ...failure, notBefore });
  deps.logger.warn('Mutation retry scheduled', {
    namespace: failure.mutation.envelope.namespace,
    id: failure.mutation.envelope.id,
    target: failure.target,
    attempt: failure.attempt,
    error: failure.lastError,
    notBefore,
  });
}

/** Why a failed delivery goes to the DLQ, or undefined when it is retried. */
function giveUpReason(config: NamespaceConfig, failure: RetryMessage, error: unknown): string | undefined {
  // Its place in the key's order can no longer be found: guessing could undo or double a write.
  if (error instanceof UnorderableMutationError) return error.message;
  // The target refuses this mutation as such: retrying cannot help.
  if (isRejection(error)) return `rejected by the target: ${failure.lastError}`;
  if (failure.attempt >= config.retry.maxAttempts) {
    return `failed ${failure.attempt} of ${config.retry.maxAttempts} attempts`;
  }
  return undefined;
}

const OUTCOME_LOG_MESSAGES: Record<ApplyOutcome, string> = {
  applied: 'Mutation applied',
  duplicate: 'Mutation already applied',
  superseded: 'Mutation superseded',
  replaced: 'Mutation replaced by later writes',
};

/** Errors that say the target refuses the mutation itself (not the target's health): retrying cannot help. */
function isRejection(error: unknown): boolean {
  return (
    error instanceof PermanentTargetError ||
    (error as { name?: string } | undefined)?.name === 'ValidationException'
  );
}

/** The namespace's config; a namespace that no longer exists sends the mutation to the DLQ. */
async function namespaceOrDeadLetter(
  deps: DeliveryDependencies,
  mutation: LoggedMutation,
): Promise<NamespaceConfig | undefined> {
  try {
    return await deps.namespaces.get(mutation.envelope.namespace);
  } catch (error) {
    if (!(error instanceof UnknownNamespaceError)) throw error;
    await deadLetter(deps, {
      kind: 'poison',
      reason: `namespace "${mutation.envelope.namespace}" does not exist any more`,
      data: Buffer.from(JSON.stringify(mutation)).toString('base64'),
      source: 'route',
      namespace: mutation.envelope.namespace,
      id: mutation.envelope.id,
    });
    return undefined;
  }
}

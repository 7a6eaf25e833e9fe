import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import {
  type DeliveryDependencies,
  deadLetter,
  deliverToTarget,
  deliveryQueues,
  type QueueUrls,
  RECHECK_DELAY_MS,
  routeCommitted,
  sendToQueue,
} from '#lambdas/shared/delivery';
import { clearHold } from '#lambdas/shared/delivery-status';
import { crashPoint } from '#lambdas/shared/faults';
import { commitStateOf, fenceLedgerEntry, getLedgerEntry } from '#lambdas/shared/ledger';
import { errorMessage } from '#lambdas/shared/logger';
import { DAY_MS, LEDGER_MIN_RETENTION_DAYS, SHORTEST_HISTORY_MS } from '#lambdas/shared/namespace-config';
import { type NamespaceConfigSource, UnknownNamespaceError } from '#lambdas/shared/namespace-store';
import {
  type DeliverMessage,
  loggedMutationSchema,
  type PoisonMessage,
  type QueueMessage,
  queueMessageSchema,
  type RecheckMessage,
  type RetryMessage,
  type StreamFailure,
  streamFailureSchema,
} from '#lambdas/shared/queue-message';
import { handleStreamRecordCopy, rereadFailedBatch } from './reread-stream';

const LEDGER_EXPIRED = 'ledger-expired';

/**
 * Consumes the delay and retry queues, the stream's on-failure queue, and messages an operator
 * redrove from the DLQ. Each message
 * is handled on its own; one that throws is reported as a batch item failure, so SQS delivers it
 * again and, after maxReceiveCount, its redrive policy moves it to the DLQ.
 */
export async function consumeQueueBatch(
  deps: DeliveryDependencies,
  event: SQSEvent,
): Promise<SQSBatchResponse> {
  const processor = new BatchProcessor(EventType.SQS);
  const response = await processPartialResponse(
    event,
    (record: SQSRecord) => handleMessage(deps, record),
    processor,
  );
  crashPoint('before-batch-response');
  return response;
}

async function handleMessage(deps: DeliveryDependencies, record: SQSRecord): Promise<void> {
  const message = parseBody(record);
  if (message && 'KinesisBatchInfo' in message) {
    await rereadFailedBatch(deps, message);
    return;
  }
  if (!message) {
    await deadLetter(deps, {
      kind: 'poison',
      reason: 'the message is not a WAL queue message',
      data: Buffer.from(record.body).toString('base64'),
      source: `${record.eventSourceARN} message ${record.messageId}`,
    });
    return;
  }
  if ((message.kind === 'deliver' || message.kind === 'retry') && (await hopIfEarly(deps, record, message))) {
    return;
  }
  switch (message.kind) {
    case 'deliver':
      return deliverDelayed(deps, message);
    case 'retry':
      return retry(deps, message);
    case 'recheck':
      return recheck(deps, message);
    case 'poison':
      return redrivePoison(deps, message);
    case 'stream-record':
      return handleStreamRecordCopy(deps, message);
  }
}

/** The message as one of the WAL's own shapes, or as a stream-failure record; undefined if neither. */
function parseBody(record: SQSRecord): QueueMessage | StreamFailure | undefined {
  let json: unknown;
  try {
    json = JSON.parse(record.body);
  } catch {
    return undefined;
  }
  const message = queueMessageSchema.safeParse(json);
  if (message.success) return message.data;
  const failure = streamFailureSchema.safeParse(json);
  return failure.success ? failure.data : undefined;
}

/**
 * The queues a waiting message hops on: its namespace's (isolated or shared). Any of them is correct, as one
 * consumer drains them all, so a namespace whose config cannot be read now hops on the shared ones.
 */
async function queuesOfNamespace(
  deps: DeliveryDependencies,
  namespace: string,
): Promise<Pick<QueueUrls, 'delay' | 'retry'>> {
  try {
    return deliveryQueues(deps, await deps.namespaces.get(namespace));
  } catch {
    return deps.queues;
  }
}

/**
 * Re-enqueues a message that is not due yet: one that arrived early, one too large for the waiting room (it hops
 * every 900 s), or one that was hopping when the waiting room was deployed (its next hop lands in the room).
 */
async function hopIfEarly(
  deps: DeliveryDependencies,
  record: SQSRecord,
  message: DeliverMessage | RetryMessage,
): Promise<boolean> {
  // Up to a second early is fine: SQS delays are whole seconds.
  if (message.notBefore - deps.now() <= 1_000) return false;
  const queues = await queuesOfNamespace(deps, message.mutation.envelope.namespace);
  const queueUrl = message.kind === 'deliver' ? queues.delay : queues.retry;
  await sendToQueue(deps, queueUrl, message, message.notBefore);
  deps.logger.debug('Message hopped', { messageId: record.messageId, notBefore: message.notBefore });
  return true;
}

async function deliverDelayed(deps: DeliveryDependencies, message: DeliverMessage): Promise<void> {
  const config = await configOrDeadLetter(deps.namespaces, deps, message);
  if (config) {
    const { mutation, target, itemsDone } = message;
    await deliverToTarget(deps, { config, mutation, target, itemsDone });
  }
}

async function retry(deps: DeliveryDependencies, message: RetryMessage): Promise<void> {
  const config = await configOrDeadLetter(deps.namespaces, deps, message);
  if (config) {
    await deliverToTarget(deps, {
      config,
      mutation: message.mutation,
      target: message.target,
      failedAttempts: message.attempt,
      firstFailedAt: message.firstFailedAt,
      itemsDone: message.itemsDone,
    });
  }
}

/**
 * A prepared record that was not committed when the stream consumer saw it. Committed now: route
 * it. Still not committed after the commit timeout: fence it, so a late commit fails and the
 * client is told FAIL. Otherwise look again later.
 */
async function recheck(deps: DeliveryDependencies, message: RecheckMessage): Promise<void> {
  const { envelope } = message.mutation;
  const context = { namespace: envelope.namespace, id: envelope.id };
  const entry = await getLedgerEntry(deps.ledger, envelope.namespace, envelope.idempotencyKey);
  const state = commitStateOf(entry, envelope.id, message.mutation.sequence);
  if (state === 'committed') {
    deps.logger.info('Mutation routed after recheck', context);
    await routeCommitted(deps, message.mutation);
    await clearHold(deps, message.mutation);
    return;
  }
  if (state !== 'uncommitted') {
    deps.logger.info('Recheck found nothing to route', { ...context, state });
    return;
  }
  if (deps.now() - envelope.loggedAt >= deps.commitTimeoutMs) {
    const retentionDays = await retentionDaysOf(deps.namespaces, envelope.namespace);
    if (entry === undefined && deps.now() - envelope.loggedAt >= SHORTEST_HISTORY_MS) {
      // Old enough that its ledger entry may have expired: a missing entry no longer proves it was never
      // committed, and fencing it could drop an acknowledged mutation. An operator decides.
      await deadLetter(deps, {
        kind: 'poison',
        reason:
          `${LEDGER_EXPIRED}: the record is ${Math.floor((deps.now() - envelope.loggedAt) / DAY_MS)} days old and the ` +
          `ledger (entries live at least ${LEDGER_MIN_RETENTION_DAYS} days) has no entry for its key, so whether it ` +
          'was committed is unknown',
        data: Buffer.from(JSON.stringify(message.mutation)).toString('base64'),
        source: 'recheck',
        namespace: envelope.namespace,
        id: envelope.id,
      });
      return;
    }
    if (await fenceLedgerEntry(deps.ledger, envelope, deps.now(), retentionDays)) {
      deps.logger.warn('Uncommitted prepare fenced', context);
      return;
    }
    // The key was committed meanwhile: the next recheck routes it if it was this attempt.
  }
  await sendToQueue(deps, deps.queues.delay, message, deps.now() + RECHECK_DELAY_MS);
}

/**
 * A redriven poison message. One that holds a logged mutation (its namespace was gone) is routed
 * again, and goes back to the DLQ if the namespace is still gone; other bytes stay unroutable.
 */
async function redrivePoison(deps: DeliveryDependencies, message: PoisonMessage): Promise<void> {
  if (message.reason.startsWith(LEDGER_EXPIRED)) {
    // Routing it could apply a mutation answered FAIL; only a person who knows it was acknowledged can
    // send it again (runbook: re-POST it with its idempotency key).
    await deadLetter(deps, { ...message, reason: `${message.reason} (redriven: still not routed)` });
    return;
  }
  const mutation = loggedMutationSchema.safeParse(
    parseJson(Buffer.from(message.data, 'base64').toString('utf8')),
  );
  if (mutation.success) {
    await routeCommitted(deps, mutation.data);
    return;
  }
  await deadLetter(deps, { ...message, reason: `${message.reason} (redriven, still not routable)` });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function retentionDaysOf(namespaces: NamespaceConfigSource, namespace: string): Promise<number> {
  try {
    return (await namespaces.get(namespace)).retentionDays;
  } catch (error) {
    if (error instanceof UnknownNamespaceError) return LEDGER_MIN_RETENTION_DAYS;
    throw error;
  }
}

async function configOrDeadLetter(
  namespaces: NamespaceConfigSource,
  deps: DeliveryDependencies,
  message: DeliverMessage | RetryMessage,
) {
  try {
    return await namespaces.get(message.mutation.envelope.namespace);
  } catch (error) {
    if (!(error instanceof UnknownNamespaceError)) throw error;
    await deadLetter(deps, {
      kind: 'retry',
      mutation: message.mutation,
      target: message.target,
      attempt: message.kind === 'retry' ? message.attempt : 1,
      lastError: errorMessage(error),
      firstFailedAt: message.kind === 'retry' ? message.firstFailedAt : deps.now(),
      notBefore: deps.now(),
      reason: 'unknown-namespace',
    });
    return undefined;
  }
}

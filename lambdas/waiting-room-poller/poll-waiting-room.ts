import type { Logger } from '@aws-lambda-powertools/logger';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type BatchResultErrorEntry,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { chunkBySize } from '#lambdas/shared/chunks';
import { crashPoint } from '#lambdas/shared/faults';
import { errorMessage } from '#lambdas/shared/logger';
import type { DeliverMessage, RetryMessage } from '#lambdas/shared/queue-message';
import { deadLetter, sqsDelaySeconds } from '#lambdas/shared/queue-send';
import { hasSqsRefusedCharacter } from '#lambdas/shared/storable-json';
import { bucketOf, partitionKeyOf, type WaitingItem, type WaitingRoom } from '#lambdas/shared/waiting-room';
import {
  WAITING_ROOM_LOOKAHEAD_MS,
  WAITING_ROOM_PARTITION_KEY,
  WAITING_ROOM_SHARDS,
  WAITING_ROOM_SORT_KEY,
} from '#lambdas/shared/waiting-room-schema';

/** Items per Query page: ten SendMessageBatch calls, then the checkpoint moves. */
const PAGE_ITEMS = 100;
/** SendMessageBatch: at most 10 entries and 1 MiB of bodies per call. */
const BATCH_ENTRIES = 10;
const BATCH_BYTES = 1_048_576;
/** Waits before sending again what SQS failed for now (`SenderFault: false`, throttling, 5xx): short, within the run. */
const SEND_RETRY_DELAYS_MS = [100, 400, 1_000];
/**
 * Whole-call errors that the queue gives every time until an operator acts (its KMS key disabled, deleted, or not
 * usable by the poller; a body SQS refuses): its items go to the DLQ instead of blocking the waiting room.
 */
const PERMANENT_CALL_ERRORS: ReadonlySet<string> = new Set([
  'InvalidMessageContents',
  'KmsAccessDenied',
  'KmsDisabled',
  'KmsInvalidKeyUsage',
  'KmsInvalidState',
  'KmsNotFound',
  'KmsOptInRequired',
  // The same errors by their SQS error codes, as an SDK that does not map them names them.
  'KMS.AccessDeniedException',
  'KMS.DisabledException',
  'KMS.InvalidKeyUsageException',
  'KMS.InvalidStateException',
  'KMS.NotFoundException',
  'KMS.OptInRequired',
]);
/** The checkpoint item: where the poller goes on from. It has no TTL. */
const CHECKPOINT_KEY = { [WAITING_ROOM_PARTITION_KEY]: 'checkpoint', [WAITING_ROOM_SORT_KEY]: 'checkpoint' };

export interface PollerDependencies {
  readonly waitingRoom: WaitingRoom;
  readonly sqs: SQSClient;
  /** The shared delay queue: where a message goes when the queue it names no longer exists. */
  readonly fallbackQueueUrl: string;
  /** The shared DLQ: where a message goes that SQS refuses for good. */
  readonly deadLetterQueueUrl: string;
  readonly logger: Logger;
  readonly now: () => number;
}

export interface PollLimits {
  /** Stop taking new pages after this long (ms), so a run ends within the function's timeout. */
  readonly budgetMs: number;
  /** At most this many buckets per run: a poller that was down catches up in bounded steps. */
  readonly maxBuckets: number;
}

/** Where the poller goes on: the first item after `after` in shard `shard` of `bucket`. */
export interface Position {
  readonly bucket: number;
  readonly shard: number;
  /** The sort key of the last item sent in that shard; unset at its start. */
  readonly after?: string | undefined;
}

export interface PollResult {
  readonly sent: number;
  readonly position: Position;
  /** Whether the run stopped before the lookahead (budget, bucket limit, or another run moved on). */
  readonly behind: boolean;
}

/**
 * Due messages SQS failed for now, even after a few tries within the run: the checkpoint stays, and the next run
 * sends the page again.
 */
export class WaitingRoomSendError extends Error {
  constructor(failed: number, firstError: string, options?: { cause?: unknown }) {
    super(
      `${failed} waiting message(s) could not be sent to SQS for now (first: ${firstError}); the checkpoint did not move, ` +
        'so the next run sends them again. Check the queues and the poller role (runbook: waiting room)',
      options,
    );
    this.name = 'WaitingRoomSendError';
  }
}

/**
 * One run of the waiting room poller: sends every item whose bucket is due within the lookahead to its queue, with
 * the rest of its wait as the SQS delay, bucket by bucket from the checkpoint. The checkpoint moves only after a
 * page is sent, so a crash in between sends that page again (delivery is idempotent: a mutation applied twice is a
 * no-op). Items are never deleted: TTL expires them, free.
 */
export async function pollWaitingRoom(deps: PollerDependencies, limits: PollLimits): Promise<PollResult> {
  const started = deps.now();
  const stored = await readCheckpoint(deps.waitingRoom);
  let saved: Checkpoint | undefined = stored;
  let position = stored?.position ?? (await initialPosition(deps));
  const lastBucket = bucketOf(started + WAITING_ROOM_LOOKAHEAD_MS) - 1;
  const stopBucket = Math.min(lastBucket, position.bucket + limits.maxBuckets - 1);
  let sent = 0;
  while (position.bucket <= stopBucket && deps.now() - started < limits.budgetMs) {
    const page = await queryPage(deps.waitingRoom, position);
    await sendItems(deps, page.items);
    sent += page.items.length;
    position = page.lastSortKey ? { ...position, after: page.lastSortKey } : nextShard(position);
    if (page.items.length === 0) continue;
    crashPoint('before-waiting-room-checkpoint');
    saved = await saveCheckpoint(deps.waitingRoom, saved, position);
    if (!saved) return { sent, position, behind: true };
  }
  if (
    !samePosition(saved?.position, position) &&
    !(await saveCheckpoint(deps.waitingRoom, saved, position))
  ) {
    return { sent, position, behind: true };
  }
  const behind = position.bucket <= lastBucket;
  deps.logger.info('Waiting room polled', { sent, bucket: position.bucket, behind });
  return { sent, position, behind };
}

/** The checkpoint as stored, with the version its conditional update expects. */
interface Checkpoint {
  readonly position: Position;
  readonly version: number;
}

async function readCheckpoint(room: WaitingRoom): Promise<Checkpoint | undefined> {
  const answer = await room.documentClient.send(
    new GetCommand({ TableName: room.tableName, Key: CHECKPOINT_KEY, ConsistentRead: true }),
  );
  const item = answer.Item;
  if (!item) return undefined;
  return {
    position: {
      bucket: Number(item.bucket),
      shard: Number(item.shard),
      after: typeof item.after === 'string' ? item.after : undefined,
    },
    version: Number(item.version),
  };
}

/**
 * Moves the checkpoint, conditional on the version read: a run never moves it back over another run's progress.
 * Undefined when another run moved it first (this one then stops).
 */
async function saveCheckpoint(
  room: WaitingRoom,
  previous: Checkpoint | undefined,
  position: Position,
): Promise<Checkpoint | undefined> {
  const version = (previous?.version ?? 0) + 1;
  try {
    await room.documentClient.send(
      new PutCommand({
        TableName: room.tableName,
        Item: { ...CHECKPOINT_KEY, ...position, version },
        ...(previous
          ? {
              ConditionExpression: 'version = :version',
              ExpressionAttributeValues: { ':version': previous.version },
            }
          : {
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': WAITING_ROOM_PARTITION_KEY },
            }),
      }),
    );
    return { position, version };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    throw error;
  }
}

/**
 * Where a poller without a checkpoint starts (a new table, or a checkpoint deleted by hand): the earliest bucket that
 * holds an item, else the current one. Scans once; the table of a new stack is nearly empty.
 */
async function initialPosition(deps: PollerDependencies): Promise<Position> {
  const room = deps.waitingRoom;
  let earliest = bucketOf(deps.now());
  let exclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await room.documentClient.send(
      new ScanCommand({
        TableName: room.tableName,
        ProjectionExpression: '#pk',
        ExpressionAttributeNames: { '#pk': WAITING_ROOM_PARTITION_KEY },
        ConsistentRead: true,
        ExclusiveStartKey: exclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const bucket = Number.parseInt(String(item[WAITING_ROOM_PARTITION_KEY]).split('#')[0] ?? '', 10);
      if (Number.isFinite(bucket)) earliest = Math.min(earliest, bucket);
    }
    exclusiveStartKey = page.LastEvaluatedKey;
  } while (exclusiveStartKey);
  deps.logger.warn('Waiting room checkpoint missing: starting from the earliest bucket', {
    bucket: earliest,
  });
  return { bucket: earliest, shard: 0 };
}

async function queryPage(
  room: WaitingRoom,
  position: Position,
): Promise<{ items: WaitingItem[]; lastSortKey: string | undefined }> {
  const pk = partitionKeyOf(position.bucket, position.shard);
  const answer = await room.documentClient.send(
    new QueryCommand({
      TableName: room.tableName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': WAITING_ROOM_PARTITION_KEY },
      ExpressionAttributeValues: { ':pk': pk },
      // Strongly consistent: an item written just before must not be skipped.
      ConsistentRead: true,
      Limit: PAGE_ITEMS,
      ...(position.after
        ? { ExclusiveStartKey: { [WAITING_ROOM_PARTITION_KEY]: pk, [WAITING_ROOM_SORT_KEY]: position.after } }
        : {}),
    }),
  );
  const last = answer.LastEvaluatedKey?.[WAITING_ROOM_SORT_KEY];
  return {
    items: (answer.Items ?? []) as WaitingItem[],
    lastSortKey: typeof last === 'string' ? last : undefined,
  };
}

function nextShard(position: Position): Position {
  return position.shard + 1 < WAITING_ROOM_SHARDS
    ? { bucket: position.bucket, shard: position.shard + 1 }
    : { bucket: position.bucket + 1, shard: 0 };
}

function samePosition(a: Position | undefined, b: Position): boolean {
  return a !== undefined && a.bucket === b.bucket && a.shard === b.shard && a.after === b.after;
}

/** Sends items to their queues, ten (and at most 1 MiB) per call, the calls of a page at once. */
async function sendItems(deps: PollerDependencies, items: readonly WaitingItem[]): Promise<void> {
  const byQueue = new Map<string, WaitingItem[]>();
  for (const item of items) byQueue.set(item.queueUrl, [...(byQueue.get(item.queueUrl) ?? []), item]);
  const now = deps.now();
  await Promise.all(
    [...byQueue].flatMap(([queueUrl, queued]) =>
      batchesOf(queued).map((batch) => sendBatch(deps, queueUrl, batch, now)),
    ),
  );
}

function batchesOf(items: readonly WaitingItem[]): WaitingItem[][] {
  return chunkBySize(items, (item) => Buffer.byteLength(item.body, 'utf8'), {
    maxCount: BATCH_ENTRIES,
    maxBytes: BATCH_BYTES,
  });
}

/** One entry SQS did not take, with what it said. */
interface Refusal {
  readonly item: WaitingItem;
  readonly error: string;
}

/** What one SendMessageBatch call left undone: refused for good (to the DLQ), or for now (to send again). */
interface SendOutcome {
  readonly permanent: readonly Refusal[];
  readonly transient: readonly Refusal[];
}

/**
 * Sends a batch to its queue. Entries SQS refuses for good (its `SenderFault`, or a call-level error the queue will
 * keep giving, such as a disabled KMS key) go to the DLQ, so one bad message does not hold up the whole waiting
 * room; entries it fails for now are sent again a few times, then the run fails and the page is sent again.
 */
async function sendBatch(
  deps: PollerDependencies,
  queueUrl: string,
  batch: readonly WaitingItem[],
  now: number,
): Promise<void> {
  let pending = batch;
  for (let attempt = 0; ; attempt++) {
    // A resend counts the delay from when it goes, so it is not late by the retry waits.
    const outcome = await trySend(deps, queueUrl, pending, attempt === 0 ? now : deps.now());
    await Promise.all(outcome.permanent.map((refusal) => deadLetterItem(deps, queueUrl, refusal)));
    const [first] = outcome.transient;
    if (!first) return;
    const delay = SEND_RETRY_DELAYS_MS[attempt];
    if (delay === undefined) throw new WaitingRoomSendError(outcome.transient.length, first.error);
    deps.logger.warn('Waiting messages not taken by SQS for now: sending them again', {
      queueUrl,
      failed: outcome.transient.length,
      error: first.error,
    });
    await sleep(delay);
    pending = outcome.transient.map((refusal) => refusal.item);
  }
}

async function trySend(
  deps: PollerDependencies,
  queueUrl: string,
  batch: readonly WaitingItem[],
  now: number,
): Promise<SendOutcome> {
  const entries: SendMessageBatchRequestEntry[] = batch.map((item, index) => ({
    Id: String(index),
    MessageBody: item.body,
    DelaySeconds: sqsDelaySeconds(item.dueAt, now),
  }));
  let failed: BatchResultErrorEntry[];
  try {
    const answer = await deps.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    failed = answer.Failed ?? [];
  } catch (error) {
    return callFailure(deps, queueUrl, batch, now, error);
  }
  const permanent: Refusal[] = [];
  const transient: Refusal[] = [];
  for (const entry of failed) {
    const item = batch[Number(entry.Id)];
    // An answer that names no entry of the batch cannot be placed: fail the run rather than lose an item.
    if (!item) throw new WaitingRoomSendError(batch.length, `SQS answered for unknown entry ${entry.Id}`);
    const refusal = { item, error: `${entry.Code}: ${entry.Message ?? 'no message'}` };
    (entry.SenderFault ? permanent : transient).push(refusal);
  }
  return { permanent, transient };
}

/** A whole call that failed: a missing queue falls back, a known permanent refusal dead-letters, the rest retries. */
async function callFailure(
  deps: PollerDependencies,
  queueUrl: string,
  batch: readonly WaitingItem[],
  now: number,
  error: unknown,
): Promise<SendOutcome> {
  if (isMissingQueue(error) && queueUrl !== deps.fallbackQueueUrl) {
    // An isolated namespace's queue that is gone: the shared delay queue's consumer delivers any message.
    deps.logger.warn('Waiting message queue missing: sent to the shared delay queue', { queueUrl });
    await sendBatch(deps, deps.fallbackQueueUrl, batch, now);
    return { permanent: [], transient: [] };
  }
  const name = errorName(error);
  if (name === 'InvalidMessageContents' && batch.length > 1) {
    // One body SQS refuses fails the whole call: send each on its own to find which.
    await Promise.all(batch.map((item) => sendBatch(deps, queueUrl, [item], now)));
    return { permanent: [], transient: [] };
  }
  const refusals = batch.map((item) => ({ item, error: `${name}: ${errorMessage(error)}` }));
  return PERMANENT_CALL_ERRORS.has(name)
    ? { permanent: refusals, transient: [] }
    : { permanent: [], transient: refusals };
}

/**
 * Puts an item SQS refused for good on the DLQ, with what SQS said. The message keeps its mutation and target, so
 * a redrive (once the queue is fixed) delivers it; a body SQS can never take goes whole, as base64.
 */
async function deadLetterItem(deps: PollerDependencies, queueUrl: string, refusal: Refusal): Promise<void> {
  const { item, error } = refusal;
  const reason = `SQS refused the waiting message for ${queueUrl} (${error}); moved from the waiting room to the DLQ`;
  const message = parseDelivery(item.body);
  const sender = {
    sqs: deps.sqs,
    waitingRoom: deps.waitingRoom,
    logger: deps.logger,
    now: deps.now,
    queues: { deadLetter: deps.deadLetterQueueUrl },
  };
  if (message && !hasSqsRefusedCharacter(item.body)) {
    await deadLetter(sender, {
      kind: 'retry',
      mutation: message.mutation,
      target: message.target,
      attempt: message.kind === 'retry' ? message.attempt : 1,
      lastError: message.kind === 'retry' ? message.lastError : error,
      firstFailedAt: message.kind === 'retry' ? message.firstFailedAt : deps.now(),
      notBefore: message.notBefore,
      reason,
    });
    return;
  }
  const envelope = message?.mutation.envelope;
  await deadLetter(sender, {
    kind: 'poison',
    reason,
    data: Buffer.from(item.body).toString('base64'),
    source: `waiting room item ${item.pk} ${item.sk}`,
    ...(envelope ? { namespace: envelope.namespace, id: envelope.id } : {}),
  });
}

/**
 * The delivery or retry a body holds, or undefined. A shape check, not the zod schema (kept out of the poller's
 * bundle): the WAL wrote these bodies itself, and the queue consumer checks the schema when a redrive brings one back.
 */
function parseDelivery(body: string): DeliverMessage | RetryMessage | undefined {
  let parsed: Partial<DeliverMessage | RetryMessage> | undefined;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const isDelivery =
    (parsed?.kind === 'deliver' || parsed?.kind === 'retry') &&
    typeof parsed.target === 'string' &&
    typeof parsed.notBefore === 'number' &&
    typeof parsed.mutation?.envelope?.namespace === 'string';
  return isDelivery ? (parsed as DeliverMessage | RetryMessage) : undefined;
}

function errorName(error: unknown): string {
  return (error as { name?: string } | undefined)?.name ?? 'Error';
}

function isMissingQueue(error: unknown): boolean {
  const name = errorName(error);
  return name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

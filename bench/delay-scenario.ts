import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { consumeQueueBatch } from '#lambdas/queue-consumer/consume-queue';
import { bucketOf, partitionKeyOf } from '#lambdas/shared/waiting-room';
import {
  WAITING_ROOM_BUCKET_MS,
  WAITING_ROOM_LOOKAHEAD_MS,
  WAITING_ROOM_PARTITION_KEY,
  WAITING_ROOM_SHARDS,
  WAITING_ROOM_SORT_KEY,
} from '#lambdas/shared/waiting-room-schema';
import { type PollResult, pollWaitingRoom } from '#lambdas/waiting-room-poller/poll-waiting-room';
import { SqsEventSource } from '#src/local/event-sources/sqs-event-source';
import {
  BENCH_NAMESPACE,
  BenchScenarioError,
  type CountedWal,
  functionLogger,
  lambdaContext,
} from './counted-wal';
import {
  consume,
  mutationOf1Kb,
  type Phase,
  PhaseRecorder,
  post,
  warmConfig,
  withIngestApi,
} from './request-scenarios';

/**
 * A long delay on its real path: POSTs with `deliverAt` (not counted: the same as an immediate mutation), the stream
 * consumer parking them in the waiting room, the waiting room poller (its clock moved to their due minute) sending
 * them to the delay queue, and the queue consumer (its clock moved past their due time) delivering them.
 */
export interface DelayFigures {
  readonly delaySeconds: number;
  /** The stream consumer on the delayed mutations: its waiting-room writes are the delay's. */
  readonly park: Phase;
  /** The poller's run over the due minute that holds them all (one bucket, as in steady state). */
  readonly pollSend: Phase;
  /** The poller's next run, over a minute with nothing due: what every run costs whatever the load. */
  readonly pollEmpty: Phase;
  /** The queue consumer delivering them from the delay queue (the poller's receives and deletes counted). */
  readonly deliver: Phase;
  /** Bytes DynamoDB bills to store one waiting item: names and values, plus 100 bytes of overhead per item. */
  readonly itemStorageBytes: number;
}

/** A poller run may take this long (the deployed one: its timeout less 15 s). */
const POLL_BUDGET_MS = 45_000;
const POLL_MAX_BUCKETS = 30;
/** DynamoDB bills 100 bytes of overhead per stored item. */
const ITEM_STORAGE_OVERHEAD_BYTES = 100;
/**
 * Due 20 s into the minute before `now + delay`: all of a scenario's mutations share one bucket, and the delay stays
 * within the namespace's maximum (a day by default).
 */
const DUE_OFFSET_MS = 20_000;

export async function delayThroughWaitingRoom(
  counted: CountedWal,
  count: number,
  delaySeconds: number,
): Promise<DelayFigures> {
  const dueAt = (bucketOf(Date.now() + delaySeconds * 1000) - 1) * WAITING_ROOM_BUCKET_MS + DUE_OFFSET_MS;
  await ingestDelayed(counted, count, dueAt);
  const park = await consume(counted);
  if (park.mutations !== count)
    throw new BenchScenarioError(
      `the stream consumer saw ${park.mutations} records, not the ${count} delayed`,
    );
  const bucket = bucketOf(dueAt);
  await seedCheckpoint(counted, bucket);
  const firstRun = (bucket + 1) * WAITING_ROOM_BUCKET_MS - WAITING_ROOM_LOOKAHEAD_MS;
  const pollSend = await pollAt(counted, firstRun, count);
  const pollEmpty = await pollAt(counted, firstRun + WAITING_ROOM_BUCKET_MS, 0);
  const bodies = await waitingBodies(counted, bucket);
  await requeueWithoutDelay(counted, bodies);
  const deliver = await deliverDue(counted, count, dueAt + 1_000);
  return {
    delaySeconds,
    park,
    pollSend,
    pollEmpty,
    deliver,
    itemStorageBytes: bodies.storageBytes / count,
  };
}

async function ingestDelayed(counted: CountedWal, count: number, dueAt: number): Promise<void> {
  const recorder = new PhaseRecorder(counted);
  const deliverAt = new Date(dueAt).toISOString();
  await withIngestApi(counted, recorder, async (apiUrl) => {
    for (let index = 0; index < count; index++) {
      const status = await post(`${apiUrl}/v1/namespaces/${BENCH_NAMESPACE}/mutations`, {
        ...mutationOf1Kb(index),
        lifecycle: { deliverAt },
      });
      if (status !== 200) throw new BenchScenarioError(`delayed POST answered ${status}`);
    }
  });
}

/** Steady state: the checkpoint is at the start of the due minute, as the run a minute before leaves it. */
async function seedCheckpoint(counted: CountedWal, bucket: number): Promise<void> {
  await counted.wal.clients.dynamodb.send(
    new PutItemCommand({
      TableName: counted.delivery.deps.waitingRoom.tableName,
      Item: {
        [WAITING_ROOM_PARTITION_KEY]: { S: 'checkpoint' },
        [WAITING_ROOM_SORT_KEY]: { S: 'checkpoint' },
        bucket: { N: String(bucket) },
        shard: { N: '0' },
        version: { N: '1' },
      },
    }),
  );
}

/** One scheduled run of the poller's real logic with its clock at `clock`, counted. */
async function pollAt(counted: CountedWal, clock: number, expected: number): Promise<Phase> {
  const { deps } = counted.delivery;
  const logger = functionLogger(counted.pollerFn);
  const pollerDeps = {
    waitingRoom: deps.waitingRoom,
    sqs: deps.sqs,
    fallbackQueueUrl: deps.queues.delay,
    deadLetterQueueUrl: deps.queues.deadLetter,
    logger,
    now: () => clock,
  };
  const handler = middy<unknown, PollResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(() => pollWaitingRoom(pollerDeps, { budgetMs: POLL_BUDGET_MS, maxBuckets: POLL_MAX_BUCKETS }));
  const recorder = new PhaseRecorder(counted);
  const result = await recorder.invoke(() => handler({}, lambdaContext(counted.pollerFn)));
  if (result.sent !== expected || result.behind)
    throw new BenchScenarioError(
      `the poller sent ${result.sent} (expected ${expected}) and is ${result.behind ? '' : 'not '}behind`,
    );
  return recorder.finish(Math.max(expected, 1));
}

/** The bodies of the bucket's waiting items (uncounted), and the bytes DynamoDB bills to store them. */
async function waitingBodies(
  counted: CountedWal,
  bucket: number,
): Promise<{ bodies: string[]; storageBytes: number }> {
  const bodies: string[] = [];
  let storageBytes = 0;
  for (let shard = 0; shard < WAITING_ROOM_SHARDS; shard++) {
    const answer = await counted.wal.clients.dynamodb.send(
      new QueryCommand({
        TableName: counted.delivery.deps.waitingRoom.tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': WAITING_ROOM_PARTITION_KEY },
        ExpressionAttributeValues: { ':pk': { S: partitionKeyOf(bucket, shard) } },
      }),
    );
    for (const item of answer.Items ?? []) {
      bodies.push(item.body?.S ?? '');
      storageBytes += ITEM_STORAGE_OVERHEAD_BYTES;
      for (const [name, value] of Object.entries(item)) {
        storageBytes += Buffer.byteLength(name) + Buffer.byteLength(value.S ?? value.N ?? '');
      }
    }
  }
  return { bodies, storageBytes };
}

/**
 * The emulated SQS delays the poller's messages in real time (up to 10 minutes): the queue consumer gets the same
 * bodies sent again without a delay (not counted: the poller's sends are), and runs with its clock past their due time.
 */
async function requeueWithoutDelay(counted: CountedWal, waiting: { bodies: string[] }): Promise<void> {
  const { bodies } = waiting;
  for (let start = 0; start < bodies.length; start += 10) {
    await counted.wal.clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: counted.delivery.deps.queues.delay,
        Entries: bodies
          .slice(start, start + 10)
          .map((body, index) => ({ Id: String(index), MessageBody: body })),
      }),
    );
  }
}

async function deliverDue(counted: CountedWal, count: number, clock: number): Promise<Phase> {
  await warmConfig(counted);
  const recorder = new PhaseRecorder(counted);
  const deps = { ...counted.delivery.deps, now: () => clock };
  const handler = middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .handler((event) => consumeQueueBatch(deps, event));
  const mapping = counted.wal.wiring.sqsMappings.find(
    (candidate) => candidate.settings.queueUrl === deps.queues.delay,
  );
  if (!mapping) throw new BenchScenarioError('the template has no event source mapping on the delay queue');
  // The poller's receives and deletes are billed SQS requests: its client is the counted one.
  const poller = new SqsEventSource(deps.sqs, mapping.settings, (event) =>
    recorder.invoke(() => handler(event, lambdaContext(counted.delivery.queueFn))),
  );
  let delivered = 0;
  while (delivered < count) {
    const received = await poller.pollOnce();
    if (received === 0)
      throw new BenchScenarioError(`the delay queue ran dry after ${delivered} of ${count}`);
    delivered += received;
  }
  return recorder.finish(count);
}

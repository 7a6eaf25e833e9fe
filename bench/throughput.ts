import { createHash, randomUUID } from 'node:crypto';
import * as path from 'node:path';
import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type _Record as KinesisRecord,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { BatchWriteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { KinesisStreamEvent } from 'aws-lambda';
import { ingestMutation } from '#lambdas/ingest/ingest-mutation';
import type { DeliveryDependencies } from '#lambdas/shared/delivery';
import { ENVELOPE_VERSION, type Envelope, parseEnvelope, walOrder } from '#lambdas/shared/envelope';
import { toKinesisStreamRecord } from '#lambdas/shared/kinesis-records';
import { expiresAt, ledgerKey } from '#lambdas/shared/ledger';
import { namespaceParameterPrefix } from '#lambdas/shared/namespace-config';
import { SsmNamespaceConfigStore } from '#lambdas/shared/namespace-store';
import { consumeStreamBatch, KEY_CONCURRENCY } from '#lambdas/shared/stream-batch';
import { applyToHistory, compactOrder, type Item } from '#lambdas/shared/targets/item-history';
import { ORDER_ATTRIBUTE } from '#lambdas/shared/targets/wal-attributes';
import { DEFAULT_STREAM_BATCH_SIZE } from '#lib/wal-defaults';
import {
  type AlternatedRates,
  alternate,
  medianPairedRatio,
  perSecond,
  runFor,
  runPool,
} from '#src/bench/rates';
import { type LocalWal, startLocalWal } from '#src/local/runtime/local-wal';
import { synthesizeStack } from '#src/local/runtime/synthesize';
import { silentLogger } from '#test/support/fixtures';
import {
  deliveryDependenciesOf,
  ingestDependenciesOf,
  REPO_ROOT,
  targetTableName,
} from '#test/support/local-wal-harness';
import type { BenchSection } from './section';

/**
 * Throughput of the data path against the emulators, each next to a baseline of only the AWS calls it cannot
 * do without, with the same clients and concurrency:
 * - ingest: ingestMutation (validate, PutRecord, conditional ledger put) at CONCURRENCY, vs PutRecord of the
 *   same bytes + the same conditional PutItem on the ledger;
 * - consumer: consumeStreamBatch on batches of BATCH_SIZE records read from the stream (ledger BatchGet,
 *   route, target write; KEY_CONCURRENCY keys at once), vs only the target's conditional PutItem per record,
 *   at the same concurrency within each batch, batches one after the other as on one shard.
 * Runs alternate WAL and baseline; the medians are reported.
 */

const STAGE = 'bench';
const NAMESPACE = 'throughput';
const TARGET = 'main';
const CONFIG_DIR = path.join(__dirname, 'config');
/** Concurrent ingest requests (the figure: about 180 mutations/s at 16 from outside). */
const CONCURRENCY = 16;
/** Each ingest run (and baseline run) lasts this long: the section's time stays bounded on a slow machine. */
const INGEST_RUN_MS = 2_000;
const WARM_UP_MS = 1_000;
/** Baseline writes built before a run's clock starts. */
const RAW_POOL = 1_500;
/** Per call: PutRecords takes at most 500 records, BatchWriteItem 25 items. */
const PUT_RECORDS_LIMIT = 500;
const BATCH_WRITE_LIMIT = 25;
/** The stream mapping's batch size. */
const BATCH_SIZE = DEFAULT_STREAM_BATCH_SIZE;
const CONSUMER_COUNT = 300;
/** A consumer run stops starting batches after this long: the section's time stays bounded. */
const CONSUMER_RUN_MS = 2_000;
/** Like the stack's DEFAULT_CONFIG_MAX_AGE: a Lambda reads the namespace config once a minute. */
const CONFIG_MAX_AGE_MS = 60_000;

/** A put of about 1 KB of JSON, keyed by `id`. */
function payloadOf(id: string): Record<string, string> {
  return { id, body: 'x'.repeat(1000 - id.length) };
}

async function startBenchWal(): Promise<LocalWal> {
  const { stackName, template } = synthesizeStack(STAGE, { configDir: CONFIG_DIR });
  return startLocalWal({
    stackName,
    template,
    repoRoot: REPO_ROOT,
    autoPoll: false,
    overrideEnv: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
  });
}

/** The harness's dependencies, with the namespace config cached as a deployed function caches it. */
function cachedNamespaces(wal: LocalWal) {
  return new SsmNamespaceConfigStore(
    wal.clients.ssm,
    namespaceParameterPrefix(STAGE),
    CONFIG_MAX_AGE_MS,
    silentLogger,
  );
}

// ---- ingest ----

type IngestDeps = ReturnType<typeof ingestDependenciesOf>;

let runCounter = 0;
/** A prefix no earlier run used, so every run writes new keys. */
function freshPrefix(kind: string): string {
  runCounter++;
  return `${kind}-${runCounter}`;
}

/** One ingest run: mutations through ingestMutation for `durationMs`; mutations/s. */
async function ingestRun(deps: IngestDeps, durationMs: number): Promise<number> {
  const prefix = freshPrefix('w');
  const run = await runFor(durationMs, CONCURRENCY, async (index) => {
    const answer = await ingestMutation(
      deps,
      NAMESPACE,
      { payload: payloadOf(`${prefix}-${index}`) },
      undefined,
    );
    if (answer.durable !== 'SUCCESS') throw new Error(`ingest answered ${answer.durable}`);
  });
  return perSecond(run.count, run.elapsedMs);
}

type RawWrite = ReturnType<typeof rawWrites>;

/** What the protocol writes for one mutation: the envelope's bytes and the committed ledger entry. */
function rawWrites(deps: IngestDeps, key: string) {
  const id = deps.newId();
  const loggedAt = Date.now();
  const envelope: Envelope = {
    v: ENVELOPE_VERSION,
    id,
    namespace: NAMESPACE,
    idempotencyKey: id,
    partitionKey: key,
    op: 'put',
    payload: payloadOf(key),
    loggedAt,
    configVersion: 1,
  };
  const entry = {
    pk: ledgerKey(NAMESPACE, id),
    namespace: NAMESPACE,
    idempotencyKey: id,
    id,
    state: 'COMMITTED',
    requestHash: createHash('sha256').update(key).digest('base64url'),
    envelope,
    updatedAt: loggedAt,
    expiresAt: expiresAt(loggedAt, 1),
  };
  return { entry, partitionKey: `${NAMESPACE}#${key}`, data: Buffer.from(JSON.stringify(envelope)) };
}

/** The commit's conditional put (lambdas/shared/ledger.ts commitLedgerEntry), as a raw call. */
function commitPut(deps: IngestDeps, entry: RawWrite['entry'], sequence: string | undefined): PutCommand {
  return new PutCommand({
    TableName: deps.ledger.tableName,
    Item: { ...entry, sequence },
    ConditionExpression:
      'attribute_not_exists(#pk) OR (#state = :aborted AND NOT contains(#aborted, :id) ' +
      'AND (attribute_not_exists(#fencedUntil) OR #fencedUntil < :now))',
    ExpressionAttributeNames: {
      '#pk': 'pk',
      '#state': 'state',
      '#aborted': 'abortedIds',
      '#fencedUntil': 'fencedUntil',
    },
    ExpressionAttributeValues: { ':aborted': 'ABORTED', ':id': entry.id, ':now': Date.now() },
  });
}

/** One baseline run: PutRecord + the commit's conditional PutItem, nothing else, for `durationMs`; ops/s. */
async function rawIngestRun(deps: IngestDeps, durationMs: number): Promise<number> {
  const prefix = freshPrefix('r');
  // Built before the clock starts; more than a run can use on a fast machine.
  const writes = Array.from({ length: RAW_POOL }, (_, index) => rawWrites(deps, `${prefix}-${index}`));
  const run = await runFor(durationMs, CONCURRENCY, async (index) => {
    const { entry, partitionKey, data } = writes[index] ?? rawWrites(deps, `${prefix}-${index}`);
    const answer = await deps.kinesis.send(
      new PutRecordCommand({ StreamName: deps.streamName, PartitionKey: partitionKey, Data: data }),
    );
    await deps.ledger.documentClient.send(commitPut(deps, entry, answer.SequenceNumber));
  });
  return perSecond(run.count, run.elapsedMs);
}

// ---- consumer ----

/** Reads what was written to the stream since it was created, shard by shard. */
class StreamTail {
  private readonly iterators = new Map<string, string>();

  constructor(
    private readonly wal: LocalWal,
    private readonly streamName: string,
  ) {}

  async start(): Promise<void> {
    const shards = await this.wal.clients.kinesis.send(
      new ListShardsCommand({ StreamName: this.streamName }),
    );
    for (const shard of shards.Shards ?? []) {
      const answer = await this.wal.clients.kinesis.send(
        new GetShardIteratorCommand({
          StreamName: this.streamName,
          ShardId: shard.ShardId,
          ShardIteratorType: 'LATEST',
        }),
      );
      if (shard.ShardId && answer.ShardIterator) this.iterators.set(shard.ShardId, answer.ShardIterator);
    }
  }

  /** Every record written since the last read, by shard. */
  async readNew(): Promise<Map<string, KinesisRecord[]>> {
    const byShard = new Map<string, KinesisRecord[]>();
    for (const [shardId, iterator] of this.iterators) {
      const records: KinesisRecord[] = [];
      let current: string | undefined = iterator;
      while (current) {
        const answer: GetRecordsCommandOutput = await this.wal.clients.kinesis.send(
          new GetRecordsCommand({ ShardIterator: current }),
        );
        const read = answer.Records ?? [];
        records.push(...read);
        if (answer.NextShardIterator) this.iterators.set(shardId, answer.NextShardIterator);
        current = read.length > 0 ? answer.NextShardIterator : undefined;
      }
      byShard.set(shardId, records);
    }
    return byShard;
  }
}

/** The records as the event source mapping hands them over: per shard, batches of BATCH_SIZE. */
function toEvents(byShard: Map<string, KinesisRecord[]>): KinesisStreamEvent[] {
  const streamArn = `arn:aws:kinesis:us-east-1:000000000000:stream/${NAMESPACE}`;
  const events: KinesisStreamEvent[] = [];
  for (const [shardId, records] of byShard) {
    for (let start = 0; start < records.length; start += BATCH_SIZE) {
      const batch = records.slice(start, start + BATCH_SIZE);
      events.push({
        Records: batch.map((record) => toKinesisStreamRecord(record, shardId, streamArn, 'us-east-1')),
      });
    }
  }
  return events;
}

/** The item the target's fast path writes for a record (under another key), built before the clock starts. */
function targetItem(event: KinesisStreamEvent['Records'][number]): { item: Item; order: string } {
  const envelope = parseEnvelope(Buffer.from(event.kinesis.data, 'base64').toString('utf8'));
  const payload = envelope.payload as Item;
  const paddedOrder = walOrder({ envelope, sequence: event.kinesis.sequenceNumber });
  const result = applyToHistory(
    undefined,
    {
      id: envelope.id,
      op: 'put',
      order: compactOrder(paddedOrder),
      paddedOrder,
      payload: { ...payload, id: `b-${String(payload.id)}` },
      set: undefined,
      add: undefined,
    },
    { keyAttributes: ['id'], tombstoneExpiresAt: expiresAt(Date.now(), 1), revision: randomUUID() },
  );
  if (result.outcome !== 'applied') throw new Error(`baseline item not built: ${result.outcome}`);
  return { item: result.item, order: paddedOrder };
}

interface ConsumerRig {
  readonly ingestDeps: IngestDeps;
  readonly deliveryDeps: DeliveryDependencies;
  readonly tail: StreamTail;
  readonly tableName: string;
}

/**
 * Logs `count` committed mutations in bulk (PutRecords, and their ledger entries by BatchWriteItem: not what is
 * measured, so as fast as the emulators allow) and reads them back from the stream as the mapping's events.
 */
async function prepareEvents(rig: ConsumerRig, count: number): Promise<KinesisStreamEvent[]> {
  const deps = rig.ingestDeps;
  const prefix = freshPrefix('c');
  const writes = Array.from({ length: count }, (_, index) => rawWrites(deps, `${prefix}-${index}`));
  const entries: Record<string, unknown>[] = [];
  for (let start = 0; start < writes.length; start += PUT_RECORDS_LIMIT) {
    const chunk = writes.slice(start, start + PUT_RECORDS_LIMIT);
    const answer = await deps.kinesis.send(
      new PutRecordsCommand({
        StreamName: deps.streamName,
        Records: chunk.map(({ partitionKey, data }) => ({ PartitionKey: partitionKey, Data: data })),
      }),
    );
    if (answer.FailedRecordCount) throw new Error(`${answer.FailedRecordCount} records were not logged`);
    chunk.forEach((write, index) => {
      entries.push({ ...write.entry, sequence: answer.Records?.[index]?.SequenceNumber });
    });
  }
  const chunks = Math.ceil(entries.length / BATCH_WRITE_LIMIT);
  await runPool(chunks, 4, async (chunk) => {
    let items = entries.slice(chunk * BATCH_WRITE_LIMIT, (chunk + 1) * BATCH_WRITE_LIMIT);
    while (items.length > 0) {
      const answer = await deps.ledger.documentClient.send(
        new BatchWriteCommand({
          RequestItems: { [deps.ledger.tableName]: items.map((Item) => ({ PutRequest: { Item } })) },
        }),
      );
      items = (answer.UnprocessedItems?.[deps.ledger.tableName] ?? []).map(
        (request) => request.PutRequest?.Item ?? {},
      );
    }
  });
  const events = toEvents(await rig.tail.readNew());
  const read = events.reduce((sum, event) => sum + event.Records.length, 0);
  if (read !== count) throw new Error(`read ${read} records back from the stream, expected ${count}`);
  return events;
}

/**
 * One consumer run: the stream consumer on the batches, one after the other as on one shard, until they are
 * done or CONSUMER_RUN_MS has passed (the batch under way finishes); records/s.
 */
async function consumerRun(rig: ConsumerRig, events: readonly KinesisStreamEvent[]): Promise<number> {
  const started = performance.now();
  let records = 0;
  for (const event of events) {
    if (performance.now() - started >= CONSUMER_RUN_MS) break;
    const response = await consumeStreamBatch(rig.deliveryDeps, event);
    if (response.batchItemFailures.length > 0) throw new Error('the consumer failed records of a batch');
    records += event.Records.length;
  }
  return perSecond(records, performance.now() - started);
}

/**
 * One baseline run on the same records: only the target's conditional PutItem per record (the same item,
 * under another key), batch after batch at the consumer's concurrency within a batch; records/s.
 */
async function rawConsumerRun(rig: ConsumerRig, events: readonly KinesisStreamEvent[]): Promise<number> {
  const batches = events.map((event) => event.Records.map(targetItem));
  const started = performance.now();
  let records = 0;
  for (const writes of batches) {
    if (performance.now() - started >= CONSUMER_RUN_MS) break;
    await runPool(writes.length, KEY_CONCURRENCY, async (index) => {
      const { item, order } = writes[index] as ReturnType<typeof targetItem>;
      await rig.deliveryDeps.targetClients.documentClient.send(
        new PutCommand({
          TableName: rig.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#order) OR #order < :order',
          ExpressionAttributeNames: { '#order': ORDER_ATTRIBUTE },
          ExpressionAttributeValues: { ':order': order },
        }),
      );
    });
    records += writes.length;
  }
  return perSecond(records, performance.now() - started);
}

// ---- section ----

interface Throughput {
  readonly ratio: number;
  readonly perSecond: number;
  readonly baselinePerSecond: number;
}

function row(name: string, unit: string, figures: Throughput): string {
  return [
    name.padEnd(10),
    `${figures.perSecond.toFixed(0)} ${unit}`.padStart(14),
    `${figures.baselinePerSecond.toFixed(0)} ops/s`.padStart(14),
    `${figures.ratio.toFixed(2)}x`.padStart(7),
  ].join(' ');
}

/**
 * The medians, the median of the run-by-run ratios (the figure to compare with the target), and every run's
 * rate (the spread shows how noisy the machine was).
 */
function rounded(rates: AlternatedRates): Throughput & Record<string, unknown> {
  return {
    ratio: Math.round(medianPairedRatio(rates.samples, rates.baselineSamples) * 100) / 100,
    perSecond: Math.round(rates.perSecond),
    baselinePerSecond: Math.round(rates.baselinePerSecond),
    samples: rates.samples.map(Math.round),
    baselineSamples: rates.baselineSamples.map(Math.round),
  };
}

async function measureIngest(ingestDeps: IngestDeps, runs: number, progress: (step: string) => void) {
  progress(
    `ingest: warming up, then ${runs} runs of ${INGEST_RUN_MS} ms at concurrency ${CONCURRENCY}, each`,
  );
  await ingestRun(ingestDeps, WARM_UP_MS);
  await rawIngestRun(ingestDeps, WARM_UP_MS);
  return alternate(
    runs,
    () => ingestRun(ingestDeps, INGEST_RUN_MS),
    () => rawIngestRun(ingestDeps, INGEST_RUN_MS),
  );
}

async function measureConsumer(rig: ConsumerRig, runs: number, progress: (step: string) => void) {
  progress(
    `consumer: warming up, then ${runs} runs of up to ${CONSUMER_COUNT} records in batches of ${BATCH_SIZE}, each`,
  );
  const warmUp = await prepareEvents(rig, BATCH_SIZE);
  await consumerRun(rig, warmUp);
  await rawConsumerRun(rig, warmUp);
  // The consumer and its baseline of a run work on the same records, logged by whichever runs first.
  const prepared = new Map<number, Promise<KinesisStreamEvent[]>>();
  const eventsOf = (run: number) => {
    const events = prepared.get(run) ?? prepareEvents(rig, CONSUMER_COUNT);
    prepared.set(run, events);
    return events;
  };
  return alternate(
    runs,
    async (run) => consumerRun(rig, await eventsOf(run)),
    async (run) => rawConsumerRun(rig, await eventsOf(run)),
  );
}

async function measure(wal: LocalWal, runs: number, progress: (step: string) => void) {
  const namespaces = cachedNamespaces(wal);
  const ingestDeps = { ...ingestDependenciesOf(wal, STAGE), namespaces };
  const ingest = await measureIngest(ingestDeps, runs, progress);
  const rig: ConsumerRig = {
    ingestDeps,
    deliveryDeps: { ...deliveryDependenciesOf(wal, STAGE), namespaces },
    tail: new StreamTail(wal, ingestDeps.streamName),
    tableName: await targetTableName(wal, STAGE, NAMESPACE, TARGET),
  };
  await rig.tail.start();
  const consumer = await measureConsumer(rig, runs, progress);
  return { ingest: rounded(ingest), consumer: rounded(consumer) };
}

/** Ingest and consumer throughput against their raw-call baselines. */
export const throughputSection: BenchSection = {
  name: 'throughput',
  run: async ({ runs, progress }) => {
    progress('throughput: starting the emulators');
    const wal = await startBenchWal();
    try {
      const figures = await measure(wal, runs, progress);
      return {
        table: [
          'step       WAL            baseline       ratio',
          row('ingest', 'mut/s', figures.ingest),
          row('consumer', 'rec/s', figures.consumer),
        ],
        json: {
          throughputRatio: {
            ingest: figures.ingest.ratio,
            consumer: figures.consumer.ratio,
          },
          throughput: figures,
        },
      };
    } finally {
      await wal.stop();
    }
  },
};

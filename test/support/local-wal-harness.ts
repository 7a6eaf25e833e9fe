import { join } from 'node:path';
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { monotonicFactory } from 'ulid';
import type { IngestDependencies } from '#lambdas/ingest/ingest-mutation';
import { createDocumentClient } from '#lambdas/shared/clients';
import type { DeliveryDependencies } from '#lambdas/shared/delivery';
import { namespaceParameterPrefix } from '#lambdas/shared/namespace-config';
import { SsmNamespaceConfigStore } from '#lambdas/shared/namespace-store';
import { createTargetClients } from '#lambdas/shared/target-clients';
import { WAL_OUTPUTS } from '#lib/wal-outputs';
import { type LocalWal, type ProvisionedStack, startLocalWal } from '#src/local/runtime/local-wal';
import { targetTableName as readTargetTableName } from '#src/local/runtime/namespace-targets';
import { synthesizeStack } from '#src/local/runtime/synthesize';
import { silentLogger } from './fixtures';
import { waitFor } from './wait';

export const REPO_ROOT = join(__dirname, '..', '..');
export const FIXTURE_CONFIG_DIR = join(REPO_ROOT, 'test', 'fixtures', 'config');

/**
 * Variables the test's functions get: fixed, or computed once the stack's resources exist (an outage of a
 * target queue, whose name only provisioning knows).
 */
export type TestEnv = Record<string, string> | ((stack: ProvisionedStack) => Promise<Record<string, string>>);

/** The local WAL for stage `it` (test/fixtures/config/it), driven by the test (no background polling). */
async function startTestWal(
  stage = 'it',
  env: TestEnv = {},
  functionOutput?: (chunk: string) => void,
): Promise<LocalWal> {
  const { stackName, template } = synthesizeStack(stage, { configDir: FIXTURE_CONFIG_DIR });
  return startLocalWal({
    stackName,
    template,
    repoRoot: REPO_ROOT,
    autoPoll: false,
    overrideEnv: async (stack) => ({
      // WAL_TEST_LOGS=DEBUG shows the functions' structured logs.
      POWERTOOLS_LOG_LEVEL: process.env.WAL_TEST_LOGS ?? 'SILENT',
      ...(typeof env === 'function' ? await env(stack) : env),
    }),
    ...(functionOutput ? { functionOutput } : {}),
  });
}

/**
 * The test WAL (stage `it`) for a describe block: started before its tests (then `onStart` can look
 * things up), always stopped after them. `functionOutput` receives the functions' logs.
 */
export function withTestWal(
  onStart: (wal: LocalWal) => void | Promise<void>,
  env: TestEnv = {},
  functionOutput?: (chunk: string) => void,
): void {
  let wal: LocalWal | undefined;
  beforeAll(async () => {
    wal = await startTestWal('it', env, functionOutput);
    await onStart(wal);
  });
  afterAll(async () => {
    await wal?.stop();
  });
}

/** Where the functions' injected faults strike (lambdas/shared/faults.ts); every matching call fails. */
export interface InjectedFaults {
  readonly operations: string[];
  readonly kinds: string[];
  readonly functions: string[];
}

/** The environment that makes every matching AWS call of the named functions fail. */
export function injectFaults(faults: InjectedFaults): Record<string, string> {
  return { WAL_FAULTS: JSON.stringify({ rate: 1, ...faults }) };
}

/** Polls every event source until a whole round hands nothing over. */
export async function drain(wal: LocalWal, maxRounds = 50): Promise<void> {
  for (let round = 0; round < maxRounds; round++) {
    if ((await wal.pollOnce()) === 0) return;
  }
  throw new Error(`event sources still busy after ${maxRounds} rounds`);
}

export interface HttpAnswer {
  status: number;
  contentType: string | null;
  body: Record<string, unknown>;
}

export async function postMutation(
  wal: LocalWal,
  namespace: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const response = await fetch(`${wal.apiUrl}/v1/namespaces/${encodeURIComponent(namespace)}/mutations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

export async function scanTable(wal: LocalWal, tableName: string): Promise<Record<string, unknown>[]> {
  const documents = DynamoDBDocumentClient.from(wal.clients.dynamodb);
  const answer = await documents.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
  return answer.Items ?? [];
}

/** The table a namespace's target writes to, as its SSM parameter (the contract for targets) names it. */
export function targetTableName(
  wal: LocalWal,
  stage: string,
  namespace: string,
  target: string,
): Promise<string> {
  return readTargetTableName(wal.clients.ssm, stage, namespace, target);
}

/** The ledger table, by the stack's LedgerTableName output. */
export function ledgerTableName(wal: LocalWal): string {
  return wal.outputs[WAL_OUTPUTS.ledgerTableName];
}

/** Every record on a stream's shards (the WAL's own by default), oldest first per shard. */
export async function streamRecords(
  wal: LocalWal,
  streamName: string = wal.outputs[WAL_OUTPUTS.streamName],
): Promise<{ data: string; sequence: string; partitionKey: string }[]> {
  const records: { data: string; sequence: string; partitionKey: string }[] = [];
  const shards = await wal.clients.kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  for (const shard of shards.Shards ?? []) {
    const iterator = await wal.clients.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const answer = await wal.clients.kinesis.send(
      new GetRecordsCommand({ ShardIterator: iterator.ShardIterator }),
    );
    for (const record of answer.Records ?? []) {
      records.push({
        data: Buffer.from(record.Data ?? []).toString('utf8'),
        sequence: record.SequenceNumber ?? '',
        partitionKey: record.PartitionKey ?? '',
      });
    }
  }
  return records;
}

/** Polls the event sources until `probe` answers, or fails after the timeout. */
export async function driveUntil<T>(
  wal: LocalWal,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  return waitFor(
    async () => {
      await wal.pollOnce();
      return probe();
    },
    timeoutMs,
    { intervalMs: 100 },
  );
}

/** The stack output that gives each of the WAL's queues. */
const QUEUE_OUTPUTS = {
  DelayQueue: WAL_OUTPUTS.delayQueueUrl,
  RetryQueue: WAL_OUTPUTS.retryQueueUrl,
  DeadLetterQueue: WAL_OUTPUTS.deadLetterQueueUrl,
  StreamFailureQueue: WAL_OUTPUTS.streamFailureQueueUrl,
} as const;

export type WalQueue = keyof typeof QUEUE_OUTPUTS;

/** A queue's URL, by the stack's outputs. */
export function queueUrl(wal: LocalWal, queue: WalQueue): string {
  return wal.outputs[QUEUE_OUTPUTS[queue]];
}

/** Drives the event sources until a queue holds nothing (visible, delayed or in flight). */
export async function driveUntilQueueEmpty(wal: LocalWal, queue: WalQueue, timeoutMs: number): Promise<void> {
  const url = queueUrl(wal, queue);
  await driveUntil(
    wal,
    async () => {
      const answer = await wal.clients.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
      );
      const attributes = answer.Attributes ?? {};
      const left =
        Number(attributes.ApproximateNumberOfMessages ?? 0) +
        Number(attributes.ApproximateNumberOfMessagesDelayed ?? 0) +
        Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
      return left === 0 ? true : undefined;
    },
    timeoutMs,
  );
}

/** What the ingest and the consumers' dependencies share: the ledger, the namespaces, the targets. */
function sharedDependenciesOf(wal: LocalWal, stage: string) {
  const documentClient = createDocumentClient(wal.clients.dynamodb);
  return {
    kinesis: wal.clients.kinesis,
    ledger: { documentClient, tableName: ledgerTableName(wal) },
    namespaces: new SsmNamespaceConfigStore(
      wal.clients.ssm,
      namespaceParameterPrefix(stage),
      0,
      silentLogger,
    ),
    targetClients: createTargetClients(documentClient),
    logger: silentLogger,
    now: Date.now,
    random: Math.random,
  };
}

/** The consumers' dependencies on this WAL's emulators, for tests that call delivery logic directly. */
export function deliveryDependenciesOf(wal: LocalWal, stage = 'it'): DeliveryDependencies {
  return {
    ...sharedDependenciesOf(wal, stage),
    sqs: wal.clients.sqs,
    waitingRoom: {
      documentClient: createDocumentClient(wal.clients.dynamodb),
      tableName: wal.outputs[WAL_OUTPUTS.waitingRoomTableName],
    },
    queues: {
      delay: queueUrl(wal, 'DelayQueue'),
      retry: queueUrl(wal, 'RetryQueue'),
      deadLetter: queueUrl(wal, 'DeadLetterQueue'),
    },
    commitTimeoutMs: 30_000,
  };
}

/** The ingest logic's dependencies on this WAL's emulators, for tests that steer its calls. */
export function ingestDependenciesOf(wal: LocalWal, stage = 'it'): IngestDependencies {
  return {
    ...sharedDependenciesOf(wal, stage),
    streamName: wal.outputs[WAL_OUTPUTS.streamName],
    newId: monotonicFactory(),
    // Short, so a test can see a FAIL's fence run out.
    failFenceMs: 2_000,
  };
}

/**
 * Deletes a table, so its target fails until it is back; returns what brings it back (same key schema,
 * with the items it held).
 */
export async function takeTableDown(wal: LocalWal, tableName: string): Promise<() => Promise<void>> {
  const described = await wal.clients.dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  const { KeySchema, AttributeDefinitions } = described.Table ?? {};
  const items = await scanTable(wal, tableName);
  await wal.clients.dynamodb.send(new DeleteTableCommand({ TableName: tableName }));
  return async () => {
    await wal.clients.dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        KeySchema,
        AttributeDefinitions,
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    // The WAL's own marshalling: items may hold names the SDK's default one cannot write (`constructor`).
    const documents = createDocumentClient(wal.clients.dynamodb);
    for (const item of items) await documents.send(new PutCommand({ TableName: tableName, Item: item }));
  };
}

/** How many messages a queue holds delayed (not yet visible). */
export async function delayedMessages(wal: LocalWal, queue: WalQueue): Promise<number> {
  const answer = await wal.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl(wal, queue),
      AttributeNames: ['ApproximateNumberOfMessagesDelayed'],
    }),
  );
  return Number(answer.Attributes?.ApproximateNumberOfMessagesDelayed ?? 0);
}

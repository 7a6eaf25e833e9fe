import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { APIGatewayProxyEventV2, KinesisStreamEvent, SQSEvent } from 'aws-lambda';
import { toKinesisStreamRecord } from '#lambdas/shared/kinesis-records';
import { namespaceParameterName } from '#lambdas/shared/namespace-config';
import { bucketOf, partitionKeyOf } from '#lambdas/shared/waiting-room';
import { WAITING_ROOM_PARTITION_KEY, WAITING_ROOM_SORT_KEY } from '#lambdas/shared/waiting-room-schema';
import type { PollResult } from '#lambdas/waiting-room-poller/poll-waiting-room';
import { LAMBDA_ENTRIES } from '#lib/wal-function';
import { WAL_OUTPUTS } from '#lib/wal-outputs';
import { type LocalWal, startLocalWal } from '#src/local/runtime/local-wal';
import { synthesizeStack } from '#src/local/runtime/synthesize';
import {
  FIXTURE_CONFIG_DIR,
  REPO_ROOT,
  streamRecords,
  targetTableName,
} from '#test/support/local-wal-harness';

/**
 * Cold start against the emulators: a fresh Node process requires a bundle and serves one event (the deployed
 * bundle: its handler; the baseline: the same AWS calls made with bare clients), timed from before the require
 * to the answer. The local WAL (stage `it`) provides the resources and the environment the stack would set.
 */

export type FunctionName = keyof typeof LAMBDA_ENTRIES;

const STAGE = 'it';
/** test/fixtures/config/it/orders.json: one provisioned DynamoDB target, `main`, keyed by `id`. */
const NAMESPACE = 'orders';
const TARGET = 'main';

/** The resources a baseline's calls address. */
export interface BaselineResources {
  readonly table: string;
  readonly streamName: string;
  readonly waitingRoomTable: string;
}

/** One AWS call of a baseline: `package#Client`, the command's class name, its input. */
export interface BaselineCall {
  readonly client: string;
  readonly command: string;
  readonly input: Record<string, unknown>;
}

export interface ColdStartFigures {
  readonly loadMs: number;
  readonly firstEventMs: number;
}

/** What one cold start printed: its timings and the handler's answer. */
interface ChildOutput extends ColdStartFigures {
  readonly result: unknown;
}

/** The emulators and the stack's resources, with what the cold starts need of them. */
export interface ColdStartBench {
  readonly wal: LocalWal;
  /** The variables the stack gives each function, pointed at the emulators. */
  readonly environment: Record<FunctionName, NodeJS.ProcessEnv>;
  /** What the baseline calls address: the `orders` target table, the WAL stream, the waiting room table. */
  readonly resources: BaselineResources;
  /** The queue the deliver messages come from (the retry queue). */
  readonly queueArn: string;
  stop(): Promise<void>;
}

class ColdStartFailedError extends Error {
  constructor(what: string, detail: string, options?: { cause?: unknown }) {
    super(
      `The cold start of ${what} did not serve its event (${detail}); run the bench with POWERTOOLS_LOG_LEVEL=DEBUG to see its logs.`,
      options,
    );
    this.name = 'ColdStartFailedError';
  }
}

/** Starts the emulators and the local WAL once for the section. */
export async function startColdStartBench(): Promise<ColdStartBench> {
  const { stackName, template } = synthesizeStack(STAGE, { configDir: FIXTURE_CONFIG_DIR });
  const wal = await startLocalWal({
    stackName,
    template,
    repoRoot: REPO_ROOT,
    autoPoll: false,
    overrideEnv: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
    functionOutput: () => undefined,
  });
  try {
    const functions = [...wal.wiring.functions.values()];
    const environment = Object.fromEntries(
      (Object.keys(LAMBDA_ENTRIES) as FunctionName[]).map((name) => {
        const wiring = functions.find((fn) => fn.entry === LAMBDA_ENTRIES[name]);
        if (!wiring) throw new ColdStartFailedError(name, 'no function of the stack has its entry');
        return [name, functionEnvironment(wal, wiring.environment, wiring.name)];
      }),
    ) as Record<FunctionName, NodeJS.ProcessEnv>;
    const table = await targetTableName(wal, STAGE, NAMESPACE, TARGET);
    return {
      wal,
      environment,
      resources: {
        table,
        streamName: wal.outputs[WAL_OUTPUTS.streamName],
        waitingRoomTable: wal.outputs[WAL_OUTPUTS.waitingRoomTableName],
      },
      queueArn: wal.outputs[WAL_OUTPUTS.retryQueueArn],
      stop: () => wal.stop(),
    };
  } catch (error) {
    await wal.stop();
    throw error;
  }
}

function functionEnvironment(
  wal: LocalWal,
  variables: Record<string, string>,
  functionName: string,
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    ...wal.emulators.env(),
    ...variables,
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
    // Local tooling runs on Node 20; Lambda runs Node 22. The SDK's reminder is noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** Requires the bundle, then serves the event (`handler`) or makes the calls (`run`), if any, then exits. */
const CHILD_SCRIPT = `
const t0 = process.hrtime.bigint();
const mod = require(process.env.BENCH_BUNDLE);
const t1 = process.hrtime.bigint();
const input = JSON.parse(process.env.BENCH_INPUT);
const context = { ...input.context, getRemainingTimeInMillis: () => 30000 };
const answer = input.event ? mod.handler(input.event, context) : input.calls ? mod.run(input.calls) : undefined;
Promise.resolve(answer).then(
  (result) => {
    const t2 = process.hrtime.bigint();
    process.stdout.write(JSON.stringify({ loadMs: Number(t1 - t0) / 1e6, firstEventMs: Number(t2 - t0) / 1e6, result }));
    process.exit(0);
  },
  (error) => { console.error(error); process.exit(1); },
);
`;

const run = promisify(execFile);

/**
 * One cold start of `bundle` in a fresh Node process with the function's variables; `nodeOptions`, when given,
 * replaces the function's NODE_OPTIONS.
 */
export async function coldStart(
  bundle: string,
  environment: NodeJS.ProcessEnv,
  input: { event: unknown } | { calls: readonly BaselineCall[] } | { loadOnly: true },
  nodeOptions?: string,
): Promise<ChildOutput> {
  const context = {
    functionName: environment.AWS_LAMBDA_FUNCTION_NAME ?? 'bench',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${environment.AWS_REGION}:000000000000:function:bench`,
    memoryLimitInMB: '512',
    awsRequestId: 'bench-request',
    callbackWaitsForEmptyEventLoop: true,
  };
  try {
    const { stdout } = await run(process.execPath, ['-e', CHILD_SCRIPT], {
      env: {
        ...environment,
        ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }),
        BENCH_BUNDLE: bundle,
        BENCH_INPUT: JSON.stringify({ ...input, context }),
      },
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
    });
    return JSON.parse(stdout) as ChildOutput;
  } catch (error) {
    throw new ColdStartFailedError(bundle, (error as { stderr?: string }).stderr ?? String(error), {
      cause: error,
    });
  }
}

/** Fails unless the handler's answer is a success: the bench times the happy path only. */
export function assertServed(name: FunctionName, result: unknown): void {
  if (!served(name, result)) throw new ColdStartFailedError(name, `it answered ${JSON.stringify(result)}`);
}

/**
 * Ingest: a 200. The consumers: an answer with no batch item failures. The poller: a PollResult (a count sent) that
 * is not behind, so its run reached the lookahead.
 */
function served(name: FunctionName, result: unknown): boolean {
  if (name === 'ingest') return (result as { statusCode?: number } | undefined)?.statusCode === 200;
  if (name === 'waitingRoomPoller') {
    const poll = result as Partial<PollResult> | undefined;
    return typeof poll?.sent === 'number' && poll.behind === false;
  }
  const failures = (result as { batchItemFailures?: unknown } | undefined)?.batchItemFailures;
  return Array.isArray(failures) && failures.length === 0;
}

/** An API Gateway HTTP API (payload 2.0) POST of one mutation to the `orders` namespace. */
export function ingestEvent(id: string): APIGatewayProxyEventV2 {
  const path = `/v1/namespaces/${NAMESPACE}/mutations`;
  return {
    version: '2.0',
    routeKey: 'POST /v1/namespaces/{namespace}/mutations',
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: { namespace: NAMESPACE },
    isBase64Encoded: false,
    body: JSON.stringify({ payload: { id, total: 42, lines: ['a', 'b'] } }),
    requestContext: {
      accountId: '000000000000',
      apiId: 'bench',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: 'POST', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId: `bench-${id}`,
      routeKey: 'POST /v1/namespaces/{namespace}/mutations',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
  };
}

/** The WAL stream's records of the `orders` namespace, oldest first, as Lambda hands them to a consumer. */
export async function ordersStreamRecords(bench: ColdStartBench): Promise<KinesisStreamEvent['Records']> {
  const streamName = bench.wal.outputs[WAL_OUTPUTS.streamName];
  const region = bench.wal.emulators.region;
  const arn = `arn:aws:kinesis:${region}:000000000000:stream/${streamName}`;
  const records = await streamRecords(bench.wal, streamName);
  return records
    .filter((record) => (JSON.parse(record.data) as { namespace?: string }).namespace === NAMESPACE)
    .map((record) =>
      toKinesisStreamRecord(
        {
          Data: Buffer.from(record.data),
          SequenceNumber: record.sequence,
          PartitionKey: record.partitionKey,
        },
        'shardId-000000000000',
        arn,
        region,
      ),
    );
}

/** An SQS event of one `deliver` message (lambdas/shared/queue-message.ts) for the record's mutation. */
export function deliverEvent(record: KinesisStreamEvent['Records'][number], queueArn: string): SQSEvent {
  const envelope = JSON.parse(Buffer.from(record.kinesis.data, 'base64').toString('utf8'));
  const body = JSON.stringify({
    kind: 'deliver',
    mutation: { envelope, sequence: record.kinesis.sequenceNumber },
    target: TARGET,
    notBefore: 0,
  });
  return {
    Records: [
      {
        messageId: `bench-${record.kinesis.sequenceNumber}`,
        receiptHandle: 'bench',
        body,
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(Date.now()),
          SenderId: 'bench',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: queueArn,
        awsRegion: 'us-east-1',
      },
    ],
  };
}

/** The AWS calls each function makes on its first event's happy path, made by a baseline with bare clients. */
export function baselineCalls(name: FunctionName, resources: BaselineResources, id: string): BaselineCall[] {
  if (name === 'waitingRoomPoller') return pollerCalls(resources.waitingRoomTable);
  const table = resources.table;
  const readConfig: BaselineCall = {
    client: '@aws-sdk/client-ssm#SSMClient',
    command: 'GetParameterCommand',
    input: { Name: namespaceParameterName(STAGE, NAMESPACE) },
  };
  const conditionalPut: BaselineCall = {
    client: '@aws-sdk/client-dynamodb#DynamoDBClient',
    command: 'PutItemCommand',
    input: {
      TableName: table,
      Item: { id: { S: id }, total: { N: '42' } },
      ConditionExpression: 'attribute_not_exists(id)',
    },
  };
  if (name === 'ingest') {
    const putRecord: BaselineCall = {
      client: '@aws-sdk/client-kinesis#KinesisClient',
      command: 'PutRecordCommand',
      input: {
        StreamName: resources.streamName,
        PartitionKey: id,
        Data: JSON.stringify({ id, total: 42 }),
      },
    };
    return [readConfig, putRecord, conditionalPut];
  }
  if (name === 'streamConsumer') {
    const batchGet: BaselineCall = {
      client: '@aws-sdk/client-dynamodb#DynamoDBClient',
      command: 'BatchGetItemCommand',
      input: { RequestItems: { [table]: { Keys: [{ id: { S: id } }] } } },
    };
    return [readConfig, batchGet, conditionalPut];
  }
  return [readConfig, conditionalPut];
}

/** The poller's first event: its checkpoint read, then a page of the current minute's first shard. */
function pollerCalls(table: string): BaselineCall[] {
  const client = '@aws-sdk/client-dynamodb#DynamoDBClient';
  const pk = partitionKeyOf(bucketOf(Date.now()), 0);
  return [
    {
      client,
      command: 'GetItemCommand',
      input: {
        TableName: table,
        Key: {
          [WAITING_ROOM_PARTITION_KEY]: { S: 'checkpoint' },
          [WAITING_ROOM_SORT_KEY]: { S: 'checkpoint' },
        },
        ConsistentRead: true,
      },
    },
    {
      client,
      command: 'QueryCommand',
      input: {
        TableName: table,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': WAITING_ROOM_PARTITION_KEY },
        ExpressionAttributeValues: { ':pk': { S: pk } },
        ConsistentRead: true,
        Limit: 100,
      },
    },
  ];
}

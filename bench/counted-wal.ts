import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { monotonicFactory } from 'ulid';
import { createHttpHandler } from '#lambdas/ingest/http-api';
import type { IngestDependencies } from '#lambdas/ingest/ingest-mutation';
import {
  createDocumentClient,
  createDynamoDbClient,
  createKinesisClient,
  createSqsClient,
  createSsmClient,
} from '#lambdas/shared/clients';
import type { DeliveryDependencies } from '#lambdas/shared/delivery';
import { ENV } from '#lambdas/shared/environment';
import { SsmNamespaceConfigStore } from '#lambdas/shared/namespace-store';
import { createTargetClients } from '#lambdas/shared/target-clients';
import { WAL_OUTPUTS } from '#lib/wal-outputs';
import type { CfnTemplate } from '#src/local/runtime/cfn-template';
import { type LocalWal, startLocalWal } from '#src/local/runtime/local-wal';
import { synthesizeStack } from '#src/local/runtime/synthesize';
import type { FunctionWiring } from '#src/local/runtime/wiring';
import { queueUrl, REPO_ROOT } from '#test/support/local-wal-harness';
import { RequestCounter } from './request-counter';

/**
 * The WAL on the emulators (stage `bench`: one namespace, one DynamoDB target), with the handlers' real logic
 * run in this process on SDK clients built by the deployed factories (lambdas/shared/clients.ts) and counted by
 * a RequestCounter, and a Powertools logger set as the template sets it, whose output is captured.
 */
const BENCH_STAGE = 'bench';
export const BENCH_NAMESPACE = 'bench';
const BENCH_CONFIG_DIR = path.join(__dirname, 'config');

/** A bench scenario could not run as the happy path it measures. */
export class BenchScenarioError extends Error {
  constructor(problem: string, options?: { cause?: unknown }) {
    super(`bench: ${problem}; the figures need the happy path: fix it and run the bench again`, options);
    this.name = 'BenchScenarioError';
  }
}

export interface CountedWal {
  readonly wal: LocalWal;
  /** Stops the WAL and gives the environment back its endpoints from before. */
  readonly stop: () => Promise<void>;
  readonly template: CfnTemplate;
  readonly counter: RequestCounter;
  readonly ingest: { deps: IngestDependencies; fn: FunctionWiring };
  readonly delivery: { deps: DeliveryDependencies; streamFn: FunctionWiring; queueFn: FunctionWiring };
  /** The waiting room poller's function (its logger and context). */
  readonly pollerFn: FunctionWiring;
  readonly ledgerTable: string;
}

export async function startCountedWal(): Promise<CountedWal> {
  const { stackName, template } = synthesizeStack(BENCH_STAGE, { configDir: BENCH_CONFIG_DIR });
  const wal = await startLocalWal({
    stackName,
    template,
    repoRoot: REPO_ROOT,
    autoPoll: false,
    overrideEnv: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
  });
  // The deployed client factories read their endpoints and region from the environment, as on Lambda.
  const emulatorEnv = wal.emulators.env();
  const previousEnv = Object.fromEntries(Object.keys(emulatorEnv).map((name) => [name, process.env[name]]));
  Object.assign(process.env, emulatorEnv);
  const ledgerTable = wal.outputs[WAL_OUTPUTS.ledgerTableName];
  const counter = new RequestCounter(await indexCounts(wal, [ledgerTable]));
  const ingestFn = functionByService(wal, 'wal-ingest');
  const streamFn = functionByService(wal, 'wal-stream-consumer');
  const queueFn = functionByService(wal, 'wal-queue-consumer');
  const pollerFn = functionByService(wal, 'wal-waiting-room-poller');
  return {
    wal,
    stop: async () => {
      await wal.stop();
      for (const [name, value] of Object.entries(previousEnv)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    },
    template,
    counter,
    ledgerTable,
    ingest: { deps: ingestDependencies(wal, counter, ingestFn, ledgerTable), fn: ingestFn },
    delivery: { deps: deliveryDependencies(wal, counter, streamFn, ledgerTable), streamFn, queueFn },
    pollerFn,
  };
}

function functionByService(wal: LocalWal, serviceName: string): FunctionWiring {
  const found = [...wal.wiring.functions.values()].find(
    (fn) => fn.environment.POWERTOOLS_SERVICE_NAME === serviceName,
  );
  if (!found)
    throw new BenchScenarioError(`the template has no function with POWERTOOLS_SERVICE_NAME ${serviceName}`);
  return found;
}

/** Global secondary indexes per table: each item write also writes each of them. */
async function indexCounts(wal: LocalWal, tables: string[]): Promise<Record<string, number>> {
  const { DescribeTableCommand } = await import('@aws-sdk/client-dynamodb');
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const described = await wal.clients.dynamodb.send(new DescribeTableCommand({ TableName: table }));
    counts[table] = described.Table?.GlobalSecondaryIndexes?.length ?? 0;
  }
  return counts;
}

/** The Powertools logger a function gets: its service name and log level from the template. */
export function functionLogger(fn: FunctionWiring): Logger {
  return new Logger({
    serviceName: fn.environment.POWERTOOLS_SERVICE_NAME ?? 'serverless-wal',
    logLevel: (fn.environment.POWERTOOLS_LOG_LEVEL ?? 'INFO') as 'INFO',
  });
}

function configStore(counter: RequestCounter, fn: FunctionWiring, logger: Logger): SsmNamespaceConfigStore {
  return new SsmNamespaceConfigStore(
    counter.attach(createSsmClient()),
    fn.environment[ENV.namespaceParameterPrefix] ?? `/wal/${BENCH_STAGE}/namespaces/`,
    Number(fn.environment[ENV.configMaxAgeSeconds] ?? 60) * 1000,
    logger,
  );
}

function ingestDependencies(
  wal: LocalWal,
  counter: RequestCounter,
  fn: FunctionWiring,
  ledgerTable: string,
): IngestDependencies {
  const logger = functionLogger(fn);
  return {
    kinesis: counter.attach(createKinesisClient()),
    streamName: wal.outputs[WAL_OUTPUTS.streamName],
    ledger: {
      documentClient: createDocumentClient(counter.attach(createDynamoDbClient())),
      tableName: ledgerTable,
    },
    namespaces: configStore(counter, fn, logger),
    logger,
    now: Date.now,
    newId: monotonicFactory(),
    random: Math.random,
    region: process.env.AWS_REGION,
    failFenceMs: Number(fn.environment[ENV.failFenceSeconds] ?? 61) * 1000,
  };
}

function deliveryDependencies(
  wal: LocalWal,
  counter: RequestCounter,
  fn: FunctionWiring,
  ledgerTable: string,
): DeliveryDependencies {
  const logger = functionLogger(fn);
  const documentClient = createDocumentClient(counter.attach(createDynamoDbClient()));
  const sqs = counter.attach(createSqsClient());
  const kinesis = counter.attach(createKinesisClient());
  return {
    sqs,
    kinesis,
    waitingRoom: { documentClient, tableName: wal.outputs[WAL_OUTPUTS.waitingRoomTableName] },
    queues: {
      delay: queueUrl(wal, 'DelayQueue'),
      retry: queueUrl(wal, 'RetryQueue'),
      deadLetter: queueUrl(wal, 'DeadLetterQueue'),
    },
    ledger: { documentClient, tableName: ledgerTable },
    namespaces: configStore(counter, fn, logger),
    targetClients: createTargetClients(documentClient, {
      sqs,
      kinesis,
      ssm: counter.attach(createSsmClient()),
    }),
    logger,
    now: Date.now,
    random: Math.random,
    commitTimeoutMs: Number(fn.environment[ENV.commitTimeoutSeconds] ?? 60) * 1000,
  };
}

/** A Lambda context as the function gets it (the logger adds its fields to every line, so they count). */
export function lambdaContext(fn: FunctionWiring): Context {
  // A deployed function's name: stack, construct path and a random suffix, as CloudFormation names it.
  const functionName = `ServerlessWal-prod-${fn.logicalId.slice(0, 40)}-AbCdEfGh1234`;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `2026/11/26/[$LATEST]${randomUUID().replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The ingest Lambda's handler on the counted dependencies. */
export function ingestHandler(counted: CountedWal) {
  return createHttpHandler(counted.ingest.deps);
}

export interface Captured<T> {
  readonly result: T;
  readonly bytes: number;
  readonly lines: number;
}

/**
 * Runs `action` with this process's stdout captured (the Powertools logger writes its JSON lines there, as a
 * function's stdout goes to CloudWatch Logs): what it printed, in bytes and lines, instead of printing it.
 */
export async function captureStdout<T>(action: () => Promise<T>): Promise<Captured<T>> {
  const original = process.stdout.write.bind(process.stdout);
  let bytes = 0;
  let lines = 0;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    bytes += Buffer.byteLength(text);
    lines += text.split('\n').filter((line) => line.length > 0).length;
    return true;
  }) as typeof process.stdout.write;
  try {
    return { result: await action(), bytes, lines };
  } finally {
    process.stdout.write = original;
  }
}

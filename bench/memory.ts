import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import type { APIGatewayProxyEventV2, KinesisStreamEvent, KinesisStreamRecord, SQSEvent } from 'aws-lambda';
import { createDocumentClient } from '#lambdas/shared/clients';
import type { Envelope } from '#lambdas/shared/envelope';
import { ROUTES, routeKey } from '#lambdas/shared/http/routes';
import { toKinesisStreamRecord } from '#lambdas/shared/kinesis-records';
import { putWaitingItem } from '#lambdas/shared/waiting-room';
import type { PollResult } from '#lambdas/waiting-room-poller/poll-waiting-room';
import { LAMBDA_ENTRIES } from '#lib/wal-function';
import { WAL_OUTPUTS } from '#lib/wal-outputs';
import type { CfnTemplate } from '#src/local/runtime/cfn-template';
import { type LocalWal, startLocalWal } from '#src/local/runtime/local-wal';
import { targetTableName } from '#src/local/runtime/namespace-targets';
import { scheduledEvent } from '#src/local/runtime/schedules';
import { synthesizeStack } from '#src/local/runtime/synthesize';
import type { FunctionWiring } from '#src/local/runtime/wiring';
import { bundleAsDeployed, CLIENTS_USED } from './bundle-build';
import { type FreshProcessFigures, runInFreshProcess } from './fresh-process';
import { type BenchSection, ratio } from './section';

/**
 * Peak memory of each handler on a batch of 100 mutations of 1 KB, each in a fresh process (bench/
 * fresh-process.ts) running its deployed bundle against the emulators of the local runtime (stage `local`):
 * ingest serves 100 requests, the stream consumer one event of 100 records, the queue consumer 100 delayed
 * deliveries in events of its mapping's batch size (10), the waiting room poller one scheduled run that sends 100
 * messages due within its lookahead to the delay queue. Baseline: the same fresh process loading a bundle
 * of only the SDK clients the function uses, doing nothing. Next to each: the function's configured memory.
 */

type FunctionName = keyof typeof LAMBDA_ENTRIES;

const REPO_ROOT = path.join(__dirname, '..');
const STAGE = 'local';
const NAMESPACE = 'demo';
const TARGET = 'main';
const MUTATIONS = 100;
const FILLER = 'x'.repeat(1000);

/** A handler answered, but not as the bench expects (a request refused, a record failed). */
class HandlerAnswerError extends Error {
  constructor(name: FunctionName, answer: unknown) {
    super(
      `The ${name} handler did not handle the bench's batch: it answered ${JSON.stringify(answer).slice(0, 300)}. ` +
        'Its memory would not be that of the work; run it with POWERTOOLS_LOG_LEVEL=DEBUG to see why.',
    );
    this.name = 'HandlerAnswerError';
  }
}

/** Stage `local` lacks a part the bench runs (a function, an event source mapping). */
class StageShapeError extends Error {
  constructor(missing: string) {
    super(
      `Stage ${STAGE} has no ${missing}; the memory bench runs the functions of config/${STAGE} as deployed.`,
    );
    this.name = 'StageShapeError';
  }
}

/** A step left a different number of records or items than the mutations it was given: its figure is void. */
class WorkCountError extends Error {
  constructor(what: string, expected: number, found: number) {
    super(
      `Expected ${expected} ${what}, found ${found}: the handlers did not do the bench's work; rerun it.`,
    );
    this.name = 'WorkCountError';
  }
}

interface DeployedFunction {
  readonly wiring: FunctionWiring;
  readonly memorySize: number;
}

/** Each function of the template by its handler entry, with its configured memory. */
function deployedFunctions(wal: LocalWal, template: CfnTemplate): Record<FunctionName, DeployedFunction> {
  const found: Partial<Record<FunctionName, DeployedFunction>> = {};
  for (const [name, entry] of Object.entries(LAMBDA_ENTRIES) as [FunctionName, string][]) {
    const wiring = [...wal.wiring.functions.values()].find((fn) => path.resolve(fn.entry) === entry);
    if (!wiring) throw new StageShapeError(`function running ${entry}`);
    const memorySize = Number(template.Resources?.[wiring.logicalId]?.Properties?.MemorySize ?? 128);
    found[name] = { wiring, memorySize };
  }
  return found as Record<FunctionName, DeployedFunction>;
}

/** What the function's process gets: the emulators' endpoints and the function's own variables. */
function functionEnv(wal: LocalWal, fn: DeployedFunction): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    ...wal.emulators.env(),
    ...fn.wiring.environment,
    AWS_LAMBDA_FUNCTION_NAME: fn.wiring.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** 100 POSTs of a 1 KB mutation, as API Gateway hands them to the ingest function. */
function ingestEvents(run: string): APIGatewayProxyEventV2[] {
  const mutate = routeKey(ROUTES.mutate);
  return Array.from({ length: MUTATIONS }, (_, index) => {
    const rawPath = `/v1/namespaces/${NAMESPACE}/mutations`;
    const now = Date.now();
    return {
      version: '2.0',
      routeKey: mutate,
      rawPath,
      rawQueryString: '',
      headers: { 'content-type': 'application/json' },
      pathParameters: { namespace: NAMESPACE },
      requestContext: {
        accountId: 'local',
        apiId: 'local',
        domainName: 'localhost',
        domainPrefix: 'local',
        http: {
          method: 'POST',
          path: rawPath,
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: 'bench',
        },
        requestId: randomUUID(),
        routeKey: mutate,
        stage: '$default',
        time: new Date(now).toISOString(),
        timeEpoch: now,
      },
      body: JSON.stringify({ payload: { id: `${run}-${index}`, data: FILLER } }),
      isBase64Encoded: false,
    };
  });
}

/** Every record on the WAL's stream (what ingest just prepared), as one stream consumer event. */
async function streamEvent(wal: LocalWal): Promise<KinesisStreamEvent> {
  const mapping = wal.kinesisSources[0]?.settings;
  if (!mapping) throw new StageShapeError('stream mapping');
  const records: KinesisStreamRecord[] = [];
  const shards = await wal.clients.kinesis.send(new ListShardsCommand({ StreamName: mapping.streamName }));
  for (const shard of shards.Shards ?? []) {
    const iterator = await wal.clients.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: mapping.streamName,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const answer = await wal.clients.kinesis.send(
      new GetRecordsCommand({ ShardIterator: iterator.ShardIterator }),
    );
    for (const record of answer.Records ?? []) {
      records.push(toKinesisStreamRecord(record, shard.ShardId ?? '', mapping.streamArn, mapping.region));
    }
  }
  return { Records: records };
}

/**
 * The same mutations as delayed deliveries now due, under new ids and keys (so each is a first apply,
 * as on the stream), in events of the delay queue mapping's batch size.
 */
function queueEvents(wal: LocalWal, stream: KinesisStreamEvent): SQSEvent[] {
  const delayQueue = wal.outputs[WAL_OUTPUTS.delayQueueUrl];
  const mapping = wal.sqsSources.find((source) => source.settings.queueUrl === delayQueue)?.settings;
  if (!mapping) throw new StageShapeError('delay queue mapping');
  const records = stream.Records.map((record, index) => {
    const envelope = JSON.parse(Buffer.from(record.kinesis.data, 'base64').toString('utf8')) as Envelope;
    const id = `${envelope.id}Q`;
    const payload = { ...(envelope.payload as Record<string, unknown>), id: `queued-${index}` };
    const mutation = {
      envelope: { ...envelope, id, idempotencyKey: id, payload },
      sequence: record.kinesis.sequenceNumber,
    };
    const body = JSON.stringify({ kind: 'deliver', mutation, target: TARGET, notBefore: Date.now() });
    const sent = String(Date.now());
    return {
      messageId: randomUUID(),
      receiptHandle: randomUUID(),
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: sent,
        SenderId: 'bench',
        ApproximateFirstReceiveTimestamp: sent,
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: mapping.queueArn,
      awsRegion: mapping.region,
    };
  });
  const events: SQSEvent[] = [];
  for (let start = 0; start < records.length; start += mapping.batchSize) {
    events.push({ Records: records.slice(start, start + mapping.batchSize) });
  }
  return events;
}

/** Throws unless every answer says all was handled (200 for ingest, no batch item failures for consumers). */
function checkAnswers(name: FunctionName, results: readonly unknown[]): void {
  for (const answer of results) {
    if (!answered(name, answer)) throw new HandlerAnswerError(name, answer);
  }
}

/** 200 for ingest, no batch item failures for the consumers, every message sent and not behind for the poller. */
function answered(name: FunctionName, answer: unknown): boolean {
  if (name === 'ingest') return (answer as { statusCode?: number }).statusCode === 200;
  if (name === 'waitingRoomPoller') {
    const poll = answer as Partial<PollResult> | undefined;
    return poll?.sent === MUTATIONS && poll.behind === false;
  }
  return ((answer as { batchItemFailures?: unknown[] } | undefined)?.batchItemFailures ?? []).length === 0;
}

/** The queue consumer's messages again, parked in the waiting room due in 2 minutes (within the lookahead). */
async function parkDueMessages(wal: LocalWal, queued: readonly SQSEvent[]): Promise<void> {
  const room = {
    documentClient: createDocumentClient(wal.clients.dynamodb),
    tableName: wal.outputs[WAL_OUTPUTS.waitingRoomTableName],
  };
  const dueAt = Date.now() + 120_000;
  for (const record of queued.flatMap((event) => event.Records)) {
    await putWaitingItem(room, wal.outputs[WAL_OUTPUTS.delayQueueUrl], record.body, dueAt);
  }
}

/** The poller's schedule, as EventBridge hands it to the function. */
function pollerEvent(wal: LocalWal): unknown {
  const schedule = wal.wiring.schedules[0];
  if (!schedule) throw new StageShapeError('schedule (the waiting room poller rule)');
  return scheduledEvent(schedule, { region: wal.emulators.region, accountId: '000000000000' });
}

/** Both consumers really applied their mutations: the target table holds one item per mutation. */
async function checkApplied(wal: LocalWal, expected: number): Promise<void> {
  const tableName = await targetTableName(wal.clients.ssm, STAGE, NAMESPACE, TARGET);
  const answer = await wal.clients.dynamodb.send(new ScanCommand({ TableName: tableName, Select: 'COUNT' }));
  if (answer.Count !== expected) {
    throw new WorkCountError(`items in ${tableName} after both consumers`, expected, answer.Count ?? 0);
  }
}

/** A module that creates one of each client, as a handler does at load. */
function baselineSource(clients: readonly string[]): string {
  const lines = clients.map((spec, index) => {
    const [module, name] = spec.split('#');
    return `const { ${name}: C${index} } = require('${module}');\nexports.c${index} = new C${index}({});`;
  });
  return `${lines.join('\n')}\n`;
}

interface Bundles {
  readonly handler: Record<FunctionName, string>;
  readonly baseline: Record<FunctionName, string>;
}

/** Each function's deployed bundle and its SDK-clients-only baseline, in `dir`. */
function buildBundles(dir: string): Bundles {
  const repoModules = path.join(REPO_ROOT, 'node_modules');
  const handler = {} as Record<FunctionName, string>;
  const baseline = {} as Record<FunctionName, string>;
  for (const name of Object.keys(LAMBDA_ENTRIES) as FunctionName[]) {
    handler[name] = path.join(dir, `${name}.js`);
    bundleAsDeployed(LAMBDA_ENTRIES[name], handler[name], { sourceMap: true });
    const baselineEntry = path.join(dir, `${name}-baseline-entry.js`);
    fs.writeFileSync(baselineEntry, baselineSource(CLIENTS_USED[name]));
    baseline[name] = path.join(dir, `${name}-baseline.js`);
    bundleAsDeployed(baselineEntry, baseline[name], { sourceMap: false, nodePaths: [repoModules] });
  }
  return { handler, baseline };
}

interface MemoryFigures {
  readonly function: FunctionName;
  readonly invocations: number;
  readonly peakRssMb: number;
  readonly peakHeapUsedMb: number;
  readonly baselinePeakRssMb: number;
  readonly configuredMb: number;
  readonly loadMs: number;
  readonly firstEventMs: number;
}

async function startWal(): Promise<{ wal: LocalWal; template: CfnTemplate }> {
  const { stackName, template } = synthesizeStack(STAGE);
  // Nothing polls: only the fresh processes handle the bench's mutations.
  const wal = await startLocalWal({
    stackName,
    template,
    repoRoot: REPO_ROOT,
    autoPoll: false,
    overrideEnv: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
    functionOutput: () => undefined,
  });
  return { wal, template };
}

/** One function on its events in a fresh process, then its baseline in another. */
async function measureFunction(
  name: FunctionName,
  events: readonly unknown[],
  context: { wal: LocalWal; fn: DeployedFunction; bundles: Bundles },
): Promise<MemoryFigures> {
  const { wal, fn, bundles } = context;
  const run = { env: functionEnv(wal, fn), memoryLimitInMB: fn.memorySize };
  const figures: FreshProcessFigures = await runInFreshProcess({
    ...run,
    bundle: bundles.handler[name],
    events,
  });
  checkAnswers(name, figures.results);
  const baseline = await runInFreshProcess({ ...run, bundle: bundles.baseline[name], events: [] });
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    function: name,
    invocations: events.length,
    peakRssMb: round(figures.peakRssMb),
    peakHeapUsedMb: round(figures.peakHeapUsedMb),
    baselinePeakRssMb: round(baseline.peakRssMb),
    configuredMb: fn.memorySize,
    loadMs: Math.round(figures.loadMs),
    firstEventMs: Math.round(figures.firstEventMs ?? Number.NaN),
  };
}

/**
 * The handlers in turn: ingest's records feed the stream consumer, whose mutations feed the queue's, whose messages
 * the poller sends on.
 */
async function measureHandlers(
  wal: LocalWal,
  template: CfnTemplate,
  bundles: Bundles,
  progress: (step: string) => void,
): Promise<MemoryFigures[]> {
  const functions = deployedFunctions(wal, template);
  const run = `mem-${Date.now().toString(36)}`;
  progress(`memory: ingest, ${MUTATIONS} requests in a fresh process`);
  const ingestFn = { wal, fn: functions.ingest, bundles };
  const ingest = await measureFunction('ingest', ingestEvents(run), ingestFn);
  const stream = await streamEvent(wal);
  if (stream.Records.length !== MUTATIONS) {
    throw new WorkCountError('records on the stream after ingest', MUTATIONS, stream.Records.length);
  }
  progress(`memory: stream consumer, one event of ${MUTATIONS} records`);
  const streamFn = { wal, fn: functions.streamConsumer, bundles };
  const streamConsumer = await measureFunction('streamConsumer', [stream], streamFn);
  const queued = queueEvents(wal, stream);
  progress(`memory: queue consumer, ${queued.length} events of ${queued[0]?.Records.length} messages`);
  const queueFn = { wal, fn: functions.queueConsumer, bundles };
  const queueConsumer = await measureFunction('queueConsumer', queued, queueFn);
  await checkApplied(wal, MUTATIONS * 2);
  progress(`memory: waiting room poller, one scheduled run sending ${MUTATIONS} due messages`);
  await parkDueMessages(wal, queued);
  const pollerFn = { wal, fn: functions.waitingRoomPoller, bundles };
  const poller = await measureFunction('waitingRoomPoller', [pollerEvent(wal)], pollerFn);
  return [ingest, streamConsumer, queueConsumer, poller];
}

async function measureMemory(progress: (step: string) => void): Promise<MemoryFigures[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wal-bench-memory-'));
  try {
    progress('memory: bundling each function and its SDK-clients-only baseline');
    const bundles = buildBundles(dir);
    progress('memory: starting the local WAL (stage local, no polling)');
    const { wal, template } = await startWal();
    try {
      return await measureHandlers(wal, template, bundles, progress);
    } finally {
      await wal.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function table(figures: readonly MemoryFigures[]): string[] {
  const header =
    'function           events  peak RSS  baseline  ratio  heap used  configured  headroom  load ms  1st event ms';
  const rows = figures.map((figure) =>
    [
      figure.function.padEnd(18),
      String(figure.invocations).padStart(6),
      `${figure.peakRssMb.toFixed(0)} MB`.padStart(9),
      `${figure.baselinePeakRssMb.toFixed(0)} MB`.padStart(9),
      `${ratio(figure.peakRssMb, figure.baselinePeakRssMb).toFixed(2)}x`.padStart(6),
      `${figure.peakHeapUsedMb.toFixed(0)} MB`.padStart(10),
      `${figure.configuredMb} MB`.padStart(11),
      `${(figure.configuredMb - figure.peakRssMb).toFixed(0)} MB`.padStart(9),
      String(figure.loadMs).padStart(8),
      String(figure.firstEventMs).padStart(13),
    ].join(' '),
  );
  return [header, ...rows];
}

/** Peak memory of each handler on 100 mutations of 1 KB, in a fresh process, against an SDK-clients-only one. */
export const memorySection: BenchSection = {
  name: 'memory',
  run: async ({ progress }) => {
    const figures = await measureMemory(progress);
    const byFunction = Object.fromEntries(
      figures.map((figure) => [
        figure.function,
        {
          peak: figure.peakRssMb,
          baseline: figure.baselinePeakRssMb,
          configured: figure.configuredMb,
          ratio: ratio(figure.peakRssMb, figure.baselinePeakRssMb),
          headroom: Math.round((figure.configuredMb - figure.peakRssMb) * 10) / 10,
          heapUsed: figure.peakHeapUsedMb,
        },
      ]),
    );
    const freshProcessMs = Object.fromEntries(
      figures.map((figure) => [figure.function, { load: figure.loadMs, firstEvent: figure.firstEventMs }]),
    );
    return { table: table(figures), json: { memoryMb: byFunction, freshProcessMs } };
  },
};

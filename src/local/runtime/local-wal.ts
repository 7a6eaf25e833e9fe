import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type {
  APIGatewayProxyStructuredResultV2,
  KinesisStreamBatchResponse,
  SQSBatchResponse,
} from 'aws-lambda';
import type { WalOutputs } from '#lib/wal-outputs';
import { LOCAL_ACCOUNT_ID } from '#src/local/constants';
import { type Emulators, type EmulatorsOptions, startEmulators } from '#src/local/emulators';
import { KinesisEventSource } from '#src/local/event-sources/kinesis-event-source';
import { SqsEventSource } from '#src/local/event-sources/sqs-event-source';
import { close, listen } from '#src/local/http-server';
import { LOCAL_OUTPUTS, OUTPUTS_FILE_NAME, writeStackOutputs } from '#src/outputs/outputs-file';
import { type ApiServer, createApiServer } from './api-server';
import type { CfnTemplate } from './cfn-template';
import { CheckpointFile } from './checkpoint-file';
import { FunctionHost } from './function-host';
import { resolveOutputs } from './outputs';
import { type RuntimeLog, startPollLoops, stderrLog } from './poll-loops';
import { type Provisioned, provisionTemplate } from './provision';
import { scheduledEvent, startSchedules } from './schedules';
import { readWiring, type Wiring } from './wiring';

/** API Gateway HTTP APIs give a Lambda integration at most 30 s (lib/timeout-budget.ts cites the quota). */
const API_GATEWAY_INTEGRATION_TIMEOUT_MS = 30_000;

export interface LocalWalOptions extends EmulatorsOptions {
  readonly stackName: string;
  readonly template: CfnTemplate;
  /** Where the handler sources are (entries in the template are relative to it). */
  readonly repoRoot: string;
  /** API port; 0 picks a free one. */
  readonly apiPort?: number;
  /** Poll the event sources continuously (the default); tests may drive them with `pollOnce`. */
  readonly autoPoll?: boolean;
  /** Idle wait between polls of one event source, in ms. @default 100 */
  readonly pollIntervalMs?: number;
  /** Period of every scheduled rule (with autoPoll), in ms. @default each rule's rate */
  readonly schedulePeriodMs?: number;
  /**
   * Variables every function gets over the template's (a fault injector's, a quieter log level); a
   * function of the provisioned stack when they name its resources (an outage of its target table).
   */
  readonly overrideEnv?:
    | Record<string, string>
    | ((stack: ProvisionedStack) => Promise<Record<string, string>>);
  /** Where to write the stack's outputs. @default `<dataDir>/outputs.json`, none without a data dir */
  readonly outputsFile?: string;
  /** Where the functions' stdout and stderr (their logs) go. @default this process's stdout and stderr */
  readonly functionOutput?: (chunk: string) => void;
  /** The runtime's own structured logs (a failing event source). @default JSON lines on stderr */
  readonly log?: RuntimeLog;
}

/** SDK clients pointed at the emulators, for tests and the CLI. */
export interface LocalClients {
  readonly dynamodb: DynamoDBClient;
  readonly kinesis: KinesisClient;
  readonly sqs: SQSClient;
  readonly ssm: SSMClient;
}

/** The stack once its resources exist, before its functions start. */
export interface ProvisionedStack {
  readonly outputs: WalOutputs;
  readonly clients: LocalClients;
}

/** The whole WAL on one machine: emulators, resources from the template, functions, event sources, API. */
export interface LocalWal {
  readonly apiUrl: string;
  /** The stack's outputs (lib/wal-outputs.ts): how tools find its resources. */
  readonly outputs: WalOutputs;
  readonly emulators: Emulators;
  readonly provisioned: Provisioned;
  readonly wiring: Wiring;
  /** The emulated event source mappings, in template order. */
  readonly kinesisSources: readonly KinesisEventSource[];
  readonly sqsSources: readonly SqsEventSource[];
  readonly clients: LocalClients;
  /** One round over every event source; returns how many records and messages were handed over. */
  pollOnce(): Promise<number>;
  /** Runs every scheduled rule once (as if its time had come); resolves with the functions' answers. */
  runSchedules(): Promise<unknown[]>;
  /** Invokes a function of the template directly, as `aws lambda invoke` would. */
  invoke<Result = unknown>(functionLogicalId: string, event: unknown): Promise<Result>;
  stop(): Promise<void>;
}

/** What stops the parts started so far: last started, first stopped; a second call waits for the first. */
class Teardown {
  private readonly steps: (() => Promise<void>)[] = [];
  private stopped: Promise<void> | undefined;

  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  run(): Promise<void> {
    this.stopped ??= (async () => {
      for (const step of [...this.steps].reverse()) await step().catch(() => undefined);
    })();
    return this.stopped;
  }
}

export async function startLocalWal(options: LocalWalOptions): Promise<LocalWal> {
  const emulators = await startEmulators(options);
  const teardown = new Teardown();
  teardown.add(() => emulators.stop());
  try {
    return await startOnEmulators(options, emulators, teardown);
  } catch (error) {
    await teardown.run();
    throw error;
  }
}

async function startOnEmulators(
  options: LocalWalOptions,
  emulators: Emulators,
  teardown: Teardown,
): Promise<LocalWal> {
  const clients = createClients(emulators);
  teardown.add(async () => {
    for (const client of Object.values(clients)) client.destroy();
  });
  const { api, apiUrl } = await startApi(options, teardown);
  const { provisioned, outputs, wiring, overrideEnv } = await provisionStack(
    options,
    emulators,
    clients,
    apiUrl,
  );
  const hostOf = await startFunctionHosts(wiring, emulators, overrideEnv, teardown, options.functionOutput);
  const { kinesisSources, sqsSources } = createEventSources(wiring, clients, hostOf, options.dataDir);
  serveRoutes(api, wiring, hostOf);
  const runSchedule = (schedule: Wiring['schedules'][number]) =>
    hostOf(schedule.functionLogicalId).invoke(
      scheduledEvent(schedule, { region: emulators.region, accountId: LOCAL_ACCOUNT_ID }),
    );
  if (options.autoPoll ?? true) {
    teardown.add(startAutoPoll(kinesisSources, sqsSources, options));
    teardown.add(
      startSchedules(wiring.schedules, runSchedule, {
        log: options.log ?? stderrLog,
        ...(options.schedulePeriodMs === undefined ? {} : { periodMs: options.schedulePeriodMs }),
      }),
    );
  }
  const outputsFile = options.outputsFile ?? (options.dataDir && join(options.dataDir, OUTPUTS_FILE_NAME));
  if (outputsFile)
    writeStackOutputs(outputsFile, options.stackName, { ...outputs, ...localOutputs(emulators) });

  const pollOnce = async () => {
    const counts = await Promise.all([...kinesisSources, ...sqsSources].map((source) => source.pollOnce()));
    return counts.reduce((sum, count) => sum + count, 0);
  };
  return {
    apiUrl,
    outputs,
    emulators,
    provisioned,
    wiring,
    kinesisSources,
    sqsSources,
    clients,
    pollOnce,
    runSchedules: () => Promise.all(wiring.schedules.map(runSchedule)),
    invoke: (functionLogicalId, event) => hostOf(functionLogicalId).invoke(event),
    stop: () => teardown.run(),
  };
}

/** The local endpoints, where `wal ns` finds the namespace parameters and `wal replay` the stream and ledger. */
function localOutputs(emulators: Emulators): Record<string, string> {
  return {
    [LOCAL_OUTPUTS.ssmEndpoint]: emulators.endpoints.ssm,
    [LOCAL_OUTPUTS.kinesisEndpoint]: emulators.endpoints.kinesis,
    [LOCAL_OUTPUTS.dynamodbEndpoint]: emulators.endpoints.dynamodb,
  };
}

/** The API listens first (answering 503): the template's API endpoint resolves to its port. */
async function startApi(
  options: LocalWalOptions,
  teardown: Teardown,
): Promise<{ api: ApiServer; apiUrl: string }> {
  const api = createApiServer();
  const apiHost = options.host ?? '127.0.0.1';
  const apiUrl = `http://${apiHost}:${await listen(api.server, options.apiPort ?? 0, apiHost)}`;
  teardown.add(() => close(api.server));
  return { api, apiUrl };
}

/** The template's resources, created; what its outputs resolve to; how its functions are wired. */
async function provisionStack(
  options: LocalWalOptions,
  emulators: Emulators,
  clients: LocalClients,
  apiUrl: string,
): Promise<{
  provisioned: Provisioned;
  outputs: WalOutputs;
  wiring: Wiring;
  overrideEnv: Record<string, string> | undefined;
}> {
  const provisioned = await provisionTemplate(options.template, clients, {
    stackName: options.stackName,
    region: emulators.region,
    accountId: LOCAL_ACCOUNT_ID,
    apiUrl,
  });
  const outputs = resolveOutputs(options.template, provisioned.context, apiUrl);
  const wiring = readWiring(options.template, provisioned, options.repoRoot);
  // Resolved only now: a function of the stack may name the resources just created.
  const overrideEnv =
    typeof options.overrideEnv === 'function'
      ? await options.overrideEnv({ outputs, clients })
      : options.overrideEnv;
  return { provisioned, outputs, wiring, overrideEnv };
}

/** Hands the template's routes to their functions; until now the API answered 503. */
function serveRoutes(api: ApiServer, wiring: Wiring, hostOf: (logicalId: string) => FunctionHost): void {
  // API Gateway gives its Lambda integration 30 s from the request's arrival: an attempt that could not
  // start by then never does (the FAIL fence's arithmetic counts on that).
  api.serve(wiring.routes, (route, event) =>
    hostOf(route.functionLogicalId).invoke<APIGatewayProxyStructuredResultV2>(event, {
      startBy: event.requestContext.timeEpoch + API_GATEWAY_INTEGRATION_TIMEOUT_MS,
    }),
  );
}

/** Polls every event source continuously, as Lambda's pollers do; returns what stops the loops. */
function startAutoPoll(
  kinesisSources: readonly KinesisEventSource[],
  sqsSources: readonly SqsEventSource[],
  options: LocalWalOptions,
): () => Promise<void> {
  const sources = [
    ...kinesisSources.map((source) => ({
      name: source.settings.streamName,
      pollOnce: () => source.pollOnce(),
    })),
    ...sqsSources.map((source) => ({ name: source.settings.queueUrl, pollOnce: () => source.pollOnce() })),
  ];
  return startPollLoops(sources, {
    intervalMs: options.pollIntervalMs ?? 100,
    log: options.log ?? stderrLog,
  });
}

function createClients(emulators: Emulators): LocalClients {
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const base = { region: emulators.region, credentials };
  return {
    dynamodb: new DynamoDBClient({ ...base, endpoint: emulators.endpoints.dynamodb }),
    kinesis: new KinesisClient({
      ...base,
      endpoint: emulators.endpoints.kinesis,
      requestHandler: new NodeHttpHandler(),
    }),
    sqs: new SQSClient({ ...base, endpoint: emulators.endpoints.sqs }),
    ssm: new SSMClient({ ...base, endpoint: emulators.endpoints.ssm }),
  };
}

/** Starts a host per function of the template; returns the lookup by logical id. */
async function startFunctionHosts(
  wiring: Wiring,
  emulators: Emulators,
  overrideEnv: Record<string, string> | undefined,
  teardown: Teardown,
  output: ((chunk: string) => void) | undefined,
): Promise<(logicalId: string) => FunctionHost> {
  const baseEnv = {
    ...process.env,
    ...emulators.env(),
    // Local tooling runs on Node 20; Lambda runs Node 22. The SDK's reminder is noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const hosts = new Map<string, FunctionHost>();
  teardown.add(async () => {
    await Promise.all([...hosts.values()].map((host) => host.stop()));
  });
  await Promise.all(
    [...wiring.functions.values()].map(async (fn) => {
      hosts.set(fn.logicalId, await FunctionHost.start(fn, baseEnv, overrideEnv, output ? { output } : {}));
    }),
  );
  return (logicalId) => hosts.get(logicalId) as FunctionHost;
}

/** The template's event source mappings, emulated; Kinesis checkpoints persist in the data dir. */
function createEventSources(
  wiring: Wiring,
  clients: LocalClients,
  hostOf: (logicalId: string) => FunctionHost,
  dataDir: string | undefined,
): { kinesisSources: KinesisEventSource[]; sqsSources: SqsEventSource[] } {
  const checkpoints = dataDir ? new CheckpointFile(join(dataDir, 'kinesis-checkpoints.json')) : undefined;
  const sendFailure = (queueUrl: string) => async (failure: unknown) => {
    await clients.sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(failure) }),
    );
  };
  const kinesisSources = wiring.kinesisMappings.map(
    (mapping) =>
      new KinesisEventSource(
        clients.kinesis,
        mapping.settings,
        (event) => hostOf(mapping.functionLogicalId).invoke<KinesisStreamBatchResponse | undefined>(event),
        mapping.onFailureQueueUrl ? sendFailure(mapping.onFailureQueueUrl) : undefined,
        checkpoints?.forMapping(mapping.logicalId),
      ),
  );
  const sqsSources = wiring.sqsMappings.map(
    (mapping) =>
      new SqsEventSource(clients.sqs, mapping.settings, (event) =>
        hostOf(mapping.functionLogicalId).invoke<SQSBatchResponse | undefined>(event),
      ),
  );
  return { kinesisSources, sqsSources };
}

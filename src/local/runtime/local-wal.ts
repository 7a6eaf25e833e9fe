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
import { LOCAL_ACCOUNT_ID } from '#src/local/constants';
import { type Emulators, type EmulatorsOptions, startEmulators } from '#src/local/emulators';
import { KinesisEventSource } from '#src/local/event-sources/kinesis-event-source';
import { SqsEventSource } from '#src/local/event-sources/sqs-event-source';
import { close, listen } from '#src/local/http-server';
import { createApiServer } from './api-server';
import type { CfnTemplate } from './cfn-template';
import { CheckpointFile } from './checkpoint-file';
import { FunctionHost } from './function-host';
import { type Provisioned, provisionTemplate } from './provision';
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
  /** Variables every function gets over the template's (a fault injector's, a quieter log level). */
  readonly overrideEnv?: Record<string, string>;
}

/** The whole WAL on one machine: emulators, resources from the template, functions, event sources, API. */
export interface LocalWal {
  readonly apiUrl: string;
  readonly emulators: Emulators;
  readonly provisioned: Provisioned;
  readonly wiring: Wiring;
  /** The emulated event source mappings, in template order. */
  readonly kinesisSources: readonly KinesisEventSource[];
  readonly sqsSources: readonly SqsEventSource[];
  /** SDK clients pointed at the emulators, for tests and the CLI. */
  readonly clients: {
    dynamodb: DynamoDBClient;
    kinesis: KinesisClient;
    sqs: SQSClient;
    ssm: SSMClient;
  };
  /** One round over every event source; returns how many records and messages were handed over. */
  pollOnce(): Promise<number>;
  /** Invokes a function of the template directly, as `aws lambda invoke` would. */
  invoke<Result = unknown>(functionLogicalId: string, event: unknown): Promise<Result>;
  stop(): Promise<void>;
}

export async function startLocalWal(options: LocalWalOptions): Promise<LocalWal> {
  const emulators = await startEmulators(options);
  const stopping: (() => Promise<void>)[] = [() => emulators.stop()];
  let stopped: Promise<void> | undefined;
  // Last started, first stopped; a second call waits for the first.
  const stopAll = () => {
    stopped ??= (async () => {
      for (const stop of [...stopping].reverse()) await stop().catch(() => undefined);
    })();
    return stopped;
  };
  try {
    const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    const base = { region: emulators.region, credentials };
    const clients = {
      dynamodb: new DynamoDBClient({ ...base, endpoint: emulators.endpoints.dynamodb }),
      kinesis: new KinesisClient({
        ...base,
        endpoint: emulators.endpoints.kinesis,
        requestHandler: new NodeHttpHandler(),
      }),
      sqs: new SQSClient({ ...base, endpoint: emulators.endpoints.sqs }),
      ssm: new SSMClient({ ...base, endpoint: emulators.endpoints.ssm }),
    };
    stopping.push(async () => {
      for (const client of Object.values(clients)) client.destroy();
    });

    // The API listens first (answering 503): the template's API endpoint resolves to its port.
    const api = createApiServer();
    const apiHost = options.host ?? '127.0.0.1';
    const apiPort = await listen(api.server, options.apiPort ?? 0, apiHost);
    const apiUrl = `http://${apiHost}:${apiPort}`;
    stopping.push(() => close(api.server));

    const provisioned = await provisionTemplate(options.template, clients, {
      stackName: options.stackName,
      region: emulators.region,
      accountId: LOCAL_ACCOUNT_ID,
      apiUrl,
    });
    const wiring = readWiring(options.template, provisioned, options.repoRoot);

    const baseEnv = {
      ...process.env,
      ...emulators.env(),
      // Local tooling runs on Node 20; Lambda runs Node 22. The SDK's reminder is noise here.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const hosts = new Map<string, FunctionHost>();
    stopping.push(async () => {
      await Promise.all([...hosts.values()].map((host) => host.stop()));
    });
    await Promise.all(
      [...wiring.functions.values()].map(async (fn) => {
        hosts.set(fn.logicalId, await FunctionHost.start(fn, baseEnv, options.overrideEnv));
      }),
    );
    const hostOf = (logicalId: string) => hosts.get(logicalId) as FunctionHost;

    const checkpoints = options.dataDir
      ? new CheckpointFile(join(options.dataDir, 'kinesis-checkpoints.json'))
      : undefined;
    const kinesisSources = wiring.kinesisMappings.map(
      (mapping) =>
        new KinesisEventSource(
          clients.kinesis,
          mapping.settings,
          (event) => hostOf(mapping.functionLogicalId).invoke<KinesisStreamBatchResponse | undefined>(event),
          mapping.onFailureQueueUrl
            ? async (failure) => {
                await clients.sqs.send(
                  new SendMessageCommand({
                    QueueUrl: mapping.onFailureQueueUrl,
                    MessageBody: JSON.stringify(failure),
                  }),
                );
              }
            : undefined,
          checkpoints?.forMapping(mapping.logicalId),
        ),
    );
    const sqsSources = wiring.sqsMappings.map(
      (mapping) =>
        new SqsEventSource(clients.sqs, mapping.settings, (event) =>
          hostOf(mapping.functionLogicalId).invoke<SQSBatchResponse | undefined>(event),
        ),
    );

    // API Gateway gives its Lambda integration 30 s from the request's arrival: an attempt that could not
    // start by then never does (the FAIL fence's arithmetic counts on that).
    api.serve(wiring.routes, (route, event) =>
      hostOf(route.functionLogicalId).invoke<APIGatewayProxyStructuredResultV2>(event, {
        startBy: event.requestContext.timeEpoch + API_GATEWAY_INTEGRATION_TIMEOUT_MS,
      }),
    );

    const pollOnce = async () => {
      const counts = await Promise.all([
        ...kinesisSources.map((source) => source.pollOnce()),
        ...sqsSources.map((source) => source.pollOnce()),
      ]);
      return counts.reduce((sum, count) => sum + count, 0);
    };

    let running = options.autoPoll ?? true;
    const loops: Promise<void>[] = [];
    if (running) {
      const interval = options.pollIntervalMs ?? 100;
      const loop = async (poll: () => Promise<number>) => {
        while (running) {
          const count = await poll().catch(() => 0);
          if (count === 0 && running) await new Promise((resolve) => setTimeout(resolve, interval));
        }
      };
      for (const source of [...kinesisSources, ...sqsSources]) loops.push(loop(() => source.pollOnce()));
    }
    stopping.push(async () => {
      running = false;
      await Promise.all(loops);
    });

    return {
      apiUrl,
      emulators,
      provisioned,
      wiring,
      kinesisSources,
      sqsSources,
      clients,
      pollOnce,
      invoke: (functionLogicalId, event) => hostOf(functionLogicalId).invoke(event),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

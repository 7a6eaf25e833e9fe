import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createDocumentClient } from '#lambdas/shared/clients';
import { type NamespaceConfig, parseNamespaceConfig } from '#lambdas/shared/namespace-config';
import { WAL_OUTPUTS } from '#lib/wal-outputs';
import { DEFAULT_DATA_DIR } from '#src/cli/commands/local';
import { NamespaceParameterStore } from '#src/cli/commands/ns/parameters';
import { UsageError } from '#src/cli/usage-error';
import { DEFAULT_LOCAL_REGION } from '#src/local/constants';
import {
  LOCAL_OUTPUTS,
  OUTPUTS_FILE_NAME,
  readStackOutputs,
  type StackOutputs,
  walStackName,
} from '#src/outputs/outputs-file';
import type { ReplayCommandOptions } from './options';
import { DEFAULT_MIN_READ_INTERVAL_MS } from './read-stream';
import type { ReplayDependencies } from './replay';

/** The replay's clients on the stack the outputs file names, and what closes them. */
export interface ReplayConnection {
  readonly deps: ReplayDependencies;
  /** `local` (the emulators) or the AWS region. */
  readonly where: string;
  destroy(): void;
}

/**
 * Connects to the stage's stack from its outputs file: the local runtime's (which names its emulators'
 * endpoints) or the one `cdk deploy --outputs-file` wrote (then AWS, default credentials, the stack's region).
 */
export function connectReplay(options: ReplayCommandOptions): ReplayConnection {
  const file = resolve(options.outputsFile ?? join(options.dataDir ?? DEFAULT_DATA_DIR, OUTPUTS_FILE_NAME));
  const outputs = readStackOutputs(file, walStackName(options.stage));
  const clients = clientsFor(outputs);
  const parameters = new NamespaceParameterStore(clients.ssm, options.stage, clients.where);
  const configs = new Map<string, Promise<NamespaceConfig>>();
  const namespaceConfig = (namespace: string): Promise<NamespaceConfig> => {
    let config = configs.get(namespace);
    if (!config) {
      config = parameters
        .get(namespace)
        .then((parameter) => parseNamespaceConfig(JSON.parse(parameter.value), parameter.parameterName));
      configs.set(namespace, config);
    }
    return config;
  };
  const deps: ReplayDependencies = {
    kinesis: clients.kinesis,
    sqs: clients.sqs,
    streamName: outputs.get(WAL_OUTPUTS.streamName),
    ledger: {
      documentClient: createDocumentClient(clients.dynamodb),
      tableName: outputs.get(WAL_OUTPUTS.ledgerTableName),
    },
    namespaceConfig,
    sharedRetryQueueUrl: outputs.get(WAL_OUTPUTS.retryQueueUrl),
    now: Date.now,
    sleep: (ms) => new Promise<void>((done) => setTimeout(done, ms)),
    minReadIntervalMs: DEFAULT_MIN_READ_INTERVAL_MS,
    findsTimestamps: clients.where === 'aws',
  };
  return {
    deps,
    where: clients.where,
    destroy: () => {
      for (const client of [clients.kinesis, clients.sqs, clients.ssm, clients.dynamodb]) client.destroy();
    },
  };
}

interface Clients {
  readonly kinesis: KinesisClient;
  readonly sqs: SQSClient;
  readonly ssm: SSMClient;
  readonly dynamodb: DynamoDBClient;
  readonly where: string;
}

function clientsFor(outputs: StackOutputs): Clients {
  const kinesisEndpoint = outputs.find(LOCAL_OUTPUTS.kinesisEndpoint);
  if (kinesisEndpoint === undefined) {
    const region = regionOfArn(outputs.get(WAL_OUTPUTS.retryQueueArn));
    return {
      kinesis: new KinesisClient({ region }),
      sqs: new SQSClient({ region }),
      ssm: new SSMClient({ region }),
      dynamodb: new DynamoDBClient({ region }),
      where: 'aws',
    };
  }
  // The emulators check no signature; dummy keys keep real ones out of a local call.
  const base = {
    region: DEFAULT_LOCAL_REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  return {
    // HTTP/1.1: kinesalite rejects the SDK's HTTP/2 handler.
    kinesis: new KinesisClient({
      ...base,
      endpoint: kinesisEndpoint,
      requestHandler: new NodeHttpHandler(),
    }),
    sqs: new SQSClient({ ...base, endpoint: new URL(outputs.get(WAL_OUTPUTS.retryQueueUrl)).origin }),
    ssm: new SSMClient({ ...base, endpoint: outputs.get(LOCAL_OUTPUTS.ssmEndpoint) }),
    dynamodb: new DynamoDBClient({ ...base, endpoint: outputs.get(LOCAL_OUTPUTS.dynamodbEndpoint) }),
    where: 'local',
  };
}

/** `arn:aws:sqs:eu-west-1:123456789012:name` -> eu-west-1. */
function regionOfArn(arn: string): string {
  const region = arn.split(':')[3];
  if (!region) throw new UsageError(`Cannot tell the stack's region from ${arn}: set AWS_REGION.`);
  return region;
}

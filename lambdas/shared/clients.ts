import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { withExactMarshalling } from './dynamo-marshalling';
import { withFaults } from './faults';
import { type SdkBudget, sdkBudgetFromEnvironment } from './sdk-budget';
import { lazyTargetClients, type TargetClients } from './targets/index';

/**
 * AWS client factories. Endpoints come from the standard `AWS_ENDPOINT_URL_<SERVICE>` variables,
 * so the same code talks to AWS or to the local emulators. Handlers create each client once per
 * module (per Lambda container) and pass it to the logic as a parameter.
 */

/**
 * Attempts and timeouts of every client, from the budget the stack gives the function (see
 * sdk-budget.ts): an SDK call then always ends before the function's timeout.
 */
function clientSettings(budget: SdkBudget = sdkBudgetFromEnvironment()) {
  return {
    maxAttempts: budget.maxAttempts,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: budget.connectionTimeoutMs,
      requestTimeout: budget.requestTimeoutMs,
      // Without it, @smithy/node-http-handler 4.x only logs a warning when requestTimeout passes.
      throwOnRequestTimeout: true,
    }),
  };
}

export function createDynamoDbClient(): DynamoDBClient {
  return withFaults(new DynamoDBClient(clientSettings()), 'DynamoDB');
}

// Class instances other than sets and binaries are a bug in the WAL's own code: fail, do not guess a map.
const marshallOptions = { removeUndefinedValues: true, convertClassInstanceToMap: false };
const unmarshallOptions = {};

/**
 * The document client every function uses, with marshalling that keeps any field name as sent
 * (`constructor` included): lambdas/shared/dynamo-marshalling.ts says why the SDK's does not.
 */
export function createDocumentClient(
  client: DynamoDBClient = createDynamoDbClient(),
): DynamoDBDocumentClient {
  const documentClient = DynamoDBDocumentClient.from(client, { marshallOptions, unmarshallOptions });
  return withExactMarshalling(documentClient, client, {
    marshall: marshallOptions,
    unmarshall: unmarshallOptions,
  });
}

/** HTTP/1.1 on purpose: kinesalite rejects the HTTP/2 handler with "Protocol error". */
export function createKinesisClient(): KinesisClient {
  return withFaults(new KinesisClient(clientSettings()), 'Kinesis');
}

export function createSqsClient(): SQSClient {
  return withFaults(new SQSClient(clientSettings()), 'SQS');
}

export function createSsmClient(): SSMClient {
  return withFaults(new SSMClient(clientSettings()), 'SSM');
}

function createSnsClient(): SNSClient {
  return withFaults(new SNSClient(clientSettings()), 'SNS');
}

function createEventBridgeClient(): EventBridgeClient {
  return withFaults(new EventBridgeClient(clientSettings()), 'EventBridge');
}

/**
 * The Lambda target's client: one attempt per call, and a request timeout above the longest a target may set
 * (each invoke is cut at its target's `timeoutSeconds`): an SDK retry would run a slow function again.
 */
function createLambdaClient(): LambdaClient {
  const budget = sdkBudgetFromEnvironment();
  return withFaults(
    new LambdaClient({
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({
        connectionTimeout: budget.connectionTimeoutMs,
        requestTimeout: LAMBDA_TARGET_REQUEST_TIMEOUT_MS,
        throwOnRequestTimeout: true,
      }),
    }),
    'Lambda',
  );
}

/** Above the 10 s a lambda target's timeoutSeconds may be. */
const LAMBDA_TARGET_REQUEST_TIMEOUT_MS = 11_000;

function createSecretsManagerClient(): SecretsManagerClient {
  return withFaults(new SecretsManagerClient(clientSettings()), 'SecretsManager');
}

/** Every target's client, each created on first use (the ingest Lambda validates only and creates none). */
export function createTargetClients(
  documentClient: DynamoDBDocumentClient,
  shared: { readonly sqs?: SQSClient; readonly kinesis?: KinesisClient; readonly ssm?: SSMClient } = {},
): TargetClients {
  return lazyTargetClients({
    documentClient: () => documentClient,
    sqs: () => shared.sqs ?? createSqsClient(),
    kinesis: () => shared.kinesis ?? createKinesisClient(),
    sns: createSnsClient,
    eventBridge: createEventBridgeClient,
    lambda: createLambdaClient,
    ssm: () => shared.ssm ?? createSsmClient(),
    secretsManager: createSecretsManagerClient,
  });
}

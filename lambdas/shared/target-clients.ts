import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { clientSettings, createKinesisClient, createSqsClient, createSsmClient } from './clients';
import { withFaults } from './faults';
import { sdkBudgetFromEnvironment } from './sdk-budget';
import { lazyTargetClients, type TargetClients } from './targets/index';

/**
 * The clients of the message-like targets, apart from clients.ts: only the consumers import this module, so the
 * ingest bundle (which validates and never delivers) carries none of them.
 */

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

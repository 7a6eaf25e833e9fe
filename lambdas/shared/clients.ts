import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { withExactMarshalling } from './dynamo-marshalling';
import { withFaults } from './faults';
import { type SdkBudget, sdkBudgetFromEnvironment } from './sdk-budget';

/**
 * AWS client factories. Endpoints come from the standard `AWS_ENDPOINT_URL_<SERVICE>` variables,
 * so the same code talks to AWS or to the local emulators. Handlers create each client once per
 * module (per Lambda container) and pass it to the logic as a parameter.
 */

/**
 * Attempts and timeouts of every client, from the budget the stack gives the function (see
 * sdk-budget.ts): an SDK call then always ends before the function's timeout.
 */
export function clientSettings(budget: SdkBudget = sdkBudgetFromEnvironment()) {
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

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { withFaults } from './faults';

/**
 * AWS client factories. Endpoints come from the standard `AWS_ENDPOINT_URL_<SERVICE>` variables,
 * so the same code talks to AWS or to the local emulators. Handlers create each client once per
 * module (per Lambda container) and pass it to the logic as a parameter.
 */

const timeouts = { connectionTimeout: 2_000, requestTimeout: 5_000 };

export function createDynamoDbClient(): DynamoDBClient {
  return withFaults(new DynamoDBClient({ requestHandler: new NodeHttpHandler(timeouts) }), 'DynamoDB');
}

export function createDocumentClient(
  client: DynamoDBClient = createDynamoDbClient(),
): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

/** HTTP/1.1 on purpose: kinesalite rejects the HTTP/2 handler with "Protocol error". */
export function createKinesisClient(): KinesisClient {
  return withFaults(new KinesisClient({ requestHandler: new NodeHttpHandler(timeouts) }), 'Kinesis');
}

export function createSqsClient(): SQSClient {
  return withFaults(new SQSClient({ requestHandler: new NodeHttpHandler(timeouts) }), 'SQS');
}

export function createSsmClient(): SSMClient {
  return withFaults(new SSMClient({ requestHandler: new NodeHttpHandler(timeouts) }), 'SSM');
}

import type { Logger } from '@aws-lambda-powertools/logger';
import { createDocumentClient, createKinesisClient, createSqsClient, createSsmClient } from './clients';
import type { DeliveryDependencies } from './delivery';
import { positiveSeconds, readEnvironment } from './environment';
import { namespaceStoreFromEnvironment } from './namespace-store';
import { createTargetClients } from './target-clients';

/** The consumers' dependencies from their environment: called once per Lambda container. */
export function createDeliveryDependencies(logger: Logger): DeliveryDependencies {
  const env = readEnvironment([
    'ledgerTableName',
    'delayQueueUrl',
    'retryQueueUrl',
    'deadLetterQueueUrl',
    'commitTimeoutSeconds',
    'waitingRoomTableName',
  ]);
  const documentClient = createDocumentClient();
  const sqs = createSqsClient();
  const kinesis = createKinesisClient();
  const ssm = createSsmClient();
  return {
    sqs,
    kinesis,
    queues: { delay: env.delayQueueUrl, retry: env.retryQueueUrl, deadLetter: env.deadLetterQueueUrl },
    ledger: { documentClient, tableName: env.ledgerTableName },
    waitingRoom: { documentClient, tableName: env.waitingRoomTableName },
    namespaces: namespaceStoreFromEnvironment(ssm, logger),
    targetClients: createTargetClients(documentClient, { sqs, kinesis, ssm }),
    logger,
    now: Date.now,
    random: Math.random,
    commitTimeoutMs: positiveSeconds.parse(env.commitTimeoutSeconds) * 1000,
  };
}

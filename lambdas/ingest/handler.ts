import { monotonicFactory } from 'ulid';
import { createDocumentClient, createKinesisClient, createSsmClient } from '#lambdas/shared/clients';
import { positiveSeconds, readEnvironment } from '#lambdas/shared/environment';
import { logger } from '#lambdas/shared/logger';
import { namespaceStoreFromEnvironment } from '#lambdas/shared/namespace-store';
import { createHttpHandler } from './http-api';
import type { IngestDependencies } from './ingest-mutation';

const env = readEnvironment(['ledgerTableName', 'streamName', 'failFenceSeconds']);
const documentClient = createDocumentClient();

const dependencies: IngestDependencies = {
  kinesis: createKinesisClient(),
  streamName: env.streamName,
  ledger: { documentClient, tableName: env.ledgerTableName },
  namespaces: namespaceStoreFromEnvironment(createSsmClient(), logger),
  logger,
  now: Date.now,
  newId: monotonicFactory(),
  random: Math.random,
  region: process.env.AWS_REGION,
  failFenceMs: positiveSeconds.parse(env.failFenceSeconds) * 1000,
};

export const handler = createHttpHandler(dependencies);

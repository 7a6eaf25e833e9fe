import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createDeliveryDependencies } from '#lambdas/shared/delivery-dependencies';
import { logger } from '#lambdas/shared/logger';
import { consumeQueueBatch } from './consume-queue';

const dependencies = createDeliveryDependencies(logger);

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => consumeQueueBatch(dependencies, event));

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { createDeliveryDependencies } from '#lambdas/shared/delivery-dependencies';
import { logger } from '#lambdas/shared/logger';
import { consumeStreamBatch } from '#lambdas/shared/stream-batch';

const dependencies = createDeliveryDependencies(logger);

export const handler = middy<KinesisStreamEvent, KinesisStreamBatchResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => consumeStreamBatch(dependencies, event));

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { KinesisStreamEvent } from 'aws-lambda';
import { createDeliveryDependencies } from '#lambdas/shared/delivery-dependencies';
import { logger } from '#lambdas/shared/logger';
import { consumeStreamBatch } from '#lambdas/shared/stream-batch';

const dependencies = createDeliveryDependencies(logger);

export const handler = middy((event: KinesisStreamEvent) => consumeStreamBatch(dependencies, event)).use(
  injectLambdaContext(logger, { resetKeys: true }),
);

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { createDocumentClient, createSqsClient } from '#lambdas/shared/clients';
import { readEnvironment } from '#lambdas/shared/environment';
import { logger } from '#lambdas/shared/logger';
import { type PollResult, pollWaitingRoom } from './poll-waiting-room';

/** Time kept back from the function's timeout: the run's last page and checkpoint write must fit in it. */
const RESERVE_MS = 15_000;
/** Buckets (minutes) per run: a poller that was down catches up 30 minutes a minute. */
const MAX_BUCKETS_PER_RUN = 30;

const env = readEnvironment(['waitingRoomTableName', 'delayQueueUrl', 'deadLetterQueueUrl']);
const dependencies = {
  waitingRoom: { documentClient: createDocumentClient(), tableName: env.waitingRoomTableName },
  sqs: createSqsClient(),
  fallbackQueueUrl: env.delayQueueUrl,
  deadLetterQueueUrl: env.deadLetterQueueUrl,
  logger,
  now: Date.now,
};

export const handler = middy<ScheduledEvent, PollResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((_event, context: Context) =>
    pollWaitingRoom(dependencies, {
      budgetMs: Math.max(context.getRemainingTimeInMillis() - RESERVE_MS, 1_000),
      maxBuckets: MAX_BUCKETS_PER_RUN,
    }),
  );

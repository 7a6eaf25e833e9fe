import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { type JsonBodyEvent, jsonBody } from '#lambdas/shared/http/json-body';
import { jsonResponse, ProblemError } from '#lambdas/shared/http/problem';
import { ROUTES, routeKey } from '#lambdas/shared/http/routes';
import { sdkBudgetFromEnvironment, worstCaseCallMs } from '#lambdas/shared/sdk-budget';
import { getMutation } from './get-mutation';
import { type BatchClock, ingestBatch, MAX_BATCH_BODY_BYTES } from './ingest-batch';
import { type IngestDependencies, ingestMutation } from './ingest-mutation';
import { problemResponses } from './problem-responses';

const MUTATE = routeKey(ROUTES.mutate);
const MUTATE_BATCH = routeKey(ROUTES.mutateBatch);
const GET_MUTATION = routeKey(ROUTES.getMutation);
const HEALTH = routeKey(ROUTES.health);

/**
 * The HTTP API (API Gateway v2 HTTP API, payload 2.0) as a middy handler: the middlewares add the Lambda
 * context to logs, parse the mutation's JSON body and answer every error as a problem; the handler serves
 * the route.
 */
export function createHttpHandler(deps: IngestDependencies) {
  // The worst case of one SDK call under the budget the stack gave the function (its clients use it).
  const sdkCallMs = worstCaseCallMs(sdkBudgetFromEnvironment());
  return middy<JsonBodyEvent, APIGatewayProxyStructuredResultV2>()
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .use(problemResponses(deps.logger))
    .use(
      jsonBody(
        [ROUTES.mutate, ROUTES.mutateBatch],
        [{ route: ROUTES.mutateBatch, bytes: MAX_BATCH_BODY_BYTES }],
      ),
    )
    .handler((event, context) => serveRoute(deps, event, batchClock(context, sdkCallMs)));
}

/** The batch's clock from the Lambda context; none when the context cannot tell the time left. */
function batchClock(context: Context, sdkCallMs: number): BatchClock | undefined {
  if (typeof context.getRemainingTimeInMillis !== 'function') return undefined;
  return { remainingMs: () => context.getRemainingTimeInMillis(), sdkCallMs };
}

async function serveRoute(
  deps: IngestDependencies,
  event: JsonBodyEvent,
  clock: BatchClock | undefined,
): Promise<APIGatewayProxyStructuredResultV2> {
  switch (event.routeKey) {
    case HEALTH:
      return jsonResponse(200, { status: 'ok' });
    case MUTATE: {
      const namespace = event.pathParameters?.namespace ?? '';
      // API Gateway v2 lower-cases header names.
      const idempotencyKey = event.headers?.['idempotency-key'];
      return jsonResponse(200, await ingestMutation(deps, namespace, event.body, idempotencyKey));
    }
    case MUTATE_BATCH: {
      const namespace = event.pathParameters?.namespace ?? '';
      const idempotencyKey = event.headers?.['idempotency-key'];
      // 200 whatever each mutation's answer: every result carries its own status (docs/decisions.md).
      return jsonResponse(200, await ingestBatch(deps, namespace, event.body, idempotencyKey, clock));
    }
    case GET_MUTATION: {
      const { namespace = '', id = '' } = event.pathParameters ?? {};
      const query = event.queryStringParameters ?? {};
      // A keyed mutation is found by its key: the query's, else the header's.
      const idempotencyKey = query.idempotencyKey ?? event.headers?.['idempotency-key'];
      return jsonResponse(200, await getMutation(deps, namespace, id, { idempotencyKey, view: query.view }));
    }
    default:
      throw new ProblemError(404, 'not-found', 'Not found', `No route ${event.routeKey}.`);
  }
}

import type { Logger } from '@aws-lambda-powertools/logger';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { JsonBodyEvent } from '#lambdas/shared/http/json-body';
import { ProblemError } from '#lambdas/shared/http/problem';
import { ROUTES, routeKey } from '#lambdas/shared/http/routes';
import { errorMessage } from '#lambdas/shared/logger';
import { NamespaceConfigUnavailableError, UnknownNamespaceError } from '#lambdas/shared/namespace-store';

/**
 * A middy middleware: answers every error of the HTTP API as an RFC 9457 problem (application/problem+json)
 * with the request path as its `instance`. A ProblemError is answered as it is; other errors are mapped.
 */
export function problemResponses(
  logger: Logger,
): MiddlewareObj<JsonBodyEvent, APIGatewayProxyStructuredResultV2> {
  const writes = new Set([routeKey(ROUTES.mutate), routeKey(ROUTES.mutateBatch)]);
  return {
    onError: (request) => {
      // middy's own early timeout stays a function error, as a Lambda timeout is: API Gateway answers 500.
      if (isMiddyTimeout(request.error)) return;
      const isWrite = writes.has(request.event.routeKey);
      request.response = toProblem(logger, request.error, isWrite).toResponse(request.event.rawPath);
    },
  };
}

function isMiddyTimeout(error: unknown): boolean {
  const cause = error instanceof Error ? (error.cause as { package?: unknown } | undefined) : undefined;
  return error instanceof Error && error.name === 'TimeoutError' && cause?.package === '@middy/core';
}

/** Any error of a request (or of one mutation of a batch) as the problem it is answered with. */
export function toProblem(logger: Logger, error: unknown, isWrite: boolean): ProblemError {
  if (error instanceof ProblemError) {
    if (error.status >= 500) logger.warn('Request failed', { status: error.status, type: error.slug });
    return error;
  }
  if (error instanceof UnknownNamespaceError) {
    return new ProblemError(404, 'unknown-namespace', 'Unknown namespace', error.message);
  }
  if (error instanceof NamespaceConfigUnavailableError) {
    logger.error('Namespace config unavailable', {
      error: errorMessage(error),
      cause: errorMessage(error.cause),
    });
    // Not FAIL: an earlier attempt of this key may have committed, and the WAL cannot look now.
    return new ProblemError(
      503,
      'namespace-config-unavailable',
      'Service unavailable',
      `${error.message} Retry with the same idempotency key.`,
      isWrite ? { durable: 'UNKNOWN' } : {},
    );
  }
  // An unexpected fault: nothing tells whether a commit happened, so the client must retry to learn.
  logger.error('Unexpected error', { error: errorMessage(error) });
  return new ProblemError(
    500,
    'internal-error',
    'Internal error',
    'The WAL failed unexpectedly. Retry with the same idempotency key to learn whether the mutation was logged.',
    isWrite ? { durable: 'UNKNOWN' } : {},
  );
}

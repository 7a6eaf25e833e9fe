import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { jsonResponse, ProblemError } from '#lambdas/shared/http/problem';
import { errorMessage } from '#lambdas/shared/logger';
import { NamespaceConfigUnavailableError, UnknownNamespaceError } from '#lambdas/shared/namespace-store';
import { getMutation } from './get-mutation';
import { type IngestDependencies, ingestMutation } from './ingest-mutation';

export const ROUTES = {
  putMutation: 'POST /v1/namespaces/{namespace}/mutations',
  getMutation: 'GET /v1/namespaces/{namespace}/mutations/{id}',
  health: 'GET /v1/health',
} as const;

/** Serves the HTTP API's routes from an API Gateway v2 (HTTP API, payload 2.0) event. */
export async function handleHttpRequest(
  deps: IngestDependencies,
  event: APIGatewayProxyEventV2,
): Promise<APIGatewayProxyStructuredResultV2> {
  const instance = event.rawPath;
  try {
    switch (event.routeKey) {
      case ROUTES.health:
        return jsonResponse(200, { status: 'ok' });
      case ROUTES.putMutation: {
        const namespace = event.pathParameters?.namespace ?? '';
        const body = parseJsonBody(event);
        return jsonResponse(
          200,
          await ingestMutation(deps, namespace, body, header(event, 'idempotency-key')),
        );
      }
      case ROUTES.getMutation: {
        const { namespace = '', id = '' } = event.pathParameters ?? {};
        return jsonResponse(200, await getMutation(deps, namespace, id));
      }
      default:
        throw new ProblemError(404, 'not-found', 'Not found', `No route ${event.routeKey}.`);
    }
  } catch (error) {
    return toProblem(deps, error, event.routeKey === ROUTES.putMutation).toResponse(instance);
  }
}

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  // API Gateway v2 lower-cases header names.
  return event.headers?.[name];
}

function parseJsonBody(event: APIGatewayProxyEventV2): unknown {
  if (!event.body) {
    throw new ProblemError(
      400,
      'missing-body',
      'Bad request',
      'The request has no body: send the mutation as JSON.',
    );
  }
  const text = event.isBase64Encoded ? decodeUtf8(event.body) : event.body;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ProblemError(
      400,
      'invalid-json',
      'Bad request',
      `The body is not valid JSON: ${errorMessage(error)}`,
      {},
      {
        cause: error,
      },
    );
  }
}

// Fatal: Buffer#toString would replace invalid bytes with U+FFFD, a silent change of what was sent.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * API Gateway passes a body it does not treat as text base64-encoded (payload format 2.0,
 * `isBase64Encoded`); a JSON body must be UTF-8 ("A text payload is a UTF-8-encoded JSON string",
 * API Gateway developer guide, binary media types).
 */
function decodeUtf8(base64: string): string {
  try {
    return UTF8.decode(Buffer.from(base64, 'base64'));
  } catch (error) {
    throw new ProblemError(
      400,
      'invalid-utf8',
      'Bad request',
      'The body is not valid UTF-8: send the mutation as UTF-8 JSON.',
      {},
      { cause: error },
    );
  }
}

function toProblem(deps: IngestDependencies, error: unknown, isWrite: boolean): ProblemError {
  if (error instanceof ProblemError) {
    if (error.status >= 500) deps.logger.warn('Request failed', { status: error.status, type: error.slug });
    return error;
  }
  if (error instanceof UnknownNamespaceError) {
    return new ProblemError(404, 'unknown-namespace', 'Unknown namespace', error.message);
  }
  if (error instanceof NamespaceConfigUnavailableError) {
    deps.logger.error('Namespace config unavailable', {
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
  deps.logger.error('Unexpected error', { error: errorMessage(error) });
  return new ProblemError(
    500,
    'internal-error',
    'Internal error',
    'The WAL failed unexpectedly. Retry with the same idempotency key to learn whether the mutation was logged.',
    isWrite ? { durable: 'UNKNOWN' } : {},
  );
}

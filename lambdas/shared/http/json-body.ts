import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { errorMessage } from '#lambdas/shared/logger';
import { ProblemError } from './problem';
import { type Route, routeKey } from './routes';

/** An HTTP API (payload 2.0) event whose `body`, on the routes {@link jsonBody} parses, is the parsed JSON. */
export type JsonBodyEvent = Omit<APIGatewayProxyEventV2, 'body'> & { body?: unknown };

/**
 * A middy middleware: before the handler runs, replaces the body of a request to one of `routes` with
 * its parsed JSON. A missing, non-UTF-8 or invalid body throws a 400 ProblemError (for onError to answer).
 * Other routes' bodies are left as sent.
 */
export function jsonBody(
  routes: readonly Route[],
  maxBytes: readonly { route: Route; bytes: number }[] = [],
): MiddlewareObj<JsonBodyEvent> {
  const keys = new Set(routes.map(routeKey));
  const limits = new Map(maxBytes.map(({ route, bytes }) => [routeKey(route), bytes]));
  return {
    before: (request) => {
      const key = request.event.routeKey;
      if (keys.has(key)) request.event.body = parseJsonBody(request.event, limits.get(key));
    },
  };
}

function parseJsonBody(event: JsonBodyEvent, maxBytes: number | undefined): unknown {
  if (typeof event.body !== 'string' || event.body === '') {
    throw new ProblemError(
      400,
      'missing-body',
      'Bad request',
      'The request has no body: send the mutation as JSON.',
    );
  }
  const text = event.isBase64Encoded ? decodeUtf8(event.body) : event.body;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (maxBytes !== undefined && bytes > maxBytes) {
    throw new ProblemError(
      413,
      'body-too-large',
      'Body too large',
      `The body is ${bytes} bytes; this route takes at most ${maxBytes}. Send fewer or smaller mutations per request.`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ProblemError(
      400,
      'invalid-json',
      'Bad request',
      `The body is not valid JSON: ${errorMessage(error)}`,
      {},
      { cause: error },
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

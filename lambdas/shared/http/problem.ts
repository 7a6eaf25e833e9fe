import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const PROBLEM_TYPE_BASE = 'https://serverless-wal.dev/problems/';

/**
 * An RFC 9457 problem: the one error answer of the HTTP API. `type` is a stable slug the client can
 * switch on; `detail` says what happened and what to do.
 */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.name = 'ProblemError';
  }

  /** The problem document (RFC 9457 members and this problem's extensions). */
  toBody(instance?: string): Record<string, unknown> {
    return {
      type: `${PROBLEM_TYPE_BASE}${this.slug}`,
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(instance ? { instance } : {}),
      ...this.extensions,
    };
  }

  toResponse(instance?: string): APIGatewayProxyStructuredResultV2 {
    return {
      statusCode: this.status,
      headers: { 'content-type': PROBLEM_CONTENT_TYPE },
      body: JSON.stringify(this.toBody(instance)),
    };
  }
}

export function badRequest(
  slug: string,
  detail: string,
  extensions: Record<string, unknown> = {},
): ProblemError {
  return new ProblemError(400, slug, 'Bad request', detail, extensions);
}

export function jsonResponse(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

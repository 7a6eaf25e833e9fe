import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createHttpHandler } from '#lambdas/ingest/http-api';
import type { IngestDependencies } from '#lambdas/ingest/ingest-mutation';
import { ROUTES, routeKey } from '#lambdas/shared/http/routes';
import { NamespaceConfigUnavailableError, UnknownNamespaceError } from '#lambdas/shared/namespace-store';
import { silentLogger } from '#test/support/fixtures';

function dependencies(namespaces: IngestDependencies['namespaces']): IngestDependencies {
  const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  return {
    kinesis: new KinesisClient({ region: 'us-east-1' }),
    streamName: 'wal',
    ledger: { documentClient, tableName: 'ledger' },
    namespaces,
    logger: silentLogger,
    now: Date.now,
    newId: () => '01JNEWID',
    random: Math.random,
    failFenceMs: 61_000,
  };
}

// Only what the logger middleware reads; no getRemainingTimeInMillis, so middy sets no early timeout.
const LAMBDA_CONTEXT = { functionName: 'ingest', awsRequestId: 'request-1' } as Context;

function serve(
  namespaces: IngestDependencies['namespaces'],
  event: APIGatewayProxyEventV2,
): Promise<APIGatewayProxyStructuredResultV2> {
  return createHttpHandler(dependencies(namespaces))(event, LAMBDA_CONTEXT);
}

function request(routeKeyOf: string, rawPath: string, body?: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: routeKeyOf,
    rawPath,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: { namespace: 'orders' },
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: false,
    requestContext: {} as APIGatewayProxyEventV2['requestContext'],
  };
}

function post(body?: string): APIGatewayProxyEventV2 {
  return request(routeKey(ROUTES.mutate), '/v1/namespaces/orders/mutations', body);
}

const notReached = { get: async () => Promise.reject(new Error('not reached')) };

describe('the HTTP API handler', () => {
  it('answers the health route with 200 and JSON', async () => {
    // GIVEN a health check
    const event = request(routeKey(ROUTES.health), '/v1/health');
    // WHEN
    const response = await serve(notReached, event);
    // THEN
    expect(response).toEqual({
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"status":"ok"}',
    });
  });

  it('answers UNKNOWN, not FAIL, when the namespace config cannot be read (an earlier attempt may have committed)', async () => {
    // GIVEN a namespace whose config cannot be read
    const unavailable = { get: async () => Promise.reject(new NamespaceConfigUnavailableError('orders')) };
    // WHEN a mutation is posted to it
    const response = await serve(unavailable, post('{"payload":{"id":"a"}}'));
    // THEN
    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'content-type': 'application/problem+json' });
    expect(JSON.parse(String(response.body))).toMatchObject({
      durable: 'UNKNOWN',
      detail: expect.stringContaining('same idempotency key'),
    });
  });

  it('fails if the route is unknown, with a 404 problem naming the request path', async () => {
    // GIVEN a route the API does not serve
    const event = request('DELETE /v1/health', '/v1/health');
    // WHEN
    const response = await serve(notReached, event);
    // THEN
    expect(response.statusCode).toBe(404);
    expect(response.headers).toEqual({ 'content-type': 'application/problem+json' });
    expect(JSON.parse(String(response.body))).toEqual({
      type: 'https://serverless-wal.dev/problems/not-found',
      title: 'Not found',
      status: 404,
      detail: 'No route DELETE /v1/health.',
      instance: '/v1/health',
    });
  });

  it('fails if the mutation has no body', async () => {
    // GIVEN a post without a body
    // WHEN
    const response = await serve(notReached, post());
    // THEN
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(String(response.body))).toMatchObject({
      type: expect.stringContaining('missing-body'),
    });
  });

  it('fails if the body is not JSON, with a problem that says so', async () => {
    // GIVEN a truncated JSON body
    // WHEN
    const response = await serve(notReached, post('{"payload":'));
    // THEN
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(String(response.body))).toMatchObject({
      type: expect.stringContaining('invalid-json'),
    });
  });

  it('fails if a base64-encoded body is not valid UTF-8, instead of replacing the bytes', async () => {
    // GIVEN "é" in Latin-1: a byte that is not UTF-8
    const body = Buffer.concat([
      Buffer.from('{"payload":{"id":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('"}}'),
    ]);
    // WHEN
    const response = await serve(notReached, { ...post(body.toString('base64')), isBase64Encoded: true });
    // THEN
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(String(response.body))).toMatchObject({
      type: expect.stringContaining('invalid-utf8'),
    });
  });

  it('decodes a base64-encoded UTF-8 body', async () => {
    // GIVEN a valid body; the namespace lookup that follows the parse answers 404
    const body = Buffer.from('{"payload":{"id":"caf\u00e9 \u{1F600}"}}', 'utf8');
    const namespaces = { get: async () => Promise.reject(new UnknownNamespaceError('orders')) };
    // WHEN
    const response = await serve(namespaces, { ...post(body.toString('base64')), isBase64Encoded: true });
    // THEN the body got past decoding and parsing
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(String(response.body))).toMatchObject({
      type: expect.stringContaining('unknown-namespace'),
    });
  });

  it('fails with a 500 problem and durable UNKNOWN when a write meets an unexpected error', async () => {
    // GIVEN a namespace lookup that fails unexpectedly
    const broken = { get: async () => Promise.reject(new Error('boom')) };
    // WHEN a mutation is posted
    const response = await serve(broken, post('{"payload":{"id":"a"}}'));
    // THEN the client is told to retry with its key to learn the outcome
    expect(response.statusCode).toBe(500);
    expect(JSON.parse(String(response.body))).toMatchObject({
      type: expect.stringContaining('internal-error'),
      durable: 'UNKNOWN',
      instance: '/v1/namespaces/orders/mutations',
    });
  });

  it('fails with a 500 problem without durability when a read meets an unexpected error', async () => {
    // GIVEN a namespace lookup that fails unexpectedly, and a GET whose body is not JSON (never parsed)
    const broken = { get: async () => Promise.reject(new Error('boom')) };
    const event = request(routeKey(ROUTES.getMutation), '/v1/namespaces/orders/mutations/01J', 'not json');
    // WHEN
    const response = await serve(broken, event);
    // THEN
    expect(response.statusCode).toBe(500);
    expect(JSON.parse(String(response.body))).not.toHaveProperty('durable');
  });

  it('fails as a function error, not a problem, when the Lambda is about to time out (as API Gateway answers a timeout)', async () => {
    // GIVEN a namespace lookup that never answers, and 50 ms left before the function's timeout
    const hanging = { get: () => new Promise<never>(() => undefined) };
    const context = { ...LAMBDA_CONTEXT, getRemainingTimeInMillis: () => 50 } as Context;
    // WHEN
    const invocation = createHttpHandler(dependencies(hanging))(post('{"payload":{"id":"a"}}'), context);
    // THEN middy's early timeout is thrown to the Lambda runtime
    await expect(invocation).rejects.toMatchObject({ name: 'TimeoutError' });
  });
});

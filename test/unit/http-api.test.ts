import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { handleHttpRequest, ROUTES } from '#lambdas/ingest/http-api';
import type { IngestDependencies } from '#lambdas/ingest/ingest-mutation';
import { NamespaceConfigUnavailableError, UnknownNamespaceError } from '#lambdas/shared/namespace-store';
import { silentLogger } from '#test/support/fixtures';

function dependencies(namespaces: IngestDependencies['namespaces']): IngestDependencies {
  const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  return {
    kinesis: new KinesisClient({ region: 'us-east-1' }),
    streamName: 'wal',
    ledger: { documentClient, tableName: 'ledger' },
    namespaces,
    targetClients: { documentClient },
    logger: silentLogger,
    now: Date.now,
    newId: () => '01JNEWID',
    random: Math.random,
    failFenceMs: 61_000,
  };
}

function post(body: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: ROUTES.putMutation,
    rawPath: '/v1/namespaces/orders/mutations',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: { namespace: 'orders' },
    body,
    isBase64Encoded: false,
    requestContext: {} as APIGatewayProxyEventV2['requestContext'],
  };
}

describe('handleHttpRequest', () => {
  it('answers UNKNOWN, not FAIL, when the namespace config cannot be read (an earlier attempt may have committed)', async () => {
    // GIVEN the namespace config cannot be read
    const unavailable = { get: async () => Promise.reject(new NamespaceConfigUnavailableError('orders')) };
    // WHEN a mutation is posted
    const response = await handleHttpRequest(dependencies(unavailable), post('{"payload":{"id":"a"}}'));
    // THEN a 503 problem says UNKNOWN and to retry with the same key
    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'content-type': 'application/problem+json' });
    expect(JSON.parse(String(response.body))).toMatchObject({
      durable: 'UNKNOWN',
      detail: expect.stringContaining('same idempotency key'),
    });
  });

  it('fails if the body is not JSON, with a problem that says so', async () => {
    // GIVEN namespaces that must not be read
    const namespaces = { get: async () => Promise.reject(new Error('not reached')) };
    // WHEN a cut-off body is posted; THEN a 400 invalid-json problem
    const response = await handleHttpRequest(dependencies(namespaces), post('{"payload":'));
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
    const namespaces = { get: async () => Promise.reject(new Error('not reached')) };
    // WHEN
    const response = await handleHttpRequest(dependencies(namespaces), {
      ...post(body.toString('base64')),
      isBase64Encoded: true,
    });
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
    const response = await handleHttpRequest(dependencies(namespaces), {
      ...post(body.toString('base64')),
      isBase64Encoded: true,
    });
    // THEN the body got past decoding and parsing
    expect(response.statusCode).toBe(404);
  });
});

import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient, PutRecordCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { MAX_PUT_RECORDS_RESENDS } from '#lambdas/ingest/batch-timing';
import { createHttpHandler } from '#lambdas/ingest/http-api';
import { ingestBatch, MAX_BATCH_BODY_BYTES, MAX_BATCH_MUTATIONS } from '#lambdas/ingest/ingest-batch';
import { hashRequest, type IngestDependencies } from '#lambdas/ingest/ingest-mutation';
import { ProblemError } from '#lambdas/shared/http/problem';
import { ROUTES, routeKey } from '#lambdas/shared/http/routes';
import { mutationRequestSchema } from '#lambdas/shared/mutation-request';
import { namespaceConfig, silentLogger, staticNamespaces } from '#test/support/fixtures';

const kinesisMock = mockClient(KinesisClient);
const documentMock = mockClient(DynamoDBDocumentClient);
const NOW = Date.parse('2026-01-01T00:00:00Z');

function dependencies(): IngestDependencies {
  const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  let ids = 0;
  return {
    kinesis: new KinesisClient({ region: 'us-east-1' }),
    streamName: 'wal',
    ledger: { documentClient, tableName: 'ledger' },
    namespaces: staticNamespaces(namespaceConfig()),
    logger: silentLogger,
    now: () => NOW,
    newId: () => `01JID${ids++}`,
    random: () => 0.5,
    failFenceMs: 61_000,
  };
}

/** PutRecords answers a sequence for every record, except the ErrorCodes at the given positions. */
function putRecordsAnswers(count: number, errors: Record<number, string> = {}) {
  return {
    FailedRecordCount: Object.keys(errors).length,
    Records: Array.from({ length: count }, (_, index) =>
      errors[index]
        ? { ErrorCode: errors[index], ErrorMessage: 'refused' }
        : { SequenceNumber: `${100 + index}`, ShardId: 'shardId-000000000000' },
    ),
  };
}

const mutation = (id: string, key?: string) => ({ payload: { id }, ...(key ? { idempotencyKey: key } : {}) });

beforeEach(() => {
  kinesisMock.reset();
  documentMock.reset();
  documentMock.on(PutCommand).resolves({});
});

describe('ingestBatch', () => {
  it('prepares a batch of 100 with one PutRecords and commits each with one PutItem (1.01 requests each)', async () => {
    // GIVEN 100 valid mutations
    kinesisMock.on(PutRecordsCommand).resolves(putRecordsAnswers(100));
    const mutations = Array.from({ length: 100 }, (_, index) => mutation(`a${index}`, `k${index}`));
    // WHEN
    const { results } = await ingestBatch(dependencies(), 'orders', { mutations }, undefined);
    // THEN every mutation is SUCCESS, in order, with its own record's sequence
    expect(results.map((result) => [result.status, result.durable, result.sequence])).toEqual(
      mutations.map((_, index) => [200, 'SUCCESS', `${100 + index}`]),
    );
    expect(kinesisMock.commandCalls(PutRecordsCommand)).toHaveLength(1);
    expect(kinesisMock.commandCalls(PutRecordCommand)).toHaveLength(0);
    expect(documentMock.calls()).toHaveLength(100);
    expect(documentMock.commandCalls(PutCommand)).toHaveLength(100);
    const records = kinesisMock.commandCalls(PutRecordsCommand)[0]?.args[0].input.Records ?? [];
    expect(records.map((record) => record.PartitionKey)).toEqual(mutations.map((_, i) => `orders#a${i}`));
  });

  it('takes members with items like any other member, and refuses a bad one alone', async () => {
    // GIVEN a plain member, a multi-item member, and a multi-item member with a payload besides
    kinesisMock.on(PutRecordsCommand).resolves(putRecordsAnswers(2));
    const items = [
      { target: 'main', op: 'put', item: { id: 'i1' } },
      { target: 'main', op: 'delete', key: { id: 'i2' } },
    ];
    const mutations = [mutation('a0', 'k0'), { items, idempotencyKey: 'k1' }, { items, payload: {} }];
    // WHEN
    const { results } = await ingestBatch(dependencies(), 'orders', { mutations }, undefined);
    // THEN the two good ones are SUCCESS, the third a 400 of its own
    expect(results.map((result) => result.status)).toEqual([200, 200, 400]);
    const records = kinesisMock.commandCalls(PutRecordsCommand)[0]?.args[0].input.Records ?? [];
    expect(records.map((record) => record.PartitionKey)).toEqual(['orders#a0', 'orders#i1']);
    const envelope = JSON.parse(Buffer.from(records[1]?.Data as Uint8Array).toString());
    expect(envelope.items).toEqual([
      { target: 'main', table: 'orders-table', op: 'put', payload: { id: 'i1' } },
      { target: 'main', table: 'orders-table', op: 'delete', payload: { id: 'i2' } },
    ]);
  });

  it('resends only the entries PutRecords refused for throughput, in their order, and commits all', async () => {
    // GIVEN the first PutRecords refuses 2 of 5 records for throughput, and the resend accepts them
    kinesisMock
      .on(PutRecordsCommand)
      .resolvesOnce(
        putRecordsAnswers(5, {
          1: 'ProvisionedThroughputExceededException',
          3: 'ProvisionedThroughputExceededException',
        }),
      )
      .resolves(putRecordsAnswers(2));
    const mutations = Array.from({ length: 5 }, (_, index) => mutation(`a${index}`, `k${index}`));
    // WHEN
    const { results } = await ingestBatch(dependencies(), 'orders', { mutations }, undefined);
    // THEN all 5 are SUCCESS, and the resend carried only the 2 refused records, in their order
    expect(results.map((result) => [result.status, result.durable])).toEqual(
      mutations.map(() => [200, 'SUCCESS']),
    );
    const calls = kinesisMock.commandCalls(PutRecordsCommand);
    expect(calls).toHaveLength(2);
    const resent = calls[1]?.args[0].input.Records ?? [];
    expect(resent.map((record) => record.PartitionKey)).toEqual(['orders#a1', 'orders#a3']);
    expect(documentMock.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('answers FAIL for the record PutRecords still refuses after the resends, after fencing it', async () => {
    // GIVEN PutRecords refuses the second of three records on every round, and its fence finds no commit
    kinesisMock
      .on(PutRecordsCommand)
      .resolvesOnce(putRecordsAnswers(3, { 1: 'ProvisionedThroughputExceededException' }))
      .resolves(putRecordsAnswers(1, { 0: 'InternalFailure' }));
    documentMock.on(UpdateCommand).resolves({});
    const mutations = [mutation('a', 'k0'), mutation('b', 'k1'), mutation('c', 'k2')];
    // WHEN
    const { results } = await ingestBatch(dependencies(), 'orders', { mutations }, undefined);
    // THEN it was resent alone MAX_PUT_RECORDS_RESENDS times, then is FAIL (its key fenced, nothing
    // committed for it); the others are SUCCESS
    const calls = kinesisMock.commandCalls(PutRecordsCommand);
    expect(calls).toHaveLength(1 + MAX_PUT_RECORDS_RESENDS);
    expect(calls.slice(1).map((call) => call.args[0].input.Records?.length)).toEqual([1, 1, 1]);
    expect(results.map((result) => result.durable)).toEqual(['SUCCESS', 'FAIL', 'SUCCESS']);
    expect(results[1]).toMatchObject({
      status: 503,
      id: '01JID1',
      type: expect.stringContaining('prepare-failed'),
    });
    const commits = documentMock.commandCalls(PutCommand).map((call) => call.args[0].input.Item?.pk);
    expect(commits.sort()).toEqual(['orders#k0', 'orders#k2']);
    const fences = documentMock.commandCalls(UpdateCommand).map((call) => call.args[0].input.Key?.pk);
    expect(fences).toEqual(['orders#k1']);
  });

  it('does not resend a refused entry when the resend would not fit in the time left', async () => {
    // GIVEN PutRecords refuses one record for throughput, and the Lambda has 2 s left with 1 s SDK calls
    kinesisMock
      .on(PutRecordsCommand)
      .resolves(putRecordsAnswers(2, { 0: 'ProvisionedThroughputExceededException' }));
    documentMock.on(UpdateCommand).resolves({});
    const clock = { remainingMs: () => 2_000, sdkCallMs: 1_000 };
    // WHEN
    const { results } = await ingestBatch(
      dependencies(),
      'orders',
      { mutations: [mutation('a', 'k0'), mutation('b', 'k1')] },
      undefined,
      clock,
    );
    // THEN no resend was made: the refused one is FAIL at once
    expect(kinesisMock.commandCalls(PutRecordsCommand)).toHaveLength(1);
    expect(results.map((result) => result.durable)).toEqual(['FAIL', 'SUCCESS']);
  });

  it('commits every mutation of a batch at once', async () => {
    // GIVEN 30 mutations, and commits that take a moment
    kinesisMock.on(PutRecordsCommand).resolves(putRecordsAnswers(30));
    let running = 0;
    let peak = 0;
    documentMock.on(PutCommand).callsFake(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      return {};
    });
    const mutations = Array.from({ length: 30 }, (_, index) => mutation(`a${index}`, `k${index}`));
    // WHEN
    await ingestBatch(dependencies(), 'orders', { mutations }, undefined);
    // THEN all 30 commits were in flight together
    expect(peak).toBe(30);
  });

  it('answers UNKNOWN with its id for a mutation not finished at the deadline', async () => {
    // GIVEN the Lambda has 1.1 s left, and the commit of the keyless mutation never answers
    kinesisMock.on(PutRecordsCommand).resolves(putRecordsAnswers(2));
    documentMock
      .on(PutCommand)
      .resolvesOnce({})
      .callsFake(() => new Promise(() => {}));
    const remaining = 1_100;
    const clock = { remainingMs: () => remaining, sdkCallMs: 100 };
    // WHEN
    const { results } = await ingestBatch(
      dependencies(),
      'orders',
      { mutations: [mutation('a', 'k0'), mutation('b')] },
      undefined,
      clock,
    );
    // THEN the batch answered at the deadline: the first SUCCESS, the second UNKNOWN with its id as its key
    expect(results.map((result) => [result.status, result.durable])).toEqual([
      [200, 'SUCCESS'],
      [503, 'UNKNOWN'],
    ]);
    expect(results[1]).toMatchObject({ id: '01JID1', type: expect.stringContaining('batch-deadline') });
    expect(String((results[1] as Record<string, unknown>)?.detail)).toContain('01JID1');
  });

  it('answers UNKNOWN for every mutation when the whole PutRecords call fails and the ledger cannot say', async () => {
    // GIVEN the PutRecords call fails (its records may be on the stream) and so does every fence
    kinesisMock.on(PutRecordsCommand).rejects(new Error('socket hang up'));
    documentMock.on(UpdateCommand).rejects(new Error('ledger down'));
    // WHEN
    const { results } = await ingestBatch(
      dependencies(),
      'orders',
      { mutations: [mutation('a', 'k0'), mutation('b')] },
      undefined,
    );
    // THEN each is UNKNOWN, and the keyless one is told the key to retry with
    expect(results.map((result) => [result.status, result.durable])).toEqual([
      [503, 'UNKNOWN'],
      [503, 'UNKNOWN'],
    ]);
    expect(String((results[1] as Record<string, unknown>)?.detail)).toContain('"idempotencyKey" in the body');
    expect(documentMock.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('answers each invalid or duplicate-key mutation on its own and logs only the valid ones', async () => {
    // GIVEN a valid mutation, an invalid one, a second use of the first one's key, and another valid one
    kinesisMock.on(PutRecordsCommand).resolves(putRecordsAnswers(2));
    const mutations = [
      mutation('a', 'k0'),
      { payload: { id: 'b' }, op: 'nope' },
      mutation('c', 'k0'),
      mutation('d'),
    ];
    // WHEN
    const { results } = await ingestBatch(dependencies(), 'orders', { mutations }, undefined);
    // THEN one answer each, in order; the invalid and the duplicate are 400 and never reach the stream
    expect(results.map((result) => [result.status, result.durable])).toEqual([
      [200, 'SUCCESS'],
      [400, undefined],
      [400, undefined],
      [200, 'SUCCESS'],
    ]);
    expect((results[2] as Record<string, unknown>)?.type).toContain('duplicate-idempotency-key');
    const records = kinesisMock.commandCalls(PutRecordsCommand)[0]?.args[0].input.Records ?? [];
    expect(records.map((record) => record.PartitionKey)).toEqual(['orders#a', 'orders#d']);
  });

  it('answers a reused key with 422 and a retry of a committed key with its original answer', async () => {
    // GIVEN k0 was committed for this very request and k1 for another one
    kinesisMock.on(PutRecordsCommand).resolves(putRecordsAnswers(2));
    documentMock
      .on(PutCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    const same = hashRequest(mutationRequestSchema.parse({ payload: { id: 'a' } }));
    documentMock
      .on(GetCommand, { Key: { pk: 'orders#k0' } })
      .resolves({ Item: { state: 'COMMITTED', id: '01JFIRST', sequence: '7', requestHash: same } })
      .on(GetCommand, { Key: { pk: 'orders#k1' } })
      .resolves({ Item: { state: 'COMMITTED', id: '01JOTHER', sequence: '8', requestHash: 'other' } });
    // WHEN
    const { results } = await ingestBatch(
      dependencies(),
      'orders',
      { mutations: [mutation('a', 'k0'), mutation('b', 'k1')] },
      undefined,
    );
    // THEN
    expect(results[0]).toEqual({
      status: 200,
      id: '01JFIRST',
      namespace: 'orders',
      durable: 'SUCCESS',
      sequence: '7',
    });
    expect(results[1]).toMatchObject({
      status: 422,
      id: '01JOTHER',
      type: expect.stringContaining('key-reused'),
    });
  });

  it.each([
    ['not an object', [mutation('a')]],
    ['without a mutations array', { mutations: 'a' }],
    ['empty', { mutations: [] }],
    ['over the limit', { mutations: Array.from({ length: MAX_BATCH_MUTATIONS + 1 }, () => mutation('a')) }],
    ['with unknown fields', { mutations: [mutation('a')], atomic: true }],
  ])('fails if the batch is %s (400, nothing sent)', async (_, body) => {
    // WHEN a malformed batch is ingested
    const failure = ingestBatch(dependencies(), 'orders', body, undefined);
    // THEN 400, and no AWS call
    await expect(failure).rejects.toMatchObject({ status: 400 });
    expect(kinesisMock.calls()).toHaveLength(0);
  });

  it('fails if the batch comes with an Idempotency-Key header (400)', async () => {
    // WHEN
    const failure = ingestBatch(dependencies(), 'orders', { mutations: [mutation('a')] }, 'k0');
    // THEN
    await expect(failure).rejects.toBeInstanceOf(ProblemError);
    await expect(failure).rejects.toMatchObject({ status: 400, slug: 'idempotency-key-header-in-batch' });
  });
});

const LAMBDA_CONTEXT = { functionName: 'ingest', awsRequestId: 'request-1' } as Context;

function batchEvent(body: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: routeKey(ROUTES.mutateBatch),
    rawPath: '/v1/namespaces/orders/mutations:batch',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: { namespace: 'orders' },
    body,
    isBase64Encoded: false,
    requestContext: {} as APIGatewayProxyEventV2['requestContext'],
  };
}

describe('the batch route', () => {
  it('answers 200 with one result per mutation', async () => {
    // GIVEN
    kinesisMock.on(PutRecordsCommand).resolves(putRecordsAnswers(1));
    // WHEN
    const response = await createHttpHandler(dependencies())(
      batchEvent(JSON.stringify({ mutations: [mutation('a', 'k0'), { payload: 'x', op: 'nope' }] })),
      LAMBDA_CONTEXT,
    );
    // THEN
    expect(response.statusCode).toBe(200);
    const { results } = JSON.parse(String(response.body));
    expect(results.map((result: { status: number }) => result.status)).toEqual([200, 400]);
  });

  it('fails if the body is larger than MAX_BATCH_BODY_BYTES (413)', async () => {
    // GIVEN a body one byte over the limit
    const body = JSON.stringify({ mutations: [{ payload: 'x'.repeat(MAX_BATCH_BODY_BYTES) }] });
    // WHEN
    const response = await createHttpHandler(dependencies())(batchEvent(body), LAMBDA_CONTEXT);
    // THEN
    expect(response.statusCode).toBe(413);
    expect(kinesisMock.calls()).toHaveLength(0);
  });
});

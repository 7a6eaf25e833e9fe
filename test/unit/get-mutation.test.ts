import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  InvalidArgumentException,
  KinesisClient,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-kinesis';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createHttpHandler } from '#lambdas/ingest/http-api';
import type { IngestDependencies } from '#lambdas/ingest/ingest-mutation';
import { CONFIG_TARGETS_NOTE } from '#lambdas/ingest/target-states';
import { ENVELOPE_VERSION, type Envelope } from '#lambdas/shared/envelope';
import { ROUTES, routeKey } from '#lambdas/shared/http/routes';
import type { LedgerEntry } from '#lambdas/shared/ledger';
import { ITEMS_DELIVERY_TARGET } from '#lambdas/shared/queue-message';
import { namespaceConfig, silentLogger, staticNamespaces } from '#test/support/fixtures';

const kinesisMock = mockClient(KinesisClient);
const documentMock = mockClient(DynamoDBDocumentClient);
const ID = '01JKEYEDM7TAT10N0000000000';
const LOGGED_AT = Date.parse('2026-01-01T00:00:00Z');
const DELIVER_AT = LOGGED_AT + 60_000;

// GIVEN (every test) the lean commit record of a delayed mutation sent with key "order-1"
const committed: LedgerEntry = {
  pk: 'orders#order-1',
  id: ID,
  state: 'COMMITTED',
  sequence: '4965',
  shardId: 'shardId-000000000001',
  requestHash: 'hash',
  effectiveAt: DELIVER_AT,
  updatedAt: LOGGED_AT,
  expiresAt: 0,
};

const envelope: Envelope = {
  v: ENVELOPE_VERSION,
  id: ID,
  namespace: 'orders',
  idempotencyKey: 'order-1',
  partitionKey: 'a1',
  op: 'put',
  payload: { id: 'a1', n: 1 },
  loggedAt: LOGGED_AT,
  deliverAt: DELIVER_AT,
};

function dependencies(): IngestDependencies {
  return {
    kinesis: new KinesisClient({ region: 'us-east-1' }),
    streamName: 'wal',
    ledger: {
      documentClient: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
      tableName: 'ledger',
    },
    namespaces: staticNamespaces(namespaceConfig()),
    logger: silentLogger,
    now: Date.now,
    newId: () => '01JNEWID',
    random: Math.random,
    failFenceMs: 61_000,
  };
}

interface Answer {
  readonly status: number | undefined;
  readonly body: Record<string, unknown>;
}

async function get(
  id: string,
  query: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<Answer> {
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: routeKey(ROUTES.getMutation),
    rawPath: `/v1/namespaces/orders/mutations/${id}`,
    rawQueryString: new URLSearchParams(query).toString(),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    pathParameters: { namespace: 'orders', id },
    isBase64Encoded: false,
    requestContext: {} as APIGatewayProxyEventV2['requestContext'],
  };
  const context = { functionName: 'ingest', awsRequestId: 'request-1' } as Context;
  const result = (await createHttpHandler(dependencies())(
    event,
    context,
  )) as APIGatewayProxyStructuredResultV2;
  return { status: result.statusCode, body: JSON.parse(result.body ?? '{}') as Record<string, unknown> };
}

/** The ledger answers `committed` for its pk, nothing for any other. */
function ledgerHolds(entry: LedgerEntry): void {
  documentMock.on(GetCommand).resolves({});
  documentMock.on(GetCommand, { Key: { pk: entry.pk } }).resolves({ Item: entry });
}

function streamHolds(record: Envelope, sequence = '4965'): void {
  kinesisMock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'iterator-1' });
  kinesisMock.on(GetRecordsCommand).resolves({
    Records: [
      { SequenceNumber: sequence, PartitionKey: 'orders#a1', Data: Buffer.from(JSON.stringify(record)) },
    ],
  });
}

const ledgerView = {
  id: ID,
  namespace: 'orders',
  state: 'COMMITTED',
  idempotencyKey: 'order-1',
  sequence: '4965',
  shardId: 'shardId-000000000001',
  loggedAt: new Date(LOGGED_AT).toISOString(),
  effectiveAt: new Date(DELIVER_AT).toISOString(),
  // The fixture namespace tracks failures only, and none is recorded.
  status: {
    tracking: 'failures',
    targets: { main: { state: 'not-tracked', note: expect.stringContaining('delivered or in flight') } },
    // Without ?view=full the targets are the namespace's current ones, and the answer says so.
    note: CONFIG_TARGETS_NOTE,
  },
};

beforeEach(() => {
  kinesisMock.reset();
  documentMock.reset();
  ledgerHolds(committed);
});

describe('GET /v1/namespaces/{ns}/mutations/{id}', () => {
  it('finds a keyed mutation by its key (query), with two GetItems at once and no stream read', async () => {
    // WHEN
    const answer = await get(ID, { idempotencyKey: 'order-1' });
    // THEN what the lean ledger knows, read consistently from `ns#key`, and its status item (keyed by id)
    expect(answer).toEqual({ status: 200, body: ledgerView });
    expect(documentMock.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: 'ledger', Key: { pk: 'orders#order-1' }, ConsistentRead: true },
      { TableName: 'ledger', Key: { pk: `#status#orders#${ID}` }, ConsistentRead: true },
    ]);
    expect(kinesisMock.calls()).toHaveLength(0);
  });

  it('finds a keyed mutation by the Idempotency-Key header', async () => {
    // WHEN
    const answer = await get(ID, {}, { 'idempotency-key': 'order-1' });
    // THEN
    expect(answer).toEqual({ status: 200, body: ledgerView });
  });

  it('finds a keyless mutation by its id alone (its key is its id)', async () => {
    // GIVEN a mutation sent without a key
    ledgerHolds({ ...committed, pk: `orders#${ID}` });
    // WHEN
    const answer = await get(ID);
    // THEN
    expect(answer).toEqual({ status: 200, body: { ...ledgerView, idempotencyKey: ID } });
  });

  it('fails if a keyed mutation is asked for without its key (404 that says to pass it)', async () => {
    // WHEN
    const answer = await get(ID);
    // THEN
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ type: expect.stringMatching(/mutation-not-found$/) });
    expect(answer.body.detail).toEqual(expect.stringContaining('"?idempotencyKey=<key>"'));
    expect(answer.body.detail).toEqual(expect.stringContaining('"Idempotency-Key"'));
  });

  it('fails if the key belongs to another mutation, or the key is fenced (404)', async () => {
    // WHEN the key is right but the id is another, and when the key only holds a fence
    const otherId = await get('01JXTHERM7TAT10N0000000000', { idempotencyKey: 'order-1' });
    ledgerHolds({
      pk: 'orders#order-1',
      state: 'ABORTED',
      abortedIds: new Set([ID]),
      updatedAt: 0,
      expiresAt: 0,
    });
    const fenced = await get(ID, { idempotencyKey: 'order-1' });
    // THEN both are not found
    expect(otherId.status).toBe(404);
    expect(otherId.body.detail).toEqual(expect.stringContaining('idempotency key "order-1"'));
    expect(fenced.status).toBe(404);
  });

  it('fails if the id is no ULID, without reading the ledger (404)', async () => {
    // WHEN
    const answer = await get('not-an-id');
    // THEN
    expect(answer.status).toBe(404);
    expect(documentMock.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('fails if the key or the view is malformed (400)', async () => {
    // WHEN
    const badKey = await get(ID, { idempotencyKey: 'has space' });
    const badView = await get(ID, { idempotencyKey: 'order-1', view: 'payload' });
    // THEN
    expect(badKey).toMatchObject({
      status: 400,
      body: { type: expect.stringMatching(/invalid-idempotency-key$/) },
    });
    expect(badView).toMatchObject({ status: 400, body: { type: expect.stringMatching(/invalid-view$/) } });
  });

  it('reads the envelope back from the stream with view=full: one iterator, one record', async () => {
    // GIVEN the stream still holds the record
    streamHolds(envelope);
    // WHEN
    const answer = await get(ID, { idempotencyKey: 'order-1', view: 'full' });
    // THEN the ledger's view plus the envelope's op, partition key, payload and delivery time; its targets are
    // known now (the namespace's, as it names none), so no note about them
    const { note: _known, ...fullStatus } = ledgerView.status;
    expect(answer).toEqual({
      status: 200,
      body: {
        ...ledgerView,
        status: fullStatus,
        op: 'put',
        partitionKey: 'a1',
        payload: { id: 'a1', n: 1 },
        deliverAt: new Date(DELIVER_AT).toISOString(),
      },
    });
    expect(kinesisMock.commandCalls(GetShardIteratorCommand)[0]?.args[0].input).toEqual({
      StreamName: 'wal',
      ShardId: 'shardId-000000000001',
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      StartingSequenceNumber: '4965',
    });
    expect(kinesisMock.commandCalls(GetRecordsCommand).map((call) => call.args[0].input)).toEqual([
      { ShardIterator: 'iterator-1', Limit: 1 },
    ]);
  });

  it('shows the items of a multi-item mutation with view=full', async () => {
    // GIVEN the stream holds a multi-item mutation
    const items: Envelope['items'] = [{ target: 'main', op: 'delete', payload: { id: 'a1' } }];
    streamHolds({ ...envelope, payload: undefined, items });
    // WHEN
    const answer = await get(ID, { idempotencyKey: 'order-1', view: 'full' });
    // THEN its items are in the view, no payload, and its one delivery is the status's only target
    expect(answer).toMatchObject({
      status: 200,
      body: {
        ...ledgerView,
        op: 'put',
        items,
        status: {
          tracking: 'failures',
          targets: { [ITEMS_DELIVERY_TARGET]: { state: 'not-tracked' } },
        },
      },
    });
    expect(answer.body).not.toHaveProperty('payload');
    expect(answer.body).not.toHaveProperty('status.note');
    expect(answer.body).not.toHaveProperty('status.targets.main');
  });

  it("answers each target's recorded state from the status item (here: retrying)", async () => {
    // GIVEN the status item of the mutation says main failed its first attempt
    documentMock.on(GetCommand, { Key: { pk: `#status#orders#${ID}` } }).resolves({
      Item: {
        pk: `#status#orders#${ID}`,
        't:main': {
          state: 'retrying',
          at: LOGGED_AT + 61_000,
          rank: 2,
          attempts: 1,
          lastError: 'ResourceNotFoundException: table not found',
          firstFailedAt: LOGGED_AT + 61_000,
          nextAttemptAt: LOGGED_AT + 63_000,
        },
      },
    });
    // WHEN
    const answer = await get(ID, { idempotencyKey: 'order-1' });
    // THEN the ledger's view, and main retrying with its attempts, last error and next attempt
    expect(answer.body.status).toEqual({
      tracking: 'failures',
      targets: {
        main: {
          state: 'retrying',
          since: '2026-01-01T00:01:01.000Z',
          attempts: 1,
          lastError: 'ResourceNotFoundException: table not found',
          firstFailedAt: '2026-01-01T00:01:01.000Z',
          nextAttemptAt: '2026-01-01T00:01:03.000Z',
        },
      },
      note: CONFIG_TARGETS_NOTE,
    });
  });

  it("answers the ledger's view when only the status read fails, its status marked unavailable and why", async () => {
    // GIVEN the status item cannot be read (throttled), the ledger entry can
    documentMock
      .on(GetCommand, { Key: { pk: `#status#orders#${ID}` } })
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' }));
    // WHEN
    const answer = await get(ID, { idempotencyKey: 'order-1' });
    // THEN 200 with the ledger's view; the status names no target state and says why
    expect(answer).toEqual({
      status: 200,
      body: {
        ...ledgerView,
        status: {
          tracking: 'failures',
          targets: {},
          unavailable: expect.stringContaining('ProvisionedThroughputExceededException: Rate exceeded'),
        },
      },
    });
  });

  it('fails if the record is past the stream retention (410 that says the ledger view still answers)', async () => {
    // GIVEN the sequence number was trimmed off the shard
    kinesisMock
      .on(GetShardIteratorCommand)
      .rejects(new InvalidArgumentException({ message: 'trimmed', $metadata: {} }));
    // WHEN
    const answer = await get(ID, { idempotencyKey: 'order-1', view: 'full' });
    // THEN
    expect(answer.status).toBe(410);
    expect(answer.body).toMatchObject({ type: expect.stringMatching(/payload-gone$/) });
    expect(answer.body.detail).toEqual(expect.stringContaining("past the stream's retention"));
  });

  it('fails if the record found at the sequence is another mutation, or none is (410)', async () => {
    // GIVEN the stream answers another record, then an empty shard
    streamHolds({ ...envelope, id: '01JXTHERM7TAT10N0000000000' });
    const other = await get(ID, { idempotencyKey: 'order-1', view: 'full' });
    kinesisMock.on(GetRecordsCommand).resolves({ Records: [], MillisBehindLatest: 0 });
    // WHEN
    const none = await get(ID, { idempotencyKey: 'order-1', view: 'full' });
    // THEN
    expect(other.status).toBe(410);
    expect(none.status).toBe(410);
  });

  it('fails if the shard is throttled (429 that says reads are shared with the consumers)', async () => {
    // GIVEN GetRecords is over the shard's 5 reads per second
    kinesisMock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'iterator-1' });
    kinesisMock
      .on(GetRecordsCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
    // WHEN
    const answer = await get(ID, { idempotencyKey: 'order-1', view: 'full' });
    // THEN
    expect(answer.status).toBe(429);
    expect(answer.body.detail).toEqual(expect.stringContaining('5 reads per second'));
  });

  it('fails if the stream cannot be read (503)', async () => {
    // GIVEN the stream is down
    kinesisMock.on(GetShardIteratorCommand).rejects(new Error('socket hang up'));
    // WHEN
    const answer = await get(ID, { idempotencyKey: 'order-1', view: 'full' });
    // THEN
    expect(answer).toMatchObject({
      status: 503,
      body: { type: expect.stringMatching(/stream-read-failed$/) },
    });
  });

  it('fails if the entry names no shard (410)', async () => {
    // GIVEN a commit record without a shard id
    const { shardId: _none, ...withoutShard } = committed;
    ledgerHolds(withoutShard);
    // WHEN
    const answer = await get(ID, { idempotencyKey: 'order-1', view: 'full' });
    // THEN
    expect(answer.status).toBe(410);
    expect(kinesisMock.calls()).toHaveLength(0);
  });
});

import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  KinesisClient,
  ProvisionedThroughputExceededException,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { hashRequest, type IngestDependencies, ingestMutation } from '#lambdas/ingest/ingest-mutation';
import { ProblemError } from '#lambdas/shared/http/problem';
import { mutationRequestSchema } from '#lambdas/shared/mutation-request';
import { UnknownNamespaceError } from '#lambdas/shared/namespace-store';
import { namespaceConfig, silentLogger, staticNamespaces } from '#test/support/fixtures';

const kinesisMock = mockClient(KinesisClient);
const documentMock = mockClient(DynamoDBDocumentClient);
const NOW = Date.parse('2026-01-01T00:00:00Z');

function nested(depth: number): unknown {
  return depth === 0 ? 1 : [nested(depth - 1)];
}

function dependencies(): IngestDependencies {
  const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  return {
    kinesis: new KinesisClient({ region: 'us-east-1' }),
    streamName: 'wal',
    ledger: { documentClient, tableName: 'ledger' },
    namespaces: staticNamespaces(
      namespaceConfig({ delay: { maxDelaySeconds: 3_600 }, payload: { maxBytes: 100 } }),
      namespaceConfig({ name: 'paused', enabled: false }),
      namespaceConfig({ name: 'keyed', requireIdempotencyKey: true }),
    ),
    logger: silentLogger,
    now: () => NOW,
    newId: () => '01JNEWID',
    random: () => 0.5,
    failFenceMs: 61_000,
  };
}

async function problemOf(promise: Promise<unknown>): Promise<ProblemError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProblemError) return error;
    throw error;
  }
  throw new Error('expected a ProblemError');
}

beforeEach(() => {
  kinesisMock.reset();
  documentMock.reset();
  kinesisMock.on(PutRecordCommand).resolves({ SequenceNumber: '4965', ShardId: 'shardId-000000000000' });
  documentMock.on(PutCommand).resolves({});
});

describe('ingestMutation', () => {
  it('prepares, then commits, and answers SUCCESS with the sequence and effective time', async () => {
    // WHEN
    const answer = await ingestMutation(dependencies(), 'orders', { payload: { id: 'a1' } }, 'k1');
    // THEN
    expect(answer).toEqual({
      id: '01JNEWID',
      namespace: 'orders',
      durable: 'SUCCESS',
      sequence: '4965',
      effectiveAt: new Date(NOW).toISOString(),
    });
    const record = kinesisMock.commandCalls(PutRecordCommand)[0]?.args[0].input;
    expect(record?.PartitionKey).toBe('orders#a1');
    // AND the commit record is lean: no payload, no envelope, nothing that repeats the pk
    const commit = documentMock.commandCalls(PutCommand)[0]?.args[0].input;
    expect(commit?.Item).toEqual({
      pk: 'orders#k1',
      id: '01JNEWID',
      state: 'COMMITTED',
      sequence: '4965',
      shardId: 'shardId-000000000000',
      requestHash: hashRequest(mutationRequestSchema.parse({ payload: { id: 'a1' } })),
      effectiveAt: NOW,
      updatedAt: NOW,
      expiresAt: NOW / 1000 + 30 * 86_400,
    });
    expect(commit?.ConditionExpression).toContain('attribute_not_exists');
  });

  it('logs a multi-item mutation with its items normalised and the first item key as partition key', async () => {
    // GIVEN a put and an update of two items of the table target
    const body = {
      items: [
        { target: 'main', op: 'put', item: { id: 'i1', n: 1 } },
        { target: 'main', op: 'update', key: { id: 'i2' }, add: { n: 2 } },
      ],
    };
    // WHEN it is ingested (namespace "keyed": the default maxBytes)
    const answer = await ingestMutation(dependencies(), 'keyed', body, 'k-items');
    // THEN it is committed, on the first item's key, with items and no payload
    expect(answer).toMatchObject({ durable: 'SUCCESS' });
    const record = kinesisMock.commandCalls(PutRecordCommand)[0]?.args[0].input;
    expect(record?.PartitionKey).toBe('keyed#i1');
    const envelope = JSON.parse(Buffer.from(record?.Data as Uint8Array).toString());
    expect(envelope).toMatchObject({ op: 'put', partitionKey: 'i1' });
    expect(envelope).not.toHaveProperty('payload');
    expect(envelope.items).toEqual([
      { target: 'main', table: 'orders-table', op: 'put', payload: { id: 'i1', n: 1 } },
      {
        target: 'main',
        table: 'orders-table',
        op: 'update',
        payload: { id: 'i2' },
        update: { add: { n: 2 } },
      },
    ]);
  });

  it('computes deliverAt from delaySeconds plus jitter', async () => {
    // WHEN a mutation with a 60 s delay and 10 s of jitter is ingested
    await ingestMutation(
      dependencies(),
      'orders',
      { payload: { id: 'a1' }, lifecycle: { delaySeconds: 60, jitterSeconds: 10 } },
      undefined,
    );
    // THEN its envelope is due after 60 s plus the jitter drawn (random at 0.5)
    const data = kinesisMock.commandCalls(PutRecordCommand)[0]?.args[0].input.Data;
    expect(JSON.parse(Buffer.from(data as Uint8Array).toString())).toMatchObject({ deliverAt: NOW + 65_000 });
  });

  it('answers a retry of a committed key with the original id', async () => {
    // GIVEN the key was committed earlier for the same request
    documentMock
      .on(PutCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    const first = hashRequest(mutationRequestSchema.parse({ payload: { id: 'a1' } }));
    documentMock.on(GetCommand).resolves({
      Item: {
        state: 'COMMITTED',
        id: '01JORIGINAL',
        sequence: '11',
        requestHash: first,
        effectiveAt: NOW - 5_000,
      },
    });
    // WHEN
    const answer = await ingestMutation(dependencies(), 'orders', { payload: { id: 'a1' } }, 'k1');
    // THEN the original answer, its effective time from the ledger's commit record
    expect(answer).toEqual({
      id: '01JORIGINAL',
      namespace: 'orders',
      durable: 'SUCCESS',
      sequence: '11',
      effectiveAt: new Date(NOW - 5_000).toISOString(),
    });
  });

  it('fails if the key was used for a different request (422)', async () => {
    // GIVEN the key was committed for another request
    documentMock
      .on(PutCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    documentMock
      .on(GetCommand)
      .resolves({ Item: { state: 'COMMITTED', id: '01JORIGINAL', sequence: '11', requestHash: 'other' } });
    // WHEN a request with that key is ingested
    const problem = await problemOf(
      ingestMutation(dependencies(), 'orders', { payload: { id: 'a1' } }, 'k1'),
    );
    // THEN a 422 idempotency-key-reused
    expect(problem.status).toBe(422);
    expect(problem.slug).toBe('idempotency-key-reused');
  });

  it('answers FAIL (409) when this attempt was fenced', async () => {
    // GIVEN the commit is refused because this attempt was fenced
    documentMock
      .on(PutCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    documentMock.on(GetCommand).resolves({ Item: { state: 'ABORTED', abortedIds: new Set(['01JNEWID']) } });
    // WHEN it is ingested
    const problem = await problemOf(
      ingestMutation(dependencies(), 'orders', { payload: { id: 'a1' } }, 'k1'),
    );
    // THEN a 409 FAIL with the attempt's id
    expect(problem.status).toBe(409);
    expect(problem.extensions).toMatchObject({ durable: 'FAIL', id: '01JNEWID' });
  });

  it('answers FAIL (503) when the prepare fails, after fencing every earlier attempt of the key', async () => {
    // GIVEN the prepare fails and the fence finds no commit of the key
    kinesisMock
      .on(PutRecordCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
    documentMock.on(UpdateCommand).resolves({});
    // WHEN
    const problem = await problemOf(
      ingestMutation(dependencies(), 'orders', { payload: { id: 'a1' } }, 'k1'),
    );
    // THEN FAIL, nothing committed, and no attempt can commit the key before every earlier one has ended
    expect(problem.status).toBe(503);
    expect(problem.extensions).toMatchObject({ durable: 'FAIL' });
    expect(documentMock.commandCalls(PutCommand)).toHaveLength(0);
    const fence = documentMock.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(fence?.ConditionExpression).toBe(
      'attribute_not_exists(#pk) OR (#state = :aborted AND (attribute_not_exists(#fencedUntil) OR #fencedUntil < :fencedUntil))',
    );
    expect(fence?.ExpressionAttributeValues).toMatchObject({
      ':aborted': 'ABORTED',
      ':fencedUntil': NOW + 61_000,
    });
  });

  it('answers FAIL when the prepare fails and a longer fence already covers the key', async () => {
    // GIVEN the fence write is refused because another FAIL fenced the key for longer
    kinesisMock.on(PutRecordCommand).rejects(new Error('socket hang up'));
    documentMock
      .on(UpdateCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'fenced', $metadata: {} }));
    documentMock.on(GetCommand).resolves({ Item: { state: 'ABORTED', fencedUntil: NOW + 120_000 } });
    // WHEN / THEN that fence covers every attempt this one would: FAIL stays true
    const problem = await problemOf(
      ingestMutation(dependencies(), 'orders', { payload: { id: 'a1' } }, 'k1'),
    );
    expect(problem.extensions).toMatchObject({ durable: 'FAIL' });
  });

  it('answers UNKNOWN when the fence is refused and the ledger shows a shorter fence', async () => {
    // GIVEN the condition failed, yet what the ledger holds neither commits nor covers this attempt's fence
    kinesisMock.on(PutRecordCommand).rejects(new Error('socket hang up'));
    documentMock
      .on(UpdateCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'raced', $metadata: {} }));
    documentMock.on(GetCommand).resolves({ Item: { state: 'ABORTED', fencedUntil: NOW + 1_000 } });
    // WHEN / THEN no FAIL that the WAL cannot stand behind
    const problem = await problemOf(
      ingestMutation(dependencies(), 'orders', { payload: { id: 'a1' } }, 'k1'),
    );
    expect(problem.extensions).toMatchObject({ durable: 'UNKNOWN' });
  });

  it('extends the fence before answering 409 FAIL to a commit that met one', async () => {
    // GIVEN the key is fenced by an earlier FAIL; this attempt's commit is refused
    documentMock
      .on(PutCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'fenced', $metadata: {} }));
    documentMock.on(GetCommand).resolves({ Item: { state: 'ABORTED', fencedUntil: NOW + 10_000 } });
    documentMock.on(UpdateCommand).resolves({});
    // WHEN
    const problem = await problemOf(
      ingestMutation(dependencies(), 'orders', { payload: { id: 'a1' } }, 'k1'),
    );
    // THEN 409 FAIL, after a fence from now: attempts still under way cannot commit after this answer either
    expect(problem).toMatchObject({ status: 409, slug: 'commit-fenced', extensions: { durable: 'FAIL' } });
    expect(
      documentMock.commandCalls(UpdateCommand)[0]?.args[0].input.ExpressionAttributeValues,
    ).toMatchObject({
      ':fencedUntil': NOW + 61_000,
    });
  });

  it('answers the original SUCCESS when the prepare fails but an earlier attempt committed', async () => {
    // GIVEN an earlier attempt of the key committed (its answer was lost), and this retry cannot prepare
    kinesisMock.on(PutRecordCommand).rejects(new Error('socket hang up'));
    const hash = hashRequest(mutationRequestSchema.parse({ payload: { id: 'a1' } }));
    documentMock
      .on(UpdateCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'committed', $metadata: {} }));
    documentMock
      .on(GetCommand)
      .resolves({ Item: { state: 'COMMITTED', id: '01JEARLIER', sequence: '7', requestHash: hash } });
    // WHEN / THEN the client learns the key is durable
    await expect(ingestMutation(dependencies(), 'orders', { payload: { id: 'a1' } }, 'k1')).resolves.toEqual({
      id: '01JEARLIER',
      namespace: 'orders',
      durable: 'SUCCESS',
      sequence: '7',
    });
  });

  it('answers UNKNOWN when the prepare fails and the ledger cannot be read', async () => {
    // GIVEN the prepare and the fence both fail
    kinesisMock.on(PutRecordCommand).rejects(new Error('socket hang up'));
    documentMock.on(UpdateCommand).rejects(new Error('ledger down'));
    // WHEN a mutation is ingested
    const problem = await problemOf(
      ingestMutation(dependencies(), 'orders', { payload: { id: 'a1' } }, 'k1'),
    );
    // THEN the answer is UNKNOWN: the record may be on the stream
    expect(problem.extensions).toMatchObject({ durable: 'UNKNOWN' });
  });

  it('answers UNKNOWN (503) when the commit call fails', async () => {
    // GIVEN the commit's answer is lost
    documentMock.on(PutCommand).rejects(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }));
    // WHEN a mutation is ingested
    const problem = await problemOf(
      ingestMutation(dependencies(), 'orders', { payload: { id: 'a1' } }, 'k1'),
    );
    // THEN a 503 UNKNOWN, telling the client to retry with the same key
    expect(problem.status).toBe(503);
    expect(problem.extensions).toMatchObject({ durable: 'UNKNOWN', id: '01JNEWID' });
    expect(problem.detail).toMatch(/Retry with the same idempotency key/);
  });

  it('fails if the namespace requires an idempotency key and none is sent (400), writing nothing', async () => {
    // WHEN a keyless mutation is sent to a namespace that requires keys
    const problem = await problemOf(
      ingestMutation(dependencies(), 'keyed', { payload: { id: 'a1' } }, undefined),
    );
    // THEN a 400 that says so, and no call to Kinesis or DynamoDB
    expect(problem).toMatchObject({ status: 400, slug: 'idempotency-key-required' });
    expect(problem.detail).toMatch(/Namespace "keyed" requires an idempotency key/);
    expect(kinesisMock.calls()).toHaveLength(0);
    expect(documentMock.calls()).toHaveLength(0);
  });

  it('takes a keyed mutation in a namespace that requires keys', async () => {
    // WHEN/THEN a keyed mutation is sent to it
    const answer = await ingestMutation(dependencies(), 'keyed', { payload: { id: 'a1' } }, 'k-1');
    expect(answer.durable).toBe('SUCCESS');
  });

  it('names a bad field by its JSON pointer, escaping "/" and "~" in names (RFC 6901)', async () => {
    // GIVEN a __proto__ under names holding / and ~
    const body = JSON.parse('{"payload": {"a/b": {"c~d": {"__proto__": 1}}}}');
    // WHEN it is ingested
    const problem = await problemOf(ingestMutation(dependencies(), 'orders', body, 'k1'));
    // THEN the 400 names it by its escaped pointer
    expect(problem.status).toBe(400);
    expect(problem.extensions.errors).toContainEqual(
      expect.objectContaining({ pointer: '/payload/a~1b/c~0d/__proto__' }),
    );
  });

  describe('bad input', () => {
    it.each([
      // GIVEN each invalid request with the status and code it must get
      ['the payload is missing', { op: 'put' }, undefined, 400, 'missing-payload'],
      ['the op is unknown', { payload: { id: 'a' }, op: 'upsert' }, undefined, 400, 'invalid-mutation'],
      ['a field is unknown', { payload: { id: 'a' }, colour: 1 }, undefined, 400, 'invalid-mutation'],
      [
        'the payload is too large',
        { payload: { id: 'a', s: 'x'.repeat(200) } },
        undefined,
        413,
        'payload-too-large',
      ],
      ['the payload lacks the key', { payload: { n: 1 } }, undefined, 400, 'invalid-payload'],
      ['the payload is not an object', { payload: [1, 2] }, undefined, 400, 'invalid-payload'],
      [
        'the payload uses a reserved attribute',
        { payload: { id: 'a', _walOrder: 'x' } },
        undefined,
        400,
        'invalid-payload',
      ],
      [
        'the delay is over the maximum',
        { payload: { id: 'a' }, lifecycle: { delaySeconds: 3_601 } },
        undefined,
        400,
        'delay-out-of-bounds',
      ],
      [
        'the delay is negative',
        { payload: { id: 'a' }, lifecycle: { delaySeconds: -1 } },
        undefined,
        400,
        'invalid-mutation',
      ],
      [
        'deliverAt is beyond the maximum',
        { payload: { id: 'a' }, lifecycle: { deliverAt: '2026-01-02T00:00:00Z' } },
        undefined,
        400,
        'delay-out-of-bounds',
      ],
      [
        'deliverAt is not a date',
        { payload: { id: 'a' }, lifecycle: { deliverAt: 'tomorrow' } },
        undefined,
        400,
        'invalid-mutation',
      ],
      [
        'both delaySeconds and deliverAt are given',
        { payload: { id: 'a' }, lifecycle: { delaySeconds: 1, deliverAt: '2026-01-01T00:00:10Z' } },
        undefined,
        400,
        'invalid-mutation',
      ],
      ['a target is unknown', { payload: { id: 'a' }, targets: ['nope'] }, undefined, 400, 'unknown-target'],
      ['the header key has a space', { payload: { id: 'a' } }, 'bad key', 400, 'invalid-idempotency-key'],
      [
        'header and body keys differ',
        { payload: { id: 'a' }, idempotencyKey: 'one' },
        'two',
        400,
        'conflicting-idempotency-key',
      ],
      ['a put item has no "item"', { items: [{ target: 'main' }] }, undefined, 400, 'invalid-mutation'],
      [
        'items come with a payload',
        { payload: { id: 'a' }, items: [{ target: 'main', item: { id: 'a' } }] },
        undefined,
        400,
        'items-with-single-target-fields',
      ],
      [
        'the items together are larger than maxBytes',
        { items: [{ target: 'main', item: { id: 'a', s: 'x'.repeat(100) } }] },
        undefined,
        413,
        'payload-too-large',
      ],
      ['a number would lose digits', { payload: { id: 'a', n: 1e20 } }, undefined, 400, 'invalid-payload'],
      [
        'a number is outside DynamoDB range',
        { payload: { id: 'a', n: 1e-200 } },
        undefined,
        400,
        'invalid-payload',
      ],
      [
        'the payload nests too deep',
        { payload: { id: 'a', d: nested(30) } },
        undefined,
        400,
        'invalid-payload',
      ],
      ['the key has the wrong type', { payload: { id: 5 } }, undefined, 400, 'invalid-payload'],
      [
        'set and add name one attribute',
        { op: 'update', payload: { id: 'a' }, set: { n: 1 }, add: { n: 1 } },
        undefined,
        400,
        'invalid-payload',
      ],
      [
        '"set" makes it too large',
        { op: 'update', payload: { id: 'a' }, set: { s: 'x'.repeat(200) } },
        undefined,
        413,
        'payload-too-large',
      ],
      [
        'op "update" has neither set nor add',
        { op: 'update', payload: { id: 'a' } },
        undefined,
        400,
        'invalid-mutation',
      ],
      [
        '"set" comes without op "update"',
        { payload: { id: 'a' }, set: { n: 1 } },
        undefined,
        400,
        'invalid-mutation',
      ],
      [
        '"add" is not a number',
        { op: 'update', payload: { id: 'a' }, add: { n: 'x' } },
        undefined,
        400,
        'invalid-mutation',
      ],
      [
        'an update sets a key attribute',
        { op: 'update', payload: { id: 'a' }, set: { id: 'b' } },
        undefined,
        400,
        'invalid-payload',
      ],
      ['the body is not an object', 'just a string', undefined, 400, 'invalid-mutation'],
    ])('fails if %s', async (_case, body, header, status, slug) => {
      // WHEN the bad request is ingested
      const problem = await problemOf(ingestMutation(dependencies(), 'orders', body, header));
      // THEN its problem status and type
      expect({ status: problem.status, slug: problem.slug }).toEqual({ status, slug });
      // AND nothing is written for bad input
      expect(kinesisMock.calls()).toHaveLength(0);
      expect(documentMock.calls()).toHaveLength(0);
    });

    it('answers a retry of a committed key with the original answer even after the namespace was disabled', async () => {
      // GIVEN the key was committed (the answer was lost), then the namespace was disabled
      const hash = hashRequest(mutationRequestSchema.parse({ payload: { id: 'a' } }));
      documentMock
        .on(GetCommand)
        .resolves({ Item: { state: 'COMMITTED', id: '01JEARLIER', sequence: '9', requestHash: hash } });
      // WHEN the client retries with the same key
      const answer = await ingestMutation(dependencies(), 'paused', { payload: { id: 'a' } }, 'k-paused');
      // THEN it learns the mutation is durable, and nothing new is logged
      expect(answer).toMatchObject({ id: '01JEARLIER', durable: 'SUCCESS' });
      expect(kinesisMock.calls()).toHaveLength(0);
    });

    it('fails if the namespace is disabled (403)', async () => {
      // WHEN a mutation is sent to a paused namespace
      const problem = await problemOf(
        ingestMutation(dependencies(), 'paused', { payload: { id: 'a' } }, undefined),
      );
      // THEN a 403, and nothing is logged
      expect(problem.status).toBe(403);
      expect(kinesisMock.calls()).toHaveLength(0);
    });

    it('fails if the namespace is unknown', async () => {
      // WHEN/THEN a mutation is sent to a namespace that does not exist
      await expect(
        ingestMutation(dependencies(), 'nope', { payload: { id: 'a' } }, undefined),
      ).rejects.toThrow(UnknownNamespaceError);
    });
  });
});

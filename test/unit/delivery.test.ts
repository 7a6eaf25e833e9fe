import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { deliverToTarget, routeCommitted } from '#lambdas/shared/delivery';
import type { QueueMessage } from '#lambdas/shared/queue-message';
import { deliveryDependencies, loggedMutation, namespaceConfig } from '#test/support/fixtures';

const sqsMock = mockClient(SQSClient);
const documentMock = mockClient(DynamoDBDocumentClient);
const NOW = 1_700_000_000_000;
const config = namespaceConfig({
  retry: {
    maxAttempts: 3,
    initialBackoffSeconds: 10,
    backoffMultiplier: 2,
    maxBackoffSeconds: 3_600,
    jitter: 'none',
  },
});

const dependencies = () => deliveryDependencies(config, NOW);

function sent(): { queue: string | undefined; delay: number | undefined; message: QueueMessage }[] {
  return sqsMock.commandCalls(SendMessageCommand).map((call) => ({
    queue: call.args[0].input.QueueUrl,
    delay: call.args[0].input.DelaySeconds,
    message: JSON.parse(call.args[0].input.MessageBody ?? '{}'),
  }));
}

beforeEach(() => {
  sqsMock.reset();
  documentMock.reset();
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm1' });
});

describe('routeCommitted', () => {
  it('applies an immediate mutation to the target table', async () => {
    // GIVEN a target that accepts writes
    documentMock.on(PutCommand).resolves({});
    // WHEN an immediate mutation is routed
    await routeCommitted(dependencies(), loggedMutation());
    // THEN it is written to the table, and nothing is queued
    expect(documentMock.commandCalls(PutCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'orders-table',
      Item: { id: 'a1', n: 1, _walId: '01JTESTMUTATION0000000000A' },
    });
    expect(sent()).toHaveLength(0);
  });

  it('sends a delayed mutation to the delay queue, one message per target', async () => {
    // WHEN a mutation due in 2 minutes is routed
    await routeCommitted(dependencies(), loggedMutation({ deliverAt: NOW + 120_000 }));
    // THEN the table is not touched; the delay queue gets it for 120 s
    expect(documentMock.calls()).toHaveLength(0);
    expect(sent()).toEqual([
      {
        queue: 'delay-url',
        delay: 120,
        message: expect.objectContaining({ kind: 'deliver', target: 'main' }),
      },
    ]);
  });

  it('puts a delay longer than 900 s in the waiting room, bound for the delay queue', async () => {
    // GIVEN the waiting room accepts writes
    documentMock.on(PutCommand).resolves({});
    // WHEN a mutation due in 2 hours is routed
    await routeCommitted(dependencies(), loggedMutation({ deliverAt: NOW + 7_200_000 }));
    // THEN nothing is sent now: one item waits in the bucket of its due minute, holding the delay queue's message
    expect(sent()).toHaveLength(0);
    const item = documentMock.commandCalls(PutCommand)[0]?.args[0].input.Item;
    expect(item).toMatchObject({
      queueUrl: 'delay-url',
      dueAt: NOW + 7_200_000,
      pk: expect.stringMatching(new RegExp(`^${Math.floor((NOW + 7_200_000) / 60_000)}#[0-3]$`)),
      expiresAt: (NOW + 7_200_000) / 1000 + 7 * 86_400,
    });
    expect(JSON.parse(String(item?.body))).toMatchObject({ kind: 'deliver', notBefore: NOW + 7_200_000 });
  });

  it('keeps a delay of exactly 900 s on SQS', async () => {
    // WHEN a mutation due in 900 s is routed
    await routeCommitted(dependencies(), loggedMutation({ deliverAt: NOW + 900_000 }));
    // THEN the delay queue delays it 900 s; the waiting room is not written
    expect(sent()[0]).toMatchObject({ queue: 'delay-url', delay: 900 });
    expect(documentMock.calls()).toHaveLength(0);
  });

  it('hops a message too large for a DynamoDB item: 900 s on SQS, the consumer sends the rest', async () => {
    // WHEN a mutation with a 500 KB payload, due in 2 hours, is routed
    const mutation = loggedMutation({ deliverAt: NOW + 7_200_000, payload: { blob: 'x'.repeat(500_000) } });
    await routeCommitted(dependencies(), mutation);
    // THEN it waits SQS's longest delay and carries when it is due
    expect(sent()[0]).toMatchObject({ delay: 900, message: { notBefore: NOW + 7_200_000 } });
    expect(documentMock.calls()).toHaveLength(0);
  });

  it('sends a failed delivery to the retry queue with its backoff and error', async () => {
    // GIVEN the table is down
    documentMock.on(PutCommand).rejects(new Error('table is down'));
    // WHEN an immediate mutation is routed
    await routeCommitted(dependencies(), loggedMutation());
    // THEN it goes to the retry queue as attempt 1, with the error
    expect(sent()).toEqual([
      {
        queue: 'retry-url',
        delay: 10,
        message: expect.objectContaining({ kind: 'retry', attempt: 1, lastError: 'Error: table is down' }),
      },
    ]);
  });

  it('fails if the retry queue cannot be reached, so the record is retried', async () => {
    // GIVEN the table and SQS are down
    documentMock.on(PutCommand).rejects(new Error('table is down'));
    sqsMock.on(SendMessageCommand).rejects(new Error('sqs is down'));
    // WHEN/THEN a mutation is routed: the error reaches the stream consumer
    await expect(routeCommitted(dependencies(), loggedMutation())).rejects.toThrow('sqs is down');
  });
});

describe('deliverToTarget', () => {
  it('dead-letters after the namespace max attempts, with the reason', async () => {
    // GIVEN a target that is down, and a delivery that failed twice of its 3 attempts
    documentMock.on(PutCommand).rejects(new Error('table is down'));
    // WHEN its third attempt fails
    await deliverToTarget(dependencies(), {
      config,
      mutation: loggedMutation(),
      target: 'main',
      failedAttempts: 2,
      firstFailedAt: NOW - 1_000,
    });
    // THEN it goes to the DLQ, keeping when it first failed
    expect(sent()).toEqual([
      {
        queue: 'dlq-url',
        delay: 0,
        message: expect.objectContaining({
          kind: 'retry',
          attempt: 3,
          reason: 'failed 3 of 3 attempts',
          firstFailedAt: NOW - 1_000,
        }),
      },
    ]);
  });

  it('dead-letters at once what the target rejects as invalid (no retries)', async () => {
    // GIVEN a target that rejects the item itself
    documentMock
      .on(PutCommand)
      .rejects(Object.assign(new Error('Type mismatch for key'), { name: 'ValidationException' }));
    // WHEN a first delivery meets the rejection
    await deliverToTarget(dependencies(), { config, mutation: loggedMutation(), target: 'main' });
    // THEN
    expect(sent()).toEqual([
      {
        queue: 'dlq-url',
        delay: 0,
        message: expect.objectContaining({
          attempt: 1,
          reason: expect.stringContaining('rejected by the target'),
        }),
      },
    ]);
  });

  it("dead-letters at once an old put for a key that holds nothing: a newer delete's tombstone may have expired", async () => {
    // GIVEN a put that took effect 40 days ago (a redrive cycle); the key holds nothing now
    documentMock.on(GetCommand).resolves({});
    const old = loggedMutation({ loggedAt: NOW - 40 * 86_400_000 });
    // WHEN
    await deliverToTarget(dependencies(), { config, mutation: old, target: 'main' });
    // THEN no write (it could undo that delete), the DLQ says why
    expect(documentMock.commandCalls(PutCommand)).toHaveLength(0);
    expect(sent()).toEqual([
      {
        queue: 'dlq-url',
        delay: 0,
        message: expect.objectContaining({
          reason: expect.stringMatching(
            /^cannot be ordered: it took effect 40 days ago and its key holds nothing/,
          ),
        }),
      },
    ]);
  });

  it('applies an old put to a key that still holds its history', async () => {
    // GIVEN the same old put, and the key holds an item with an older base
    documentMock
      .on(GetCommand)
      .resolves({ Item: { id: 'a1', n: 0, _walOrder: '0', _walRev: 'r', _walBase: '1#1' } });
    documentMock.on(PutCommand).resolves({});
    const old = loggedMutation({ loggedAt: NOW - 40 * 86_400_000 });
    // WHEN
    await deliverToTarget(dependencies(), { config, mutation: old, target: 'main' });
    // THEN it lands (conditional on the revision it read)
    expect(sent()).toEqual([]);
    expect(documentMock.commandCalls(PutCommand)[0]?.args[0].input).toMatchObject({
      Item: { id: 'a1', n: 1 },
      ConditionExpression: '#rev = :rev',
    });
  });

  it('retries an add to an attribute that is not a number yet (an earlier set may still arrive)', async () => {
    // GIVEN the item holds n as a string
    documentMock
      .on(GetCommand)
      .resolves({ Item: { id: 'a1', n: 'text', _walOrder: '0', _walRev: 'r', _walBase: '1#1' } });
    const add = loggedMutation({ op: 'update', payload: { id: 'a1' }, update: { add: { n: 1 } } });
    // WHEN
    await deliverToTarget(dependencies(), { config, mutation: add, target: 'main' });
    // THEN it goes to the retry queue, not the DLQ
    expect(sent()).toEqual([
      {
        queue: 'retry-url',
        delay: expect.any(Number),
        message: expect.objectContaining({
          attempt: 1,
          lastError: expect.stringContaining('is not a number'),
        }),
      },
    ]);
  });

  it('dead-letters a mutation whose target was removed from the namespace', async () => {
    // GIVEN a namespace without the target "gone"
    // WHEN a delivery to it comes due
    await deliverToTarget(dependencies(), { config, mutation: loggedMutation(), target: 'gone' });
    // THEN
    expect(sent()[0]).toMatchObject({ queue: 'dlq-url', message: { reason: 'target-removed' } });
  });

  it('records each state on the status: failures always, delayed and applied only for a tracked namespace', async () => {
    // GIVEN a tracked namespace, a table that is down, then back
    const tracked = namespaceConfig({ status: { track: 'all' }, retry: config.retry });
    const deps = deliveryDependencies(tracked, NOW);
    documentMock.on(PutCommand).rejectsOnce(new Error('table is down')).resolves({});
    // WHEN a delivery fails, its retry applies it, a delayed mutation is routed, and a removed target comes due
    await deliverToTarget(deps, { config: tracked, mutation: loggedMutation(), target: 'main' });
    await deliverToTarget(deps, {
      config: tracked,
      mutation: loggedMutation(),
      target: 'main',
      failedAttempts: 1,
    });
    await routeCommitted(deps, loggedMutation({ id: '01JTESTMUTATION0000000000D', deliverAt: NOW + 60_000 }));
    await deliverToTarget(deps, { config: tracked, mutation: loggedMutation(), target: 'gone' });
    // THEN the status says retrying (attempt 1, next attempt), applied, delayed (until), dead-lettered (target-removed)
    const states = documentMock
      .commandCalls(UpdateCommand)
      .map((call) => [
        call.args[0].input.ExpressionAttributeNames?.['#target'],
        call.args[0].input.ExpressionAttributeValues?.[':status'],
      ]);
    expect(states).toEqual([
      ['t:main', expect.objectContaining({ state: 'retrying', attempts: 1, nextAttemptAt: NOW + 10_000 })],
      ['t:main', expect.objectContaining({ state: 'applied', outcome: 'applied' })],
      ['t:main', expect.objectContaining({ state: 'delayed', until: NOW + 60_000 })],
      ['t:gone', expect.objectContaining({ state: 'dead-lettered', reason: 'target-removed' })],
    ]);
  });
  it('records applied under track failures once an earlier attempt failed, and only then', async () => {
    // GIVEN a namespace with the default track "failures", a table that is down once, then back
    const deps = dependencies();
    documentMock.on(PutCommand).rejectsOnce(new Error('table is down')).resolves({});
    // WHEN a delivery fails, its retry applies it, and another mutation is applied at its first attempt
    await deliverToTarget(deps, { config, mutation: loggedMutation(), target: 'main' });
    await deliverToTarget(deps, { config, mutation: loggedMutation(), target: 'main', failedAttempts: 1 });
    await deliverToTarget(deps, {
      config,
      mutation: loggedMutation({ id: '01JTESTMUTATION0000000000E' }),
      target: 'main',
    });
    // THEN the status goes retrying then applied; the first-attempt success writes no status
    const states = documentMock
      .commandCalls(UpdateCommand)
      .map((call) => call.args[0].input.ExpressionAttributeValues?.[':status']?.state);
    expect(states).toEqual(['retrying', 'applied']);
  });
});

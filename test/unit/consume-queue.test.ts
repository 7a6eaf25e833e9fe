import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { consumeQueueBatch } from '#lambdas/queue-consumer/consume-queue';
import type { RetryMessage } from '#lambdas/shared/queue-message';
import { deliveryDependencies, loggedMutation, namespaceConfig } from '#test/support/fixtures';

const sqsMock = mockClient(SQSClient);
const documentMock = mockClient(DynamoDBDocumentClient);
const NOW = 1_700_000_000_000;
const config = namespaceConfig({
  retry: { maxAttempts: 5, initialBackoffSeconds: 3_600, maxBackoffSeconds: 7_200 },
});

const dependencies = () => deliveryDependencies(config, NOW);

function event(body: unknown): SQSEvent {
  const record = {
    messageId: 'm1',
    body: JSON.stringify(body),
    eventSourceARN: 'arn:aws:sqs:us-east-1:1:retry',
  };
  return { Records: [record as SQSRecord] };
}

function retryMessage(notBefore: number): RetryMessage {
  return {
    kind: 'retry',
    mutation: loggedMutation(),
    target: 'main',
    attempt: 1,
    lastError: 'Error: down',
    firstFailedAt: NOW - 60_000,
    notBefore,
  };
}

beforeEach(() => {
  sqsMock.reset();
  documentMock.reset();
  sqsMock.on(SendMessageCommand).resolves({});
  documentMock.on(PutCommand).resolves({});
});

describe('consumeQueueBatch', () => {
  it('moves a retry due in over 15 minutes to the waiting room (also one that was hopping before the room)', async () => {
    // WHEN a retry due in an hour arrives after SQS's 900 s delay
    const response = await consumeQueueBatch(dependencies(), event(retryMessage(NOW + 3_600_000)));
    // THEN it waits in the waiting room, unchanged and bound for the retry queue; nothing is sent or applied
    expect(response.batchItemFailures).toEqual([]);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    const item = documentMock.commandCalls(PutCommand)[0]?.args[0].input;
    expect(item).toMatchObject({
      TableName: 'waiting-room',
      Item: { queueUrl: 'retry-url', dueAt: NOW + 3_600_000, pk: expect.stringMatching(/^\d+#[0-3]$/) },
    });
    expect(JSON.parse(String(item?.Item?.body))).toEqual(retryMessage(NOW + 3_600_000));
  });

  it('hops a retry that arrived early but is due within 15 minutes on SQS for the rest', async () => {
    // WHEN a retry due in 5 minutes arrives
    const response = await consumeQueueBatch(dependencies(), event(retryMessage(NOW + 300_000)));
    // THEN it goes back on the retry queue for the 300 s left, unchanged, and the target is not touched
    expect(response.batchItemFailures).toEqual([]);
    expect(documentMock.calls()).toHaveLength(0);
    const sent = sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(sent).toMatchObject({ QueueUrl: 'retry-url', DelaySeconds: 300 });
    expect(JSON.parse(sent?.MessageBody ?? '{}')).toEqual(retryMessage(NOW + 300_000));
  });

  it('fails if the waiting room cannot be written, so SQS delivers the message again', async () => {
    // GIVEN the waiting room table is down
    documentMock.on(PutCommand).rejects(new Error('table down'));
    // WHEN a retry due in an hour arrives
    const consumed = consumeQueueBatch(dependencies(), event(retryMessage(NOW + 3_600_000)));
    // THEN the batch fails (its only message failed): the message is not dropped, and nothing was sent
    await expect(consumed).rejects.toThrow('All records failed processing');
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('applies a retry that is due', async () => {
    // WHEN a retry that is due arrives
    const response = await consumeQueueBatch(dependencies(), event(retryMessage(NOW)));
    // THEN the target gets the mutation and the message succeeds
    expect(response.batchItemFailures).toEqual([]);
    expect(documentMock.commandCalls(PutCommand)).toHaveLength(1);
  });

  it('applies only the items a redriven multi-item retry has left, and the delayed delivery of its items', async () => {
    // GIVEN a multi-item mutation whose item 0 is done, redriven (attempt 3) and delayed (not done)
    const items = [
      { target: 'main', op: 'put' as const, payload: { id: 'done' } },
      { target: 'main', op: 'put' as const, payload: { id: 'left' } },
    ];
    const mutation = loggedMutation({ items, payload: undefined });
    documentMock.on(GetCommand).resolves({});
    documentMock.on(TransactWriteCommand).resolves({});
    const redriven = { ...retryMessage(NOW), mutation, target: '*items', attempt: 3, itemsDone: [0] };
    const delayed = { kind: 'deliver', mutation, target: '*items', notBefore: NOW };
    // WHEN both are consumed
    await consumeQueueBatch(dependencies(), event(redriven));
    await consumeQueueBatch(dependencies(), event(delayed));
    // THEN the redrive wrote only item 1; the delayed delivery both items, in one transaction each
    const written = documentMock
      .commandCalls(TransactWriteCommand)
      .map((call) => call.args[0].input.TransactItems?.map((action) => action.Put?.Item?.id));
    expect(written).toEqual([['left'], ['done', 'left']]);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('schedules the next attempt with the namespace backoff when the target fails again', async () => {
    // GIVEN the target is still down
    documentMock.on(PutCommand, { TableName: 'orders-table' }).rejects(new Error('still down'));
    // WHEN a due retry arrives
    await consumeQueueBatch(dependencies(), event(retryMessage(NOW)));
    // THEN the next attempt waits (in the waiting room: over 900 s) for the retry queue, due after the backoff
    const item = documentMock.commandCalls(PutCommand, { TableName: 'waiting-room' })[0]?.args[0].input.Item;
    expect(item?.queueUrl).toBe('retry-url');
    // Attempt 2 of 5: backoff 3600 s x 2^1 capped at 7200 s, jitter drawn at its maximum.
    expect(JSON.parse(String(item?.body))).toMatchObject({
      attempt: 2,
      lastError: 'Error: still down',
      notBefore: NOW + 7_200_000,
    });
  });

  it('dead-letters an unparseable message with its reason', async () => {
    // WHEN a message that is not JSON arrives
    await consumeQueueBatch(dependencies(), { Records: [{ messageId: 'm2', body: 'nope' } as SQSRecord] });
    // THEN it goes to the DLQ as poison, with the reason
    const sent = sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(sent?.QueueUrl).toBe('dlq-url');
    expect(JSON.parse(sent?.MessageBody ?? '{}')).toMatchObject({
      kind: 'poison',
      reason: 'the message is not a WAL queue message',
    });
  });

  it('fails the message (for SQS to redeliver) if the retry queue cannot be reached', async () => {
    // GIVEN the target and SQS are both down
    documentMock.on(PutCommand).rejects(new Error('still down'));
    sqsMock.on(SendMessageCommand).rejects(new Error('sqs down'));
    // WHEN/THEN a due retry arrives. One message, all failed: Powertools fails the whole invocation, so SQS redelivers it.
    await expect(consumeQueueBatch(dependencies(), event(retryMessage(NOW)))).rejects.toThrow(
      'All records failed processing',
    );
  });

  describe('recheck of an uncommitted record', () => {
    const DAY = 86_400_000;
    const recheck = (loggedAt: number) => ({ kind: 'recheck', mutation: loggedMutation({ loggedAt }) });

    it('fences a record past the commit timeout whose key has no ledger entry', async () => {
      // GIVEN the key has no ledger entry
      documentMock.on(GetCommand).resolves({});
      documentMock.on(UpdateCommand).resolves({});
      // WHEN a recheck a minute old arrives
      await consumeQueueBatch(dependencies(), event(recheck(NOW - 60_000)));
      // THEN the key is fenced, and nothing is sent on
      expect(documentMock.commandCalls(UpdateCommand)).toHaveLength(1);
      expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    });

    it('routes a record whose commit has landed, then clears its hold on the status', async () => {
      // GIVEN the ledger now holds the commit of the rechecked record
      const mutation = loggedMutation({ loggedAt: NOW - 10_000 });
      documentMock.on(GetCommand).resolves({
        Item: {
          pk: 'orders#key-1',
          state: 'COMMITTED',
          id: mutation.envelope.id,
          sequence: mutation.sequence,
        },
      });
      documentMock.on(UpdateCommand).resolves({});
      // WHEN its recheck arrives
      await consumeQueueBatch(dependencies(), event({ kind: 'recheck', mutation }));
      // THEN it is applied, and its hold is removed (only where there is one)
      expect(documentMock.commandCalls(PutCommand)).toHaveLength(1);
      expect(documentMock.commandCalls(UpdateCommand).map((call) => call.args[0].input)).toEqual([
        expect.objectContaining({
          Key: { pk: `#status#orders#${mutation.envelope.id}` },
          UpdateExpression: 'REMOVE #hold',
          ConditionExpression: 'attribute_exists(#hold)',
        }),
      ]);
    });

    it('dead-letters instead of fencing a record old enough that its ledger entry may have expired', async () => {
      // GIVEN a recheck that cycled through the DLQ: the record is older than the ledger's retention (30 days)
      documentMock.on(GetCommand).resolves({});
      // WHEN
      await consumeQueueBatch(dependencies(), event(recheck(NOW - 29 * DAY)));
      // THEN no fence (it might have been committed), but the DLQ with the reason and the whole mutation
      expect(documentMock.commandCalls(UpdateCommand)).toHaveLength(0);
      const sent = sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input;
      expect(sent?.QueueUrl).toBe('dlq-url');
      const body = JSON.parse(sent?.MessageBody ?? '{}');
      expect(body).toMatchObject({ kind: 'poison', reason: expect.stringMatching(/^ledger-expired: /) });
      expect(JSON.parse(Buffer.from(body.data, 'base64').toString('utf8'))).toEqual(
        loggedMutation({ loggedAt: NOW - 29 * DAY }),
      );

      // AND a redrive of it does not route it (it may have been answered FAIL): it returns to the DLQ
      sqsMock.resetHistory();
      await consumeQueueBatch(dependencies(), event(body));
      expect(documentMock.commandCalls(PutCommand)).toHaveLength(0);
      const again = sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input;
      expect(again?.QueueUrl).toBe('dlq-url');
      expect(JSON.parse(again?.MessageBody ?? '{}').reason).toMatch(/redriven: still not routed/);
    });
  });
});

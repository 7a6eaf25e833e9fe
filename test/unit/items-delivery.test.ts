import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { deliverToTarget, routeCommitted } from '#lambdas/shared/delivery';
import type { EnvelopeItem } from '#lambdas/shared/envelope';
import type { TargetConfig } from '#lambdas/shared/namespace-config';
import { ITEMS_DELIVERY_TARGET, type QueueMessage, type RetryMessage } from '#lambdas/shared/queue-message';
import { transactionToken } from '#lambdas/shared/targets/dynamodb-transaction';
import { deliveryDependencies, loggedMutation, namespaceConfig } from '#test/support/fixtures';

const sqsMock = mockClient(SQSClient);
const documentMock = mockClient(DynamoDBDocumentClient);
const NOW = 1_700_000_000_000;
const EVENTS_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/events';
const LINES_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/lines';

/** Two tables and a queue, 3 attempts. */
const config = namespaceConfig({
  name: 'orders',
  targets: [
    { name: 'orders', type: 'dynamodb', tableName: 'orders-table', key: { partitionKey: 'id' } },
    { name: 'lines', type: 'dynamodb', tableName: 'lines-table', key: { partitionKey: 'id' } },
    { name: 'events', type: 'sqs', queueUrl: EVENTS_URL },
  ],
  retry: {
    maxAttempts: 3,
    initialBackoffSeconds: 10,
    backoffMultiplier: 1,
    maxBackoffSeconds: 10,
    jitter: 'none',
  },
});

const ITEMS: EnvelopeItem[] = [
  {
    target: 'orders',
    table: 'orders-table',
    op: 'update',
    payload: { id: 'o1' },
    update: { add: { total: 5 } },
  },
  { target: 'lines', table: 'lines-table', op: 'put', payload: { id: 'l1', sku: 'x' } },
  { target: 'events', op: 'put', payload: { kind: 'ordered' } },
];

const multiItem = (items: EnvelopeItem[] = ITEMS) => loggedMutation({ items, payload: undefined });
const dependencies = () => deliveryDependencies(config, NOW);

function sent(): { queue: string | undefined; message: QueueMessage }[] {
  return sqsMock
    .commandCalls(SendMessageCommand)
    .filter((call) => call.args[0].input.QueueUrl !== EVENTS_URL)
    .map((call) => ({
      queue: call.args[0].input.QueueUrl,
      message: JSON.parse(call.args[0].input.MessageBody ?? '{}'),
    }));
}

const targetSends = () =>
  sqsMock.commandCalls(SendMessageCommand).filter((call) => call.args[0].input.QueueUrl === EVENTS_URL);
const transactions = () => documentMock.commandCalls(TransactWriteCommand).map((call) => call.args[0].input);

function canceled(...codes: string[]): TransactionCanceledException {
  return new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

beforeEach(() => {
  sqsMock.reset();
  documentMock.reset();
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm1' });
  documentMock.on(GetCommand).resolves({});
  documentMock.on(TransactWriteCommand).resolves({});
});

describe('routing a multi-item mutation', () => {
  it('delays it as one delivery, whatever targets its items name', async () => {
    // WHEN a multi-item mutation due in 2 minutes is routed
    await routeCommitted(
      dependencies(),
      loggedMutation({ items: ITEMS, payload: undefined, deliverAt: NOW + 120_000 }),
    );
    // THEN one deliver message for the items delivery, and nothing is written yet
    expect(sent()).toEqual([
      {
        queue: 'delay-url',
        message: expect.objectContaining({ kind: 'deliver', target: ITEMS_DELIVERY_TARGET }),
      },
    ]);
    expect(documentMock.calls()).toHaveLength(0);
  });
});

describe('applying a multi-item mutation', () => {
  it('writes the DynamoDB items in one transaction, conditional on each item as read, then the others', async () => {
    // GIVEN the order holds a total of 10 (written before items kept a revision: r1), the line nothing
    documentMock
      .on(GetCommand, { TableName: 'orders-table' })
      .resolves({ Item: { id: 'o1', total: 10, _walRev: 'r1', _walOrder: '0', _walBase: '0#0' } });
    // WHEN the mutation is routed
    await routeCommitted(dependencies(), multiItem());
    // THEN both items were read strongly consistent, and written in one transaction with their conditions
    const reads = documentMock.commandCalls(GetCommand).map((call) => call.args[0].input);
    expect(reads).toEqual(
      expect.arrayContaining([
        { TableName: 'orders-table', Key: { id: 'o1' }, ConsistentRead: true },
        { TableName: 'lines-table', Key: { id: 'l1' }, ConsistentRead: true },
      ]),
    );
    const [transaction] = transactions();
    expect(transaction?.TransactItems).toEqual([
      {
        Put: {
          TableName: 'orders-table',
          Item: expect.objectContaining({ id: 'o1', total: 15, _walId: '01JTESTMUTATION0000000000A' }),
          ConditionExpression: '#rev = :rev',
          ExpressionAttributeNames: { '#rev': '_walRev' },
          ExpressionAttributeValues: { ':rev': 'r1' },
        },
      },
      {
        Put: {
          TableName: 'lines-table',
          Item: expect.objectContaining({ id: 'l1', sku: 'x' }),
          ConditionExpression: 'attribute_not_exists(#key)',
          ExpressionAttributeNames: { '#key': 'id' },
        },
      },
    ]);
    // AND the token is the round's revision, hashed to DynamoDB's 36 characters
    const written = transaction?.TransactItems?.[0]?.Put?.Item as Record<string, unknown> | undefined;
    const revision = String(written?._walRev);
    expect(revision.startsWith('01JTESTMUTATION0000000000A.')).toBe(true);
    expect(transaction?.ClientRequestToken).toBe(transactionToken(revision));
    expect(transaction?.ClientRequestToken).toHaveLength(36);
    // AND the queue got its item as a single-target mutation; nothing was retried
    expect(JSON.parse(targetSends()[0]?.args[0].input.MessageBody ?? '{}')).toMatchObject({
      id: '01JTESTMUTATION0000000000A',
      op: 'put',
      payload: { kind: 'ordered' },
    });
    expect(sent()).toEqual([]);
    expect(documentMock.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('records the items delivery as applied, every item done, when the namespace tracks all states', async () => {
    // GIVEN a namespace that tracks every state
    documentMock.on(UpdateCommand).resolves({});
    const tracked = namespaceConfig({ ...config, status: { track: 'all' } });
    // WHEN a multi-item mutation is applied
    await routeCommitted(deliveryDependencies(tracked, NOW), multiItem());
    // THEN its status item says the items delivery is applied, with each item done
    const update = documentMock.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(update?.ExpressionAttributeNames).toMatchObject({ '#target': `t:${ITEMS_DELIVERY_TARGET}` });
    expect(update?.ExpressionAttributeValues?.[':status']).toMatchObject({
      state: 'applied',
      items: [
        { index: 0, target: 'orders', done: true },
        { index: 1, target: 'lines', done: true },
        { index: 2, target: 'events', done: true },
      ],
    });
  });

  it('records the items delivery as applied after a failed attempt, also when only failures are tracked', async () => {
    // GIVEN a namespace that tracks failures only, and an items delivery that failed once
    documentMock.on(UpdateCommand).resolves({});
    const failuresOnly = namespaceConfig({ ...config, status: { track: 'failures' } });
    // WHEN its retry applies what is left
    await deliverToTarget(deliveryDependencies(failuresOnly, NOW), {
      config: failuresOnly,
      mutation: multiItem(),
      target: ITEMS_DELIVERY_TARGET,
      failedAttempts: 1,
      itemsDone: [0, 1],
    });
    // THEN the status moves on from retrying to applied (else it would read "retrying" forever)
    const update = documentMock.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(update?.ExpressionAttributeValues?.[':status']).toMatchObject({ state: 'applied' });
  });

  it('records nothing for a first-attempt success when only failures are tracked', async () => {
    // GIVEN a namespace that tracks failures only
    const failuresOnly = namespaceConfig({ ...config, status: { track: 'failures' } });
    // WHEN a multi-item mutation is applied at once
    await routeCommitted(deliveryDependencies(failuresOnly, NOW), multiItem());
    // THEN no status is written: the happy path costs nothing
    expect(documentMock.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('reads again and retries the transaction when another writer changed an item in between', async () => {
    // GIVEN a first transaction whose condition on one item fails
    documentMock
      .on(TransactWriteCommand)
      .rejectsOnce(canceled('None', 'ConditionalCheckFailed'))
      .resolves({});
    // WHEN the DynamoDB items are applied
    await routeCommitted(dependencies(), multiItem(ITEMS.slice(0, 2)));
    // THEN both items were read twice, and the second transaction (a new revision, a new token) went through
    expect(documentMock.commandCalls(GetCommand)).toHaveLength(4);
    const [first, second] = transactions();
    expect(second?.ClientRequestToken).not.toBe(first?.ClientRequestToken);
    expect(sent()).toEqual([]);
  });

  it('writes nothing for items that already hold the mutation (a redelivery)', async () => {
    // GIVEN both items hold this mutation already (their base is its order)
    const order = '1700000000000#49650000000000000000000000001';
    documentMock
      .on(GetCommand)
      .resolves({ Item: { id: 'x', _walRev: 'r', _walBase: order, _walOrder: order } });
    // WHEN they are applied again
    await routeCommitted(dependencies(), multiItem([ITEMS[1] as EnvelopeItem]));
    // THEN no transaction is sent, and nothing is retried
    expect(transactions()).toEqual([]);
    expect(sent()).toEqual([]);
  });

  it('applies none of the DynamoDB items when one cannot be applied, and retries them with per-item errors', async () => {
    // GIVEN the order's total is not a number, so the add to it cannot count
    documentMock
      .on(GetCommand, { TableName: 'orders-table' })
      .resolves({ Item: { id: 'o1', total: 'ten', _walRev: 'r1' } });
    // WHEN the mutation is routed
    await routeCommitted(dependencies(), multiItem());
    // THEN no transaction is sent (all or none); the queue's item went out on its own
    expect(transactions()).toEqual([]);
    expect(targetSends()).toHaveLength(1);
    // AND one retry message says what is done and why each other item failed
    expect(sent()).toEqual([
      {
        queue: 'retry-url',
        message: expect.objectContaining({
          kind: 'retry',
          target: ITEMS_DELIVERY_TARGET,
          attempt: 1,
          itemsDone: [2],
          itemErrors: [
            { index: 0, error: expect.stringMatching(/^CounterNotANumberError: "total" is not a number/) },
            {
              index: 1,
              error: expect.stringContaining('not applied: item 0 of the same transaction failed'),
            },
          ],
          lastError: expect.stringContaining('item 0 (target "orders")'),
        }),
      },
    ]);
  });

  it('retries only the item that failed, and applies only it on the retry', async () => {
    // GIVEN the queue target is failing for now
    sqsMock
      .on(SendMessageCommand, { QueueUrl: EVENTS_URL })
      .rejectsOnce(new Error('queue unavailable'))
      .resolves({ MessageId: 't1' });
    // WHEN the mutation is routed
    await routeCommitted(dependencies(), multiItem());
    // THEN the DynamoDB items are done, the queue's item is retried
    const [retry] = sent();
    expect(retry?.message).toMatchObject({ kind: 'retry', itemsDone: [0, 1], itemErrors: [{ index: 2 }] });
    // WHEN the retry runs
    const targetReadsAndWrites = () =>
      documentMock.commandCalls(GetCommand).length + documentMock.commandCalls(TransactWriteCommand).length;
    const before = {
      document: targetReadsAndWrites(),
      sends: targetSends().length,
      sent: sent().length,
    };
    const message = retry?.message as RetryMessage;
    await deliverToTarget(dependencies(), {
      config,
      mutation: message.mutation,
      target: message.target,
      failedAttempts: message.attempt,
      firstFailedAt: message.firstFailedAt,
      itemsDone: message.itemsDone,
    });
    // THEN only the queue's item is applied: no read, no transaction, and nothing more is retried
    expect(targetReadsAndWrites()).toBe(before.document);
    expect(targetSends()).toHaveLength(before.sends + 1);
    expect(sent()).toHaveLength(before.sent);
  });

  it('dead-letters after the attempts are spent, with the per-item reasons and what is done', async () => {
    // GIVEN the queue item failed twice of 3 attempts and still fails; the DynamoDB items are done
    sqsMock.on(SendMessageCommand, { QueueUrl: EVENTS_URL }).rejects(new Error('queue unavailable'));
    // WHEN the third attempt runs
    await deliverToTarget(dependencies(), {
      config,
      mutation: multiItem(),
      target: ITEMS_DELIVERY_TARGET,
      failedAttempts: 2,
      firstFailedAt: NOW - 5_000,
      itemsDone: [0, 1],
    });
    // THEN the DLQ gets it with the item's reason, and nothing of the done items was touched
    expect(documentMock.commandCalls(GetCommand)).toHaveLength(0);
    expect(transactions()).toEqual([]);
    expect(sent()).toEqual([
      {
        queue: 'dlq-url',
        message: expect.objectContaining({
          attempt: 3,
          reason: 'failed 3 of 3 attempts',
          itemsDone: [0, 1],
          itemErrors: [{ index: 2, error: 'Error: queue unavailable' }],
        }),
      },
    ]);
  });

  it('dead-letters at once an item that cannot be ordered, with its reason', async () => {
    // GIVEN a put that took effect 40 days ago, on a key that holds nothing now
    const old = loggedMutation({
      items: [ITEMS[1] as EnvelopeItem],
      payload: undefined,
      loggedAt: NOW - 40 * 86_400_000,
    });
    // WHEN it is routed
    await routeCommitted(dependencies(), old);
    // THEN the DLQ gets it on its first attempt, naming the item
    expect(sent()).toEqual([
      {
        queue: 'dlq-url',
        message: expect.objectContaining({
          attempt: 1,
          reason: expect.stringContaining('cannot be ordered'),
          itemErrors: [{ index: 0, error: expect.stringContaining('UnorderableMutationError') }],
        }),
      },
    ]);
  });

  it('dead-letters at once a transaction DynamoDB refuses as invalid', async () => {
    // GIVEN DynamoDB cancels the transaction for a validation error
    documentMock.on(TransactWriteCommand).rejects(canceled('ValidationError', 'None'));
    // WHEN
    await routeCommitted(dependencies(), multiItem(ITEMS.slice(0, 2)));
    // THEN both items are dead-lettered at once with that reason
    expect(sent()).toEqual([
      {
        queue: 'dlq-url',
        message: expect.objectContaining({
          reason: expect.stringContaining('rejected by the target'),
          itemsDone: [],
          itemErrors: [
            { index: 0, error: expect.stringContaining('ValidationError') },
            { index: 1, error: expect.stringContaining('ValidationError') },
          ],
        }),
      },
    ]);
  });

  it('retries a transaction that keeps meeting concurrent writers, after a few rounds', async () => {
    // GIVEN every transaction conflicts
    documentMock.on(TransactWriteCommand).rejects(canceled('TransactionConflict', 'None'));
    // WHEN
    await routeCommitted(dependencies(), multiItem(ITEMS.slice(0, 2)));
    // THEN 5 rounds, then the retry queue
    expect(transactions()).toHaveLength(5);
    expect(sent()).toEqual([
      {
        queue: 'retry-url',
        message: expect.objectContaining({
          itemErrors: [
            { index: 0, error: expect.stringContaining('ConcurrentItemWriteError') },
            { index: 1, error: expect.stringContaining('ConcurrentItemWriteError') },
          ],
        }),
      },
    ]);
  });

  it('dead-letters every DynamoDB item when the target of one was removed, writing none of them', async () => {
    // GIVEN a DynamoDB item (its table recorded at ingest) for a target the namespace no longer has
    const gone: EnvelopeItem = { target: 'gone', table: 'gone-table', op: 'put', payload: { id: 'g1' } };
    // WHEN
    await routeCommitted(dependencies(), multiItem([ITEMS[1] as EnvelopeItem, gone]));
    // THEN no transaction: the line alone would split it; the DLQ says why for both items
    expect(transactions()).toHaveLength(0);
    expect(sent()).toEqual([
      {
        queue: 'dlq-url',
        message: expect.objectContaining({
          itemsDone: [],
          itemErrors: [
            { index: 0, error: expect.stringMatching(/not applied: item 1's target "gone" .*split/) },
            {
              index: 1,
              error: expect.stringContaining('(table "gone-table") was removed from the namespace'),
            },
          ],
        }),
      },
    ]);
  });

  it('dead-letters every DynamoDB item when the target of one became a queue, sending it nowhere', async () => {
    // GIVEN "lines" was a table at ingest and is a queue now
    const changed = namespaceConfig({
      ...config,
      targets: [
        config.targets[0] as TargetConfig,
        { name: 'lines', type: 'sqs', queueUrl: LINES_URL },
        config.targets[2] as TargetConfig,
      ],
    });
    // WHEN
    await routeCommitted(deliveryDependencies(changed, NOW), multiItem());
    // THEN neither the transaction nor the line's message is sent; the other target's item is applied
    expect(transactions()).toHaveLength(0);
    expect(sqsMock.commandCalls(SendMessageCommand, { QueueUrl: LINES_URL })).toHaveLength(0);
    expect(targetSends()).toHaveLength(1);
    expect(sent()).toEqual([
      {
        queue: 'dlq-url',
        message: expect.objectContaining({
          itemsDone: [2],
          itemErrors: [
            { index: 0, error: expect.stringContaining('not applied: item 1\'s target "lines"') },
            { index: 1, error: expect.stringContaining('(table "lines-table") became a target of type sqs') },
          ],
        }),
      },
    ]);
  });

  it('dead-letters every DynamoDB item when the target of one moved to another table', async () => {
    // GIVEN "lines" writes another table than at ingest
    const moved = namespaceConfig({
      ...config,
      targets: config.targets.map((target) =>
        target.name === 'lines' ? { ...target, tableName: 'lines-v2' } : target,
      ),
    });
    // WHEN
    await routeCommitted(deliveryDependencies(moved, NOW), multiItem(ITEMS.slice(0, 2)));
    // THEN
    expect(transactions()).toHaveLength(0);
    expect(sent()[0]?.message).toMatchObject({
      itemErrors: [
        { index: 0, error: expect.stringContaining('not applied') },
        { index: 1, error: expect.stringContaining('moved from table "lines-table" to table "lines-v2"') },
      ],
    });
  });

  it('dead-letters every DynamoDB item of a mutation logged without tables when a target is gone', async () => {
    // GIVEN items logged before tables were recorded, one for a target the namespace no longer has
    const items: EnvelopeItem[] = [
      { target: 'lines', op: 'put', payload: { id: 'l1', sku: 'x' } },
      { target: 'gone', op: 'put', payload: {} },
    ];
    // WHEN
    await routeCommitted(dependencies(), multiItem(items));
    // THEN it may have been a DynamoDB item: no transaction
    expect(transactions()).toHaveLength(0);
    expect(sent()[0]?.message).toMatchObject({
      itemsDone: [],
      itemErrors: [
        { index: 0, error: expect.stringContaining('not applied') },
        { index: 1, error: expect.stringContaining('"gone" was removed from the namespace') },
      ],
    });
  });

  it('dead-letters an item whose removed target was not DynamoDB, applying the rest', async () => {
    // GIVEN a DynamoDB item and an item (no table at ingest: not DynamoDB) for a target since removed
    const items: EnvelopeItem[] = [ITEMS[1] as EnvelopeItem, { target: 'gone', op: 'put', payload: {} }];
    // WHEN
    await routeCommitted(dependencies(), multiItem(items));
    // THEN the line is written, and the DLQ says which item is left and why
    expect(transactions()).toHaveLength(1);
    expect(sent()).toEqual([
      {
        queue: 'dlq-url',
        message: expect.objectContaining({
          itemsDone: [0],
          itemErrors: [{ index: 1, error: expect.stringContaining('no such target any more') }],
        }),
      },
    ]);
  });

  it('dead-letters the DynamoDB items when their puts are over 4 MB together, before sending them', async () => {
    // GIVEN each of 11 stored lines holds about 390 KB: a small put of each rewrites them whole
    const big = 'x'.repeat(390_000);
    documentMock.on(GetCommand, { TableName: 'lines-table' }).resolves({ Item: { id: 'l1', blob: big } });
    const items = Array.from(
      { length: 11 },
      (_, line): EnvelopeItem => ({
        target: 'lines',
        table: 'lines-table',
        op: 'update',
        payload: { id: `l${line}` },
        update: { set: { seen: true } },
      }),
    );
    // WHEN
    await routeCommitted(dependencies(), multiItem(items));
    // THEN no transaction is sent, and the DLQ names the size and the largest items
    expect(transactions()).toHaveLength(0);
    const errors = (sent()[0]?.message as RetryMessage | undefined)?.itemErrors ?? [];
    expect(sent()[0]?.queue).toBe('dlq-url');
    expect(errors).toHaveLength(11);
    expect(errors[0]?.error).toMatch(
      /the transaction would write 42\d{5} bytes, over DynamoDB's 4 MB \(4194304 bytes\).*largest items: item \d+ \(table "lines-table"\) 390\d{3} bytes/,
    );
  });
});

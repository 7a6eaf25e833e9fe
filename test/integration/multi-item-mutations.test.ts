import { DeleteMessageCommand, type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { namespaceParameterPrefix, type SqsTargetConfig } from '#lambdas/shared/namespace-config';
import { SsmNamespaceConfigStore } from '#lambdas/shared/namespace-store';
import { queueRef, redriveDeadLetters } from '#src/cli/commands/dlq';
import type { LocalWal } from '#src/local/runtime/local-wal';
import { silentLogger } from '#test/support/fixtures';
import {
  drain,
  driveUntil,
  postMutation,
  queueUrl,
  scanTable,
  targetTableName,
  type WalQueue,
  withTestWal,
} from '#test/support/local-wal-harness';
import { waitFor } from '#test/support/wait';
import { receiveWebhooksFor, type WebhookReceiver } from '#test/support/webhook-receiver';

/**
 * Multi-item mutations through the local runtime (stage `it`, namespace `multi`: tables `orders` (id) and `lines`
 * (order, line), queue `events`, webhook `hook`; 3 attempts, 1 s apart). DynamoDB items go in one
 * TransactWriteItems (the project's local transaction layer in front of dynalite), the others one by one.
 */
const NAMESPACE = 'multi';
const SECRET = 'whsec_bXVsdGktaXRlbS1pbnRlZ3JhdGlvbi1zZWNyZXQ=';
const SECRET_PARAMETER = '/wal/it/webhook-secrets/multi-hook';

describe('multi-item mutations (local runtime)', () => {
  let wal: LocalWal;
  let receiver: WebhookReceiver;
  let orders: string;
  let lines: string;
  let events: string;

  withTestWal(
    async (started) => {
      wal = started;
      receiver = await receiveWebhooksFor(wal, NAMESPACE, { parameter: SECRET_PARAMETER, value: SECRET });
      orders = await targetTableName(wal, 'it', NAMESPACE, 'orders');
      lines = await targetTableName(wal, 'it', NAMESPACE, 'lines');
      const store = new SsmNamespaceConfigStore(
        wal.clients.ssm,
        namespaceParameterPrefix('it'),
        0,
        silentLogger,
      );
      const config = await store.get(NAMESPACE);
      events = (config.targets.find((target) => target.name === 'events') as SqsTargetConfig).queueUrl ?? '';
    },
    // The `it` stage is not local: its consumers may POST to http://127.0.0.1 only because the test says so.
    { WAL_ALLOW_HTTP_TARGETS: 'true' },
  );
  afterAll(() => receiver?.close());

  const itemOf = async (table: string, match: (item: Record<string, unknown>) => boolean) =>
    (await scanTable(wal, table)).find(match);

  it('lands one mutation on both tables and the queue', async () => {
    // GIVEN an order, its line and an event, in one mutation
    const answer = await postMutation(wal, NAMESPACE, {
      items: [
        { target: 'orders', op: 'put', item: { id: 'o-1', state: 'placed', total: 0 } },
        { target: 'lines', op: 'put', item: { order: 'o-1', line: 1, sku: 'tea' } },
        { target: 'orders', op: 'update', key: { id: 'o-0' }, add: { total: 7 } },
        { target: 'events', op: 'put', item: { kind: 'order-placed', order: 'o-1' } },
      ],
    });
    expect(answer).toMatchObject({ status: 200, body: { durable: 'SUCCESS' } });
    const id = String(answer.body.id);
    // WHEN the WAL delivers it
    await drain(wal);
    // THEN each table holds its items, written by this mutation, and the queue its event
    expect(await itemOf(orders, (item) => item.id === 'o-1')).toMatchObject({ state: 'placed', _walId: id });
    expect(await itemOf(orders, (item) => item.id === 'o-0')).toMatchObject({ total: 7, _walId: id });
    expect(await itemOf(lines, (item) => item.order === 'o-1')).toMatchObject({
      line: 1,
      sku: 'tea',
      _walId: id,
    });
    const messages = await takeMessages(wal, events);
    expect(messages.map((message) => JSON.parse(message.Body ?? '{}'))).toEqual([
      expect.objectContaining({ id, target: 'events', payload: { kind: 'order-placed', order: 'o-1' } }),
    ]);
    expect(await walMessagesAbout(wal, 'DeadLetterQueue', id)).toEqual([]);
  });

  it('delays a multi-item mutation as one delivery and applies all its items when it is due', async () => {
    // GIVEN a mutation of two tables due in 1 s
    const answer = await postMutation(wal, NAMESPACE, {
      items: [
        { target: 'orders', op: 'put', item: { id: 'o-4', state: 'later' } },
        { target: 'lines', op: 'put', item: { order: 'o-4', line: 1, sku: 'jam' } },
      ],
      lifecycle: { delaySeconds: 1 },
    });
    const id = String(answer.body.id);
    // WHEN the WAL routes it: nothing is written yet
    await drain(wal);
    expect(await itemOf(orders, (item) => item.id === 'o-4')).toBeUndefined();
    // THEN once due, both tables hold their items
    await driveUntil(wal, () => itemOf(lines, (item) => item.order === 'o-4'), 15_000);
    expect(await itemOf(orders, (item) => item.id === 'o-4')).toMatchObject({ state: 'later', _walId: id });
  });

  it('applies none of the DynamoDB items when one of them cannot be applied, and dead-letters it with that reason', async () => {
    // GIVEN an order whose total is not a number
    const setup = await postMutation(wal, NAMESPACE, {
      items: [{ target: 'orders', item: { id: 'o-2', total: 'ten' } }],
    });
    expect(setup.status).toBe(200);
    await drain(wal);
    const before = { orders: await scanTable(wal, orders), lines: await scanTable(wal, lines) };
    // WHEN one mutation adds a line and adds to that total
    const answer = await postMutation(wal, NAMESPACE, {
      items: [
        { target: 'lines', op: 'put', item: { order: 'o-2', line: 1, sku: 'cake' } },
        { target: 'orders', op: 'update', key: { id: 'o-2' }, add: { total: 3 } },
      ],
    });
    const id = String(answer.body.id);
    const [letter] = await driveUntil(
      wal,
      async () => nonEmpty(await walMessagesAbout(wal, 'DeadLetterQueue', id, true)),
      30_000,
    );
    // THEN neither table changed: the line was not written either (all or none)
    expect(await scanTable(wal, orders)).toEqual(before.orders);
    expect(await scanTable(wal, lines)).toEqual(before.lines);
    // AND the DLQ message names the item that failed, and the one held back with it
    expect(letter).toMatchObject({
      kind: 'retry',
      target: '*items',
      attempt: 3,
      reason: 'failed 3 of 3 attempts',
      itemsDone: [],
      itemErrors: [
        { index: 0, error: expect.stringContaining('not applied: item 1 of the same transaction failed') },
        { index: 1, error: expect.stringMatching(/^CounterNotANumberError: "total" is not a number/) },
      ],
    });
  });

  it('retries only the item that failed, and a DLQ redrive completes it without applying the others again', async () => {
    // GIVEN a webhook that answers 500 to the first three deliveries of the mutation and 200 to the fourth
    const answer = await postMutation(wal, NAMESPACE, {
      items: [
        { target: 'orders', op: 'put', item: { id: 'o-3', state: 'paid' } },
        { target: 'hook', op: 'put', item: { respond: [500, 500, 500, 200] } },
        { target: 'lines', op: 'update', key: { order: 'o-3', line: 1 }, add: { quantity: 2 } },
      ],
    });
    const id = String(answer.body.id);
    // WHEN it is delivered: the tables take their items, the webhook fails
    await drain(wal);
    const order = await itemOf(orders, (item) => item.id === 'o-3');
    const line = await itemOf(lines, (item) => item.order === 'o-3');
    expect(order).toMatchObject({ state: 'paid', _walId: id });
    expect(line).toMatchObject({ quantity: 2, _walId: id });
    // THEN the retry message (due in 1 s) carries what is done and the webhook's error
    const retries = await waitFor(
      async () => nonEmpty(await walMessagesAbout(wal, 'RetryQueue', id)),
      10_000,
      {
        intervalMs: 200,
        what: 'the retry message',
      },
    );
    expect(retries).toEqual([
      expect.objectContaining({
        attempt: 1,
        itemsDone: [0, 2],
        itemErrors: [{ index: 1, error: expect.stringContaining('500') }],
      }),
    ]);
    // WHEN the retries fail too and it reaches the DLQ
    const [letter] = await driveUntil(
      wal,
      async () => nonEmpty(await walMessagesAbout(wal, 'DeadLetterQueue', id)),
      30_000,
    );
    expect(letter).toMatchObject({ attempt: 3, itemsDone: [0, 2], itemErrors: [{ index: 1 }] });
    expect(receiver.deliveriesOf(id)).toHaveLength(3);
    // AND an operator redrives the DLQ
    const queues = {
      deadLetter: await queueRef(wal.clients.sqs, queueUrl(wal, 'DeadLetterQueue')),
      retry: await queueRef(wal.clients.sqs, queueUrl(wal, 'RetryQueue')),
    };
    await redriveDeadLetters(wal.clients.sqs, queues, { pollIntervalMs: 250 });
    await driveUntil(wal, async () => (receiver.deliveriesOf(id).length >= 4 ? true : undefined), 30_000);
    await drain(wal);
    // THEN the webhook got it once more and took it; the tables' items were not written again
    expect(receiver.deliveriesOf(id).map((delivery) => delivery.answer)).toEqual([500, 500, 500, 200]);
    expect(await itemOf(orders, (item) => item.id === 'o-3')).toEqual(order);
    expect(await itemOf(lines, (item) => item.order === 'o-3')).toEqual(line);
    expect(await walMessagesAbout(wal, 'DeadLetterQueue', id)).toEqual([]);
    expect(await walMessagesAbout(wal, 'RetryQueue', id)).toEqual([]);
  });
});

const nonEmpty = <T>(list: T[]): T[] | undefined => (list.length > 0 ? list : undefined);

/** Receives and deletes every message on a target queue. */
async function takeMessages(wal: LocalWal, url: string): Promise<Message[]> {
  const taken: Message[] = [];
  for (;;) {
    const answer = await wal.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }),
    );
    const messages = answer.Messages ?? [];
    if (messages.length === 0) return taken;
    for (const message of messages) {
      await wal.clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }),
      );
      taken.push(message);
    }
  }
}

/**
 * The WAL's messages about mutation `id` on one of its queues (visible ones), left there for the WAL unless
 * `take` deletes them. Read with no visibility timeout, so they stay visible.
 */
async function walMessagesAbout(
  wal: LocalWal,
  queue: WalQueue,
  id: string,
  take = false,
): Promise<Record<string, unknown>[]> {
  const url = queueUrl(wal, queue);
  const answer = await wal.clients.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: take ? 30 : 0 }),
  );
  const found: Record<string, unknown>[] = [];
  // With no visibility timeout the emulator may hand the same message out twice in one answer.
  const unique = new Map((answer.Messages ?? []).map((message) => [message.MessageId, message]));
  for (const message of unique.values()) {
    const body = JSON.parse(message.Body ?? '{}') as { mutation?: { envelope?: { id?: string } } };
    if (body.mutation?.envelope?.id !== id) continue;
    found.push(body);
    if (take)
      await wal.clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }),
      );
  }
  return found;
}

import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { consumeQueueBatch } from '#lambdas/queue-consumer/consume-queue';
import { namespaceParameterName, parseNamespaceConfig } from '#lambdas/shared/namespace-config';
import { type PollResult, pollWaitingRoom } from '#lambdas/waiting-room-poller/poll-waiting-room';
import { WAL_OUTPUTS } from '#lib/wal-outputs';
import type { LocalWal } from '#src/local/runtime/local-wal';
import { silentLogger } from '#test/support/fixtures';
import {
  delayedMessages,
  deliveryDependenciesOf,
  drain,
  postMutation,
  queueUrl,
  scanTable,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';

const HOUR_MS = 3_600_000;

describe('delays longer than 900 s: the waiting room, through the local runtime', () => {
  let wal: LocalWal;
  let roomTable: string;
  withTestWal((started) => {
    wal = started;
    roomTable = wal.outputs[WAL_OUTPUTS.waitingRoomTableName];
  });

  /** The waiting items (not the poller's checkpoint). */
  async function waitingItems(): Promise<Record<string, unknown>[]> {
    return (await scanTable(wal, roomTable)).filter((item) => item.pk !== 'checkpoint');
  }

  /** Receives what the poller put on a queue and hands it to the queue consumer, both at `now`. */
  async function consumeAt(url: string, now: number): Promise<void> {
    const received = await wal.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const records = (received.Messages ?? []).map(
      (message) =>
        ({
          messageId: message.MessageId,
          receiptHandle: message.ReceiptHandle,
          body: message.Body,
          eventSourceARN: 'arn:aws:sqs:local:000000000000:delay',
        }) as SQSRecord,
    );
    expect(records.length).toBeGreaterThan(0);
    const event: SQSEvent = { Records: records };
    await consumeQueueBatch({ ...deliveryDependenciesOf(wal), now: () => now }, event);
  }

  it('runs the poller from its scheduled rule (rate(1 minute)) with an EventBridge scheduled event', async () => {
    // WHEN the local runtime runs the template's scheduled rules once
    const results = (await wal.runSchedules()) as PollResult[];
    // THEN the poller ran (nothing is waiting yet) and left its checkpoint in the table
    expect(results).toEqual([expect.objectContaining({ sent: 0, behind: false })]);
    const checkpoint = (await scanTable(wal, roomTable)).find((item) => item.pk === 'checkpoint');
    expect(checkpoint).toMatchObject({ version: expect.any(Number), bucket: expect.any(Number) });
  });

  it('keeps a mutation due in an hour in the waiting room, and delivers it when the poller runs at that time', async () => {
    // GIVEN a mutation due in an hour
    const deliverAt = new Date(Date.now() + HOUR_MS).toISOString();
    const answer = await postMutation(wal, 'orders', {
      payload: { id: 'later-1', n: 1 },
      lifecycle: { deliverAt },
    });
    expect(answer.body.durable).toBe('SUCCESS');
    // WHEN the stream consumer routes it
    await drain(wal);
    // THEN it waits in the waiting room, not on the delay queue
    const items = await waitingItems();
    expect(items).toEqual([
      expect.objectContaining({ dueAt: Date.parse(deliverAt), queueUrl: queueUrl(wal, 'DelayQueue') }),
    ]);
    expect(await delayedMessages(wal, 'DelayQueue')).toBe(0);
    const table = await targetTableName(wal, 'it', 'orders', 'main');
    expect((await scanTable(wal, table)).filter((item) => item.id === 'later-1')).toEqual([]);
    // WHEN the poller runs with the clock an hour ahead (at the due time), and the queue consumer gets the message
    const dueAt = Date.parse(deliverAt);
    const deps = deliveryDependenciesOf(wal);
    const result = await pollWaitingRoom(
      {
        waitingRoom: deps.waitingRoom,
        sqs: wal.clients.sqs,
        fallbackQueueUrl: queueUrl(wal, 'DelayQueue'),
        deadLetterQueueUrl: queueUrl(wal, 'DeadLetterQueue'),
        logger: silentLogger,
        now: () => dueAt,
      },
      { budgetMs: 30_000, maxBuckets: 100 },
    );
    expect(result).toMatchObject({ sent: 1, behind: false });
    await consumeAt(queueUrl(wal, 'DelayQueue'), dueAt);
    // THEN the target has it
    expect((await scanTable(wal, table)).filter((item) => item.id === 'later-1')).toEqual([
      expect.objectContaining({ id: 'later-1', n: 1 }),
    ]);
  });

  it("keeps an isolated namespace's long delay bound for its own delay queue", async () => {
    // GIVEN the isolated namespace's own delay queue
    const parameter = await wal.clients.ssm.send(
      new GetParameterCommand({ Name: namespaceParameterName('it', 'isolated') }),
    );
    const ownDelayQueue = parseNamespaceConfig(JSON.parse(parameter.Parameter?.Value ?? '{}'), 'isolated')
      .delivery.queues?.delay;
    expect(ownDelayQueue).toMatch(/-n[0-9a-f]{8}-delay-/);
    // WHEN a mutation due in 2 hours is logged and routed
    const deliverAt = new Date(Date.now() + 2 * HOUR_MS).toISOString();
    const answer = await postMutation(wal, 'isolated', {
      payload: { id: 'iso-later', n: 1 },
      lifecycle: { deliverAt },
    });
    expect(answer.body.durable).toBe('SUCCESS');
    await drain(wal);
    // THEN its waiting item names the namespace's own delay queue
    const items = await waitingItems();
    expect(items.find((item) => String(item.body).includes('iso-later'))).toMatchObject({
      queueUrl: ownDelayQueue,
    });
  });

  it('keeps a delay of 10 minutes on SQS (its own delay), out of the waiting room', async () => {
    // WHEN a mutation due in 10 minutes is logged and routed
    const before = (await waitingItems()).length;
    const deliverAt = new Date(Date.now() + 600_000).toISOString();
    await postMutation(wal, 'orders', { payload: { id: 'soon-1', n: 1 }, lifecycle: { deliverAt } });
    await drain(wal);
    // THEN it waits on the delay queue, and the waiting room holds nothing new
    expect(await delayedMessages(wal, 'DelayQueue')).toBe(1);
    expect(await waitingItems()).toHaveLength(before);
  });
});

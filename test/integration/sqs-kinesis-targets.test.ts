import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
} from '@aws-sdk/client-kinesis';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import {
  type KinesisTargetConfig,
  namespaceParameterPrefix,
  type SqsTargetConfig,
} from '#lambdas/shared/namespace-config';
import { SsmNamespaceConfigStore } from '#lambdas/shared/namespace-store';
import type { RetryMessage } from '#lambdas/shared/queue-message';
import { streamNameOf } from '#lambdas/shared/targets/kinesis-target';
import type { MessageEnvelope } from '#lambdas/shared/targets/message-envelope';
import type { LocalClients, LocalWal } from '#src/local/runtime/local-wal';
import { silentLogger } from '#test/support/fixtures';
import {
  drain,
  driveUntilQueueEmpty,
  postMutation,
  queueUrl,
  scanTable,
  streamRecords,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';
import { waitFor } from '#test/support/wait';

/** The fixture namespace (test/fixtures/config/it/fanout.json): two queues, a stream and a table. */
const NAMESPACE = 'fanout';

interface FanoutTargets {
  readonly events: string;
  readonly ordered: string;
  readonly stream: string;
}

/** The fanout targets' queue URLs and stream name, as the namespace parameter names them. */
async function fanoutTargets(clients: Pick<LocalClients, 'ssm'>): Promise<FanoutTargets> {
  const store = new SsmNamespaceConfigStore(clients.ssm, namespaceParameterPrefix('it'), 0, silentLogger);
  const { targets } = await store.get(NAMESPACE);
  const byName = new Map(targets.map((target) => [target.name, target]));
  const events = byName.get('events') as SqsTargetConfig;
  const ordered = byName.get('ordered') as SqsTargetConfig;
  const stream = byName.get('changes') as KinesisTargetConfig;
  return {
    events: events.queueUrl ?? '',
    ordered: ordered.queueUrl ?? '',
    stream: streamNameOf(stream.streamArn ?? ''),
  };
}

/** Receives and deletes every message on a target queue, in the order the queue gives them. */
async function takeMessages(wal: LocalWal, url: string): Promise<Message[]> {
  const taken: Message[] = [];
  for (;;) {
    const answer = await wal.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        AttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = answer.Messages ?? [];
    if (messages.length === 0) return taken;
    for (const message of messages) {
      await wal.clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }),
      );
    }
    taken.push(...messages);
  }
}

const envelopeOf = (message: Message) => JSON.parse(message.Body ?? '{}') as MessageEnvelope;

/** The target stream's records, as a receiver reads them: partition key and envelope. */
async function targetStreamRecords(
  wal: LocalWal,
  streamName: string,
): Promise<{ partitionKey: string; envelope: MessageEnvelope }[]> {
  return (await streamRecords(wal, streamName)).map((record) => ({
    partitionKey: record.partitionKey,
    envelope: JSON.parse(record.data) as MessageEnvelope,
  }));
}

/** The WAL's messages (retry or DLQ) about one mutation, read without consuming them. */
async function walMessagesAbout(wal: LocalWal, queue: 'RetryQueue' | 'DeadLetterQueue', id: unknown) {
  const answer = await wal.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl(wal, queue),
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
    }),
  );
  // local-aws-sqs hands a message with no visibility timeout over more than once in one answer.
  const messages = new Map((answer.Messages ?? []).map((message) => [message.MessageId, message]));
  return [...messages.values()]
    .map((message) => JSON.parse(message.Body ?? '{}') as RetryMessage)
    .filter((message) => message.mutation?.envelope.id === id);
}

/** The retry queue's messages about one mutation, counted by target, once their backoff has passed. */
async function retriesByTarget(wal: LocalWal, id: unknown): Promise<Record<string, number>> {
  await waitFor(
    async () => {
      const answer = await wal.clients.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl(wal, 'RetryQueue'),
          AttributeNames: ['ApproximateNumberOfMessagesDelayed'],
        }),
      );
      return Number(answer.Attributes?.ApproximateNumberOfMessagesDelayed ?? 0) === 0 ? true : undefined;
    },
    10_000,
    { what: 'retry backoff over' },
  );
  const counts: Record<string, number> = {};
  for (const message of await walMessagesAbout(wal, 'RetryQueue', id)) {
    counts[message.target] = (counts[message.target] ?? 0) + 1;
  }
  return counts;
}

describe('sqs and kinesis targets (emulators)', () => {
  let wal: LocalWal;
  let targets: FanoutTargets;

  withTestWal(async (started) => {
    wal = started;
    targets = await fanoutTargets(wal.clients);
  });

  it('provisions the queues and the stream from the template and names them in the parameter', async () => {
    // GIVEN the running stack / WHEN the provisioned queues and stream are described
    const fifo = await wal.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: targets.ordered, AttributeNames: ['All'] }),
    );
    const standard = await wal.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: targets.events, AttributeNames: ['All'] }),
    );
    const stream = await wal.clients.kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: targets.stream }),
    );
    // THEN the parameter names the local queues and stream, as the template made them
    expect(targets.events).toMatch(new RegExp(`^${wal.emulators.endpoints.sqs}/000000000000/`));
    expect(targets.ordered).toMatch(/\.fifo$/);
    expect(fifo.Attributes).toMatchObject({
      FifoQueue: 'true',
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      MaximumMessageSize: '1048576',
    });
    expect(standard.Attributes).toMatchObject({ MaximumMessageSize: '1048576' });
    expect(standard.Attributes?.FifoQueue).not.toBe('true');
    expect(stream.StreamDescriptionSummary).toMatchObject({ StreamStatus: 'ACTIVE', OpenShardCount: 1 });
  });

  it('delivers the envelope to a standard queue, a FIFO queue and a stream, once each', async () => {
    // GIVEN a mutation for the two queues and the stream
    const answer = await postMutation(wal, NAMESPACE, {
      payload: { id: 'e-1', n: 1 },
      partitionKey: 'customer-1',
      targets: ['events', 'ordered', 'changes'],
    });
    expect(answer.status).toBe(200);
    // WHEN it is delivered
    await drain(wal);
    // THEN each target got one copy of the envelope
    const expected = {
      walEnvelope: 1,
      id: answer.body.id,
      namespace: NAMESPACE,
      configVersion: 1,
      partitionKey: 'customer-1',
      sequence: answer.body.sequence,
      order: expect.stringMatching(/^\d{15}#\d{128}$/),
      op: 'put',
      payload: { id: 'e-1', n: 1 },
      effectiveAt: expect.any(String),
      loggedAt: expect.any(String),
      origin: expect.any(String),
    };
    const [standard, ...moreStandard] = await takeMessages(wal, targets.events);
    expect(moreStandard).toEqual([]);
    expect(envelopeOf(standard as Message)).toEqual({ ...expected, target: 'events' });
    expect(standard?.MessageAttributes?.['wal-id']?.StringValue).toBe(answer.body.id);
    const [fifo, ...moreFifo] = await takeMessages(wal, targets.ordered);
    expect(moreFifo).toEqual([]);
    expect(envelopeOf(fifo as Message)).toMatchObject({ ...expected, target: 'ordered' });
    expect(fifo?.Attributes).toMatchObject({
      MessageGroupId: 'customer-1',
      MessageDeduplicationId: answer.body.id,
    });
    const records = (await targetStreamRecords(wal, targets.stream)).filter(
      (record) => record.envelope.id === answer.body.id,
    );
    expect(records).toEqual([
      { partitionKey: 'customer-1', envelope: expect.objectContaining({ ...expected, target: 'changes' }) },
    ]);
  });

  it("keeps a key's mutations in order on the FIFO queue and the stream, and hashes a key too long for a group", async () => {
    // GIVEN three mutations of one key longer than a FIFO group id may be (but fine for Kinesis)
    const key = 'k'.repeat(200);
    const ids: unknown[] = [];
    for (const n of [1, 2, 3]) {
      const answer = await postMutation(wal, NAMESPACE, {
        payload: { id: 'o-1', n },
        partitionKey: key,
        targets: ['ordered', 'changes'],
      });
      ids.push(answer.body.id);
    }
    // WHEN they are delivered
    await drain(wal);
    // THEN both targets have them in the WAL's order, the queue under one hashed group, the stream under the key
    const fifo = await takeMessages(wal, targets.ordered);
    expect(fifo.map((message) => envelopeOf(message).id)).toEqual(ids);
    expect(new Set(fifo.map((message) => message.Attributes?.MessageGroupId))).toEqual(
      new Set([expect.stringMatching(/^sha256:[0-9a-f]{64}$/)]),
    );
    const orders = fifo.map((message) => envelopeOf(message).order);
    expect([...orders].sort()).toEqual(orders);
    const records = (await targetStreamRecords(wal, targets.stream)).filter((record) =>
      ids.includes(record.envelope.id),
    );
    expect(records.map((record) => record.envelope.id)).toEqual(ids);
    expect(new Set(records.map((record) => record.partitionKey))).toEqual(new Set([key]));
  });

  it('fails if the envelope is larger than the queue takes: the DLQ gets it at once, with the size in the reason', async () => {
    // GIVEN the standard queue takes at most 1 KiB (as a user's queue may keep a smaller limit than the WAL's)
    await wal.clients.sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: targets.events, Attributes: { MaximumMessageSize: '1024' } }),
    );
    try {
      const answer = await postMutation(wal, NAMESPACE, {
        payload: { id: 'big-1', blob: 'x'.repeat(2_000) },
        targets: ['events'],
      });
      // WHEN it is delivered
      await drain(wal);
      // THEN it is dead-lettered on its first attempt with the reason, not retried, and not on the queue
      expect(await walMessagesAbout(wal, 'DeadLetterQueue', answer.body.id)).toEqual([
        expect.objectContaining({
          target: 'events',
          attempt: 1,
          reason: expect.stringMatching(
            /rejected by the target: .*SendMessage of a \d+-byte envelope failed .*shorter than 1024 bytes.*MaximumMessageSize/,
          ),
        }),
      ]);
      expect(await walMessagesAbout(wal, 'RetryQueue', answer.body.id)).toEqual([]);
      expect(await takeMessages(wal, targets.events)).toEqual([]);
    } finally {
      await wal.clients.sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: targets.events,
          Attributes: { MaximumMessageSize: '1048576' },
        }),
      );
    }
  });

  it('fails if the queue was deleted: the DLQ gets the mutation at once, with the reason', async () => {
    // GIVEN the standard queue is deleted under the WAL
    await wal.clients.sqs.send(new DeleteQueueCommand({ QueueUrl: targets.events }));
    try {
      const answer = await postMutation(wal, NAMESPACE, { payload: { id: 'gone-1' }, targets: ['events'] });
      // WHEN it is delivered
      await drain(wal);
      // THEN it is dead-lettered on its first attempt, saying the queue does not exist
      expect(await walMessagesAbout(wal, 'DeadLetterQueue', answer.body.id)).toEqual([
        expect.objectContaining({
          target: 'events',
          attempt: 1,
          reason: expect.stringMatching(/rejected by the target: .*QueueDoesNotExist/),
        }),
      ]);
    } finally {
      const name = targets.events.split('/').pop() ?? '';
      await wal.clients.sqs.send(
        new CreateQueueCommand({ QueueName: name, Attributes: { MaximumMessageSize: '1048576' } }),
      );
    }
  });

  it('fails if the stream was deleted: the DLQ gets the mutation at once, with the reason', async () => {
    // GIVEN the target stream is deleted under the WAL
    await wal.clients.kinesis.send(new DeleteStreamCommand({ StreamName: targets.stream }));
    try {
      const answer = await postMutation(wal, NAMESPACE, { payload: { id: 'gone-2' }, targets: ['changes'] });
      // WHEN it is delivered
      await drain(wal);
      // THEN it is dead-lettered on its first attempt, saying the stream was not found
      expect(await walMessagesAbout(wal, 'DeadLetterQueue', answer.body.id)).toEqual([
        expect.objectContaining({
          target: 'changes',
          attempt: 1,
          reason: expect.stringMatching(
            /rejected by the target: .*PutRecord to .* failed \(ResourceNotFoundException/,
          ),
        }),
      ]);
    } finally {
      await wal.clients.kinesis.send(new CreateStreamCommand({ StreamName: targets.stream, ShardCount: 1 }));
    }
  });
});

describe('sqs and kinesis targets under transient failures (emulators, injected faults)', () => {
  let wal: LocalWal;
  let targets: FanoutTargets;
  let table: string;

  // The stream consumer (every first attempt) cannot reach the standard queue, and its PutRecords fail;
  // the queue consumer (every retry) reaches both.
  withTestWal(
    async (started) => {
      wal = started;
      targets = await fanoutTargets(wal.clients);
      table = await targetTableName(wal, 'it', NAMESPACE, 'table');
    },
    async (stack) => {
      const queueName = (await fanoutTargets(stack.clients)).events.split('/').pop() ?? '';
      const faults = {
        rate: 1,
        operations: ['PutRecord'],
        kinds: ['error'],
        functions: ['StreamConsumer'],
        outages: [{ resource: queueName, from: 0, to: Number.MAX_SAFE_INTEGER }],
      };
      return { WAL_FAULTS: JSON.stringify(faults) };
    },
  );

  it('retries a send that failed transiently, and it lands once', async () => {
    // GIVEN a mutation for the standard queue, whose first attempt fails
    const answer = await postMutation(wal, NAMESPACE, { payload: { id: 't-1' }, targets: ['events'] });
    await drain(wal);
    expect(await takeMessages(wal, targets.events)).toEqual([]);
    expect(await retriesByTarget(wal, answer.body.id)).toEqual({ events: 1 });
    // WHEN the retry runs
    await driveUntilQueueEmpty(wal, 'RetryQueue', 15_000);
    // THEN the queue has it once, and the DLQ does not
    const messages = await takeMessages(wal, targets.events);
    expect(messages.map((message) => envelopeOf(message).id)).toEqual([answer.body.id]);
    expect(await walMessagesAbout(wal, 'DeadLetterQueue', answer.body.id)).toEqual([]);
  });

  it('fans one mutation out to three targets: the two that work get it once, only the failing one is retried', async () => {
    // GIVEN a mutation for the FIFO queue, the stream (failing at first) and the table
    const answer = await postMutation(wal, NAMESPACE, {
      payload: { id: 'fan-1', n: 1 },
      targets: ['ordered', 'changes', 'table'],
    });
    const onStream = async () =>
      (await targetStreamRecords(wal, targets.stream)).filter(
        (record) => record.envelope.id === answer.body.id,
      );
    // WHEN it is routed: the queue and the table take it, the stream fails
    await drain(wal);
    // THEN the queue and the table have it, the stream does not, and the retry queue holds the stream's only
    const firstCopies = await takeMessages(wal, targets.ordered);
    expect(firstCopies.map((message) => envelopeOf(message).id)).toEqual([answer.body.id]);
    expect((await scanTable(wal, table)).filter((item) => item.id === 'fan-1')).toEqual([
      expect.objectContaining({ n: 1, _walId: answer.body.id }),
    ]);
    expect(await onStream()).toEqual([]);
    expect(await retriesByTarget(wal, answer.body.id)).toEqual({ changes: 1 });
    // WHEN the retry runs (the fault is gone for it)
    await driveUntilQueueEmpty(wal, 'RetryQueue', 15_000);
    // THEN the stream has it once, the queue got no second copy, and nothing was dead-lettered
    expect(await onStream()).toEqual([
      expect.objectContaining({
        partitionKey: 'fan-1',
        envelope: expect.objectContaining({ target: 'changes' }),
      }),
    ]);
    expect(await takeMessages(wal, targets.ordered)).toEqual([]);
    expect(await walMessagesAbout(wal, 'DeadLetterQueue', answer.body.id)).toEqual([]);
  });
});

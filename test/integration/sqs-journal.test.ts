import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type Emulators, SQS_JOURNAL_FILE, startEmulators } from '#src/local/emulators';
import { waitFor } from '#test/support/wait';

// The SQS part of local mode's crash safety, in-process: the journal as a crash leaves it on disk
// (a copy taken while the first emulator still runs) must bring every kept message back.

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Creates the queues as provisioning does: a main queue, a source with a redrive policy, its DLQ. */
async function createQueues(sqs: SQSClient): Promise<{ main: string; source: string; dlq: string }> {
  const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: 'dlq' }))).QueueUrl as string;
  const dlqArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }))
  ).Attributes?.QueueArn as string;
  const source = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: 'source',
        Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }) },
      }),
    )
  ).QueueUrl as string;
  const main = (await sqs.send(new CreateQueueCommand({ QueueName: 'main' }))).QueueUrl as string;
  return { main, source, dlq };
}

async function receiveAll(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const answer = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      AttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return answer.Messages ?? [];
}

describe('local SQS with a data dir (the journal)', () => {
  const roots: string[] = [];
  const running: Emulators[] = [];
  const clients: SQSClient[] = [];

  async function start(dataDir: string): Promise<SQSClient> {
    const emulators = await startEmulators({ dataDir });
    running.push(emulators);
    const sqs = new SQSClient({ region: emulators.region, credentials, endpoint: emulators.endpoints.sqs });
    clients.push(sqs);
    return sqs;
  }

  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'wal-sqs-journal-'));
    roots.push(dir);
    return dir;
  }

  /** The data dir as a kill -9 at this moment would leave the journal (the process keeps running). */
  function crashCopy(dataDir: string): string {
    const copy = join(tempDir(), 'after-crash');
    mkdirSync(copy);
    copyFileSync(join(dataDir, SQS_JOURNAL_FILE), join(copy, SQS_JOURNAL_FILE));
    return copy;
  }

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await Promise.all(running.splice(0).map((emulators) => emulators.stop()));
    for (const dir of roots.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('brings back sent, delayed, received and dead-lettered messages after a crash, and not deleted ones', async () => {
    // GIVEN an emulator on a data dir with messages in every state
    const dataDir = tempDir();
    const sqs = await start(dataDir);
    const queues = await createQueues(sqs);
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.main,
        MessageBody: 'immediate',
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'plain' } },
      }),
    );
    const delayedAt = Date.now();
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queues.main, MessageBody: 'delayed', DelaySeconds: 4 }),
    );
    const deleted = await sqs.send(new SendMessageCommand({ QueueUrl: queues.main, MessageBody: 'deleted' }));
    // received once (it stays in flight), then the deleted one goes away
    const firstReceive = await receiveAll(sqs, queues.main);
    expect(firstReceive.map((message) => message.Body).sort()).toEqual(['deleted', 'immediate']);
    const toDelete = firstReceive.find((message) => message.MessageId === deleted.MessageId);
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: queues.main, ReceiptHandle: toDelete?.ReceiptHandle }),
    );
    // a poison message: received, released, and moved to the DLQ by the redrive policy
    const poison = await sqs.send(new SendMessageCommand({ QueueUrl: queues.source, MessageBody: 'poison' }));
    const [received] = await receiveAll(sqs, queues.source);
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queues.source,
        ReceiptHandle: received?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    await waitFor(async () => {
      const attributes = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queues.dlq,
          AttributeNames: ['ApproximateNumberOfMessages'],
        }),
      );
      return attributes.Attributes?.ApproximateNumberOfMessages === '1' ? true : undefined;
    }, 5_000);

    // WHEN the process dies now and a new one starts on the same data dir
    const restarted = await start(crashCopy(dataDir));
    const again = await createQueues(restarted);

    // THEN the immediate message is back at once, with its attributes and receive count
    const mainNow = await receiveAll(restarted, again.main);
    expect(mainNow).toHaveLength(1);
    expect(mainNow[0]).toMatchObject({
      MessageId: sent.MessageId,
      Body: 'immediate',
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'plain' } },
      Attributes: expect.objectContaining({ ApproximateReceiveCount: '2' }),
    });
    // the delayed one only once its delay is over, and the deleted one never
    const delayed = await waitFor(async () => {
      const messages = await receiveAll(restarted, again.main);
      return messages.length > 0 ? messages : undefined;
    }, 8_000);
    expect(Date.now() - delayedAt).toBeGreaterThanOrEqual(4_000);
    expect(delayed.map((message) => message.Body)).toEqual(['delayed']);
    // the DLQ keeps the poison message, with the source the console's redrive needs
    const [dead] = await receiveAll(restarted, again.dlq);
    expect(dead).toMatchObject({
      MessageId: poison.MessageId,
      Body: 'poison',
      Attributes: expect.objectContaining({ DeadLetterQueueSourceArn: expect.stringMatching(/:source$/) }),
    });
    expect(await receiveAll(restarted, again.source)).toEqual([]);
  }, 30_000);

  it('keeps nothing of a deleted queue', async () => {
    // GIVEN a message on a queue that is then deleted, and one on a queue that stays
    const dataDir = tempDir();
    const sqs = await start(dataDir);
    const queues = await createQueues(sqs);
    await sqs.send(new SendMessageCommand({ QueueUrl: queues.dlq, MessageBody: 'kept' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queues.main, MessageBody: 'gone with its queue' }));
    await sqs.send(new DeleteQueueCommand({ QueueUrl: queues.main }));

    // WHEN it restarts on the same data dir
    const restarted = await start(crashCopy(dataDir));
    const again = await createQueues(restarted);

    // THEN the deleted queue comes back empty, and the other keeps its message
    expect(await receiveAll(restarted, again.main)).toEqual([]);
    expect((await receiveAll(restarted, again.dlq)).map((message) => message.Body)).toEqual(['kept']);
  }, 30_000);
});

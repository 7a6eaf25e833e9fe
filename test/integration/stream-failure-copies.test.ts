import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { handleStreamRecordCopy } from '#lambdas/queue-consumer/reread-stream';
import { type StreamRecordMessage, streamRecordMessageSchema } from '#lambdas/shared/queue-message';
import type { LocalWal } from '#src/local/runtime/local-wal';
import {
  deliveryDependenciesOf,
  driveUntil,
  injectFaults,
  postMutation,
  queueUrl,
  scanTable,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';

/**
 * A stream range that fails every retry of the mapping and of its re-read must not end as shard and
 * sequence numbers only: once the stream trims it, that would be all that is left of acknowledged
 * mutations. Its records leave the stream as whole copies that can still be delivered.
 */
describe('stream records that fail every retry (emulators, injected faults)', () => {
  let wal: LocalWal;

  // Neither consumer can read the ledger: the stream batch and its re-read both fail.
  withTestWal(
    (started) => {
      wal = started;
    },
    injectFaults({
      operations: ['BatchGetItem'],
      kinds: ['error'],
      functions: ['StreamConsumer', 'QueueConsumer'],
    }),
  );

  it('copies them whole to the retry queue, from where they are still applied', async () => {
    // GIVEN an acknowledged mutation whose stream batch keeps failing
    const answer = await postMutation(wal, 'orders', { payload: { id: 'copied-1', n: 1 } });
    expect(answer.status).toBe(200);
    // WHEN the mapping gives up and the re-read of the range fails too
    const copy = await driveUntil(
      wal,
      async () => {
        const received = await wal.clients.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl(wal, 'RetryQueue'),
            MaxNumberOfMessages: 10,
            VisibilityTimeout: 30,
          }),
        );
        return (received.Messages ?? [])
          .map((message) => streamRecordMessageSchema.safeParse(JSON.parse(message.Body ?? '{}')))
          .find((parsed) => parsed.success)?.data;
      },
      40_000,
    );
    // THEN the copy holds the whole record and says why
    expect(copy.reason).toMatch(/failed every retry of the stream mapping and then its re-read/);
    expect(JSON.parse(Buffer.from(copy.data, 'base64').toString('utf8'))).toMatchObject({
      id: answer.body.id,
      payload: { id: 'copied-1', n: 1 },
    });
    // AND once the ledger is readable, handling the copy applies the mutation
    await handleStreamRecordCopy(deliveryDependenciesOf(wal), copy as StreamRecordMessage);
    const table = await targetTableName(wal, 'it', 'orders', 'main');
    expect((await scanTable(wal, table)).find((item) => item.id === 'copied-1')).toMatchObject({
      n: 1,
      _walId: answer.body.id,
    });
  });
});

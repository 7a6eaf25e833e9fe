import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENVELOPE_VERSION, type Envelope } from '#lambdas/shared/envelope';
import { commitLedgerEntry, commitRecord, getLedgerEntry } from '#lambdas/shared/ledger';
import { WAL_OUTPUTS } from '#lib/wal-outputs';
import type { LocalWal } from '#src/local/runtime/local-wal';
import {
  delayedMessages,
  drain,
  driveUntil,
  driveUntilQueueEmpty,
  injectFaults,
  ledgerTableName,
  postMutation,
  queueUrl,
  scanTable,
  takeTableDown,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';

/** Reads the DLQ's messages (they become visible again a moment later). */
async function deadLetters(wal: LocalWal): Promise<Record<string, unknown>[]> {
  const answer = await wal.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl(wal, 'DeadLetterQueue'),
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 1,
    }),
  );
  return (answer.Messages ?? []).map(
    (message) => JSON.parse(message.Body ?? '{}') as Record<string, unknown>,
  );
}

describe('delivery guarantees (emulators)', () => {
  let wal: LocalWal;
  let table: string;

  // A short commit timeout, so an uncommitted prepare is fenced within the test.
  withTestWal(
    async (started) => {
      wal = started;
      table = await targetTableName(wal, 'it', 'orders', 'main');
    },
    { COMMIT_TIMEOUT_SECONDS: '1' },
  );

  it('sends a poison record to the DLQ with its reason, and the shard keeps flowing', async () => {
    // GIVEN a record on the stream that is not a WAL envelope, followed by a real mutation on the same shard
    const streamName = wal.outputs[WAL_OUTPUTS.streamName];
    await wal.clients.kinesis.send(
      new PutRecordCommand({
        StreamName: streamName,
        PartitionKey: 'orders#poison-1',
        Data: Buffer.from('{not json'),
      }),
    );
    const answer = await postMutation(wal, 'orders', { payload: { id: 'poison-1', n: 1 } });
    // WHEN the stream is consumed once
    await drain(wal);
    // THEN the poison record is on the DLQ with its reason, and the mutation behind it was applied
    const poison = (await deadLetters(wal)).find((message) => message.kind === 'poison');
    expect(poison).toMatchObject({
      reason: expect.stringContaining('the data is not JSON'),
      source: expect.stringContaining('sequence'),
    });
    expect((await scanTable(wal, table)).find((item) => item.id === 'poison-1')).toMatchObject({
      _walId: answer.body.id,
    });
  });

  it('fences a prepare that never committed: its late commit fails and it is never applied', async () => {
    // GIVEN a prepared record whose ingest died before the commit
    const envelope: Envelope = {
      v: ENVELOPE_VERSION,
      id: '01JFENCEDATTEMPT000000000A',
      namespace: 'orders',
      idempotencyKey: 'fence-key',
      partitionKey: 'fenced-1',
      op: 'put',
      payload: { id: 'fenced-1', from: 'fenced attempt' },
      loggedAt: Date.now(),
    };
    const streamName = wal.outputs[WAL_OUTPUTS.streamName];
    const prepared = await wal.clients.kinesis.send(
      new PutRecordCommand({
        StreamName: streamName,
        PartitionKey: 'orders#fenced-1',
        Data: Buffer.from(JSON.stringify(envelope)),
      }),
    );
    const ledger = {
      documentClient: DynamoDBDocumentClient.from(wal.clients.dynamodb),
      tableName: ledgerTableName(wal),
    };

    // WHEN the consumer parks it and, after the commit timeout, rechecks it
    const fence = await driveUntil(
      wal,
      async () => {
        const entry = await getLedgerEntry(ledger, 'orders', 'fence-key');
        return entry?.state === 'ABORTED' ? entry : undefined;
      },
      20_000,
    );

    // THEN the key is fenced for that attempt, and its late commit fails
    expect([...(fence.abortedIds ?? [])]).toEqual([envelope.id]);
    const late = await commitLedgerEntry(
      ledger,
      commitRecord(
        envelope,
        { sequence: prepared.SequenceNumber as string, shardId: prepared.ShardId },
        'request-hash',
        30,
      ),
      Date.now(),
    );
    expect(late).toMatchObject({ committed: false, existing: { state: 'ABORTED' } });

    // AND a new attempt with the same key commits and is applied; the fenced one never is
    const retry = await postMutation(
      wal,
      'orders',
      { payload: { id: 'fenced-1', from: 'retry' } },
      { 'idempotency-key': 'fence-key' },
    );
    expect(retry).toMatchObject({ status: 200, body: { durable: 'SUCCESS' } });
    expect(retry.body.id).not.toBe(envelope.id);
    await drain(wal);
    expect((await scanTable(wal, table)).find((item) => item.id === 'fenced-1')).toMatchObject({
      from: 'retry',
      _walId: retry.body.id,
    });
  });

  it('ends in the last committed mutation of a key when an earlier one was retried', async () => {
    // GIVEN namespace "ordered" (retry after 3 s, no jitter) whose table is down when the first mutation comes
    const orderedTable = await targetTableName(wal, 'it', 'ordered', 'main');
    const bringBack = await takeTableDown(wal, orderedTable);
    const first = await postMutation(wal, 'ordered', { payload: { id: 'order-9', version: 1 } });
    await drain(wal);
    expect(await delayedMessages(wal, 'RetryQueue')).toBe(1);

    // WHEN the table is back and a later mutation of the key is applied before that retry runs
    await bringBack();
    const second = await postMutation(wal, 'ordered', { payload: { id: 'order-9', version: 2 } });
    await drain(wal);
    expect((await scanTable(wal, orderedTable))[0]).toMatchObject({ version: 2 });
    await driveUntilQueueEmpty(wal, 'RetryQueue', 15_000);

    // THEN the retried first mutation was superseded: the key holds the second
    expect(first.body.id).not.toBe(second.body.id);
    expect(await scanTable(wal, orderedTable)).toEqual([
      expect.objectContaining({ id: 'order-9', version: 2, _walId: second.body.id }),
    ]);
  });
});

describe('UNKNOWN answers (emulators, injected faults)', () => {
  let wal: LocalWal;

  // Every ledger commit of the ingest function reaches DynamoDB, but its answer is lost.
  withTestWal(
    (started) => {
      wal = started;
    },
    injectFaults({ operations: ['PutItem'], kinds: ['timeout-after'], functions: ['Ingest'] }),
  );

  it('resolves by retrying with the same key: the original id, applied once', async () => {
    // WHEN the first answer is UNKNOWN
    const first = await postMutation(
      wal,
      'orders',
      { payload: { id: 'unknown-1', n: 1 } },
      { 'idempotency-key': 'u-1' },
    );
    expect(first).toMatchObject({
      status: 503,
      body: { durable: 'UNKNOWN', type: expect.stringContaining('commit-unknown') },
    });
    // THEN a retry with the same key learns the outcome: committed, with the first attempt's id
    const retry = await postMutation(
      wal,
      'orders',
      { payload: { id: 'unknown-1', n: 1 } },
      { 'idempotency-key': 'u-1' },
    );
    expect(retry).toMatchObject({ status: 200, body: { durable: 'SUCCESS', id: first.body.id } });
    await drain(wal);
    const table = await targetTableName(wal, 'it', 'orders', 'main');
    expect((await scanTable(wal, table)).filter((item) => item.id === 'unknown-1')).toEqual([
      expect.objectContaining({ _walId: first.body.id }),
    ]);
  });
});

describe('stream batches that exhaust their retries (emulators, injected faults)', () => {
  let wal: LocalWal;

  // The stream consumer cannot read the ledger at all: every batch fails until the mapping gives up.
  withTestWal(
    (started) => {
      wal = started;
    },
    injectFaults({ operations: ['BatchGetItem'], kinds: ['error'], functions: ['StreamConsumer'] }),
  );

  it('turns the on-failure destination record back into work: the mutation is applied', async () => {
    // GIVEN a committed mutation whose stream batch keeps failing
    const answer = await postMutation(wal, 'orders', { payload: { id: 'rescued-1', n: 1 } });
    expect(answer.status).toBe(200);
    const table = await targetTableName(wal, 'it', 'orders', 'main');
    // WHEN the Kinesis mapping exhausts its retries (bisect, then MaximumRetryAttempts) and sends the
    // batch's range to the stream-failure queue, whose consumer re-reads it from the stream
    const item = await driveUntil(
      wal,
      async () => (await scanTable(wal, table)).find((candidate) => candidate.id === 'rescued-1'),
      30_000,
    );
    // THEN the mutation is applied once, by the queue consumer
    expect(item).toMatchObject({ n: 1, _walId: answer.body.id });
    expect(wal.kinesisSources[0]?.hasPendingRecords()).toBe(false);
  });
});

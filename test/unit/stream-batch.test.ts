import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { KinesisStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import type { Envelope } from '#lambdas/shared/envelope';
import { ledgerKey } from '#lambdas/shared/ledger';
import { consumeStreamBatch, StreamBatchFailedError } from '#lambdas/shared/stream-batch';
import { deliveryDependencies, envelope, namespaceConfig } from '#test/support/fixtures';

const sqsMock = mockClient(SQSClient);
const documentMock = mockClient(DynamoDBDocumentClient);
const NOW = 1_700_000_000_000;

/** A stream record of `mutation` at `sequence`, keyed as the ingest keys it. */
function streamRecord(mutation: Envelope, sequence: string): KinesisStreamEvent['Records'][number] {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: `${mutation.namespace}#${mutation.partitionKey}`,
      sequenceNumber: sequence,
      data: Buffer.from(JSON.stringify(mutation)).toString('base64'),
      approximateArrivalTimestamp: NOW / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `shard-0:${sequence}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'role',
    awsRegion: 'us-east-1',
    eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/wal',
  };
}

/** Three mutations of three keys; the ledger commits those listed in `committed` (by index). */
function batch(committed: number[]): KinesisStreamEvent {
  const mutations = ['a', 'b', 'c'].map((key, index) =>
    envelope({
      id: `01JTESTMUTATION000000000${index}A`,
      idempotencyKey: key,
      partitionKey: key,
      payload: { id: key },
    }),
  );
  const sequences = mutations.map((_, index) => `4965000000000000000000000000${index}`);
  documentMock.on(BatchGetCommand).resolves({
    Responses: {
      ledger: committed.map((index) => {
        const mutation = mutations[index] as Envelope;
        return {
          pk: ledgerKey(mutation.namespace, mutation.idempotencyKey),
          state: 'COMMITTED',
          id: mutation.id,
          sequence: sequences[index],
        };
      }),
    },
  });
  return { Records: mutations.map((mutation, index) => streamRecord(mutation, sequences[index] as string)) };
}

const dependencies = () => deliveryDependencies(namespaceConfig(), NOW);

beforeEach(() => {
  sqsMock.reset();
  documentMock.reset();
  documentMock.on(PutCommand).resolves({});
});

describe('consumeStreamBatch', () => {
  it('applies committed records of different keys and reports none failed', async () => {
    // GIVEN a batch of three committed mutations of three keys
    const event = batch([0, 1, 2]);
    // WHEN the batch is consumed
    const response = await consumeStreamBatch(dependencies(), event);
    // THEN each is written to the target, and no record failed
    expect(documentMock.commandCalls(PutCommand)).toHaveLength(3);
    expect(response.batchItemFailures).toEqual([]);
  });

  it('reports only the records whose handling failed, in stream order', async () => {
    // GIVEN the first and last mutations are not committed yet, and the delay queue cannot be reached
    const event = batch([1]);
    sqsMock.on(SendMessageCommand).rejects(new Error('SQS is down'));
    // WHEN the batch is consumed
    const response = await consumeStreamBatch(dependencies(), event);
    // THEN the committed one is applied; the two that could not be parked are reported, in stream order
    expect(documentMock.commandCalls(PutCommand)).toHaveLength(1);
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: '49650000000000000000000000000' },
      { itemIdentifier: '49650000000000000000000000002' },
    ]);
  });

  it('does not apply a later record of a key whose earlier record failed, and reports both', async () => {
    // GIVEN a1 of key "a" is not committed and cannot be parked (the delay queue is down); a2 of key "a"
    // and b of key "b" are committed
    const mutations = [
      ['a1', 'a'],
      ['a2', 'a'],
      ['b', 'b'],
    ].map(([idempotencyKey, partitionKey], index) =>
      envelope({
        id: `01JTESTMUTATION000000000${index}B`,
        idempotencyKey: idempotencyKey as string,
        partitionKey: partitionKey as string,
        payload: { id: idempotencyKey },
      }),
    );
    const sequences = mutations.map((_, index) => `4965000000000000000000000001${index}`);
    documentMock.on(BatchGetCommand).resolves({
      Responses: {
        ledger: [1, 2].map((index) => {
          const mutation = mutations[index] as Envelope;
          const pk = ledgerKey(mutation.namespace, mutation.idempotencyKey);
          return { pk, state: 'COMMITTED', id: mutation.id, sequence: sequences[index] };
        }),
      },
    });
    sqsMock.on(SendMessageCommand).rejects(new Error('SQS is down'));
    const event = {
      Records: mutations.map((mutation, index) => streamRecord(mutation, sequences[index] as string)),
    };
    // WHEN the batch is consumed
    const response = await consumeStreamBatch(dependencies(), event);
    // THEN only b is applied (a2 would overtake a1, re-delivered after it); a1 and a2 are reported, in order
    expect(documentMock.commandCalls(PutCommand).map((call) => call.args[0].input.Item?.id)).toEqual(['b']);
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: '49650000000000000000000000010' },
      { itemIdentifier: '49650000000000000000000000011' },
    ]);
    // AND their status says why each is held back: a1's commit hold (written before its recheck is queued) is
    // replaced by its routing failure; a2 waits behind a1
    const holds = documentMock.commandCalls(UpdateCommand).map((call) => call.args[0].input);
    expect(holds).toEqual([
      expect.objectContaining({
        Key: { pk: '#status#orders#01JTESTMUTATION0000000000B' },
        ExpressionAttributeValues: expect.objectContaining({
          ':hold': expect.objectContaining({ kind: 'commit' }),
        }),
      }),
      expect.objectContaining({
        TableName: 'ledger',
        Key: { pk: '#status#orders#01JTESTMUTATION0000000000B' },
        ExpressionAttributeValues: expect.objectContaining({
          ':hold': { kind: 'route-failed', reason: expect.stringContaining('SQS is down'), at: NOW },
        }),
      }),
      expect.objectContaining({
        Key: { pk: '#status#orders#01JTESTMUTATION0000000001B' },
        ExpressionAttributeValues: expect.objectContaining({
          ':hold': {
            kind: 'key-lane',
            reason: expect.stringContaining('held behind mutation 01JTESTMUTATION0000000000B'),
            at: NOW,
          },
        }),
      }),
    ]);
  });

  it('writes the commit hold before it queues the recheck, so the recheck cannot clear it first', async () => {
    // GIVEN a batch whose third record is not committed yet; the calls are logged in order
    const event = batch([0, 1]);
    const order: string[] = [];
    documentMock.on(UpdateCommand).callsFake((input: { UpdateExpression?: string }) => {
      order.push(input.UpdateExpression?.includes('#hold') ? 'hold' : 'update');
      return {};
    });
    sqsMock.on(SendMessageCommand).callsFake((input: { MessageBody?: string }) => {
      order.push(`send ${JSON.parse(input.MessageBody ?? '{}').kind}`);
      return { MessageId: 'm1' };
    });
    // WHEN the batch is consumed
    await consumeStreamBatch(dependencies(), event);
    // THEN the hold is written, then the recheck is sent
    expect(order).toEqual(['hold', 'send recheck']);
  });

  it('fails if every record of the batch failed, so Lambda retries the whole batch', async () => {
    // GIVEN no mutation is committed yet, and the delay queue cannot be reached
    const event = batch([]);
    sqsMock.on(SendMessageCommand).rejects(new Error('SQS is down'));
    // WHEN the batch is consumed THEN it fails as a whole, with the first error as its cause
    await expect(consumeStreamBatch(dependencies(), event)).rejects.toThrow(StreamBatchFailedError);
  });
});

import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { KinesisEventSource, type KinesisFailureRecord } from '#src/local/event-sources/kinesis-event-source';
import { SqsEventSource } from '#src/local/event-sources/sqs-event-source';
import { FunctionTimeoutError } from '#src/local/runtime/function-host';

// A timed-out invocation is a failed invocation for the event source mappings, as on Lambda.

const sqsMock = mockClient(SQSClient);
const kinesisMock = mockClient(KinesisClient);

const timedOut = async (): Promise<never> => {
  throw new FunctionTimeoutError('consumer', 1);
};

beforeEach(() => {
  sqsMock.reset();
  kinesisMock.reset();
});

describe('event sources when the function times out', () => {
  it('leaves the whole SQS batch on the queue (nothing deleted), so it is received again', async () => {
    // GIVEN a queue with two messages and a function that times out
    sqsMock.on(ReceiveMessageCommand).resolves({
      Messages: [
        { MessageId: 'a', ReceiptHandle: 'ra', Body: '{}' },
        { MessageId: 'b', ReceiptHandle: 'rb', Body: '{}' },
      ],
    });
    const source = new SqsEventSource(
      new SQSClient({}),
      { queueUrl: 'q', queueArn: 'arn:q', region: 'us-east-1', batchSize: 10, reportBatchItemFailures: true },
      timedOut,
    );

    // WHEN it polls
    const handed = await source.pollOnce();

    // THEN both were handed over and none deleted
    expect(handed).toBe(2);
    expect(sqsMock.commandCalls(DeleteMessageBatchCommand)).toHaveLength(0);
  });

  it('retries the Kinesis batch, then sends it to the on-failure destination once retries are spent', async () => {
    // GIVEN a shard with one record, a mapping allowing one retry, and a function that times out
    kinesisMock.on(ListShardsCommand).resolves({
      Shards: [
        {
          ShardId: 'shard-0',
          HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
          SequenceNumberRange: { StartingSequenceNumber: '0' },
        },
      ],
    });
    kinesisMock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    kinesisMock.on(GetRecordsCommand).resolves({
      Records: [
        {
          SequenceNumber: '1',
          PartitionKey: 'k',
          Data: new Uint8Array([123, 125]),
          ApproximateArrivalTimestamp: new Date(),
        },
      ],
      NextShardIterator: 'it-1',
    });
    const invocations: number[] = [];
    const failures: KinesisFailureRecord[] = [];
    const source = new KinesisEventSource(
      new KinesisClient({}),
      {
        streamName: 's',
        streamArn: 'arn:s',
        functionArn: 'arn:f',
        region: 'us-east-1',
        batchSize: 10,
        startingPosition: 'TRIM_HORIZON',
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        maximumRetryAttempts: 1,
        maximumRecordAgeSeconds: -1,
      },
      async (event) => {
        invocations.push(event.Records.length);
        return timedOut();
      },
      async (failure) => {
        failures.push(failure);
      },
    );

    // WHEN it polls three times
    for (let round = 0; round < 3; round++) await source.pollOnce();

    // THEN the batch was invoked twice (first try and one retry) and then went to the on-failure destination
    expect(invocations).toEqual([1, 1]);
    expect(failures).toEqual([
      expect.objectContaining({
        requestContext: expect.objectContaining({
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: 2,
        }),
        KinesisBatchInfo: expect.objectContaining({ shardId: 'shard-0', startSequenceNumber: '1' }),
      }),
    ]);
  });
});

describe('the Kinesis event source after a long pause', () => {
  it('takes a fresh iterator after the last record read when its iterator expired, and reads on', async () => {
    // GIVEN a shard whose first read hands one record, then whose iterator has expired
    kinesisMock.on(ListShardsCommand).resolves({
      Shards: [
        {
          ShardId: 'shard-0',
          HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
          SequenceNumberRange: { StartingSequenceNumber: '0' },
        },
      ],
    });
    kinesisMock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    const record = (sequence: string) => ({
      SequenceNumber: sequence,
      PartitionKey: 'k',
      Data: new Uint8Array([123, 125]),
      ApproximateArrivalTimestamp: new Date(),
    });
    kinesisMock
      .on(GetRecordsCommand)
      .resolvesOnce({ Records: [record('1')], NextShardIterator: 'it-1' })
      .rejectsOnce(Object.assign(new Error('Iterator expired'), { name: 'ExpiredIteratorException' }))
      .resolves({ Records: [record('2')], NextShardIterator: 'it-2' });
    const delivered: string[] = [];
    const source = new KinesisEventSource(
      new KinesisClient({}),
      {
        streamName: 's',
        streamArn: 'arn:s',
        functionArn: 'arn:f',
        region: 'us-east-1',
        batchSize: 10,
        startingPosition: 'TRIM_HORIZON',
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        maximumRetryAttempts: 1,
        maximumRecordAgeSeconds: -1,
      },
      async (event) => {
        delivered.push(...event.Records.map((entry) => entry.kinesis.sequenceNumber));
        return { batchItemFailures: [] };
      },
      undefined,
    );
    // WHEN it polls twice
    await source.pollOnce();
    await source.pollOnce();
    // THEN the second poll resumed after record 1 with a new iterator and delivered record 2
    expect(delivered).toEqual(['1', '2']);
    const resumed = kinesisMock.commandCalls(GetShardIteratorCommand)[1]?.args[0].input;
    expect(resumed).toMatchObject({
      ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
      StartingSequenceNumber: '1',
    });
  });
});

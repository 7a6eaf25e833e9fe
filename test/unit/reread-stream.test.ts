import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  InvalidArgumentException,
  KinesisClient,
} from '@aws-sdk/client-kinesis';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { rereadFailedBatch, StreamRereadError } from '#lambdas/queue-consumer/reread-stream';
import { NamespaceConfigUnavailableError } from '#lambdas/shared/namespace-store';
import { deliveryDependencies, envelope, namespaceConfig } from '#test/support/fixtures';

const kinesisMock = mockClient(KinesisClient);
const documentMock = mockClient(DynamoDBDocumentClient);
const sqsMock = mockClient(SQSClient);
const failure = {
  KinesisBatchInfo: {
    shardId: 'shardId-000000000000',
    startSequenceNumber: '100',
    endSequenceNumber: '900',
    streamArn: 'arn:aws:kinesis:us-east-1:111111111111:stream/wal',
  },
};

beforeEach(() => {
  kinesisMock.reset();
  documentMock.reset();
  sqsMock.reset();
  kinesisMock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
});

describe('rereadFailedBatch', () => {
  it('fails if the range was not read to its end (empty pages behind the tip), so SQS retries', async () => {
    // GIVEN a sparse shard that keeps answering empty pages while behind its tip
    kinesisMock
      .on(GetRecordsCommand)
      .resolves({ Records: [], NextShardIterator: 'it-next', MillisBehindLatest: 5_000 });
    // WHEN / THEN nothing of the range is handed over as if it were the whole
    await expect(rereadFailedBatch(deliveryDependencies(namespaceConfig(), 0), failure)).rejects.toThrow(
      StreamRereadError,
    );
    expect(documentMock.calls()).toHaveLength(0);
  });

  it('copies a record that fails again whole to the retry queue, and handles the rest', async () => {
    // GIVEN a range of two committed records; routing the first fails (its namespace config is unreadable)
    const good = envelope({ id: '01JGOOD', namespace: 'orders', idempotencyKey: 'k-good' });
    const bad = envelope({ id: '01JBAD', namespace: 'broken', idempotencyKey: 'k-bad' });
    kinesisMock.on(GetRecordsCommand).resolves({
      Records: [
        { SequenceNumber: '100', PartitionKey: 'broken#a1', Data: Buffer.from(JSON.stringify(bad)) },
        { SequenceNumber: '900', PartitionKey: 'orders#a1', Data: Buffer.from(JSON.stringify(good)) },
      ],
      NextShardIterator: 'it-next',
      MillisBehindLatest: 0,
    });
    documentMock.on(BatchGetCommand).resolves({
      Responses: {
        ledger: [
          { pk: 'orders#k-good', state: 'COMMITTED', id: '01JGOOD', sequence: '900' },
          { pk: 'broken#k-bad', state: 'COMMITTED', id: '01JBAD', sequence: '100' },
        ],
      },
    });
    documentMock.on(PutCommand).resolves({});
    sqsMock.on(SendMessageCommand).resolves({});
    const deps = {
      ...deliveryDependencies(namespaceConfig(), 0),
      namespaces: {
        async get(name: string) {
          if (name === 'broken') throw new NamespaceConfigUnavailableError(name);
          return namespaceConfig();
        },
      },
    };
    // WHEN
    await rereadFailedBatch(deps, failure);
    // THEN the good record is applied, and the bad one is on the retry queue as a whole copy
    expect(documentMock.commandCalls(PutCommand)).toHaveLength(1);
    const sent = sqsMock.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.QueueUrl).toBe('retry-url');
    const copy = JSON.parse(sent[0]?.MessageBody ?? '{}');
    expect(copy).toMatchObject({
      kind: 'stream-record',
      sequenceNumber: '100',
      shardId: failure.KinesisBatchInfo.shardId,
    });
    expect(JSON.parse(Buffer.from(copy.data, 'base64').toString('utf8'))).toEqual(bad);
  });

  it('dead-letters a range past the stream retention, naming the wal replay command that re-delivers what is left', async () => {
    // GIVEN the range's first sequence number was trimmed off the shard
    kinesisMock
      .on(GetShardIteratorCommand)
      .rejects(new InvalidArgumentException({ message: 'trimmed', $metadata: {} }));
    sqsMock.on(SendMessageCommand).resolves({});
    // WHEN
    await rereadFailedBatch(deliveryDependencies(namespaceConfig(), 0), failure);
    // THEN one poison message says why, and where the mutations can come back from
    const sent = sqsMock.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
    expect(sent).toHaveLength(1);
    const letter = JSON.parse(sent[0]?.MessageBody ?? '{}');
    expect(letter).toMatchObject({ kind: 'poison' });
    expect(letter.reason).toContain('the ledger keeps no payloads');
    const { shardId, startSequenceNumber, endSequenceNumber } = failure.KinesisBatchInfo;
    expect(letter.reason).toContain(
      `wal replay --all-namespaces --shard ${shardId} --from-sequence ${startSequenceNumber} --to-sequence ${endSequenceNumber}`,
    );
    expect(documentMock.calls()).toHaveLength(0);
  });
});

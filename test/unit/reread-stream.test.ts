import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { rereadFailedBatch, StreamRereadError } from '../../lambdas/queue-consumer/reread-stream';
import { deliveryDependencies, namespaceConfig } from '../support/fixtures';

const kinesisMock = mockClient(KinesisClient);
const documentMock = mockClient(DynamoDBDocumentClient);
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
});

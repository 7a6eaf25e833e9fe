import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { QueueDoesNotExist, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { deliverToTarget } from '#lambdas/shared/delivery';
import type { QueueMessage } from '#lambdas/shared/queue-message';
import { KinesisTarget, streamNameOf } from '#lambdas/shared/targets/kinesis-target';
import type { MessageEnvelope } from '#lambdas/shared/targets/message-envelope';
import { SqsTarget } from '#lambdas/shared/targets/sqs-target';
import { PermanentTargetError } from '#lambdas/shared/targets/target-errors';
import { deliveryDependencies, loggedMutation, namespaceConfig } from '#test/support/fixtures';

const sqsMock = mockClient(SQSClient);
const kinesisMock = mockClient(KinesisClient);
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/111111111111/events';
const FIFO_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/111111111111/events.fifo';
const STREAM_ARN = 'arn:aws:kinesis:eu-west-1:111111111111:stream/changes';
const NOW = 1_700_000_000_000;

function awsError(name: string, message = `${name} happened`): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

const sqsTarget = (queueUrl = QUEUE) =>
  new SqsTarget({ name: 'events', type: 'sqs', queueUrl }, () => new SQSClient({ region: 'eu-west-1' }));
const kinesisTarget = () =>
  new KinesisTarget(
    { name: 'changes', type: 'kinesis', streamArn: STREAM_ARN },
    () => new KinesisClient({ region: 'eu-west-1' }),
  );

function sentMessage() {
  const input = sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input;
  return { input, envelope: JSON.parse(input?.MessageBody ?? '{}') as MessageEnvelope };
}

beforeEach(() => {
  sqsMock.reset();
  kinesisMock.reset();
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm1' });
  kinesisMock.on(PutRecordCommand).resolves({ ShardId: 'shardId-000000000000', SequenceNumber: '1' });
});

describe('SqsTarget', () => {
  it('sends the envelope as JSON to a standard queue, with no group or dedup id', async () => {
    // GIVEN a standard queue
    // WHEN a mutation is applied
    const outcome = await sqsTarget().apply(loggedMutation({ configVersion: 3 }));
    // THEN one message carries the envelope and the namespace and id as attributes
    const { input, envelope } = sentMessage();
    expect(outcome).toBe('applied');
    expect(input).toMatchObject({
      QueueUrl: QUEUE,
      MessageAttributes: {
        'wal-namespace': { DataType: 'String', StringValue: 'orders' },
        'wal-id': { DataType: 'String', StringValue: '01JTESTMUTATION0000000000A' },
      },
    });
    expect(input?.MessageGroupId).toBeUndefined();
    expect(input?.MessageDeduplicationId).toBeUndefined();
    expect(envelope).toMatchObject({
      walEnvelope: 1,
      id: '01JTESTMUTATION0000000000A',
      namespace: 'orders',
      target: 'events',
      configVersion: 3,
      partitionKey: 'a1',
      sequence: '49650000000000000000000000001',
      payload: { id: 'a1', n: 1 },
    });
  });

  it('groups by the partition key and dedups by the mutation id on a FIFO queue', async () => {
    // GIVEN a FIFO queue
    // WHEN a mutation is applied
    await sqsTarget(FIFO_QUEUE).apply(loggedMutation({ partitionKey: 'customer-7' }));
    // THEN its group is the key and its dedup id the mutation id
    expect(sentMessage().input).toMatchObject({
      MessageGroupId: 'customer-7',
      MessageDeduplicationId: '01JTESTMUTATION0000000000A',
    });
  });

  it('hashes a partition key that SQS would refuse as a group id, the same way every time', async () => {
    // GIVEN a key with a space and one too long for a group id
    const keys = ['has space', 'k'.repeat(129)];
    // WHEN mutations with each key are applied twice
    for (const partitionKey of [...keys, ...keys]) {
      await sqsTarget(FIFO_QUEUE).apply(loggedMutation({ partitionKey }));
    }
    // THEN each key becomes one sha256 group id, and the envelope keeps the original key
    const groups = sqsMock.commandCalls(SendMessageCommand).map((call) => call.args[0].input.MessageGroupId);
    expect(groups[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(groups).toEqual([groups[0], groups[1], groups[0], groups[1]]);
    expect(groups[0]).not.toBe(groups[1]);
    expect(sentMessage().envelope.partitionKey).toBe('has space');
  });

  it.each([
    // GIVEN each error SQS may answer that retrying cannot fix
    ['InvalidParameterValue'],
    ['InvalidMessageContents'],
    ['QueueDoesNotExist'],
    ['AccessDenied'],
    ['KmsDisabled'],
    ['KmsAccessDenied'],
    ['UnsupportedOperation'],
  ])('fails for good (PermanentTargetError) if SendMessage answers %s', async (name) => {
    sqsMock.on(SendMessageCommand).rejects(awsError(name));
    // WHEN a mutation is applied
    const applying = sqsTarget().apply(loggedMutation());
    // THEN the error is permanent, and names the SQS error
    await expect(applying).rejects.toThrow(PermanentTargetError);
    await expect(applying).rejects.toThrow(name);
  });

  it('fails for good if SQS answers by the query protocol code of a missing queue', async () => {
    // GIVEN an error whose name is generic but whose Code is the missing queue's
    sqsMock
      .on(SendMessageCommand)
      .rejects(
        Object.assign(awsError('SQSServiceException'), { Code: 'AWS.SimpleQueueService.NonExistentQueue' }),
      );
    // WHEN / THEN
    await expect(sqsTarget().apply(loggedMutation())).rejects.toThrow(PermanentTargetError);
  });

  it.each([
    // GIVEN each error that goes away by itself
    ['RequestThrottled'],
    ['KmsThrottled'],
    ['ThrottlingException'],
    ['InternalError'],
    ['ServiceUnavailable'],
    ['TimeoutError'],
    ['ECONNRESET'],
  ])('fails transiently (the error as it is) if SendMessage answers %s', async (name) => {
    const error = awsError(name);
    sqsMock.on(SendMessageCommand).rejects(error);
    // WHEN a mutation is applied
    const applying = sqsTarget().apply(loggedMutation());
    // THEN the SDK's error comes through as it is, to be retried
    await expect(applying).rejects.toBe(error);
  });

  it('fails for good if the envelope is larger than the queue takes, saying its size and what to raise', async () => {
    // GIVEN a queue that keeps the 256 KiB default and a large payload
    sqsMock
      .on(SendMessageCommand)
      .rejects(
        awsError(
          'InvalidParameterValue',
          'One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes.',
        ),
      );
    // WHEN a mutation is applied
    const applying = sqsTarget().apply(loggedMutation({ payload: { blob: 'x'.repeat(300_000) } }));
    // THEN the reason says how large the envelope was and which queue setting to raise
    await expect(applying).rejects.toThrow(/SendMessage of a 3\d{5}-byte envelope failed/);
    await expect(applying).rejects.toThrow(/MaximumMessageSize/);
  });

  it('fails for good if the queue URL was never filled in', async () => {
    // GIVEN a provisioned queue whose URL is missing from the parameter
    const target = new SqsTarget(
      { name: 'events', type: 'sqs', provision: true },
      () => new SQSClient({ region: 'eu-west-1' }),
    );
    // WHEN / THEN
    await expect(target.apply(loggedMutation())).rejects.toThrow(/has no queueUrl/);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});

describe('KinesisTarget', () => {
  it('puts the envelope by the stream name from the ARN, keyed by the partition key', async () => {
    // GIVEN a stream
    // WHEN a mutation is applied
    const outcome = await kinesisTarget().apply(loggedMutation({ partitionKey: 'customer-7' }));
    // THEN one record carries the envelope under the mutation's partition key
    const input = kinesisMock.commandCalls(PutRecordCommand)[0]?.args[0].input;
    expect(outcome).toBe('applied');
    expect(input).toMatchObject({ StreamName: 'changes', PartitionKey: 'customer-7' });
    expect(JSON.parse(Buffer.from(input?.Data ?? []).toString('utf8'))).toMatchObject({
      id: '01JTESTMUTATION0000000000A',
      target: 'changes',
      partitionKey: 'customer-7',
    });
  });

  it('hashes a partition key that is too long or holds control characters', async () => {
    // GIVEN keys Kinesis would refuse, and one of exactly 256 characters it takes
    const keys = ['k'.repeat(257), 'line\nbreak', 'k'.repeat(256)];
    // WHEN mutations with each key are applied
    for (const partitionKey of keys) await kinesisTarget().apply(loggedMutation({ partitionKey }));
    // THEN the first two are hashed, the last is kept
    const partitionKeys = kinesisMock
      .commandCalls(PutRecordCommand)
      .map((call) => call.args[0].input.PartitionKey);
    expect(partitionKeys).toEqual([
      expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      'k'.repeat(256),
    ]);
  });

  it.each([
    // GIVEN each error Kinesis may answer that retrying cannot fix
    ['ResourceNotFoundException'],
    ['InvalidArgumentException'],
    ['AccessDeniedException'],
    ['KMSAccessDeniedException'],
    ['KMSDisabledException'],
    ['KMSInvalidStateException'],
    ['KMSNotFoundException'],
    ['KMSOptInRequired'],
  ])('fails for good (PermanentTargetError) if PutRecord answers %s', async (name) => {
    kinesisMock.on(PutRecordCommand).rejects(awsError(name));
    // WHEN a mutation is applied
    const applying = kinesisTarget().apply(loggedMutation());
    // THEN the error is permanent, and names the stream and the error
    await expect(applying).rejects.toThrow(PermanentTargetError);
    await expect(applying).rejects.toThrow(`PutRecord to ${STREAM_ARN} failed (${name}`);
  });

  it.each([
    // GIVEN each error that goes away by itself
    ['ProvisionedThroughputExceededException'],
    ['KMSThrottlingException'],
    ['LimitExceededException'],
    ['InternalFailureException'],
    ['ResourceInUseException'],
  ])('fails transiently (the error as it is) if PutRecord answers %s', async (name) => {
    const error = awsError(name);
    kinesisMock.on(PutRecordCommand).rejects(error);
    // WHEN a mutation is applied
    const applying = kinesisTarget().apply(loggedMutation());
    // THEN the SDK's error comes through as it is, to be retried
    await expect(applying).rejects.toBe(error);
  });

  it('reads the stream name from an ARN in any partition', () => {
    // GIVEN ARNs of the commercial and China partitions
    // WHEN / THEN
    expect(streamNameOf('arn:aws-cn:kinesis:cn-north-1:111111111111:stream/a.b_c-d')).toBe('a.b_c-d');
    expect(streamNameOf(STREAM_ARN)).toBe('changes');
  });
});

describe('delivery to sqs and kinesis targets', () => {
  const config = namespaceConfig({
    targets: [
      { name: 'events', type: 'sqs', queueUrl: QUEUE },
      { name: 'changes', type: 'kinesis', streamArn: STREAM_ARN },
    ],
    retry: {
      maxAttempts: 5,
      initialBackoffSeconds: 10,
      backoffMultiplier: 2,
      maxBackoffSeconds: 60,
      jitter: 'none',
    },
  });
  const walMessages = (): { queue: string | undefined; message: QueueMessage }[] =>
    sqsMock
      .commandCalls(SendMessageCommand)
      .filter((call) => call.args[0].input.QueueUrl !== QUEUE)
      .map((call) => ({
        queue: call.args[0].input.QueueUrl,
        message: JSON.parse(call.args[0].input.MessageBody ?? '{}') as QueueMessage,
      }));

  it('sends a mutation whose queue is gone straight to the DLQ, at its first attempt, with the reason', async () => {
    // GIVEN the target queue does not exist
    sqsMock
      .on(SendMessageCommand, { QueueUrl: QUEUE })
      .rejects(new QueueDoesNotExist({ message: 'The specified queue does not exist.', $metadata: {} }));
    // WHEN the mutation is delivered to it
    await deliverToTarget(deliveryDependencies(config, NOW), {
      config,
      mutation: loggedMutation(),
      target: 'events',
    });
    // THEN the DLQ holds it with the reason, and nothing is retried
    expect(walMessages()).toEqual([
      {
        queue: 'dlq-url',
        message: expect.objectContaining({
          kind: 'retry',
          target: 'events',
          attempt: 1,
          reason: expect.stringMatching(/rejected by the target: .*QueueDoesNotExist/),
        }),
      },
    ]);
  });

  it('retries a throttled stream with backoff, not the DLQ', async () => {
    // GIVEN the stream is throttled
    kinesisMock
      .on(PutRecordCommand)
      .rejects(awsError('ProvisionedThroughputExceededException', 'Rate exceeded'));
    // WHEN the mutation is delivered to it
    await deliverToTarget(deliveryDependencies(config, NOW), {
      config,
      mutation: loggedMutation(),
      target: 'changes',
    });
    // THEN it goes to the retry queue, due after the first backoff
    expect(walMessages()).toEqual([
      {
        queue: 'retry-url',
        message: expect.objectContaining({
          kind: 'retry',
          target: 'changes',
          attempt: 1,
          notBefore: NOW + 10_000,
        }),
      },
    ]);
  });
});

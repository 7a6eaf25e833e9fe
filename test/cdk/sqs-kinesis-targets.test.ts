import type { Template } from 'aws-cdk-lib/assertions';
import type { WalFunction } from '#lib/wal-function';
import type { WalStack } from '#lib/wal-stack';
import { asList, flatten, type Json, logicalIdOf, policyStatements, synthesizeOnce } from './fixtures';

// GIVEN a stage whose namespace has a provisioned standard queue, FIFO queue and stream, and an existing
// queue and stream (of another account)
const THEIR_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/222222222222/their-queue.fifo';
const THEIR_STREAM = 'arn:aws:kinesis:eu-west-1:111111111111:stream/their-stream';
const NAMESPACES = {
  'fan.json': {
    name: 'fan',
    targets: [
      { name: 'events', type: 'sqs', provision: true },
      { name: 'ordered', type: 'sqs', provision: true, fifo: true },
      { name: 'changes', type: 'kinesis', provision: true, shardCount: 2 },
      { name: 'defaulted', type: 'kinesis', provision: true },
      { name: 'theirs', type: 'sqs', queueUrl: THEIR_QUEUE },
      { name: 'theirStream', type: 'kinesis', streamArn: THEIR_STREAM },
    ],
  },
};

type Resources = { [id: string]: { Type: string; Properties?: { [key: string]: Json } } };

let stack: WalStack;
let template: Template;
let resources: Resources;

// WHEN the stack is synthesized (once for the whole file)
synthesizeOnce(NAMESPACES, (synthesized) => {
  ({ stack, template } = synthesized);
  resources = (template.toJSON() as { Resources: Resources }).Resources;
});

function provisionedId(target: string): string {
  const construct = stack.namespaces.provisioned.get(`fan/${target}`);
  if (!construct) throw new Error(`fan/${target} was not provisioned`);
  return logicalIdOf(construct);
}

function propertiesOf(target: string): { [key: string]: Json } {
  return resources[provisionedId(target)]?.Properties ?? {};
}

const keyArn = () => `<GetAtt:${logicalIdOf(stack.storage.key)}.Arn>`;

describe('provisioned target queues', () => {
  test('a standard queue has SQS-managed SSE, 1 MiB messages, 14 days of retention and no fixed name', () => {
    // THEN its properties are exactly these
    expect(propertiesOf('events')).toEqual({
      SqsManagedSseEnabled: true,
      MaximumMessageSize: 1_048_576,
      MessageRetentionPeriod: 1_209_600,
      Tags: expect.any(Array),
    });
  });

  test('a FIFO queue is high-throughput FIFO, with the same encryption and size', () => {
    // THEN it is FIFO, dedups per message group and is throttled per group
    expect(propertiesOf('ordered')).toEqual({
      FifoQueue: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      SqsManagedSseEnabled: true,
      MaximumMessageSize: 1_048_576,
      MessageRetentionPeriod: 1_209_600,
      Tags: expect.any(Array),
    });
  });

  test.each(['events', 'ordered'])('the %s queue refuses requests without TLS', (target) => {
    // THEN a queue policy on it denies every action when aws:SecureTransport is false
    const policies = Object.values(resources).filter(
      (resource) =>
        resource.Type === 'AWS::SQS::QueuePolicy' &&
        JSON.stringify(resource.Properties?.Queues) === JSON.stringify([{ Ref: provisionedId(target) }]),
    );
    expect(policies).toHaveLength(1);
    expect(JSON.stringify(policies[0]?.Properties?.PolicyDocument)).toContain(
      '"Condition":{"Bool":{"aws:SecureTransport":"false"}},"Effect":"Deny"',
    );
  });
});

describe('provisioned target streams', () => {
  test('a stream has the configured shards, in provisioned mode, encrypted with the WAL key', () => {
    // THEN its properties are exactly these
    expect(propertiesOf('changes')).toEqual({
      ShardCount: 2,
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      StreamEncryption: {
        EncryptionType: 'KMS',
        KeyId: { 'Fn::GetAtt': [logicalIdOf(stack.storage.key), 'Arn'] },
      },
      RetentionPeriodHours: 24,
      Tags: expect.any(Array),
    });
  });

  test('a stream without shardCount gets one shard', () => {
    // THEN the defaulted stream has one shard
    expect(propertiesOf('defaulted')).toMatchObject({ ShardCount: 1 });
  });
});

describe('the namespace parameter', () => {
  test('holds the URL or ARN of every queue and stream, provisioned or existing', () => {
    // THEN each target names its resource: a provisioned queue by its Ref (its URL), a stream by its Arn
    const parameter = Object.values(template.findResources('AWS::SSM::Parameter'))[0];
    const value = JSON.parse(flatten(parameter?.Properties.Value)) as { targets: Record<string, unknown>[] };
    expect(value.targets).toEqual([
      { name: 'events', type: 'sqs', provision: true, queueUrl: `<Ref:${provisionedId('events')}>` },
      {
        name: 'ordered',
        type: 'sqs',
        provision: true,
        fifo: true,
        queueUrl: `<Ref:${provisionedId('ordered')}>`,
      },
      {
        name: 'changes',
        type: 'kinesis',
        provision: true,
        shardCount: 2,
        streamArn: `<GetAtt:${provisionedId('changes')}.Arn>`,
      },
      {
        name: 'defaulted',
        type: 'kinesis',
        provision: true,
        streamArn: `<GetAtt:${provisionedId('defaulted')}.Arn>`,
      },
      { name: 'theirs', type: 'sqs', queueUrl: THEIR_QUEUE },
      { name: 'theirStream', type: 'kinesis', streamArn: THEIR_STREAM },
    ]);
  });
});

describe('consumer permissions on queue and stream targets', () => {
  const statementsOf = (fn: WalFunction) => {
    const roleRef = JSON.stringify([{ Ref: logicalIdOf(fn.handler.role ?? fn.handler) }]);
    return policyStatements(template.toJSON() as { [key: string]: Json })
      .filter(({ logicalId }) => JSON.stringify(resources[logicalId]?.Properties?.Roles) === roleRef)
      .map(({ statement }) => statement);
  };
  /** Resources of the statements that allow `action`, flattened. */
  const resourcesFor = (fn: WalFunction, action: string) =>
    statementsOf(fn)
      .filter((statement) => statement.Effect === 'Allow' && asList(statement.Action).includes(action))
      .flatMap((statement) => asList(statement.Resource).map((resource) => flatten(resource)));

  test.each(['streamConsumer', 'queueConsumer'] as const)(
    'the %s may send to exactly the target queues (and the WAL queues), never "*"',
    (name) => {
      // THEN SendMessage names the three target queues, the existing one by the ARN of its URL
      const consumer = stack.consumers[name];
      const walQueues = [stack.queues.delayQueue, stack.queues.retryQueue, stack.queues.deadLetterQueue]
        .concat(name === 'streamConsumer' ? [stack.queues.streamFailureQueue] : [])
        .map((queue) => `<GetAtt:${logicalIdOf(queue)}.Arn>`);
      expect([...new Set(resourcesFor(consumer, 'sqs:SendMessage'))].sort()).toEqual(
        [
          ...walQueues,
          `<GetAtt:${provisionedId('events')}.Arn>`,
          `<GetAtt:${provisionedId('ordered')}.Arn>`,
          'arn:<Ref:AWS::Partition>:sqs:eu-west-1:222222222222:their-queue.fifo',
        ].sort(),
      );
    },
  );

  test.each(['streamConsumer', 'queueConsumer'] as const)(
    'the %s may put records on exactly the target streams, with a data key from the WAL key',
    (name) => {
      // THEN PutRecord names the three target streams, and GenerateDataKey the WAL key
      const consumer = stack.consumers[name];
      expect(resourcesFor(consumer, 'kinesis:PutRecord').sort()).toEqual(
        [
          `<GetAtt:${provisionedId('changes')}.Arn>`,
          `<GetAtt:${provisionedId('defaulted')}.Arn>`,
          THEIR_STREAM,
        ].sort(),
      );
      expect(resourcesFor(consumer, 'kms:GenerateDataKey')).toEqual([keyArn()]);
    },
  );

  test('the ingest Lambda may neither send to a target queue nor put on a target stream', () => {
    // THEN none of its statements names a target queue or stream
    const targets = ['events', 'ordered', 'changes', 'defaulted'].map(provisionedId);
    const named = JSON.stringify(statementsOf(stack.ingestApi.ingest));
    for (const target of targets) expect(named).not.toContain(target);
    expect(named).not.toContain('222222222222');
  });

  test('no statement in the template allows "*" as a resource (KMS key policies aside)', () => {
    // THEN none of them names every resource
    const wildcards = policyStatements(template.toJSON() as { [key: string]: Json }).filter(
      ({ statement }) =>
        statement.Effect === 'Allow' && asList(statement.Resource).some((resource) => resource === '*'),
    );
    expect(wildcards).toEqual([]);
  });
});

import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { stageSettings } from '#lib/stage-config';
import { InvalidStreamSettingError } from '#lib/wal-consumers';
import { InvalidQueueSettingError } from '#lib/wal-queues';
import type { WalStack, WalStackProps } from '#lib/wal-stack';
import { arnOf, logicalIdOf, newTestStack, removeDir, stageTemplate, writeConfigDir } from './fixtures';

// GIVEN the same namespace in a dev, a local and a prod stage.
const NAMESPACE = {
  'orders.json': {
    name: 'orders',
    targets: [{ name: 'orders', type: 'dynamodb', provision: true, key: { partitionKey: 'id' } }],
  },
};
const REDRIVEN_QUEUES = ['delayQueue', 'retryQueue', 'streamFailureQueue'] as const;

let configDir: string;

beforeAll(() => {
  configDir = writeConfigDir({ dev: NAMESPACE, local: NAMESPACE, prod: NAMESPACE });
});
afterAll(() => removeDir(configDir));

function synth(stage: string, settings?: WalStackProps['settings']): { stack: WalStack; template: Template } {
  const stack = newTestStack({ stage, configDir, settings });
  return { stack, template: Template.fromStack(stack) };
}

function queueProperties(stack: WalStack, template: Template, name: (typeof REDRIVEN_QUEUES)[number]) {
  const resources = template.toJSON().Resources as Record<string, { Properties: Record<string, unknown> }>;
  const queue = resources[logicalIdOf(stack.queues[name])];
  if (!queue) throw new Error(`No resource for ${name}`);
  return queue.Properties;
}

function streamMapping(stack: WalStack, template: Template): Record<string, unknown> {
  const mappings = Object.values(
    template.findResources('AWS::Lambda::EventSourceMapping', {
      Properties: { EventSourceArn: arnOf(stack.storage.stream) },
    }),
  );
  expect(mappings).toHaveLength(1);
  return mappings[0]?.Properties;
}

describe('default stage settings', () => {
  test.each(
    // GIVEN each stage with the default settings
    ['dev', 'local', 'prod'],
  )('%s: 5 receives, batches of 100, 10 retries, records up to 6 h', (stage) => {
    // GIVEN
    expect(stageSettings(stage)).toMatchObject({
      queueMaxReceiveCount: 5,
      streamBatchSize: 100,
      streamRetryAttempts: 10,
      streamMaxRecordAge: Duration.hours(6),
    });
    // WHEN
    const { stack, template } = synth(stage);
    // THEN
    for (const name of REDRIVEN_QUEUES) {
      expect(queueProperties(stack, template, name)).toMatchObject({
        RedrivePolicy: { deadLetterTargetArn: arnOf(stack.queues.deadLetterQueue), maxReceiveCount: 5 },
        VisibilityTimeout: 360,
      });
    }
    expect(streamMapping(stack, template)).toMatchObject({
      BatchSize: 100,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 6 * 3600,
    });
  });

  test('the local stage pins queueMaxReceiveCount to 5', () => {
    // WHEN/THEN local's settings are read
    expect(stageSettings('local').queueMaxReceiveCount).toBe(5);
  });
});

describe('overridden stage settings', () => {
  test('{ queueMaxReceiveCount: 2, streamBatchSize: 7 } changes the redrive policies and the batch size only', () => {
    // WHEN
    const { stack, template } = synth('dev', { queueMaxReceiveCount: 2, streamBatchSize: 7 });
    // THEN the three redriven queues go to the DLQ after 2 receives, still visible 6 x 60 s
    for (const name of REDRIVEN_QUEUES) {
      expect(queueProperties(stack, template, name)).toMatchObject({
        RedrivePolicy: { deadLetterTargetArn: arnOf(stack.queues.deadLetterQueue), maxReceiveCount: 2 },
        VisibilityTimeout: 360,
      });
    }
    // AND the stream mapping takes 7 records, with the default retries and age
    expect(streamMapping(stack, template)).toMatchObject({
      BatchSize: 7,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 6 * 3600,
      BisectBatchOnFunctionError: true,
      ParallelizationFactor: 1,
    });
    // AND the DLQ itself has no redrive policy
    const resources = template.toJSON().Resources as Record<string, { Properties: Record<string, unknown> }>;
    expect(resources[logicalIdOf(stack.queues.deadLetterQueue)]?.Properties.RedrivePolicy).toBeUndefined();
  });

  test('streamRetryAttempts and streamMaxRecordAge change the mapping', () => {
    // WHEN prod is synthesized with no retries and a 90-minute record age
    const { stack, template } = synth('prod', {
      streamRetryAttempts: 0,
      streamMaxRecordAge: Duration.minutes(90),
    });
    // THEN the mapping has them; the queues keep their defaults
    expect(streamMapping(stack, template)).toMatchObject({
      BatchSize: 100,
      MaximumRetryAttempts: 0,
      MaximumRecordAgeInSeconds: 5400,
    });
    expect(queueProperties(stack, template, 'retryQueue')).toMatchObject({
      RedrivePolicy: { maxReceiveCount: 5 },
      VisibilityTimeout: 360,
    });
  });

  test('the local stage takes overrides too and keeps the 360 s visibility timeout', () => {
    // WHEN local is synthesized with overrides
    const { stack, template } = synth('local', { queueMaxReceiveCount: 1000, streamBatchSize: 10_000 });
    // THEN every redriven queue and the mapping have them
    for (const name of REDRIVEN_QUEUES) {
      expect(queueProperties(stack, template, name)).toMatchObject({
        RedrivePolicy: { maxReceiveCount: 1000 },
        VisibilityTimeout: 360,
      });
    }
    expect(streamMapping(stack, template)).toMatchObject({ BatchSize: 10_000 });
  });
});

describe('invalid stage settings', () => {
  test.each(
    // GIVEN a receive count that is not an integer from 1 to 1000
    [0, 1001, 1.5, Number.NaN],
  )('fails if queueMaxReceiveCount is %p, naming the value', (value) => {
    // WHEN/THEN dev is synthesized with the invalid value
    const create = () => newTestStack({ stage: 'dev', configDir, settings: { queueMaxReceiveCount: value } });
    expect(create).toThrow(InvalidQueueSettingError);
    expect(create).toThrow(`Invalid maxReceiveCount ${value}: an integer from 1 to 1000`);
  });

  test.each(
    // GIVEN a batch size that is not an integer from 1 to 10000
    [0, 10_001, 2.5, -1, Number.NaN],
  )('fails if streamBatchSize is %p, naming the value', (value) => {
    // WHEN/THEN dev is synthesized with the invalid value
    const create = () => newTestStack({ stage: 'dev', configDir, settings: { streamBatchSize: value } });
    expect(create).toThrow(InvalidStreamSettingError);
    expect(create).toThrow(`Invalid streamBatchSize ${value}: an integer from 1 to 10000`);
  });

  test.each(
    // GIVEN a retry count that is not an integer from 0 to 10000
    [-1, 10_001, 0.5],
  )('fails if streamRetryAttempts is %p, naming the value', (value) => {
    // WHEN/THEN dev is synthesized with the invalid value
    const create = () => newTestStack({ stage: 'dev', configDir, settings: { streamRetryAttempts: value } });
    expect(create).toThrow(InvalidStreamSettingError);
    expect(create).toThrow(`Invalid streamRetryAttempts ${value}: an integer from 0 to 10000`);
  });

  test.each([
    // GIVEN a maximum record age outside 60 s to 7 days, or not whole seconds, with how it is described
    [Duration.seconds(59), '59 seconds'],
    [Duration.days(8), '8 days'],
    [Duration.millis(60_500), '1 minute 500 millis'],
  ])('fails if streamMaxRecordAge is %s, naming the value', (value, described) => {
    // WHEN/THEN prod is synthesized with the invalid value
    const create = () => newTestStack({ stage: 'prod', configDir, settings: { streamMaxRecordAge: value } });
    expect(create).toThrow(InvalidStreamSettingError);
    expect(create).toThrow(`Invalid streamMaxRecordAge ${described}: whole seconds from 60 s to 604800 s`);
  });

  test('fails if streamMaxRecordAge is not shorter than the stream retention', () => {
    // GIVEN dev keeps the stream 24 h
    const create = () =>
      newTestStack({ stage: 'dev', configDir, settings: { streamMaxRecordAge: Duration.hours(24) } });
    expect(create).toThrow(InvalidStreamSettingError);
    expect(create).toThrow(
      /Invalid streamMaxRecordAge 1 day: it must be shorter than the stream retention 1 day/,
    );
    // AND a longer retention makes it valid
    expect(() =>
      newTestStack({
        stage: 'dev',
        configDir,
        settings: { streamMaxRecordAge: Duration.hours(24), streamRetention: Duration.hours(48) },
      }),
    ).not.toThrow();
  });
});

describe('consumerTimeout', () => {
  it("sets both consumers' timeout and the queues' visibility timeout (6x)", () => {
    // GIVEN / WHEN
    const stack = newTestStack({ stage: 'dev', settings: { consumerTimeout: Duration.seconds(5) } });
    const template = Template.fromStack(stack);
    // THEN
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { Timeout: 5 }, 2);
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { VisibilityTimeout: 30 }, 3);
  });
});

describe('provisioned target key types', () => {
  it('creates the table with the configured key types (numbers here)', () => {
    // GIVEN a namespace whose target is keyed by a number and a string
    const configDir = writeConfigDir({
      dev: {
        'scores.json': {
          name: 'scores',
          targets: [
            {
              name: 'main',
              type: 'dynamodb',
              provision: true,
              key: { partitionKey: 'player', partitionKeyType: 'number', sortKey: 'game' },
            },
          ],
        },
      },
    });
    try {
      // WHEN
      const template = stageTemplate(newTestStack({ stage: 'dev', configDir }));
      // THEN
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: [
          { AttributeName: 'player', KeyType: 'HASH' },
          { AttributeName: 'game', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'player', AttributeType: 'N' },
          { AttributeName: 'game', AttributeType: 'S' },
        ]),
      });
    } finally {
      removeDir(configDir);
    }
  });
});

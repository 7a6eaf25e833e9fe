import { Match, Template } from 'aws-cdk-lib/assertions';
import type { WalStack } from '#lib/wal-stack';
import {
  arnOf,
  flatten,
  type Json,
  logicalIdOf,
  newTestStack,
  ORDERS_NAMESPACE,
  removeDir,
  synthesizeOnce,
  writeConfigDir,
} from './fixtures';

// GIVEN a stage where "noisy" asks for its own delivery queues with a concurrency cap, next to a shared "orders"
const NOISY = {
  name: 'noisy',
  delivery: { isolated: true, maxConcurrency: 5 },
  targets: [{ name: 'main', type: 'dynamodb', provision: true, key: { partitionKey: 'id' } }],
};

describe('an isolated namespace', () => {
  let stack: WalStack;
  let template: Template;
  synthesizeOnce({ 'orders.json': ORDERS_NAMESPACE, 'noisy.json': NOISY }, (synthesized) => {
    ({ stack, template } = synthesized);
  });

  it('gets a delay and a retry queue of its own, both ending in the shared DLQ', () => {
    // THEN exactly one namespace has queues, and both dead-letter to the WAL's DLQ
    expect([...stack.queues.namespaceQueues.keys()]).toEqual(['noisy']);
    const own = stack.queues.namespaceQueues.get('noisy');
    for (const queue of [own?.delay, own?.retry]) {
      expect(queue).toBeDefined();
      const resource = template.toJSON().Resources[logicalIdOf(queue ?? stack)];
      expect(resource.Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: arnOf(stack.queues.deadLetterQueue),
        maxReceiveCount: 5,
      });
      expect(flatten(resource.Properties.QueueName)).toMatch(
        /^ServerlessWal-test-n[0-9a-f]{8}-(delay|retry)-/,
      );
    }
  });

  it('is drained by its own mappings, capped at its maxConcurrency', () => {
    // THEN the queue consumer has one mapping per own queue, each with the cap
    const own = stack.queues.namespaceQueues.get('noisy');
    for (const queue of [own?.delay, own?.retry]) {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: arnOf(queue ?? stack),
        FunctionName: { Ref: logicalIdOf(stack.consumers.queueConsumer.handler) },
        ScalingConfig: { MaximumConcurrency: 5 },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    }
    // AND the shared queues' mappings stay uncapped
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arnOf(stack.queues.retryQueue),
      ScalingConfig: Match.absent(),
    });
  });

  it('has its queue URLs in its parameter, and the shared namespace has none', () => {
    // THEN the parameter of "noisy" names its own queues; "orders" keeps the shared ones
    const parameterValue = (name: string) =>
      JSON.parse(
        flatten(
          template.toJSON().Resources[logicalIdOf(stack.namespaces.parameters.get(name) ?? stack)].Properties
            .Value as Json,
        ),
      );
    const own = stack.queues.namespaceQueues.get('noisy');
    expect(parameterValue('noisy').delivery).toEqual({
      isolated: true,
      maxConcurrency: 5,
      queues: {
        delay: `<Ref:${logicalIdOf(own?.delay ?? stack)}>`,
        retry: `<Ref:${logicalIdOf(own?.retry ?? stack)}>`,
      },
    });
    expect(parameterValue('orders').delivery).toEqual({ isolated: false });
  });

  it('lets the consumers send to its queues', () => {
    // THEN some policy of the stack allows sqs:SendMessage on the own retry queue
    const own = stack.queues.namespaceQueues.get('noisy');
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['sqs:SendMessage']),
            Resource: arnOf(own?.retry ?? stack),
          }),
        ]),
      },
    });
  });
});

describe('isolation settings', () => {
  it('fails if a config file sets the queues the stack writes', () => {
    // GIVEN a namespace file that names its own queues
    const configDir = writeConfigDir({
      test: { 'noisy.json': { ...NOISY, delivery: { isolated: true, queues: { delay: 'a', retry: 'b' } } } },
    });
    try {
      // WHEN the stage is synthesized THEN it fails naming the field
      expect(() => newTestStack({ stage: 'test', configDir })).toThrow(
        /delivery\.queues: the stack writes the queues/,
      );
    } finally {
      removeDir(configDir);
    }
  });

  it('fails if maxConcurrency is set on a namespace that is not isolated', () => {
    // GIVEN a shared namespace with a cap
    const configDir = writeConfigDir({
      test: { 'noisy.json': { ...NOISY, delivery: { maxConcurrency: 5 } } },
    });
    try {
      // WHEN the stage is synthesized THEN it fails saying the cap needs isolation
      expect(() => newTestStack({ stage: 'test', configDir })).toThrow(/apply to an isolated namespace/);
    } finally {
      removeDir(configDir);
    }
  });

  it('switches the DLQ to allow every source once more than 10 queues use it', () => {
    // GIVEN four isolated namespaces: 3 shared + 8 own queues use the DLQ
    const files = Object.fromEntries(
      ['a', 'b', 'c', 'd'].map((name) => [`${name}.json`, { ...NOISY, name }]),
    );
    const configDir = writeConfigDir({ test: files });
    try {
      // WHEN it is synthesized
      const stack = newTestStack({ stage: 'test', configDir });
      const dlq = Template.fromStack(stack).toJSON().Resources[logicalIdOf(stack.queues.deadLetterQueue)];
      // THEN the DLQ allows all sources (SQS names at most 10)
      expect(dlq.Properties.RedriveAllowPolicy).toEqual({ redrivePermission: 'allowAll' });
    } finally {
      removeDir(configDir);
    }
  });
});

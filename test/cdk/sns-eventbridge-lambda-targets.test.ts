import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { WalFunction } from '#lib/wal-function';
import type { WalStack } from '#lib/wal-stack';
import { asList, flatten, type Json, logicalIdOf, policyStatements, synthesizeOnce } from './fixtures';

const ACCOUNT = '111111111111';
const EXISTING_TOPIC = `arn:aws:sns:eu-west-1:${ACCOUNT}:orders-topic`;
const EXISTING_BUS = `arn:aws:events:eu-west-1:${ACCOUNT}:event-bus/orders`;
const FUNCTION = `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:apply`;
const ALIASED_FUNCTION = `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:apply-live:live`;

// GIVEN a namespace with existing and provisioned topics (standard and FIFO) and buses, and two functions
const FEEDS_NAMESPACE = {
  name: 'feeds',
  targets: [
    { name: 'topic', type: 'sns', topicArn: EXISTING_TOPIC },
    { name: 'fifoTopic', type: 'sns', provision: true, fifo: true },
    { name: 'plainTopic', type: 'sns', provision: true },
    {
      name: 'bus',
      type: 'eventbridge',
      eventBusArn: EXISTING_BUS,
      source: 'com.example',
      detailType: 'Changed',
    },
    { name: 'newBus', type: 'eventbridge', provision: true, source: 'com.example', detailType: 'Changed' },
    { name: 'fn', type: 'lambda', functionArn: FUNCTION },
    { name: 'fnAlias', type: 'lambda', functionArn: ALIASED_FUNCTION },
  ],
};

let stack: WalStack;
let template: Template;
synthesizeOnce({ 'feeds.json': FEEDS_NAMESPACE }, (synthesized) => {
  stack = synthesized.stack;
  template = synthesized.template;
});

const provisionedId = (target: string) => {
  const construct = stack.namespaces.provisioned.get(`feeds/${target}`);
  if (!construct) throw new Error(`no provisioned resource for ${target}`);
  return logicalIdOf(construct);
};

/** The feeds parameter's value, with references flattened (`<Ref:id>`, `<GetAtt:id.Arn>`). */
function parameterTargets(): Record<string, Record<string, unknown>> {
  const parameter = stack.namespaces.parameters.get('feeds');
  if (!parameter) throw new Error('no feeds parameter');
  const resources = template.toJSON().Resources as Record<string, { Properties: { Value: Json } }>;
  const value = JSON.parse(flatten(resources[logicalIdOf(parameter)]?.Properties.Value)) as {
    targets: Record<string, unknown>[];
  };
  return Object.fromEntries(value.targets.map((target) => [String(target.name), target]));
}

/** Resources of the consumer's statements that allow `action`. */
function resourcesAllowed(fn: WalFunction, action: string): string[] {
  const roleRef = JSON.stringify([{ Ref: logicalIdOf(fn.handler.role ?? fn.handler) }]);
  const resources = template.toJSON().Resources as Record<
    string,
    { Type: string; Properties?: { Roles?: Json } }
  >;
  const policies = Object.entries(resources)
    .filter(([, resource]) => resource.Type === 'AWS::IAM::Policy')
    .filter(([, resource]) => JSON.stringify(resource.Properties?.Roles) === roleRef)
    .map(([id]) => id);
  return policyStatements(template.toJSON())
    .filter(({ logicalId }) => policies.includes(logicalId))
    .filter(({ statement }) => asList(statement.Action).includes(action))
    .flatMap(({ statement }) => asList(statement.Resource).map((resource) => flatten(resource)));
}

describe('sns, eventbridge and lambda targets in the stack', () => {
  test('provisions a standard and a FIFO topic, both encrypted with the stack key', () => {
    // THEN two topics besides the alarm topic; the FIFO one has a generated name ending in .fifo
    template.resourceCountIs('AWS::SNS::Topic', 3);
    const key = { 'Fn::GetAtt': [logicalIdOf(stack.storage.key), 'Arn'] };
    template.hasResourceProperties('AWS::SNS::Topic', {
      FifoTopic: true,
      TopicName: Match.stringLikeRegexp('\\.fifo$'),
      KmsMasterKeyId: key,
    });
    const plain = template.toJSON().Resources[provisionedId('plainTopic')];
    expect(plain.Properties).toMatchObject({ KmsMasterKeyId: key });
    expect(plain.Properties.FifoTopic).toBeUndefined();
  });

  test('provisions one event bus, named by CDK', () => {
    // THEN exactly the provisioned bus exists, with a generated name
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::EventBus', { Name: Match.stringLikeRegexp('.+') });
  });

  test('the parameter names every topic, bus and function by ARN, the provisioned ones filled in', () => {
    // WHEN the feeds parameter is read
    const targets = parameterTargets();
    // THEN existing resources keep their ARNs; provisioned ones get the created resources' ARNs
    expect(targets.topic).toMatchObject({ topicArn: EXISTING_TOPIC });
    expect(targets.fifoTopic).toMatchObject({ topicArn: `<Ref:${provisionedId('fifoTopic')}>`, fifo: true });
    expect(targets.plainTopic).toMatchObject({ topicArn: `<Ref:${provisionedId('plainTopic')}>` });
    expect(targets.bus).toMatchObject({
      eventBusArn: EXISTING_BUS,
      source: 'com.example',
      detailType: 'Changed',
    });
    expect(targets.newBus).toMatchObject({ eventBusArn: `<GetAtt:${provisionedId('newBus')}.Arn>` });
    expect(targets.fnAlias).toMatchObject({ functionArn: ALIASED_FUNCTION });
  });

  test.each(['streamConsumer', 'queueConsumer'] as const)(
    'the %s may publish, put events and invoke exactly the configured resources',
    (name) => {
      // GIVEN the consumer's policies
      const consumer = stack.consumers[name];
      // THEN each action names exactly its targets' ARNs (qualified functions also unqualified)
      expect(resourcesAllowed(consumer, 'sns:Publish').sort()).toEqual(
        [
          EXISTING_TOPIC,
          `<Ref:${provisionedId('fifoTopic')}>`,
          `<Ref:${provisionedId('plainTopic')}>`,
        ].sort(),
      );
      expect(resourcesAllowed(consumer, 'events:PutEvents').sort()).toEqual(
        [EXISTING_BUS, `<GetAtt:${provisionedId('newBus')}.Arn>`].sort(),
      );
      expect(resourcesAllowed(consumer, 'lambda:InvokeFunction').sort()).toEqual(
        [FUNCTION, `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:apply-live`, ALIASED_FUNCTION].sort(),
      );
      expect(resourcesAllowed(consumer, 'kms:GenerateDataKey')).toContain(
        `<GetAtt:${logicalIdOf(stack.storage.key)}.Arn>`,
      );
    },
  );

  test('no consumer statement for these targets names a wildcard resource', () => {
    // GIVEN every statement allowing a target action
    const actions = ['sns:Publish', 'events:PutEvents', 'lambda:InvokeFunction'];
    const resources = (['streamConsumer', 'queueConsumer'] as const).flatMap((name) =>
      actions.flatMap((action) => resourcesAllowed(stack.consumers[name], action)),
    );
    // THEN none holds a *
    expect(resources.length).toBeGreaterThan(0);
    expect(resources.filter((resource) => resource.includes('*'))).toEqual([]);
  });
});

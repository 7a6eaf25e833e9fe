import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PlainHttpTargetError } from '#lib/stage-config';
import { TimeoutsDoNotNestError } from '#lib/timeout-budget';
import type { WalFunction } from '#lib/wal-function';
import type { WalStack } from '#lib/wal-stack';
import {
  asList,
  flatten,
  type Json,
  logicalIdOf,
  newTestStack,
  policyStatements,
  removeDir,
  synthesizeOnce,
  writeConfigDir,
} from './fixtures';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:hooks/billing-AbCdEf';
const PARTIAL_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:hooks/audit';

/** A namespace with http targets: the secret in SSM, in Secrets Manager (complete and partial ARNs). */
const WEBHOOKS_NAMESPACE = {
  name: 'webhooks',
  targets: [
    {
      name: 'crm',
      type: 'http',
      url: 'https://crm.example.com/hooks',
      secret: { ssmParameter: '/hooks/crm' },
    },
    {
      name: 'billing',
      type: 'http',
      url: 'https://billing.example.com/in',
      secret: { secretArn: SECRET_ARN },
    },
    {
      name: 'audit',
      type: 'http',
      url: 'https://audit.example.com/in',
      secret: { secretArn: PARTIAL_SECRET_ARN },
      timeoutSeconds: 10,
    },
  ],
};

function consumerStatements(stack: WalStack, fn: WalFunction) {
  const json = Template.fromStack(stack).toJSON() as { [key: string]: Json };
  const resources = json.Resources as { [id: string]: { Type: string; Properties?: { Roles?: Json } } };
  const roleRef = JSON.stringify([{ Ref: logicalIdOf(fn.handler.role ?? fn.handler) }]);
  const policies = Object.entries(resources)
    .filter(([, resource]) => resource.Type === 'AWS::IAM::Policy')
    .filter(([, resource]) => JSON.stringify(resource.Properties?.Roles) === roleRef)
    .map(([id]) => id);
  return policyStatements(json)
    .filter(({ logicalId }) => policies.includes(logicalId))
    .map(({ statement }) => statement);
}

function resourcesFor(stack: WalStack, fn: WalFunction, prefix: string): string[] {
  return consumerStatements(stack, fn)
    .filter((statement) => asList(statement.Action).some((action) => action.startsWith(prefix)))
    .flatMap((statement) => asList(statement.Resource).map((resource) => flatten(resource)));
}

describe('http targets in a deployed stage', () => {
  let stack: WalStack;
  synthesizeOnce({ 'webhooks.json': WEBHOOKS_NAMESPACE }, (synthesized) => {
    stack = synthesized.stack;
  });

  test.each(
    // GIVEN each consumer
    ['streamConsumer', 'queueConsumer'] as const,
  )('the %s may read exactly the configured signing secrets', (name) => {
    const consumer = stack.consumers[name];
    // THEN Secrets Manager: the complete ARN as it is, the partial one with the six-character suffix
    expect(resourcesFor(stack, consumer, 'secretsmanager:').sort()).toEqual(
      [SECRET_ARN, `${PARTIAL_SECRET_ARN}-??????`].sort(),
    );
    const actions = consumerStatements(stack, consumer).flatMap((statement) => asList(statement.Action));
    expect(actions.filter((action) => action.startsWith('secretsmanager:'))).toEqual([
      'secretsmanager:GetSecretValue',
    ]);
    // AND SSM: the SecureString parameter's ARN (one "/" between "parameter" and the name)
    expect(resourcesFor(stack, consumer, 'ssm:')).toContain(
      'arn:<Ref:AWS::Partition>:ssm:eu-west-1:111111111111:parameter/hooks/crm',
    );
  });

  test("no consumer is granted kms:Decrypt for the secrets (their keys' policies decide)", () => {
    // THEN no KMS statement names anything but the stack's own key
    for (const consumer of [stack.consumers.streamConsumer, stack.consumers.queueConsumer]) {
      const kmsResources = resourcesFor(stack, consumer, 'kms:');
      expect(kmsResources.every((resource) => resource.startsWith('<GetAtt:'))).toBe(true);
    }
  });

  test('the consumers do not get WAL_ALLOW_HTTP_TARGETS', () => {
    // THEN neither consumer's environment has the variable
    for (const consumer of [stack.consumers.streamConsumer, stack.consumers.queueConsumer]) {
      const variables = Template.fromStack(stack).toJSON().Resources[logicalIdOf(consumer.handler)].Properties
        .Environment.Variables as Record<string, unknown>;
      expect(variables.WAL_ALLOW_HTTP_TARGETS).toBeUndefined();
    }
  });

  test('the namespace parameter holds the targets as configured (nothing provisioned)', () => {
    // THEN the parameter's value names the URLs and secret references, never a secret value
    const parameter = stack.namespaces.parameters.get('webhooks');
    const value = JSON.parse(
      flatten(
        Template.fromStack(Stack.of(parameter ?? stack)).toJSON().Resources[logicalIdOf(parameter ?? stack)]
          .Properties.Value as Json,
      ),
    ) as { targets: unknown[] };
    expect(value.targets).toEqual(WEBHOOKS_NAMESPACE.targets);
  });
});

describe('http targets at synth', () => {
  const plainHttp = {
    name: 'hooks',
    targets: [{ name: 'dev-box', type: 'http', url: 'http://10.0.0.5/hook', secret: { ssmParameter: '/h' } }],
  };

  test('fails if a non-local stage has an http:// url, naming namespace, target and url', () => {
    // GIVEN a dev stage with a plain http:// webhook
    const configDir = writeConfigDir({ dev: { 'hooks.json': plainHttp } });
    try {
      // WHEN/THEN
      const synth = () => newTestStack({ stage: 'dev', configDir });
      expect(synth).toThrow(PlainHttpTargetError);
      expect(synth).toThrow(
        /Namespace "hooks", target "dev-box": url http:\/\/10\.0\.0\.5\/hook is plain http/,
      );
    } finally {
      removeDir(configDir);
    }
  });

  test('the local stage accepts an http:// url and lets its consumers POST to it', () => {
    // GIVEN the same namespace in the local stage
    const configDir = writeConfigDir({ local: { 'hooks.json': plainHttp } });
    try {
      // WHEN
      const stack = newTestStack({ stage: 'local', configDir });
      // THEN both consumers get WAL_ALLOW_HTTP_TARGETS=true
      const resources = Template.fromStack(stack).toJSON().Resources;
      for (const consumer of [stack.consumers.streamConsumer, stack.consumers.queueConsumer]) {
        expect(resources[logicalIdOf(consumer.handler)].Properties.Environment.Variables).toMatchObject({
          WAL_ALLOW_HTTP_TARGETS: 'true',
        });
      }
    } finally {
      removeDir(configDir);
    }
  });

  test('fails if a webhook timeout does not fit a quarter of the consumer timeout', () => {
    // GIVEN a 10 s webhook timeout and a 30 s consumer timeout (7.5 s per target call)
    const configDir = writeConfigDir({ test: { 'webhooks.json': WEBHOOKS_NAMESPACE } });
    try {
      // WHEN/THEN
      const synth = () =>
        newTestStack({ stage: 'test', configDir, settings: { consumerTimeout: Duration.seconds(30) } });
      expect(synth).toThrow(TimeoutsDoNotNestError);
      expect(synth).toThrow(
        /namespace "webhooks", http target "audit": its timeoutSeconds 10 s is more than the 7500 ms/,
      );
    } finally {
      removeDir(configDir);
    }
  });
});

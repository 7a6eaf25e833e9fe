import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { SDK_BUDGET_ENV, type SdkBudget, worstCaseCallMs } from '#lambdas/shared/sdk-budget';
import { stageSettings } from '#lib/stage-config';
import {
  API_GATEWAY_INTEGRATION_TIMEOUT,
  INGEST_WORST_PATH_CALLS,
  LAMBDA_INIT_TIMEOUT,
  TimeoutsDoNotNestError,
} from '#lib/timeout-budget';
import type { WalFunction } from '#lib/wal-function';
import { VISIBILITY_TIMEOUT_FACTOR } from '#lib/wal-queues';
import type { WalStack } from '#lib/wal-stack';
import {
  type Json,
  logicalIdOf,
  newTestStack,
  ORDERS_NAMESPACE,
  stageTemplate,
  synthesizeOnce,
} from './fixtures';

// GIVEN a stage with one namespace, synthesized as dev (DESTROY) and as prod (RETAIN) settings.
const NAMESPACES = { 'orders.json': ORDERS_NAMESPACE };

type Resources = {
  [id: string]: { Type: string; Properties?: { [key: string]: Json }; DeletionPolicy?: string };
};

let configDir: string;
let stack: WalStack;
let template: Template;

synthesizeOnce(NAMESPACES, (synthesized) => {
  ({ configDir, stack, template } = synthesized);
});

function propertiesOf(fn: WalFunction): { [key: string]: Json } {
  return template.toJSON().Resources[logicalIdOf(fn.handler)].Properties;
}

function budgetOf(fn: WalFunction): SdkBudget {
  const variables = (propertiesOf(fn).Environment as { Variables: { [key: string]: string } }).Variables;
  return {
    maxAttempts: Number(variables[SDK_BUDGET_ENV.maxAttempts]),
    connectionTimeoutMs: Number(variables[SDK_BUDGET_ENV.connectionTimeoutMs]),
    requestTimeoutMs: Number(variables[SDK_BUDGET_ENV.requestTimeoutMs]),
  };
}

describe('Lambda recursive loop detection', () => {
  test('the queue consumer may loop through the queues it consumes (delay hops, retries)', () => {
    // THEN the queue consumer allows recursive loops
    expect(propertiesOf(stack.consumers.queueConsumer)).toMatchObject({ RecursiveLoop: 'Allow' });
  });

  test.each(
    // GIVEN each function not meant to loop
    ['streamConsumer', 'ingest'] as const,
  )('%s keeps the protection (Terminate)', (name) => {
    // THEN the function keeps Lambda's loop protection
    const fn = name === 'ingest' ? stack.ingestApi.ingest : stack.consumers[name];
    expect(propertiesOf(fn)).toMatchObject({ RecursiveLoop: 'Terminate' });
  });

  test('exactly one function allows recursive loops', () => {
    // THEN only the queue consumer allows them
    expect(
      Object.keys(
        template.findResources('AWS::Lambda::Function', { Properties: { RecursiveLoop: 'Allow' } }),
      ),
    ).toEqual([logicalIdOf(stack.consumers.queueConsumer.handler)]);
  });
});

describe('timeouts nest', () => {
  test('ingest: 4 worst-case SDK calls < its timeout, and timeout + cold start < API Gateway 30 s', () => {
    // GIVEN the budget and timeout the template gives the ingest Lambda
    const timeoutMs = (propertiesOf(stack.ingestApi.ingest).Timeout as number) * 1000;
    const budget = budgetOf(stack.ingestApi.ingest);
    // THEN
    expect(budget).toEqual({ maxAttempts: 2, connectionTimeoutMs: 300, requestTimeoutMs: 900 });
    expect(INGEST_WORST_PATH_CALLS * worstCaseCallMs(budget)).toBeLessThan(timeoutMs);
    expect(timeoutMs + LAMBDA_INIT_TIMEOUT.toMilliseconds()).toBeLessThan(
      API_GATEWAY_INTEGRATION_TIMEOUT.toMilliseconds(),
    );
  });

  test("the HTTP API integration keeps API Gateway's 30 s default timeout (no longer one)", () => {
    // THEN no integration sets its own timeout
    template.allResourcesProperties('AWS::ApiGatewayV2::Integration', {
      TimeoutInMillis: Match.absent(),
    });
  });

  test.each(
    // GIVEN each consumer
    ['streamConsumer', 'queueConsumer'] as const,
  )("%s: one worst-case SDK call < its timeout, and the queues' visibility >= 6 x it", (name) => {
    // WHEN the consumer's timeout and SDK budget are read
    const timeoutMs = (propertiesOf(stack.consumers[name]).Timeout as number) * 1000;
    const budget = budgetOf(stack.consumers[name]);
    // THEN one worst-case call fits, and every queue it reads stays invisible for 6 timeouts
    expect(budget).toEqual({ maxAttempts: 3, connectionTimeoutMs: 1000, requestTimeoutMs: 3000 });
    expect(worstCaseCallMs(budget)).toBeLessThan(timeoutMs);
    for (const queue of [stack.queues.delayQueue, stack.queues.retryQueue, stack.queues.streamFailureQueue]) {
      const visibility = template.toJSON().Resources[logicalIdOf(queue)].Properties.VisibilityTimeout;
      expect(visibility * 1000).toBeGreaterThanOrEqual(VISIBILITY_TIMEOUT_FACTOR * timeoutMs);
    }
  });

  test("a short consumer timeout (the chaos run's 3 s) gets a smaller budget that still nests", () => {
    // WHEN
    const short = newTestStack({
      stage: 'test',
      configDir,
      settings: { consumerTimeout: Duration.seconds(3) },
    });
    // THEN one attempt, and it fits in a quarter of the timeout
    const variables =
      Template.fromStack(short).toJSON().Resources[logicalIdOf(short.consumers.queueConsumer.handler)]
        .Properties.Environment.Variables;
    expect(variables).toMatchObject({
      [SDK_BUDGET_ENV.maxAttempts]: '1',
      [SDK_BUDGET_ENV.connectionTimeoutMs]: '100',
      [SDK_BUDGET_ENV.requestTimeoutMs]: '600',
    });
  });

  test('fails if the consumer timeout leaves no room for one SDK attempt', () => {
    // WHEN/THEN a stack with a 1 s consumer timeout is synthesized
    expect(() =>
      newTestStack({ stage: 'test', configDir, settings: { consumerTimeout: Duration.seconds(1) } }),
    ).toThrow(TimeoutsDoNotNestError);
  });
});

describe('retained resources with fixed names', () => {
  /** Properties that give a resource a fixed physical name, by type. */
  const NAME_PROPERTIES: Record<string, string> = {
    'AWS::SQS::Queue': 'QueueName',
    'AWS::DynamoDB::Table': 'TableName',
    'AWS::Kinesis::Stream': 'Name',
    'AWS::SSM::Parameter': 'Name',
    'AWS::Lambda::Function': 'FunctionName',
    'AWS::Logs::LogGroup': 'LogGroupName',
    'AWS::SNS::Topic': 'TopicName',
    'AWS::KMS::Alias': 'AliasName',
    'AWS::IAM::Role': 'RoleName',
    'AWS::CloudWatch::Alarm': 'AlarmName',
  };

  /** `[logical id, type, name]` of every resource with a fixed name that outlives its stack. */
  function retainedWithFixedName(resources: Resources): Array<[string, string, Json]> {
    return Object.entries(resources).flatMap(([id, resource]) => {
      const property = NAME_PROPERTIES[resource.Type];
      const name = property === undefined ? undefined : resource.Properties?.[property];
      const retained = resource.DeletionPolicy !== undefined && resource.DeletionPolicy !== 'Delete';
      const changesWithStack = JSON.stringify(name ?? null).includes('"AWS::StackId"');
      return name !== undefined && retained && !changesWithStack ? [[id, resource.Type, name]] : [];
    });
  }

  test.each(
    // GIVEN the dev stage (deletes) and the prod stage (retains)
    ['dev', 'prod'],
  )('with the %s settings, no retained resource has a name fixed across stacks', (stage) => {
    // GIVEN the stage's removal policy (prod retains)
    const settings = stageSettings(stage);
    // WHEN
    const synthesized = newTestStack({ stage: 'test', configDir, settings });
    const resources = stageTemplate(synthesized).toJSON().Resources as Resources;
    // THEN
    expect(retainedWithFixedName(resources)).toEqual([]);
  });

  test('prod retains the queues, and each queue name carries the stack instance (AWS::StackId)', () => {
    // WHEN the stack is synthesized with prod's settings
    const prod = newTestStack({ stage: 'test', configDir, settings: stageSettings('prod') });
    const queues = Template.fromStack(prod).findResources('AWS::SQS::Queue');
    const named = Object.values(queues).filter((queue) => queue.Properties.QueueName !== undefined);
    // THEN its 3 named queues are retained, each name made from the stack id
    expect(named).toHaveLength(3);
    for (const queue of named) {
      expect(queue.DeletionPolicy).toBe('Retain');
      expect(JSON.stringify(queue.Properties.QueueName)).toContain(
        '{"Fn::Split":["/",{"Ref":"AWS::StackId"}]}',
      );
    }
  });

  test('the check can fail: a retained queue with a plain name is reported', () => {
    // GIVEN a retained queue with a fixed name and a deleted one
    const resources: Resources = {
      Q: { Type: 'AWS::SQS::Queue', DeletionPolicy: 'Retain', Properties: { QueueName: 'fixed-retry' } },
      D: {
        Type: 'AWS::SQS::Queue',
        DeletionPolicy: 'Delete',
        Properties: { QueueName: 'deleted-with-stack' },
      },
    };
    // WHEN/THEN the check reports the retained one only
    expect(retainedWithFixedName(resources)).toEqual([['Q', 'AWS::SQS::Queue', 'fixed-retry']]);
  });
});

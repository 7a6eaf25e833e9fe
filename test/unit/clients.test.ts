import { NodeHttpHandler, type NodeHttpHandlerOptions } from '@smithy/node-http-handler';
import {
  createDynamoDbClient,
  createKinesisClient,
  createSqsClient,
  createSsmClient,
} from '#lambdas/shared/clients';
import { DEFAULT_SDK_BUDGET, SDK_BUDGET_ENV, sdkBudgetEnvironment } from '#lambdas/shared/sdk-budget';

const FACTORIES = {
  DynamoDB: createDynamoDbClient,
  Kinesis: createKinesisClient,
  SQS: createSqsClient,
  SSM: createSsmClient,
} as const;

type AnyClient = ReturnType<(typeof FACTORIES)[keyof typeof FACTORIES]>;

async function settingsOf(client: AnyClient) {
  const handler = client.config.requestHandler;
  expect(handler).toBeInstanceOf(NodeHttpHandler);
  // The handler resolves its options lazily (on the first request); its provider holds them.
  const { configProvider } = handler as unknown as { configProvider: Promise<NodeHttpHandlerOptions> };
  return { maxAttempts: await client.config.maxAttempts(), handler: await configProvider };
}

describe('client factories', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of Object.values(SDK_BUDGET_ENV)) delete process.env[name];
    Object.assign(process.env, saved);
  });

  test.each(
    // GIVEN each AWS client factory
    Object.keys(FACTORIES) as Array<keyof typeof FACTORIES>,
  )('%s client takes the budget the stack sets, and a request timeout throws', async (service) => {
    // GIVEN the variables the stack sets on a function
    Object.assign(
      process.env,
      sdkBudgetEnvironment({ maxAttempts: 2, connectionTimeoutMs: 300, requestTimeoutMs: 900 }),
    );
    // WHEN the handler module creates its client
    const settings = await settingsOf(FACTORIES[service]());
    // THEN
    expect(settings.maxAttempts).toBe(2);
    expect(settings.handler).toMatchObject({
      connectionTimeout: 300,
      requestTimeout: 900,
      throwOnRequestTimeout: true,
    });
  });

  test('without the variables a client keeps the default budget', async () => {
    // GIVEN no budget variable is set
    for (const name of Object.values(SDK_BUDGET_ENV)) delete process.env[name];
    // WHEN a client is created; THEN it has the default attempts and timeouts
    const settings = await settingsOf(createSqsClient());
    expect(settings.maxAttempts).toBe(DEFAULT_SDK_BUDGET.maxAttempts);
    expect(settings.handler).toMatchObject({
      connectionTimeout: DEFAULT_SDK_BUDGET.connectionTimeoutMs,
      requestTimeout: DEFAULT_SDK_BUDGET.requestTimeoutMs,
    });
  });
});

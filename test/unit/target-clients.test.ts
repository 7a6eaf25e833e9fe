import { lazyTargetClients, type TargetClientFactories } from '#lambdas/shared/targets/index';

describe('lazyTargetClients', () => {
  it('creates each client on first use, once', () => {
    // GIVEN factories that count their calls
    const calls: string[] = [];
    const factories = Object.fromEntries(
      ['documentClient', 'sqs', 'kinesis', 'sns', 'eventBridge', 'lambda', 'ssm', 'secretsManager'].map(
        (key) => [
          key,
          () => {
            calls.push(key);
            return { key };
          },
        ],
      ),
    ) as unknown as TargetClientFactories;
    // WHEN the clients are made and one is used twice
    const clients = lazyTargetClients(factories);
    const first = clients.sns;
    const second = clients.sns;
    // THEN only that one was created, and only once
    expect(calls).toEqual(['sns']);
    expect(second).toBe(first);
  });
});

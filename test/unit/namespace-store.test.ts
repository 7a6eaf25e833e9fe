import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import {
  NamespaceConfigUnavailableError,
  SsmNamespaceConfigStore,
  UnknownNamespaceError,
} from '#lambdas/shared/namespace-store';
import { silentLogger } from '#test/support/fixtures';

const ssmMock = mockClient(SSMClient);
const target = { name: 'main', type: 'dynamodb', tableName: 'orders-table', key: { partitionKey: 'id' } };
const value = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({ name: 'orders', targets: [target], ...overrides });

function store(clock: { now: number }) {
  return new SsmNamespaceConfigStore(
    new SSMClient({ region: 'us-east-1' }),
    '/wal/test/namespaces/',
    60_000,
    silentLogger,
    () => clock.now,
  );
}

beforeEach(() => ssmMock.reset());

describe('SsmNamespaceConfigStore', () => {
  it('reads the parameter under the prefix and caches it for the max age', async () => {
    // GIVEN
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: value() } });
    const clock = { now: 0 };
    const namespaces = store(clock);
    // WHEN read twice within the max age, then after it
    await namespaces.get('orders');
    clock.now = 59_000;
    await namespaces.get('orders');
    clock.now = 61_000;
    const config = await namespaces.get('orders');
    // THEN
    expect(config.targets[0]?.name).toBe('main');
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(2);
    expect(ssmMock.commandCalls(GetParameterCommand)[0]?.args[0].input.Name).toBe(
      '/wal/test/namespaces/orders',
    );
  });

  it('shares one load between concurrent reads of a cold cache', async () => {
    // GIVEN SSM answers after a moment
    ssmMock
      .on(GetParameterCommand)
      .callsFake(
        () => new Promise((resolve) => setTimeout(() => resolve({ Parameter: { Value: value() } }), 5)),
      );
    const namespaces = store({ now: 0 });
    // WHEN 16 key lanes read the namespace at once
    const configs = await Promise.all(Array.from({ length: 16 }, () => namespaces.get('orders')));
    // THEN one GetParameter served them all
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(1);
    expect(configs.every((config) => config.name === 'orders')).toBe(true);
  });

  it('fails if a shared load fails, for every reader, and loads again on the next read', async () => {
    // GIVEN SSM fails once, then answers
    ssmMock
      .on(GetParameterCommand)
      .rejectsOnce(new Error('throttled'))
      .resolves({ Parameter: { Value: value() } });
    const namespaces = store({ now: 0 });
    // WHEN two reads share the failing load, then one more read follows
    const failed = await Promise.allSettled([namespaces.get('orders'), namespaces.get('orders')]);
    const config = await namespaces.get('orders');
    // THEN both shared reads failed, the failure was not cached, and the next read loaded again
    expect(failed.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(config.name).toBe('orders');
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it('keeps the last good value when SSM fails', async () => {
    // GIVEN SSM answers once, then fails
    ssmMock
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: value() } })
      .rejects(new Error('throttled'));
    const clock = { now: 0 };
    const namespaces = store(clock);
    await namespaces.get('orders');
    // WHEN the cache has expired and SSM fails
    clock.now = 120_000;
    // THEN the last good value is still served
    await expect(namespaces.get('orders')).resolves.toMatchObject({ name: 'orders' });
  });

  it('keeps the last good value when the new value is invalid', async () => {
    // GIVEN SSM answers a valid value, then one with maxAttempts 0
    ssmMock
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: value({ retry: { maxAttempts: 5 } }) } })
      .resolves({ Parameter: { Value: value({ retry: { maxAttempts: 0 } }) } });
    const clock = { now: 0 };
    const namespaces = store(clock);
    await namespaces.get('orders');
    // WHEN the cache has expired and SSM holds the invalid value
    clock.now = 120_000;
    // THEN the last good value is still served
    await expect(namespaces.get('orders')).resolves.toMatchObject({ retry: { maxAttempts: 5 } });
  });

  it('fails if the parameter does not exist', async () => {
    // GIVEN SSM has no such parameter; WHEN/THEN the namespace is read
    ssmMock.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'none', $metadata: {} }));
    await expect(store({ now: 0 }).get('orders')).rejects.toThrow(UnknownNamespaceError);
  });

  it('fails if the name is not a namespace name, without calling SSM', async () => {
    // WHEN/THEN a path-like name is read: refused before any SSM call
    await expect(store({ now: 0 }).get('../etc')).rejects.toThrow(UnknownNamespaceError);
    expect(ssmMock.calls()).toHaveLength(0);
  });

  it('fails if SSM fails and nothing is cached', async () => {
    // GIVEN SSM fails and nothing is cached; WHEN/THEN the namespace is read
    ssmMock.on(GetParameterCommand).rejects(new Error('throttled'));
    await expect(store({ now: 0 }).get('orders')).rejects.toThrow(NamespaceConfigUnavailableError);
  });

  it('fails if the parameter holds another namespace', async () => {
    // GIVEN the orders parameter holds namespace billing; WHEN/THEN orders is read
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: value({ name: 'billing' }) } });
    await expect(store({ now: 0 }).get('orders')).rejects.toThrow(NamespaceConfigUnavailableError);
  });
});

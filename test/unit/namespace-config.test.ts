import {
  InvalidNamespaceConfigError,
  MAX_PAYLOAD_BYTES,
  parseNamespaceConfig,
} from '#lambdas/shared/namespace-config';

// GIVEN one valid target, reused by every case
const target = { name: 'main', type: 'dynamodb', tableName: 'orders-table', key: { partitionKey: 'id' } };

describe('parseNamespaceConfig', () => {
  it('fills in documented defaults', () => {
    // WHEN a config with only a name and a target is parsed
    const config = parseNamespaceConfig({ name: 'orders', targets: [target] }, 'orders.json');
    // THEN every documented default is filled in
    expect(config).toMatchObject({
      enabled: true,
      retry: {
        maxAttempts: 8,
        initialBackoffSeconds: 2,
        backoffMultiplier: 2,
        maxBackoffSeconds: 900,
        jitter: 'full',
      },
      delay: { maxDelaySeconds: 86_400 },
      payload: { maxBytes: 65_536 },
      retentionDays: 30,
    });
  });

  it.each([
    // GIVEN each invalid config with the message it must give
    ['the name has capitals', { name: 'Orders', targets: [target] }, /name: namespace name must match/],
    ['there is no target', { name: 'orders', targets: [] }, /at least one target/],
    ['a field is unknown', { name: 'orders', targets: [target], colour: 'red' }, /Unrecognized key/],
    [
      'maxAttempts is 0',
      { name: 'orders', targets: [target], retry: { maxAttempts: 0 } },
      /retry.maxAttempts/,
    ],
    [
      'maxBytes is over the envelope limit',
      { name: 'orders', targets: [target], payload: { maxBytes: MAX_PAYLOAD_BYTES + 1 } },
      /payload.maxBytes/,
    ],
    [
      'a target name is used twice',
      { name: 'orders', targets: [target, { ...target, tableName: 'other' }] },
      /"main" is used twice/,
    ],
    [
      'a dynamodb target has neither tableName nor provision',
      { name: 'orders', targets: [{ name: 'main', type: 'dynamodb', key: { partitionKey: 'id' } }] },
      /needs "tableName"/,
    ],
    [
      'a key attribute uses the reserved prefix',
      { name: 'orders', targets: [{ ...target, key: { partitionKey: '_walOrder' } }] },
      /reserved for the WAL/,
    ],
    [
      'the target type is unknown',
      { name: 'orders', targets: [{ ...target, type: 'ftp' }] },
      /targets.0.type/,
    ],
    [
      'maxBackoffSeconds is below initialBackoffSeconds',
      { name: 'orders', targets: [target], retry: { initialBackoffSeconds: 10, maxBackoffSeconds: 5 } },
      /maxBackoffSeconds must be at least/,
    ],
  ])('fails if %s', (_case, value, message) => {
    // WHEN/THEN the invalid config is parsed
    expect(() => parseNamespaceConfig(value, 'config/dev/orders.json')).toThrow(InvalidNamespaceConfigError);
    expect(() => parseNamespaceConfig(value, 'config/dev/orders.json')).toThrow(message);
  });

  it('fails if the config is invalid, naming its source', () => {
    // WHEN/THEN an empty config is parsed
    expect(() => parseNamespaceConfig({}, 'config/dev/x.json')).toThrow(/config\/dev\/x.json/);
  });
});

describe('delay bounds', () => {
  it('fails if maxDelaySeconds is over 30 days (each 15 minutes of delay costs a hop)', () => {
    // GIVEN a delay bound of 31 days
    const value = {
      name: 'orders',
      targets: [target],
      delay: { maxDelaySeconds: 31 * 86_400 },
      retentionDays: 60,
    };
    // WHEN/THEN it is parsed
    expect(() => parseNamespaceConfig(value, 'orders.json')).toThrow(/delay.maxDelaySeconds/);
  });
});

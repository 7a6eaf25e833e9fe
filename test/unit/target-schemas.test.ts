import { parseNamespaceConfig, targetResource } from '#lambdas/shared/namespace-config';

const ACCOUNT = '123456789012';

/** A namespace with the one target under test. */
function withTarget(target: Record<string, unknown>) {
  return { name: 'events', targets: [{ name: 'out', ...target }] };
}

describe('target schemas', () => {
  it.each([
    // GIVEN one valid target of each type
    [
      'sqs (existing standard)',
      { type: 'sqs', queueUrl: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/jobs` },
    ],
    [
      'sqs (existing FIFO)',
      { type: 'sqs', queueUrl: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/jobs.fifo` },
    ],
    ['sqs (provisioned FIFO)', { type: 'sqs', provision: true, fifo: true }],
    ['kinesis', { type: 'kinesis', streamArn: `arn:aws:kinesis:eu-west-1:${ACCOUNT}:stream/changes` }],
    ['kinesis (provisioned)', { type: 'kinesis', provision: true, shardCount: 2 }],
    ['sns', { type: 'sns', topicArn: `arn:aws:sns:eu-west-1:${ACCOUNT}:changes.fifo` }],
    [
      'eventbridge',
      {
        type: 'eventbridge',
        eventBusArn: `arn:aws:events:eu-west-1:${ACCOUNT}:event-bus/orders`,
        source: 'com.example.orders',
        detailType: 'OrderChanged',
      },
    ],
    ['lambda', { type: 'lambda', functionArn: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:apply:live` }],
    [
      'http (SSM secret)',
      { type: 'http', url: 'https://hooks.example.com/wal', secret: { ssmParameter: '/wal/hook' } },
    ],
    [
      'http (Secrets Manager)',
      {
        type: 'http',
        url: 'https://hooks.example.com/wal',
        secret: { secretArn: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:hook-AbCdEf` },
        timeoutSeconds: 3,
      },
    ],
  ])('accepts a %s target', (_name, target) => {
    // WHEN it is parsed
    const config = parseNamespaceConfig(withTarget(target), 'events.json');
    // THEN it keeps its type and version 1 is the default
    expect(config.targets[0]?.type).toBe(target.type);
    expect(config.version).toBe(1);
  });

  it.each([
    // GIVEN each invalid target with the path and message it must give
    [
      'an sqs target has neither queueUrl nor provision',
      { type: 'sqs' },
      /targets\.0: a sqs target needs "queueUrl"/,
    ],
    [
      'an sqs queueUrl is not an SQS URL',
      { type: 'sqs', queueUrl: 'https://example.com/q' },
      /targets\.0\.queueUrl/,
    ],
    [
      'fifo is set on an existing queue',
      { type: 'sqs', queueUrl: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/jobs`, fifo: true },
      /targets\.0\.fifo: "fifo" applies to a provisioned queue/,
    ],
    [
      'a kinesis streamArn is not a stream ARN',
      { type: 'kinesis', streamArn: 'changes' },
      /targets\.0\.streamArn/,
    ],
    [
      'an eventbridge source uses the aws. prefix',
      { type: 'eventbridge', provision: true, source: 'aws.orders', detailType: 'X' },
      /targets\.0\.source: sources starting with "aws\." are reserved/,
    ],
    [
      'an eventbridge target has no detailType',
      { type: 'eventbridge', provision: true, source: 'orders' },
      /targets\.0\.detailType/,
    ],
    ['a lambda ARN is a name', { type: 'lambda', functionArn: 'apply' }, /targets\.0\.functionArn/],
    [
      'an http secret is inline',
      { type: 'http', url: 'https://hooks.example.com', secret: 'hunter2' },
      /targets\.0\.secret/,
    ],
    [
      'an http timeout is over the maximum',
      { type: 'http', url: 'https://hooks.example.com', secret: { ssmParameter: '/s' }, timeoutSeconds: 60 },
      /targets\.0\.timeoutSeconds/,
    ],
    [
      'an http url is not http(s)',
      { type: 'http', url: 'ftp://x', secret: { ssmParameter: '/s' } },
      /targets\.0\.url/,
    ],
    ['the type is unknown', { type: 'carrier-pigeon' }, /targets\.0\.type/],
    [
      'an http url carries credentials',
      { type: 'http', url: 'https://user:pw@hooks.example.com', secret: { ssmParameter: '/s' } },
      /targets\.0\.url: must not carry credentials/,
    ],
  ])('fails if %s', (_name, target, message) => {
    // WHEN it is parsed THEN the error names the field
    expect(() => parseNamespaceConfig(withTarget(target), 'events.json')).toThrow(message);
  });

  it('fails if the version is not a positive integer', () => {
    // GIVEN a config with version 0
    const config = { ...withTarget({ type: 'sqs', provision: true }), version: 0 };
    // WHEN it is parsed THEN the error names "version"
    expect(() => parseNamespaceConfig(config, 'events.json')).toThrow(/version/);
  });

  it.each([
    // GIVEN a target of each type with its resource
    [
      { type: 'sqs', queueUrl: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/q` },
      'https://sqs.eu-west-1.amazonaws.com/123456789012/q',
    ],
    [
      { type: 'http', url: 'https://hooks.example.com/x', secret: { ssmParameter: '/s' } },
      'https://hooks.example.com/x',
    ],
    [{ type: 'kinesis', provision: true }, undefined],
  ])('names the resource a %o target writes to', (target, resource) => {
    // WHEN its resource is asked for
    const [parsed] = parseNamespaceConfig(withTarget(target), 'events.json').targets;
    // THEN it is the URL or ARN, or undefined before the stack provisions it
    expect(parsed && targetResource(parsed)).toBe(resource);
  });
});

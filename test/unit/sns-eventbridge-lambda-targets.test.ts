import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  InvokeCommand,
  type InvokeCommandOutput,
  LambdaClient,
  RequestTooLargeException,
  ResourceNotFoundException,
  ServiceException,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { NotFoundException, PublishCommand, SNSClient, ThrottledException } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { parseNamespaceConfig, type TargetConfig } from '#lambdas/shared/namespace-config';
import { EventBridgeTarget } from '#lambdas/shared/targets/eventbridge-target';
import { LAMBDA_PERMANENT_ERROR_TYPE, LambdaTarget } from '#lambdas/shared/targets/lambda-target';
import { SnsTarget } from '#lambdas/shared/targets/sns-target';
import { PermanentTargetError, TransientTargetError } from '#lambdas/shared/targets/target-errors';
import { loggedMutation } from '#test/support/fixtures';

const snsMock = mockClient(SNSClient);
const eventsMock = mockClient(EventBridgeClient);
const lambdaMock = mockClient(LambdaClient);
const ACCOUNT = '123456789012';
const sns = new SNSClient({ region: 'us-east-1' });
const events = new EventBridgeClient({ region: 'us-east-1' });
const lambda = new LambdaClient({ region: 'us-east-1' });

function target<T extends TargetConfig['type']>(config: Record<string, unknown> & { type: T }) {
  const parsed = parseNamespaceConfig({ name: 'orders', targets: [{ name: 'out', ...config }] }, 'test');
  return parsed.targets[0] as Extract<TargetConfig, { type: T }>;
}

const snsTarget = (topicArn: string) => new SnsTarget(target({ type: 'sns', topicArn }), () => sns);
const busTarget = () =>
  new EventBridgeTarget(
    target({
      type: 'eventbridge',
      eventBusArn: `arn:aws:events:us-east-1:${ACCOUNT}:event-bus/orders`,
      source: 'com.example.orders',
      detailType: 'OrderChanged',
    }),
    () => events,
  );
const functionTarget = () =>
  new LambdaTarget(
    target({ type: 'lambda', functionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:apply:live` }),
    () => lambda,
  );

/** An answer's payload: the SDK's blob type is a Uint8Array with helpers the target does not use. */
const payload = (text: string) => Buffer.from(text, 'utf8') as unknown as InvokeCommandOutput['Payload'];

const functionError = (errorType: string, errorMessage: string) => ({
  StatusCode: 200,
  FunctionError: 'Unhandled',
  Payload: payload(JSON.stringify({ errorType, errorMessage, trace: ['secret stack'] })),
});

beforeEach(() => {
  snsMock.reset();
  eventsMock.reset();
  lambdaMock.reset();
});

describe('SnsTarget', () => {
  it('publishes the envelope to a standard topic without FIFO ids', async () => {
    // GIVEN a standard topic that accepts messages
    snsMock.on(PublishCommand).resolves({ MessageId: 'm1' });
    // WHEN a mutation is applied
    const outcome = await snsTarget(`arn:aws:sns:us-east-1:${ACCOUNT}:orders`).apply(loggedMutation());
    // THEN one Publish carries the envelope, with no group or dedup id
    expect(outcome).toBe('applied');
    const input = snsMock.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(input?.MessageGroupId).toBeUndefined();
    expect(input?.MessageDeduplicationId).toBeUndefined();
    expect(JSON.parse(input?.Message ?? '{}')).toMatchObject({
      walEnvelope: 1,
      id: '01JTESTMUTATION0000000000A',
      namespace: 'orders',
      target: 'out',
      partitionKey: 'a1',
    });
  });

  it('gives a FIFO topic the partition key as group id (hashed when SNS would refuse it) and the id as dedup id', async () => {
    // GIVEN a FIFO topic
    snsMock.on(PublishCommand).resolves({ MessageId: 'm1' });
    const fifo = snsTarget(`arn:aws:sns:us-east-1:${ACCOUNT}:orders.fifo`);
    // WHEN a plain key and a key with a space are published
    await fifo.apply(loggedMutation({ partitionKey: 'a1' }));
    await fifo.apply(loggedMutation({ partitionKey: 'has space' }));
    // THEN the first keeps its key, the second is hashed; both dedup by mutation id
    const inputs = snsMock.commandCalls(PublishCommand).map((call) => call.args[0].input);
    expect(inputs.map((input) => input.MessageGroupId)).toEqual([
      'a1',
      expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    ]);
    expect(inputs.map((input) => input.MessageDeduplicationId)).toEqual([
      '01JTESTMUTATION0000000000A',
      '01JTESTMUTATION0000000000A',
    ]);
  });

  it('fails if the topic is gone, permanently', async () => {
    // GIVEN a topic that does not exist
    snsMock
      .on(PublishCommand)
      .rejects(new NotFoundException({ message: 'Topic does not exist', $metadata: {} }));
    // WHEN a mutation is applied
    const applying = snsTarget(`arn:aws:sns:us-east-1:${ACCOUNT}:gone`).apply(loggedMutation());
    // THEN it goes to the DLQ at once
    await expect(applying).rejects.toBeInstanceOf(PermanentTargetError);
  });

  it('fails if SNS throttles, transiently', async () => {
    // GIVEN a throttled account
    const throttled = new ThrottledException({ message: 'Rate exceeded', $metadata: {} });
    snsMock.on(PublishCommand).rejects(throttled);
    // WHEN a mutation is applied
    const applying = snsTarget(`arn:aws:sns:us-east-1:${ACCOUNT}:orders`).apply(loggedMutation());
    // THEN the SDK's error passes on, to be retried
    await expect(applying).rejects.toBe(throttled);
  });
});

describe('EventBridgeTarget', () => {
  it('puts one event on the bus with source, detail-type and the envelope as detail', async () => {
    // GIVEN a bus that accepts events
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
    // WHEN a mutation is applied
    const outcome = await busTarget().apply(loggedMutation());
    // THEN one entry names the bus by ARN
    expect(outcome).toBe('applied');
    const entries = eventsMock.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries ?? [];
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      EventBusName: `arn:aws:events:us-east-1:${ACCOUNT}:event-bus/orders`,
      Source: 'com.example.orders',
      DetailType: 'OrderChanged',
    });
    expect(JSON.parse(entries[0]?.Detail ?? '{}')).toMatchObject({ id: '01JTESTMUTATION0000000000A' });
  });

  it.each(['InternalFailure', 'ThrottlingException'])(
    'fails if the entry fails with %s, transiently (an answer of 200 with FailedEntryCount 1)',
    async (code) => {
      // GIVEN PutEvents answers 200 with its entry failed
      eventsMock
        .on(PutEventsCommand)
        .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: code, ErrorMessage: 'try later' }] });
      // WHEN a mutation is applied
      const applying = busTarget().apply(loggedMutation());
      // THEN it is retried
      await expect(applying).rejects.toBeInstanceOf(TransientTargetError);
      await expect(applying).rejects.toThrow(code);
    },
  );

  it.each(['MalformedDetail', 'AccessDeniedException', 'NotAuthorizedForSourceException'])(
    'fails if the entry fails with %s, permanently',
    async (code) => {
      // GIVEN PutEvents answers 200 with its entry refused
      eventsMock
        .on(PutEventsCommand)
        .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: code, ErrorMessage: 'refused' }] });
      // WHEN a mutation is applied
      const applying = busTarget().apply(loggedMutation());
      // THEN it goes to the DLQ with the code in its reason
      await expect(applying).rejects.toBeInstanceOf(PermanentTargetError);
      await expect(applying).rejects.toThrow(code);
    },
  );

  it('fails if FailedEntryCount says an entry failed without a code, transiently', async () => {
    // GIVEN a failed count and no entry detail
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [] });
    // WHEN a mutation is applied
    const applying = busTarget().apply(loggedMutation());
    // THEN it is retried
    await expect(applying).rejects.toBeInstanceOf(TransientTargetError);
  });
});

describe('LambdaTarget', () => {
  it('invokes the function synchronously with the envelope', async () => {
    // GIVEN a function that succeeds
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload('{"ok":true}') });
    // WHEN a mutation is applied
    const outcome = await functionTarget().apply(loggedMutation());
    // THEN it was a RequestResponse invoke of the qualified ARN with the envelope as event
    expect(outcome).toBe('applied');
    const input = lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      FunctionName: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:apply:live`,
      InvocationType: 'RequestResponse',
    });
    expect(JSON.parse(Buffer.from(input?.Payload as Uint8Array).toString('utf8'))).toMatchObject({
      id: '01JTESTMUTATION0000000000A',
    });
  });

  it('fails if the function throws, transiently, with a bounded error text and no stack trace', async () => {
    // GIVEN a function that throws an ordinary error with a long message
    lambdaMock.on(InvokeCommand).resolves(functionError('Error', 'x'.repeat(5_000)));
    // WHEN a mutation is applied
    const error = await functionTarget()
      .apply(loggedMutation())
      .catch((thrown: unknown) => thrown);
    // THEN it is retried; the reason is short and leaves the rest of the answer out
    expect(error).toBeInstanceOf(TransientTargetError);
    expect((error as Error).message.length).toBeLessThan(700);
    expect((error as Error).message).not.toContain('secret stack');
  });

  it(`fails if the function throws ${LAMBDA_PERMANENT_ERROR_TYPE}, permanently, with its message`, async () => {
    // GIVEN a function that refuses the mutation for good
    lambdaMock.on(InvokeCommand).resolves(functionError(LAMBDA_PERMANENT_ERROR_TYPE, 'order 17 is closed'));
    // WHEN a mutation is applied
    const applying = functionTarget().apply(loggedMutation());
    // THEN it goes to the DLQ with the function's reason
    await expect(applying).rejects.toBeInstanceOf(PermanentTargetError);
    await expect(applying).rejects.toThrow('order 17 is closed');
  });

  it('fails if the error answer is not JSON, transiently', async () => {
    // GIVEN a function error whose payload is not JSON
    lambdaMock
      .on(InvokeCommand)
      .resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: payload('Task timed out') });
    // WHEN a mutation is applied
    const applying = functionTarget().apply(loggedMutation());
    // THEN it is retried
    await expect(applying).rejects.toBeInstanceOf(TransientTargetError);
  });

  it.each([
    [
      'TooManyRequestsException (429)',
      () => new TooManyRequestsException({ message: 'Rate exceeded', $metadata: {} }),
    ],
    ['ServiceException (500)', () => new ServiceException({ message: 'internal', $metadata: {} })],
  ])('fails if Lambda answers %s, transiently', async (_name, error) => {
    // GIVEN Lambda throttles or fails itself
    const thrown = error();
    lambdaMock.on(InvokeCommand).rejects(thrown);
    // WHEN a mutation is applied
    const applying = functionTarget().apply(loggedMutation());
    // THEN the error passes on as it is, to be retried
    await expect(applying).rejects.toBe(thrown);
  });

  it.each([
    ['RequestTooLargeException', () => new RequestTooLargeException({ message: 'too large', $metadata: {} })],
    [
      'ResourceNotFoundException',
      () => new ResourceNotFoundException({ message: 'no function', $metadata: {} }),
    ],
  ])('fails if Lambda answers %s, permanently', async (_name, error) => {
    // GIVEN Lambda refuses the call as such
    lambdaMock.on(InvokeCommand).rejects(error());
    // WHEN a mutation is applied
    const applying = functionTarget().apply(loggedMutation());
    // THEN it goes to the DLQ
    await expect(applying).rejects.toBeInstanceOf(PermanentTargetError);
  });
});

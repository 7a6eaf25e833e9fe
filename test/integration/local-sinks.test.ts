import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient, TooManyRequestsException } from '@aws-sdk/client-lambda';
import {
  InternalErrorException,
  NotFoundException,
  PublishCommand,
  SNSClient,
  ThrottledException,
} from '@aws-sdk/client-sns';
import { type Sinks, startSinks } from '#src/local/sinks/sinks-server';

const TOPIC = 'arn:aws:sns:us-east-1:000000000000:sink-topic';
const FIFO_TOPIC = 'arn:aws:sns:us-east-1:000000000000:sink-topic.fifo';
const BUS = 'arn:aws:events:us-east-1:000000000000:event-bus/sink-bus';
const FUNCTION = 'arn:aws:lambda:us-east-1:000000000000:function:sink-fn:live';

/** The real SDK clients of the three services, pointed at the sinks, without SDK retries. */
function clientsFor(sinks: Sinks) {
  const base = {
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    endpoint: sinks.endpoint,
    maxAttempts: 1,
  };
  return { sns: new SNSClient(base), events: new EventBridgeClient(base), lambda: new LambdaClient(base) };
}

describe('local sinks (real SDK clients)', () => {
  let dataDir: string;
  let sinks: Sinks;
  let clients: ReturnType<typeof clientsFor>;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'wal-sinks-'));
    sinks = await startSinks({ dataDir });
    clients = clientsFor(sinks);
  });
  afterAll(async () => {
    await sinks.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('records an SNS Publish to a standard topic and answers its message id', async () => {
    // WHEN a message is published
    const answer = await clients.sns.send(new PublishCommand({ TopicArn: TOPIC, Message: '{"id":"m1"}' }));
    // THEN the SDK reads the awsQuery answer, and the sink holds the parsed message
    expect(answer.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sinks.journal.received(TOPIC)).toEqual([
      expect.objectContaining({ service: 'sns', message: { id: 'm1' }, attributes: {} }),
    ]);
  });

  it('keeps FIFO group and dedup ids, and drops a repeated dedup id as SNS FIFO does', async () => {
    // WHEN the same dedup id is published twice to a FIFO topic
    const publish = () =>
      clients.sns.send(
        new PublishCommand({
          TopicArn: FIFO_TOPIC,
          Message: '{"id":"f1"}',
          MessageGroupId: 'key-1',
          MessageDeduplicationId: 'f1',
        }),
      );
    const first = await publish();
    const second = await publish();
    // THEN both get the same message id and a sequence number; the topic received it once
    expect(second.MessageId).toBe(first.MessageId);
    expect(first.SequenceNumber).toMatch(/^\d{20}$/);
    expect(sinks.journal.received(FIFO_TOPIC)).toEqual([
      expect.objectContaining({ attributes: { MessageGroupId: 'key-1', MessageDeduplicationId: 'f1' } }),
    ]);
  });

  it('fails if a FIFO publish has no group id', async () => {
    // WHEN a FIFO topic gets a publish without ids
    const publishing = clients.sns.send(new PublishCommand({ TopicArn: FIFO_TOPIC, Message: 'x' }));
    // THEN SNS's InvalidParameter comes back
    await expect(publishing).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it.each([
    ['transient', InternalErrorException],
    ['throttle', ThrottledException],
    ['permanent', NotFoundException],
  ] as const)('fails an SNS publish as told (%s), then answers again', async (kind, errorClass) => {
    // GIVEN the next call of the topic is to fail
    const topic = `arn:aws:sns:us-east-1:000000000000:fail-${kind}`;
    sinks.journal.failNext(topic, 1, kind);
    // WHEN it is published to twice
    const failing = clients.sns.send(new PublishCommand({ TopicArn: topic, Message: 'a' }));
    await expect(failing).rejects.toBeInstanceOf(errorClass);
    await clients.sns.send(new PublishCommand({ TopicArn: topic, Message: 'b' }));
    // THEN only the second is recorded
    expect(sinks.journal.received(topic).map((record) => record.message)).toEqual(['b']);
    expect(sinks.journal.failedCalls(topic)).toBe(1);
  });

  it('records PutEvents entries by bus, and fails entries as told with a 200 answer', async () => {
    // GIVEN the bus's second call is to fail transiently
    const entry = { EventBusName: BUS, Source: 'com.example', DetailType: 'Changed', Detail: '{"id":"e1"}' };
    // WHEN one call succeeds and the next fails
    const ok = await clients.events.send(new PutEventsCommand({ Entries: [entry] }));
    sinks.journal.failNext(BUS, 1, 'transient');
    const failed = await clients.events.send(new PutEventsCommand({ Entries: [entry] }));
    // THEN the failure is an entry's InternalFailure; one event is recorded with its source and detail-type
    expect(ok).toMatchObject({ FailedEntryCount: 0, Entries: [{ EventId: expect.any(String) }] });
    expect(failed).toMatchObject({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] });
    expect(sinks.journal.received(BUS)).toEqual([
      expect.objectContaining({
        message: { id: 'e1' },
        attributes: { Source: 'com.example', DetailType: 'Changed' },
      }),
    ]);
  });

  it('records an Invoke by function ARN and reports function errors and throttling as Lambda does', async () => {
    // GIVEN a function whose calls fail once each way after a success
    const invoke = () =>
      clients.lambda.send(new InvokeCommand({ FunctionName: FUNCTION, Payload: Buffer.from('{"id":"l1"}') }));
    // WHEN it is invoked four times
    const ok = await invoke();
    sinks.journal.failNext(FUNCTION, 1, 'transient');
    const unhandled = await invoke();
    sinks.journal.failNext(FUNCTION, 1, 'permanent');
    const permanent = await invoke();
    sinks.journal.failNext(FUNCTION, 1, 'throttle');
    const throttled = invoke();
    // THEN: success, an Unhandled error, a PermanentError, a 429
    expect(ok.FunctionError).toBeUndefined();
    expect(unhandled.FunctionError).toBe('Unhandled');
    expect(permanent.FunctionError).toBe('Handled');
    expect(JSON.parse(Buffer.from(permanent.Payload ?? []).toString('utf8'))).toMatchObject({
      errorType: 'PermanentError',
    });
    await expect(throttled).rejects.toBeInstanceOf(TooManyRequestsException);
    expect(sinks.journal.received(FUNCTION)).toEqual([expect.objectContaining({ message: { id: 'l1' } })]);
  });

  it('keeps what it received across a restart on the same data dir', async () => {
    // GIVEN a message recorded before a restart
    await clients.sns.send(new PublishCommand({ TopicArn: TOPIC, Message: '{"id":"kept"}' }));
    const before = sinks.journal.received(TOPIC).length;
    // WHEN the sinks restart
    await sinks.stop();
    sinks = await startSinks({ dataDir });
    clients = clientsFor(sinks);
    // THEN the journal holds it again
    expect(sinks.journal.received(TOPIC)).toHaveLength(before);
    expect(sinks.journal.received(TOPIC).at(-1)?.message).toEqual({ id: 'kept' });
  });

  it('fails if a call is none of the three the targets make', async () => {
    // WHEN another SNS action is called
    const response = await fetch(sinks.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=CreateTopic&Name=x',
    });
    // THEN it is refused
    expect(response.status).toBe(400);
  });
});

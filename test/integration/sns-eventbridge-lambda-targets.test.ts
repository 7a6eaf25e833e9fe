import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { namespaceParameterPrefix, targetResource } from '#lambdas/shared/namespace-config';
import { SsmNamespaceConfigStore } from '#lambdas/shared/namespace-store';
import type { QueueMessage } from '#lambdas/shared/queue-message';
import type { LocalWal } from '#src/local/runtime/local-wal';
import type { SinkRecord } from '#src/local/sinks/sink-journal';
import { silentLogger } from '#test/support/fixtures';
import { drain, driveUntil, postMutation, queueUrl, withTestWal } from '#test/support/local-wal-harness';

/**
 * The sns (standard and FIFO), eventbridge and lambda targets of namespace `sinkfeeds`
 * (test/fixtures/config/it/sinkfeeds.json) end to end through the local runtime, delivered to the local
 * sinks: the real handlers and SDK clients, the stack's provisioned topic and bus ARNs.
 */
describe('sns, eventbridge and lambda targets (local sinks)', () => {
  let wal: LocalWal;
  /** The resource each target delivers to, as the namespace parameter names it. */
  let resources: Record<'topic' | 'fifoTopic' | 'bus' | 'fn', string>;

  withTestWal(async (started) => {
    wal = started;
    const store = new SsmNamespaceConfigStore(
      wal.clients.ssm,
      namespaceParameterPrefix('it'),
      0,
      silentLogger,
    );
    const config = await store.get('sinkfeeds');
    const resourceOf = (name: string) => {
      const target = config.targets.find((candidate) => candidate.name === name);
      const resource = target && targetResource(target);
      if (!resource) throw new Error(`sinkfeeds has no resource for target ${name}`);
      return resource;
    };
    resources = {
      topic: resourceOf('topic'),
      fifoTopic: resourceOf('fifoTopic'),
      bus: resourceOf('bus'),
      fn: resourceOf('fn'),
    };
  });

  const receivedFor = (resource: string, id: unknown): SinkRecord[] =>
    wal.emulators.sinks.received(resource).filter((record) => (record.message as { id?: unknown }).id === id);

  async function post(key: string): Promise<{ id: string; sequence: string }> {
    const answer = await postMutation(wal, 'sinkfeeds', { payload: { key, n: 1 }, partitionKey: key });
    expect(answer.status).toBe(200);
    return { id: String(answer.body.id), sequence: String(answer.body.sequence) };
  }

  /** The DLQ's letters for mutation `id` (left on the queue, visible again after the test's timeout). */
  async function deadLetters(id: string): Promise<QueueMessage[]> {
    const answer = await wal.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl(wal, 'DeadLetterQueue'),
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
      }),
    );
    return (answer.Messages ?? [])
      .map((message) => JSON.parse(message.Body ?? '{}') as QueueMessage)
      .filter((message) => message.kind === 'retry' && message.mutation.envelope.id === id);
  }

  it('provisions ARNs the sinks accept: a topic, a FIFO topic and a bus of the local account', () => {
    // THEN the parameter names them by ARN in the local account and region
    expect(resources.topic).toMatch(/^arn:aws:sns:us-east-1:000000000000:[A-Za-z0-9_-]+$/);
    expect(resources.fifoTopic).toMatch(/^arn:aws:sns:us-east-1:000000000000:[A-Za-z0-9_-]+\.fifo$/);
    expect(resources.bus).toMatch(/^arn:aws:events:us-east-1:000000000000:event-bus\/.+$/);
  });

  it('delivers a mutation to every target with its envelope; FIFO with the key as group and the id as dedup id', async () => {
    // WHEN a mutation is posted and the event sources drain
    const { id, sequence } = await post('order-1');
    await drain(wal);
    // THEN each resource received the envelope once
    const envelope = {
      walEnvelope: 1,
      id,
      namespace: 'sinkfeeds',
      configVersion: 3,
      partitionKey: 'order-1',
      sequence,
      order: expect.stringMatching(/^\d+#\d+$/),
      op: 'put',
      payload: { key: 'order-1', n: 1 },
    };
    for (const [target, resource] of Object.entries(resources)) {
      const received = receivedFor(resource, id);
      expect(received).toHaveLength(1);
      expect(received[0]?.message).toEqual(expect.objectContaining({ ...envelope, target }));
    }
    expect(receivedFor(resources.fifoTopic, id)[0]?.attributes).toEqual({
      MessageGroupId: 'order-1',
      MessageDeduplicationId: id,
    });
    expect(receivedFor(resources.topic, id)[0]?.attributes).toEqual({});
    expect(receivedFor(resources.bus, id)[0]?.attributes).toEqual({
      Source: 'com.example.sinkfeeds',
      DetailType: 'SinkFeedChanged',
    });
  });

  it('retries transient failures (a 500, an entry InternalFailure, a function error) until applied', async () => {
    // GIVEN the next call of the standard topic, the bus and the function fails transiently
    wal.emulators.sinks.failNext(resources.topic, 1, 'transient');
    wal.emulators.sinks.failNext(resources.bus, 1, 'transient');
    wal.emulators.sinks.failNext(resources.fn, 1, 'transient');
    // WHEN a mutation is posted
    const { id } = await post('order-2');
    await drain(wal);
    // THEN the bus and the function have nothing yet; after the retry's backoff, every target has it once
    expect(receivedFor(resources.bus, id)).toHaveLength(0);
    expect(receivedFor(resources.fn, id)).toHaveLength(0);
    await driveUntil(
      wal,
      async () =>
        (receivedFor(resources.bus, id).length > 0 && receivedFor(resources.fn, id).length > 0) || undefined,
      20_000,
    );
    for (const resource of Object.values(resources)) expect(receivedFor(resource, id)).toHaveLength(1);
    expect(wal.emulators.sinks.failedCalls(resources.bus)).toBe(1);
    expect(wal.emulators.sinks.failedCalls(resources.fn)).toBe(1);
    expect(wal.emulators.sinks.failedCalls(resources.topic)).toBe(1);
  }, 30_000);

  it('sends permanent failures to the DLQ at once with their reasons: SNS NotFound, a PermanentError', async () => {
    // GIVEN the FIFO topic answers NotFound and the function throws PermanentError, once each
    wal.emulators.sinks.failNext(resources.fifoTopic, 1, 'permanent');
    wal.emulators.sinks.failNext(resources.fn, 1, 'permanent');
    // WHEN a mutation is posted
    const { id } = await post('order-3');
    await drain(wal);
    // THEN both targets' deliveries are on the DLQ after one attempt, with the reason; the others applied
    const letters = await driveUntil(
      wal,
      async () => {
        const found = await deadLetters(id);
        return found.length >= 2 ? found : undefined;
      },
      10_000,
    );
    const byTarget = Object.fromEntries(
      letters.map((letter) => [letter.kind === 'retry' ? letter.target : '', letter]),
    );
    expect(byTarget.fifoTopic).toMatchObject({
      attempt: 1,
      reason: expect.stringContaining('rejected by the target'),
    });
    expect(byTarget.fn).toMatchObject({ attempt: 1, reason: expect.stringContaining('PermanentError') });
    expect(receivedFor(resources.fifoTopic, id)).toHaveLength(0);
    expect(receivedFor(resources.fn, id)).toHaveLength(0);
    expect(receivedFor(resources.topic, id)).toHaveLength(1);
    expect(receivedFor(resources.bus, id)).toHaveLength(1);
  }, 20_000);
});

import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { verifyWebhook } from '#lambdas/shared/targets/webhook-signature';
import type { LocalWal } from '#src/local/runtime/local-wal';
import { driveUntil, postMutation, queueUrl, withTestWal } from '#test/support/local-wal-harness';
import { receiveWebhooksFor, type WebhookReceiver } from '#test/support/webhook-receiver';

/**
 * The http target through the local runtime (stage `it`, namespace `webhooks`: one target, 1 s timeout,
 * 3 attempts without backoff), against a real receiver on 127.0.0.1 that verifies every signature.
 * The receiver's port is known only once it listens, so the test writes the URL into the namespace's
 * parameter (as `wal ns set` would) before any mutation is posted; the fixture holds an https:// placeholder,
 * which the `it` stage's synth accepts.
 */
const SECRET = 'whsec_aW50ZWdyYXRpb24tdGVzdC1zaWduaW5nLXNlY3JldA==';
const WRONG_SECRET = 'whsec_c29tZW9uZS1lbHNlcy1zaWduaW5nLXNlY3JldA==';
const SECRET_PARAMETER = '/wal/it/webhook-secrets/receiver';

describe('http target (local runtime, real receiver)', () => {
  let wal: LocalWal;
  let receiver: WebhookReceiver;

  withTestWal(
    async (started) => {
      wal = started;
      receiver = await receiveWebhooksFor(
        wal,
        'webhooks',
        { parameter: SECRET_PARAMETER, value: SECRET },
        3_000,
      );
    },
    // The `it` stage is not local: its consumers may POST to http://127.0.0.1 only because the test says so.
    { WAL_ALLOW_HTTP_TARGETS: 'true' },
  );
  afterAll(() => receiver?.close());

  /** Posts a mutation whose payload scripts the receiver's answers; returns its id. */
  async function post(respond: unknown[], partitionKey: string): Promise<string> {
    const answer = await postMutation(wal, 'webhooks', { payload: { respond }, partitionKey });
    expect(answer.status).toBe(200);
    return String(answer.body.id);
  }

  /** Drives the WAL until the receiver has `count` deliveries of `id`. */
  function deliveriesOf(id: string, count: number) {
    return driveUntil(
      wal,
      async () => {
        const deliveries = receiver.deliveriesOf(id);
        return deliveries.length >= count ? deliveries : undefined;
      },
      20_000,
    );
  }

  it('POSTs the envelope with Idempotency-Key and a Standard Webhooks signature that verifies', async () => {
    // GIVEN a mutation the receiver accepts
    const id = await post([200], 'order-1');
    // WHEN the WAL delivers it
    const [delivery] = await deliveriesOf(id, 1);
    // THEN the body is the envelope, the headers carry the id, and the signature verifies
    expect(JSON.parse(delivery?.body ?? '')).toMatchObject({
      walEnvelope: 1,
      id,
      namespace: 'webhooks',
      target: 'receiver',
      configVersion: 1,
      partitionKey: 'order-1',
      op: 'put',
      sequence: expect.stringMatching(/^\d+$/),
      order: expect.any(String),
      payload: { respond: [200] },
    });
    expect(delivery?.headers['content-type']).toBe('application/json');
    expect(delivery?.headers['idempotency-key']).toBe(id);
    expect(delivery?.answer).toBe(200);
    expect(verifyWebhook(SECRET, delivery?.headers ?? {}, delivery?.body ?? '')).toBe(id);
  });

  it('fails if the receiver checks the signature with another secret', async () => {
    // GIVEN a delivered mutation
    const id = await post([200], 'order-2');
    const [delivery] = await deliveriesOf(id, 1);
    // WHEN a receiver holding another secret verifies it, THEN it refuses the request
    expect(() => verifyWebhook(WRONG_SECRET, delivery?.headers ?? {}, delivery?.body ?? '')).toThrow(
      'no v1 signature matches the secret',
    );
  });

  it('retries a 500 and applies the mutation when the receiver answers 200, with the same Idempotency-Key', async () => {
    // GIVEN a receiver that answers 500 once, then 200
    const id = await post([500, 200], 'order-3');
    // WHEN the WAL delivers and retries
    const deliveries = await deliveriesOf(id, 2);
    // THEN two attempts of the same mutation, the second accepted
    expect(deliveries.map((delivery) => delivery.answer)).toEqual([500, 200]);
    expect(deliveries.map((delivery) => delivery.headers['idempotency-key'])).toEqual([id, id]);
    expect(deliveries.every((delivery) => delivery.verified)).toBe(true);
    expect(await deadLetterOf(wal, id)).toBeUndefined();
  });

  it('retries a delivery that timed out', async () => {
    // GIVEN a receiver that holds the first request for 3 s (the target's timeout is 1 s), then answers 200
    const id = await post(['hang', 200], 'order-4');
    // WHEN
    const deliveries = await deliveriesOf(id, 2);
    // THEN
    expect(deliveries.map((delivery) => delivery.answer)).toEqual(['hang', 200]);
    expect(await deadLetterOf(wal, id)).toBeUndefined();
  });

  it("sends a 400 to the DLQ at once, with the status and the receiver's words as the reason", async () => {
    // GIVEN a receiver that refuses the mutation
    const id = await post([400], 'order-5');
    // WHEN
    const letter = await driveUntil(wal, () => deadLetterOf(wal, id), 20_000);
    // THEN one attempt, and the DLQ message says why
    expect(receiver.deliveriesOf(id)).toHaveLength(1);
    expect(letter).toMatchObject({
      kind: 'retry',
      target: 'receiver',
      attempt: 1,
      reason: expect.stringContaining(`answered 400: receiver says 400 for mutation ${id}`),
    });
    expect(JSON.stringify(letter)).not.toContain(SECRET);
  });
});

/** The DLQ message of a mutation, if there is one (read with a short visibility, so it stays there). */
async function deadLetterOf(wal: LocalWal, id: string): Promise<Record<string, unknown> | undefined> {
  const answer = await wal.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl(wal, 'DeadLetterQueue'),
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 1,
    }),
  );
  return (answer.Messages ?? [])
    .map(
      (message) =>
        JSON.parse(message.Body ?? '{}') as Record<string, unknown> & {
          mutation?: { envelope?: { id?: string } };
        },
    )
    .find((message) => message.mutation?.envelope?.id === id);
}

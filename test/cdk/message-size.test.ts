import type { Template } from 'aws-cdk-lib/assertions';
import { envelopeSchema } from '#lambdas/shared/envelope';
import {
  ERROR_TEXT_MAX_BYTES,
  maxEnvelopeBytes,
  maxQueueMessageBytes,
  maxRetryMessageBytes,
  SEQUENCE_MAX_DIGITS,
  withBoundedErrorTexts,
} from '#lambdas/shared/message-budget';
import { MAX_MUTATION_ITEMS } from '#lambdas/shared/mutation-request';
import { MAX_PAYLOAD_BYTES } from '#lambdas/shared/namespace-config';
import type { StreamRecordMessage } from '#lambdas/shared/queue-message';
import { poisonMessageSchema, retryMessageSchema } from '#lambdas/shared/queue-message';
import { QUEUE_MAX_MESSAGE_BYTES } from '#lib/wal-queues';
import type { WalStack } from '#lib/wal-stack';
import { logicalIdOf, ORDERS_NAMESPACE, synthesizeOnce } from './fixtures';

/** SQS's default MaximumMessageSize: what a queue takes when the stack does not set it. */
const SQS_DEFAULT_MAX_MESSAGE_BYTES = 262_144;
/** Kinesis PutRecord: data blob plus partition key at most 1 MiB. */
const KINESIS_MAX_RECORD_BYTES = 1_048_576;
/** An SQS event source invokes the function synchronously: 6 MB of event at most. */
const LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** What the event adds per record besides the body: ids, receipt handle, attributes, ARN. */
const SQS_EVENT_RECORD_OVERHEAD_BYTES = 2 * 1024;

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');
/** A JSON string of `count` control characters: 6 bytes each once escaped (`\u0001`). */
const escaped = (count: number): string => '\u0001'.repeat(count);

/**
 * The largest envelope a namespace with `maxBytes` accepts: the client's data fills maxBytes exactly
 * as ingest counts it, and every other field is at its longest and most escaped.
 */
function largestEnvelope(maxBytes: number) {
  // `{"payload":"<n escaped chars>"}` is 14 + 6n bytes: what ingest's validatePayload measures.
  const payload = escaped(Math.floor((maxBytes - 14) / 6));
  expect(bytes({ payload })).toBeLessThanOrEqual(maxBytes);
  expect(bytes({ payload })).toBeGreaterThan(maxBytes - 6);
  return envelopeSchema.parse({
    v: 1,
    id: '01JZZZZZZZZZZZZZZZZZZZZZZZ',
    namespace: 'n'.repeat(63),
    idempotencyKey: '"'.repeat(255),
    // The default partition key: a 2048-byte partition key value, "#", a 1024-byte sort key value.
    partitionKey: `${escaped(2048)}#${escaped(1024)}`,
    op: 'put',
    payload,
    // Target names fill a 4 KB SSM parameter at most.
    targets: Array.from({ length: 64 }, (_, index) => `${'t'.repeat(60)}${String(index).padStart(3, '0')}`),
    loggedAt: 9_999_999_999_999,
    deliverAt: 9_999_999_999_999,
    origin: 'ap-southeast-5',
  });
}

/** The largest retry message whose payload is all quotes: 2 bytes each in it, 4 in a Lambda event. */
function largestQuotedRetryMessage(maxBytes: number) {
  const message = largestRetryMessage(maxBytes);
  const quotes = '"'.repeat(Math.floor((maxBytes - 14) / 2));
  expect(bytes({ payload: quotes })).toBeLessThanOrEqual(maxBytes);
  return {
    ...message,
    mutation: { ...message.mutation, envelope: { ...message.mutation.envelope, payload: quotes } },
  };
}

function largestRetryMessage(maxBytes: number) {
  const errorText = escaped(Math.floor(ERROR_TEXT_MAX_BYTES / 6) - 1);
  // A multi-item delivery's state for 100 items: the largest error text each after it is cut to its share.
  const itemErrors = Array.from({ length: MAX_MUTATION_ITEMS }, (_, index) => ({
    index: index + 1_000_000,
    error: errorText.repeat(4),
  }));
  const { itemErrors: bounded } = withBoundedErrorTexts({ itemErrors });
  return retryMessageSchema.parse({
    itemsDone: Array.from({ length: MAX_MUTATION_ITEMS }, (_, index) => index + 1_000_000),
    itemErrors: bounded,
    kind: 'retry',
    mutation: { envelope: largestEnvelope(maxBytes), sequence: '9'.repeat(SEQUENCE_MAX_DIGITS) },
    target: 't'.repeat(63),
    attempt: 1000,
    lastError: errorText,
    firstFailedAt: 9_999_999_999_999,
    notBefore: 9_999_999_999_999,
    reason: errorText,
  });
}

let stack: WalStack;
let template: Template;

synthesizeOnce(
  { 'orders.json': { ...ORDERS_NAMESPACE, payload: { maxBytes: MAX_PAYLOAD_BYTES } } },
  (synthesized) => {
    ({ stack, template } = synthesized);
  },
);

function maximumMessageSizeOf(queue: Parameters<typeof logicalIdOf>[0]): number {
  const resource = template.toJSON().Resources[logicalIdOf(queue)];
  return resource.Properties.MaximumMessageSize;
}

describe('SQS maximum message size', () => {
  test('every queue sets it explicitly to 1 MiB (the SQS maximum since 2025)', () => {
    // THEN
    template.resourceCountIs('AWS::SQS::Queue', 4);
    template.allResourcesProperties('AWS::SQS::Queue', { MaximumMessageSize: 1_048_576 });
    expect(QUEUE_MAX_MESSAGE_BYTES).toBe(1_048_576);
  });

  test('the budget for the largest payload fits it, and would not fit the 256 KiB default', () => {
    // GIVEN the largest payload a namespace may allow
    // WHEN the largest message of any kind is computed
    const largest = maxQueueMessageBytes(MAX_PAYLOAD_BYTES);
    // THEN it fits the queues' setting, but not what SQS gives a queue that does not set it
    expect(largest).toBeLessThanOrEqual(QUEUE_MAX_MESSAGE_BYTES);
    expect(largest).toBeGreaterThan(SQS_DEFAULT_MAX_MESSAGE_BYTES);
  });
});

describe('the largest messages the WAL sends fit their queue', () => {
  test('the largest envelope stays within its budget and fits a Kinesis record', () => {
    // WHEN
    const envelope = largestEnvelope(MAX_PAYLOAD_BYTES);
    // THEN
    expect(bytes(envelope)).toBeLessThanOrEqual(maxEnvelopeBytes(MAX_PAYLOAD_BYTES));
    expect(bytes(envelope) + 256).toBeLessThanOrEqual(KINESIS_MAX_RECORD_BYTES);
  });

  test.each(
    // GIVEN each queue a delay/retry message may be sent to
    ['delayQueue', 'retryQueue', 'deadLetterQueue'] as const,
  )('a delay/retry message with a reason (the DLQ shape) fits the %s', (queue) => {
    // WHEN
    const message = largestRetryMessage(MAX_PAYLOAD_BYTES);
    // THEN
    expect(bytes(message)).toBeLessThanOrEqual(maxRetryMessageBytes(MAX_PAYLOAD_BYTES));
    expect(bytes(message)).toBeLessThanOrEqual(maximumMessageSizeOf(stack.queues[queue]));
  });

  test('a poison message holding the largest queue message as base64 fits the DLQ', () => {
    // GIVEN the raw bytes of the largest queue message, which a consumer could not parse
    const raw = JSON.stringify(largestRetryMessage(MAX_PAYLOAD_BYTES));
    // WHEN it is dead-lettered as poison
    const poison = poisonMessageSchema.parse({
      kind: 'poison',
      reason: 'the message is not a WAL queue message (redriven, still not routable)',
      data: Buffer.from(raw).toString('base64'),
      source: `arn:aws:sqs:ap-southeast-5:123456789012:${'q'.repeat(80)} message 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`,
      namespace: 'n'.repeat(63),
      id: '01JZZZZZZZZZZZZZZZZZZZZZZZ',
    });
    // THEN
    expect(bytes(poison)).toBeLessThanOrEqual(maxQueueMessageBytes(MAX_PAYLOAD_BYTES));
    expect(bytes(poison)).toBeLessThanOrEqual(maximumMessageSizeOf(stack.queues.deadLetterQueue));
  });

  test('a stream-record message (one whole stream record, base64) fits the retry queue and the DLQ', () => {
    // GIVEN the largest record on the stream: the largest envelope
    const record = JSON.stringify(largestEnvelope(MAX_PAYLOAD_BYTES));
    // WHEN it is copied off the stream whole (to the retry queue; moved as it is to the DLQ)
    const message: StreamRecordMessage = {
      kind: 'stream-record',
      streamArn: `arn:aws:kinesis:ap-southeast-5:123456789012:stream/${'s'.repeat(128)}`,
      shardId: `shardId-${'0'.repeat(12)}`,
      sequenceNumber: '9'.repeat(SEQUENCE_MAX_DIGITS),
      partitionKey: 'p'.repeat(256),
      data: Buffer.from(record).toString('base64'),
      approximateArrivalTimestamp: 1_800_000_000.123,
      reason: `the record failed every retry of the stream mapping and then its re-read: ${'x'.repeat(8192)}`,
    };
    // THEN
    expect(bytes(message)).toBeLessThanOrEqual(maxQueueMessageBytes(MAX_PAYLOAD_BYTES));
    expect(bytes(message)).toBeLessThanOrEqual(maximumMessageSizeOf(stack.queues.retryQueue));
    expect(bytes(message)).toBeLessThanOrEqual(maximumMessageSizeOf(stack.queues.deadLetterQueue));
  });
});

describe('Lambda SQS event source', () => {
  test('a batch of 10 of the largest messages, escaped as event bodies, fits the 6 MB invoke payload', () => {
    // GIVEN the message that grows most when the event JSON-escapes it as a string body
    const body = JSON.stringify(largestQuotedRetryMessage(MAX_PAYLOAD_BYTES));
    // WHEN ten of them form one event (the queue consumer's batch size)
    const eventBytes = 10 * (bytes(body) + SQS_EVENT_RECORD_OVERHEAD_BYTES);
    // THEN
    expect(eventBytes).toBeLessThanOrEqual(LAMBDA_SYNC_PAYLOAD_BYTES);
    const sqsMappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).filter(
      (mapping) => mapping.Properties.StartingPosition === undefined,
    );
    expect(sqsMappings.map((mapping) => mapping.Properties.BatchSize)).toEqual([10, 10, 10]);
  });
});

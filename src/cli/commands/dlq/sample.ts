import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { SqsCallError } from './errors';

/** How long sampled messages stay hidden if the CLI dies before it makes them visible again. */
export const SAMPLE_VISIBILITY_SECONDS = 30;
// SQS batch calls take at most 10 entries.
const BATCH = 10;

export interface QueueDepth {
  /** ApproximateNumberOfMessages. */
  readonly visible: number;
  /** ApproximateNumberOfMessagesNotVisible: received by someone and not deleted yet. */
  readonly inFlight: number;
}

export interface SampledMessage {
  readonly messageId: string;
  readonly body: string;
  /** System attributes (SentTimestamp, ApproximateReceiveCount, DeadLetterQueueSourceArn, ...). */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface Sample {
  readonly depth: QueueDepth;
  readonly messages: readonly SampledMessage[];
  /** Messages that could not be made visible again: they reappear when their visibility timeout ends. */
  readonly stillHidden: number;
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  try {
    const answer = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      visible: Number(answer.Attributes?.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(answer.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  } catch (error) {
    throw new SqsCallError('GetQueueAttributes', queueUrl, { cause: error });
  }
}

/**
 * Reads up to `limit` messages without consuming them: each is received with a short visibility
 * timeout and made visible again at once (ChangeMessageVisibilityBatch, timeout 0), also when reading
 * fails half way. Nothing is deleted; each message's receive count goes up by one or two.
 */
export async function sampleMessages(sqs: SQSClient, queueUrl: string, limit: number): Promise<Sample> {
  const depth = await queueDepth(sqs, queueUrl);
  const messages = new Map<string, SampledMessage>();
  const receiptHandles: string[] = [];
  let stillHidden = 0;
  try {
    // Ask for what is there, no more: long polling then returns as soon as the batch is full.
    const expected = Math.min(limit, depth.visible);
    while (messages.size < expected) {
      const answer = await receive(sqs, queueUrl, Math.min(BATCH, expected - messages.size));
      if (answer.length === 0) break;
      for (const message of answer) {
        if (message.ReceiptHandle) receiptHandles.push(message.ReceiptHandle);
        const messageId = message.MessageId ?? message.ReceiptHandle ?? String(messages.size);
        messages.set(messageId, {
          messageId,
          body: message.Body ?? '',
          attributes: message.Attributes ?? {},
        });
      }
    }
  } finally {
    stillHidden = await makeVisible(sqs, queueUrl, receiptHandles);
  }
  return { depth, messages: [...messages.values()], stillHidden };
}

async function receive(sqs: SQSClient, queueUrl: string, max: number) {
  try {
    const answer = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: max,
        VisibilityTimeout: SAMPLE_VISIBILITY_SECONDS,
        WaitTimeSeconds: 1,
        // The legacy field: local-aws-sqs ignores MessageSystemAttributeNames; SQS honours both.
        AttributeNames: ['All'],
      }),
    );
    return answer.Messages ?? [];
  } catch (error) {
    throw new SqsCallError('ReceiveMessage', queueUrl, { cause: error });
  }
}

/** Returns how many messages stay hidden (their timeout makes them visible again anyway). */
async function makeVisible(
  sqs: SQSClient,
  queueUrl: string,
  receiptHandles: readonly string[],
): Promise<number> {
  let failed = 0;
  for (let start = 0; start < receiptHandles.length; start += BATCH) {
    const chunk = receiptHandles.slice(start, start + BATCH);
    try {
      const answer = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((receiptHandle, index) => ({
            Id: String(index),
            ReceiptHandle: receiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
      failed += answer.Failed?.length ?? 0;
    } catch {
      failed += chunk.length;
    }
  }
  return failed;
}

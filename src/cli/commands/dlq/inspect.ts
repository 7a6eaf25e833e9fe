import type { SQSClient } from '@aws-sdk/client-sqs';
import { type DeadLetter, describeDeadLetter } from './describe';
import { type QueueDepth, sampleMessages } from './sample';

/** How many messages `listDeadLetters` reads at most to group reasons. */
const LIST_SAMPLE_LIMIT = 1000;

export interface ReasonCount {
  readonly reason: string;
  readonly count: number;
}

export interface DeadLetterSummary {
  /** ApproximateNumberOfMessages + ApproximateNumberOfMessagesNotVisible. */
  readonly count: number;
  readonly depth: QueueDepth;
  /** Messages read for the reasons and the oldest age. */
  readonly sampled: number;
  /** True when fewer messages were read than the queue holds: reasons and age cover the sample only. */
  readonly partial: boolean;
  /** SentTimestamp of the oldest message read, epoch ms. */
  readonly oldestSentAt?: number;
  /** Most frequent first. */
  readonly reasons: readonly ReasonCount[];
  /** Read messages that could not be made visible again at once (they will be after 30 s). */
  readonly stillHidden: number;
}

/** Count, oldest message and reasons of a DLQ, from up to `limit` messages; nothing is consumed. */
export async function listDeadLetters(
  sqs: SQSClient,
  queueUrl: string,
  options: { limit?: number } = {},
): Promise<DeadLetterSummary> {
  const sample = await sampleMessages(sqs, queueUrl, options.limit ?? LIST_SAMPLE_LIMIT);
  const letters = sample.messages.map(describeDeadLetter);
  const counts = new Map<string, number>();
  for (const letter of letters) counts.set(letter.reason, (counts.get(letter.reason) ?? 0) + 1);
  const reasons = [...counts]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  const sentTimes = letters.flatMap((letter) => (letter.sentAt === undefined ? [] : [letter.sentAt]));
  const count = sample.depth.visible + sample.depth.inFlight;
  return {
    count,
    depth: sample.depth,
    sampled: letters.length,
    partial: letters.length < count,
    ...(sentTimes.length > 0 ? { oldestSentAt: Math.min(...sentTimes) } : {}),
    reasons,
    stillHidden: sample.stillHidden,
  };
}

export interface DeadLetterPeek {
  readonly count: number;
  /** Oldest first. */
  readonly messages: readonly DeadLetter[];
  readonly stillHidden: number;
}

/** Up to `n` DLQ messages, described; they stay on the queue and are visible again afterwards. */
export async function peekDeadLetters(sqs: SQSClient, queueUrl: string, n: number): Promise<DeadLetterPeek> {
  const sample = await sampleMessages(sqs, queueUrl, n);
  const messages = sample.messages
    .map(describeDeadLetter)
    .sort((a, b) => (a.sentAt ?? 0) - (b.sentAt ?? 0) || a.messageId.localeCompare(b.messageId));
  return {
    count: sample.depth.visible + sample.depth.inFlight,
    messages,
    stillHidden: sample.stillHidden,
  };
}

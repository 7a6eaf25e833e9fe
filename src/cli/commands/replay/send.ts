import {
  type BatchResultErrorEntry,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { chunkBySize } from '#lambdas/shared/chunks';
import type { DeliverMessage } from '#lambdas/shared/queue-message';
import { sqsDelaySeconds } from '#lambdas/shared/queue-send';
import { ReplaySendError } from './errors';
import type { ReplayMutation } from './select';

/** SendMessageBatch: at most 10 entries and 1 MiB of bodies per call. */
const BATCH_ENTRIES = 10;
const BATCH_BYTES = 1_048_576;
/** Waits before sending again the entries SQS failed for now. */
const RESEND_DELAYS_MS = [200, 1_000, 3_000];

export interface Sender {
  readonly sqs: SQSClient;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

/**
 * Consecutive mutations for one queue, sent together: at most `maxMessages` messages (a mutation with more
 * targets than that goes alone) and SendMessageBatch's bytes. Each group ends on a whole mutation, so the
 * checkpoint can move after it.
 */
export function sendGroups(mutations: readonly ReplayMutation[], maxMessages: number): ReplayMutation[][] {
  const groups: ReplayMutation[][] = [];
  let current: ReplayMutation[] = [];
  let count = 0;
  let bytes = 0;
  for (const mutation of mutations) {
    const size = mutation.messages.reduce((sum, message) => sum + bodyOf(message).length, 0);
    const [first] = current;
    const fits =
      first !== undefined &&
      first.queueUrl === mutation.queueUrl &&
      count + mutation.messages.length <= maxMessages &&
      bytes + size <= BATCH_BYTES;
    if (first !== undefined && !fits) {
      groups.push(current);
      current = [];
      count = 0;
      bytes = 0;
    }
    current.push(mutation);
    count += mutation.messages.length;
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Sends a group's deliver messages to its queue; throws ReplaySendError if SQS keeps refusing some. */
export async function sendGroup(sender: Sender, group: readonly ReplayMutation[]): Promise<number> {
  const [first] = group;
  if (!first) return 0;
  const messages = group.flatMap((mutation) => mutation.messages);
  for (const batch of chunkBySize(messages, (message) => Buffer.byteLength(bodyOf(message)), {
    maxCount: BATCH_ENTRIES,
    maxBytes: BATCH_BYTES,
  })) {
    await sendBatch(sender, first.queueUrl, batch);
  }
  return messages.length;
}

async function sendBatch(sender: Sender, queueUrl: string, batch: readonly DeliverMessage[]): Promise<void> {
  let pending = batch;
  for (let attempt = 0; ; attempt++) {
    const failed = await trySend(sender, queueUrl, pending);
    if (failed.length === 0) return;
    const permanent = failed.find((entry) => entry.SenderFault);
    const delay = RESEND_DELAYS_MS[attempt];
    if (permanent || delay === undefined) {
      const detail = (permanent ?? failed[0]) as BatchResultErrorEntry;
      throw new ReplaySendError(queueUrl, failed.length, `${detail.Code}: ${detail.Message ?? 'no message'}`);
    }
    await sender.sleep(delay);
    pending = failed.map((entry) => pending[Number(entry.Id)]).filter((message) => message !== undefined);
  }
}

async function trySend(
  sender: Sender,
  queueUrl: string,
  batch: readonly DeliverMessage[],
): Promise<BatchResultErrorEntry[]> {
  const now = sender.now();
  const entries: SendMessageBatchRequestEntry[] = batch.map((message, index) => ({
    Id: String(index),
    MessageBody: bodyOf(message),
    // Up to SQS's 900 s; a mutation due later hops on its namespace's delay queue from the consumer.
    DelaySeconds: sqsDelaySeconds(message.notBefore, now),
  }));
  try {
    const answer = await sender.sqs.send(
      new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
    );
    return answer.Failed ?? [];
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ReplaySendError(queueUrl, batch.length, reason, { cause: error });
  }
}

function bodyOf(message: DeliverMessage): string {
  return JSON.stringify(message);
}

/** Paces the replay at `rate` mutations per second: each take waits until its mutations' turn. */
export class Pacer {
  private nextAt: number | undefined;

  constructor(
    private readonly rate: number | undefined,
    private readonly now: () => number,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {}

  async take(mutations: number): Promise<void> {
    if (this.rate === undefined) return;
    const now = this.now();
    const at = Math.max(now, this.nextAt ?? now);
    if (at > now) await this.sleep(at - now);
    this.nextAt = at + (mutations * 1000) / this.rate;
  }
}

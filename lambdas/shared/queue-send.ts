import type { Logger } from '@aws-lambda-powertools/logger';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { withBoundedErrorTexts } from './message-budget';
import type { PoisonMessage, QueueMessage, RetryMessage } from './queue-message';
import { belongsInWaitingRoom, putWaitingItem, type WaitingRoom } from './waiting-room';
import { MAX_SQS_DELAY_SECONDS } from './waiting-room-schema';

/**
 * What sending a WAL message to a queue needs. Apart from delivery, so the waiting room poller can dead-letter
 * without bundling the targets.
 */
export interface QueueSender {
  readonly sqs: SQSClient;
  readonly waitingRoom: WaitingRoom;
  readonly logger: Logger;
  readonly now: () => number;
}

/** A sender that also knows the DLQ. */
export interface DeadLetterSender extends QueueSender {
  readonly queues: { readonly deadLetter: string };
}

/** Puts a message on the DLQ with its reason. */
export async function deadLetter(
  deps: DeadLetterSender,
  message: RetryMessage | PoisonMessage,
): Promise<void> {
  await sendToQueue(deps, deps.queues.deadLetter, message, 0);
  deps.logger.error('Dead-lettered', {
    reason: message.reason,
    ...(message.kind === 'retry'
      ? {
          namespace: message.mutation.envelope.namespace,
          id: message.mutation.envelope.id,
          target: message.target,
          attempts: message.attempt,
          lastError: message.lastError,
        }
      : { source: message.source, namespace: message.namespace, id: message.id }),
  });
}

/**
 * Sends a message to wait until `dueAt` (epoch ms). Up to SQS's 900 s, the queue delays it; a longer wait goes to the
 * waiting room, whose poller sends it to `queueUrl` when it is due within SQS's reach. A message too large for the
 * room waits 900 s and the queue consumer hops the rest.
 */
export async function sendToQueue(
  deps: QueueSender,
  queueUrl: string,
  message: QueueMessage,
  dueAt: number,
): Promise<void> {
  // Error texts are cut to their budget: the largest message then fits 1 MiB (message-budget.ts).
  const body = JSON.stringify(withBoundedErrorTexts(message));
  if (belongsInWaitingRoom(dueAt - deps.now(), body)) {
    const item = await putWaitingItem(deps.waitingRoom, queueUrl, body, dueAt);
    deps.logger.debug('Message put in the waiting room', { pk: item.pk, sk: item.sk });
    return;
  }
  const delaySeconds = sqsDelaySeconds(dueAt, deps.now());
  await deps.sqs.send(
    new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, DelaySeconds: delaySeconds }),
  );
}

/** The rest of a wait until `dueAt`, in whole seconds rounded up (never early), within what SQS accepts. */
export function sqsDelaySeconds(dueAt: number, now: number): number {
  return Math.min(Math.max(Math.ceil((dueAt - now) / 1000), 0), MAX_SQS_DELAY_SECONDS);
}

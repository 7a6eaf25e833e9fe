import { GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { ReceivedFifoMessage } from './fifo-check';

/** The namespace's SQS FIFO target, read from its parameter as an operator would: its name and queue URL. */
export async function fifoTargetOf(
  ssm: SSMClient,
  parameterName: string,
): Promise<{ name: string; queueUrl: string } | undefined> {
  const answer = await ssm.send(new GetParameterCommand({ Name: parameterName }));
  const config = JSON.parse(answer.Parameter?.Value ?? '{}') as { targets?: Record<string, unknown>[] };
  const target = (config.targets ?? []).find(
    (candidate) => candidate.type === 'sqs' && String(candidate.queueUrl ?? '').endsWith('.fifo'),
  );
  return target ? { name: String(target.name), queueUrl: String(target.queueUrl) } : undefined;
}

/**
 * Everything on the FIFO queue, as a receiver sees it. Messages are left on the queue (hidden for the read):
 * the local SQS deduplicates only against messages it still holds, so deleting them would let a late
 * duplicate in that AWS's 5-minute window would drop.
 */
export async function receiveAll(sqs: SQSClient, queueUrl: string): Promise<ReceivedFifoMessage[]> {
  const messages: ReceivedFifoMessage[] = [];
  for (;;) {
    const answer = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 600,
        WaitTimeSeconds: 1,
        // The local SQS returns system attributes (dedup and group ids) only for 'All'.
        AttributeNames: ['All'],
      }),
    );
    const page = answer.Messages ?? [];
    // An empty answer is not an empty queue: the local SQS may answer before it looked (a loaded machine).
    if (page.length === 0 && (await visibleMessages(sqs, queueUrl)) === 0) return messages;
    for (const message of page) {
      messages.push({
        id: envelopeId(message.Body),
        deduplicationId: message.Attributes?.MessageDeduplicationId,
        groupId: message.Attributes?.MessageGroupId,
      });
    }
  }
}

/**
 * Messages a receive could still hand out. The local SQS counts in-flight messages in
 * ApproximateNumberOfMessages (AWS does not), so the in-flight ones are taken off; the chaos runs locally only.
 */
async function visibleMessages(sqs: SQSClient, queueUrl: string): Promise<number> {
  const answer = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  const all = Number(answer.Attributes?.ApproximateNumberOfMessages ?? 0);
  return Math.max(0, all - Number(answer.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0));
}

function envelopeId(body: string | undefined): string | undefined {
  try {
    const value = JSON.parse(body ?? '{}') as { id?: unknown };
    return typeof value.id === 'string' ? value.id : undefined;
  } catch {
    return undefined;
  }
}

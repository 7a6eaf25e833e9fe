import { queueMessageSchema, streamFailureSchema } from '#lambdas/shared/queue-message';
import type { SampledMessage } from './sample';

/** What a DLQ message is: a WAL queue message kind, or a body the WAL did not write. */
export type DeadLetterKind =
  | 'retry'
  | 'poison'
  | 'deliver'
  | 'recheck'
  | 'stream-record'
  | 'stream-failure'
  | 'unrecognized';

/** One DLQ message as an operator reads it. */
export interface DeadLetter {
  readonly messageId: string;
  readonly kind: DeadLetterKind;
  /** Why it is on the DLQ: the WAL's reason, or how it got there without one. */
  readonly reason: string;
  readonly namespace?: string;
  readonly id?: string;
  readonly target?: string;
  /** Failed delivery attempts so far (retry messages). */
  readonly attempts?: number;
  readonly lastError?: string;
  /** Epoch ms the message was sent to the DLQ (SentTimestamp). */
  readonly sentAt?: number;
  /** The queue whose redrive policy moved it here (DeadLetterQueueSourceArn), if any. */
  readonly sourceQueue?: string;
  /** The start of the body (unrecognized) or of the raw record (poison). */
  readonly snippet?: string;
}

export const UNRECOGNIZED_REASON = 'unrecognized: not a message the WAL writes';
const SNIPPET_LENGTH = 160;

/** Reads a DLQ message body (shapes in lambdas/shared/queue-message.ts) into what an operator needs. */
export function describeDeadLetter(message: SampledMessage): DeadLetter {
  const sentAt = Number(message.attributes.SentTimestamp);
  const sourceArn = message.attributes.DeadLetterQueueSourceArn;
  const base = {
    messageId: message.messageId,
    ...(Number.isFinite(sentAt) && sentAt > 0 ? { sentAt } : {}),
    ...(sourceArn ? { sourceQueue: sourceArn.split(':').pop() ?? sourceArn } : {}),
  };
  // A message with no reason did not come from the WAL's give-up path: its consumer kept failing on
  // it and the source queue's redrive policy moved it here as it was.
  const movedByPolicy = `no reason: moved by the ${base.sourceQueue ?? 'source'} queue's redrive policy after its consumer failed repeatedly`;
  const json = parseJson(message.body);
  const parsed = queueMessageSchema.safeParse(json);
  if (!parsed.success) {
    const failure = streamFailureSchema.safeParse(json);
    if (failure.success) {
      const { shardId, startSequenceNumber, endSequenceNumber } = failure.data.KinesisBatchInfo;
      return {
        ...base,
        kind: 'stream-failure',
        reason: movedByPolicy,
        snippet: `stream batch ${shardId} ${startSequenceNumber}..${endSequenceNumber}`,
      };
    }
    return { ...base, kind: 'unrecognized', reason: UNRECOGNIZED_REASON, snippet: snippet(message.body) };
  }
  const letter = parsed.data;
  switch (letter.kind) {
    case 'retry':
      return {
        ...base,
        kind: 'retry',
        reason: letter.reason ?? movedByPolicy,
        namespace: letter.mutation.envelope.namespace,
        id: letter.mutation.envelope.id,
        target: letter.target,
        attempts: letter.attempt,
        lastError: letter.lastError,
      };
    case 'poison':
      return {
        ...base,
        kind: 'poison',
        reason: letter.reason,
        ...(letter.namespace ? { namespace: letter.namespace } : {}),
        ...(letter.id ? { id: letter.id } : {}),
        snippet: snippet(Buffer.from(letter.data, 'base64').toString('utf8')),
      };
    case 'deliver':
      return {
        ...base,
        kind: 'deliver',
        reason: movedByPolicy,
        namespace: letter.mutation.envelope.namespace,
        id: letter.mutation.envelope.id,
        target: letter.target,
      };
    case 'recheck':
      return {
        ...base,
        kind: 'recheck',
        reason: movedByPolicy,
        namespace: letter.mutation.envelope.namespace,
        id: letter.mutation.envelope.id,
      };
    case 'stream-record':
      // A record copied off the stream after every retry failed; the policy moved it after it failed again.
      return {
        ...base,
        kind: 'stream-record',
        reason: `${letter.reason}; then ${movedByPolicy}`,
        snippet: snippet(Buffer.from(letter.data, 'base64').toString('utf8')),
      };
  }
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function snippet(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > SNIPPET_LENGTH ? `${oneLine.slice(0, SNIPPET_LENGTH)}...` : oneLine;
}

import {
  type PoisonMessage,
  type QueueMessage,
  queueMessageSchema,
  type RetryMessage,
  type StreamRecordMessage,
  streamFailureSchema,
} from '#lambdas/shared/queue-message';
import { replayRangeCommand } from '#lambdas/shared/replay-command';
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
  const base = envelopeOf(message);
  const json = parseJson(message.body);
  const parsed = queueMessageSchema.safeParse(json);
  if (!parsed.success) return describeForeign(base, json, message.body);
  return describeQueueMessage(base, parsed.data);
}

/** What every DLQ message has, whatever its body: its id, when it was sent, where it came from. */
type LetterBase = Pick<DeadLetter, 'messageId' | 'sentAt' | 'sourceQueue'>;

/** The message's id and the SQS attributes that say when and from where it reached the DLQ. */
function envelopeOf(message: SampledMessage): LetterBase {
  const sentAt = Number(message.attributes.SentTimestamp);
  const sourceArn = message.attributes.DeadLetterQueueSourceArn;
  return {
    messageId: message.messageId,
    ...(Number.isFinite(sentAt) && sentAt > 0 ? { sentAt } : {}),
    ...(sourceArn ? { sourceQueue: sourceArn.split(':').pop() ?? sourceArn } : {}),
  };
}

/**
 * The reason of a message with none: it did not come from the WAL's give-up path, so its consumer
 * kept failing on it and the source queue's redrive policy moved it here as it was.
 */
function movedByPolicy(base: LetterBase): string {
  return `no reason: moved by the ${base.sourceQueue ?? 'source'} queue's redrive policy after its consumer failed repeatedly`;
}

/** A body that is no WAL queue message: a Kinesis event source's failure record, or something else. */
function describeForeign(base: LetterBase, json: unknown, body: string): DeadLetter {
  const failure = streamFailureSchema.safeParse(json);
  if (!failure.success) {
    return { ...base, kind: 'unrecognized', reason: UNRECOGNIZED_REASON, snippet: snippet(body) };
  }
  const { shardId, startSequenceNumber, endSequenceNumber } = failure.data.KinesisBatchInfo;
  return {
    ...base,
    kind: 'stream-failure',
    // Its re-read kept failing: the range is re-delivered from the stream, while the stream still holds it.
    reason:
      `${movedByPolicy(base)}; re-deliver its range with: ${replayRangeCommand(failure.data.KinesisBatchInfo, undefined)}` +
      ' (plus the --stage and --outputs-file given to "wal dlq"), within the stream\'s retention',
    snippet: `stream batch ${shardId} ${startSequenceNumber}..${endSequenceNumber}`,
  };
}

/** One of the WAL's own queue messages, by kind. */
function describeQueueMessage(base: LetterBase, letter: QueueMessage): DeadLetter {
  switch (letter.kind) {
    case 'retry':
      return describeRetry(base, letter);
    case 'poison':
      return describePoison(base, letter);
    case 'deliver':
      return {
        ...base,
        kind: 'deliver',
        reason: movedByPolicy(base),
        namespace: letter.mutation.envelope.namespace,
        id: letter.mutation.envelope.id,
        target: letter.target,
      };
    case 'recheck':
      return {
        ...base,
        kind: 'recheck',
        reason: movedByPolicy(base),
        namespace: letter.mutation.envelope.namespace,
        id: letter.mutation.envelope.id,
      };
    case 'stream-record':
      return describeStreamRecord(base, letter);
  }
}

/** A delivery the WAL gave up on (with its reason), or one the policy moved mid-retry (without). */
function describeRetry(base: LetterBase, letter: RetryMessage): DeadLetter {
  return {
    ...base,
    kind: 'retry',
    reason: letter.reason ?? movedByPolicy(base),
    namespace: letter.mutation.envelope.namespace,
    id: letter.mutation.envelope.id,
    target: letter.target,
    attempts: letter.attempt,
    lastError: letter.lastError,
  };
}

/** Something the WAL could not parse or route at all; the snippet shows what it held. */
function describePoison(base: LetterBase, letter: PoisonMessage): DeadLetter {
  return {
    ...base,
    kind: 'poison',
    reason: letter.reason,
    ...(letter.namespace ? { namespace: letter.namespace } : {}),
    ...(letter.id ? { id: letter.id } : {}),
    snippet: snippet(Buffer.from(letter.data, 'base64').toString('utf8')),
  };
}

/** A record copied off the stream after every retry failed; the policy moved it after it failed again. */
function describeStreamRecord(base: LetterBase, letter: StreamRecordMessage): DeadLetter {
  return {
    ...base,
    kind: 'stream-record',
    reason: `${letter.reason}; then ${movedByPolicy(base)}`,
    snippet: snippet(Buffer.from(letter.data, 'base64').toString('utf8')),
  };
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

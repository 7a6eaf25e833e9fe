/**
 * The byte budget of the messages the WAL sends, for the largest payload a namespace accepts
 * (`payload.maxBytes`, which counts the UTF-8 bytes of the JSON text of payload, set and add, escapes
 * included). The arithmetic is in docs/aws-limits.md; test/cdk/message-size.test.ts builds the
 * largest messages and checks them against the queues' `MaximumMessageSize`.
 */

/**
 * What an envelope holds besides the client's data, at its longest: a partition key taken from a
 * 2048-byte partition key and a 1024-byte sort key of control characters (6 bytes each as JSON
 * escapes), an idempotency key of 255 quotes (2 bytes each), the target names (bounded by the 4 KB
 * SSM parameter), id, namespace, times and field names.
 */
const ENVELOPE_OVERHEAD_BYTES = 24 * 1024;
/** `lastError` and `reason` of a retry or DLQ message, each; longer texts must be cut to this. */
export const ERROR_TEXT_MAX_BYTES = 8 * 1024;
/**
 * `itemErrors` of a multi-item retry or DLQ message: its texts together at most this, each cut to its share (a
 * hundred items get about 100 characters each, however they escape; two items the whole 8 KiB each).
 */
export const ITEM_ERRORS_MAX_BYTES = 64 * 1024;
/** `itemsDone` and the indexes and field names of `itemErrors`, for 100 items. */
const ITEM_STATE_OVERHEAD_BYTES = 4 * 1024;
/** Kinesis sequence numbers have up to 128 digits. */
export const SEQUENCE_MAX_DIGITS = 128;
/** Everything of a retry message besides the envelope and the two error texts. */
const RETRY_MESSAGE_OVERHEAD_BYTES = 1024;
/** A poison message's reason, source, namespace and id, besides the base64 data. */
const POISON_OVERHEAD_BYTES = 2 * 1024;
/** The DLQ kind "stream-record": one record's data base64 plus its metadata (about 500 bytes). */
const STREAM_RECORD_METADATA_BYTES = 1024;

/** Base64 of `bytes` bytes: 4 characters per 3 bytes, padded. */
function base64Length(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}

/** The largest envelope (JSON, UTF-8) for a namespace whose `payload.maxBytes` is `maxPayloadBytes`. */
export function maxEnvelopeBytes(maxPayloadBytes: number): number {
  return maxPayloadBytes + ENVELOPE_OVERHEAD_BYTES;
}

/** The largest delay, retry or DLQ retry message: the envelope, its sequence, errors and fields. */
export function maxRetryMessageBytes(maxPayloadBytes: number): number {
  return (
    maxEnvelopeBytes(maxPayloadBytes) +
    SEQUENCE_MAX_DIGITS +
    2 * ERROR_TEXT_MAX_BYTES +
    ITEM_ERRORS_MAX_BYTES +
    ITEM_STATE_OVERHEAD_BYTES +
    RETRY_MESSAGE_OVERHEAD_BYTES
  );
}

/**
 * The largest message any WAL queue receives: a poison message holding the largest queue message's
 * raw bytes as base64, or a stream-record message holding the largest envelope as base64.
 */
export function maxQueueMessageBytes(maxPayloadBytes: number): number {
  return Math.max(
    maxRetryMessageBytes(maxPayloadBytes),
    base64Length(maxRetryMessageBytes(maxPayloadBytes)) + POISON_OVERHEAD_BYTES,
    base64Length(maxEnvelopeBytes(maxPayloadBytes)) + STREAM_RECORD_METADATA_BYTES,
  );
}

/** What replaces the end of an error text that was cut. */
const CUT_MARK = ' … (cut)';

/**
 * `text`, cut so that it takes at most {@link ERROR_TEXT_MAX_BYTES} as JSON (every UTF-16 unit
 * takes at most 6 bytes there, as a `\uXXXX` escape). Short texts come back unchanged.
 */
export function boundErrorText(text: string, maxBytes = ERROR_TEXT_MAX_BYTES): string {
  if (Buffer.byteLength(JSON.stringify(text), 'utf8') <= maxBytes) return text;
  let cut = text.slice(0, Math.max(Math.floor((maxBytes - 2) / 6) - CUT_MARK.length, 0));
  // Do not leave half of a surrogate pair at the end.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}${CUT_MARK}`;
}

/** The message with its `lastError`, `reason` and `itemErrors` cut to the budget, so it fits its queue. */
export function withBoundedErrorTexts<Message extends object>(message: Message): Message {
  const bounded = { ...message } as Record<string, unknown>;
  for (const field of ['lastError', 'reason']) {
    const value = bounded[field];
    if (typeof value === 'string') bounded[field] = boundErrorText(value);
  }
  const itemErrors = bounded.itemErrors;
  if (Array.isArray(itemErrors) && itemErrors.length > 0) {
    const share = Math.min(ERROR_TEXT_MAX_BYTES, Math.floor(ITEM_ERRORS_MAX_BYTES / itemErrors.length));
    bounded.itemErrors = itemErrors.map((entry: { index: number; error: string }) => ({
      ...entry,
      error: boundErrorText(entry.error, share),
    }));
  }
  return bounded as Message;
}

/**
 * DLQ messages read loosely, as an operator would (not with the implementation's schema): a message names
 * its mutation as `mutation.envelope.id` or `id`, or carries the stream record's bytes (`data`, base64) when
 * it is a whole record (`stream-record`) or could not be read as a mutation at all (`poison`); it says why
 * in `reason` or `lastError`.
 */

export interface DeadLetterSeen {
  readonly id: string;
  /** The target it was dead-lettered for; absent when the whole mutation was. */
  readonly target?: string;
  readonly reason: string;
}

/** A DLQ message's mutation id, target and reason; undefined when it names no mutation. */
export function deadLetterOf(messageBody: string | undefined): DeadLetterSeen | undefined {
  const body = parseJson(messageBody);
  const mutation = body.mutation as { envelope?: { id?: unknown } } | undefined;
  const id = mutation?.envelope?.id ?? body.id ?? recordId(body);
  if (typeof id !== 'string') return undefined;
  const reason = body.reason ?? body.lastError ?? body.kind ?? 'no reason given';
  const attempts =
    typeof body.attempt === 'number' && !String(reason).includes('attempt')
      ? ` after ${body.attempt} attempt(s)`
      : '';
  const target = typeof body.target === 'string' ? { target: body.target } : {};
  return { id, ...target, reason: `${String(reason)}${attempts}` };
}

function parseJson(text: string | undefined): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text ?? '{}');
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The mutation id inside the stream record a `stream-record` or `poison` message carries (base64). */
function recordId(body: Record<string, unknown>): unknown {
  if ((body.kind !== 'stream-record' && body.kind !== 'poison') || typeof body.data !== 'string')
    return undefined;
  return parseJson(Buffer.from(body.data, 'base64').toString('utf8')).id;
}

/**
 * The chaos clients, as the README tells services to behave, and as impatient or keyless ones do:
 * - careful: one idempotency key per mutation, retried with it on UNKNOWN, a bare 5xx or a dropped
 *   connection, never after FAIL; waits for each answer;
 * - impatient: the same, but gives up on an attempt after 50-300 ms (shorter than the WAL's timeout)
 *   and retries at once with the same key while the earlier attempt may still run;
 * - keyless: no Idempotency-Key. An answer's `id` is the key for a retry; without any answer it can
 *   only send again without a key, which may apply twice (at-least-once, as the README says).
 */
import { parseEffectiveAt } from './oracle';
import type { PlannedMutation } from './workload';

export type Outcome = 'acked' | 'failed' | 'unresolved' | 'rejected';

export interface MutationResult {
  readonly mutation: PlannedMutation;
  readonly outcome: Outcome;
  readonly id?: string;
  readonly sequence?: string;
  /** Epoch ms, from the answer's `effectiveAt` (or looked up, see fillEffectiveTimes). */
  readonly effectiveAt?: number;
  readonly attempts: number;
  /** Attempts whose answer did not settle the outcome (UNKNOWN, 5xx without durable, network error, abort). */
  readonly unknownAnswers: number;
  /** Keyless clients: sends without a key, each of which may have been applied. */
  readonly keylessSends: number;
  /** Impatient clients: attempts given up on (client timeout) that may still have been running. */
  readonly abandoned: number;
  readonly lastAnswer?: string;
}

export interface SendOptions {
  readonly apiUrl: string;
  readonly namespace: string;
  readonly concurrency: number;
  /** How long a client keeps retrying one mutation before it counts as unresolved (outages last a while). */
  readonly retryForMs?: number;
  readonly random?: () => number;
  readonly onResult?: (result: MutationResult) => void;
}

interface Answer {
  readonly status: number;
  readonly id?: string;
  readonly durable?: string;
  readonly sequence?: string;
  readonly effectiveAt?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One HTTP attempt; undefined when no answer came (network error or the client's own timeout). */
async function post(
  url: string,
  body: unknown,
  idempotencyKey: string | undefined,
  timeoutMs: number | undefined,
): Promise<Answer | { readonly error: string; readonly timedOut: boolean }> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      },
      body: JSON.stringify(body),
      ...(timeoutMs !== undefined ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
    });
    const json = (await response.json().catch(() => ({}))) as Omit<Answer, 'status'>;
    return { ...json, status: response.status };
  } catch (error) {
    // Duck-typed: fetch's DOMException is not an Error of this realm under jest.
    const { name, message } = error as { name?: unknown; message?: unknown };
    return {
      error: `${String(name)}: ${String(message)}`,
      timedOut: name === 'TimeoutError' || name === 'AbortError',
    };
  }
}

export async function sendOne(mutation: PlannedMutation, options: SendOptions): Promise<MutationResult> {
  const random = options.random ?? Math.random;
  const url = `${options.apiUrl}/v1/namespaces/${options.namespace}/mutations`;
  const deadline = Date.now() + (options.retryForMs ?? 120_000);
  // The impatient client's first timeout (its second is twice as long).
  const patienceMs = 50 + Math.floor(random() * 250);
  let key = mutation.idempotencyKey;
  let keylessSends = 0;
  let abandoned = 0;
  let unknownAnswers = 0;
  let lastAnswer = '';
  let attempt = 0;
  const result = (outcome: Outcome, answer?: Answer): MutationResult => ({
    mutation,
    outcome,
    ...(answer?.id ? { id: answer.id } : {}),
    ...(answer?.sequence ? { sequence: answer.sequence } : {}),
    ...(answer?.effectiveAt ? { effectiveAt: parseEffectiveAt(answer.effectiveAt) } : {}),
    attempts: attempt,
    unknownAnswers,
    keylessSends,
    abandoned,
    lastAnswer,
  });
  while (Date.now() < deadline) {
    if (key === undefined) keylessSends++;
    // Two abandoned attempts make the overlap; then it waits (each abandoned attempt still loads the WAL).
    const timeoutMs = mutation.client === 'impatient' && attempt < 2 ? patienceMs * 2 ** attempt : undefined;
    attempt++;
    const answer = await post(url, mutation.body, key, timeoutMs);
    if ('error' in answer) {
      lastAnswer = `no answer: ${answer.error}`;
      unknownAnswers++;
      if (answer.timedOut) abandoned++;
      // The impatient client retries at once: the attempt it abandoned may still be running.
      if (!answer.timedOut) await sleep(Math.min(50 * attempt, 1_000));
      continue;
    }
    lastAnswer = `${answer.status} ${answer.durable ?? ''}`.trim();
    if (answer.status === 200 && answer.durable === 'SUCCESS') return result('acked', answer);
    if (answer.durable === 'FAIL') return result('failed', answer);
    if (answer.status >= 400 && answer.status < 500 && answer.durable === undefined) {
      return result('rejected', answer);
    }
    // A keyless client learns its key from any answer that names the mutation.
    if (key === undefined && answer.id) key = answer.id;
    unknownAnswers++;
    await sleep(Math.min(50 * attempt, 1_000));
  }
  return result('unresolved');
}

export async function sendWorkload(
  plan: readonly PlannedMutation[],
  options: SendOptions,
): Promise<MutationResult[]> {
  const results: MutationResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < plan.length) {
      const mutation = plan[next++] as PlannedMutation;
      const result = await sendOne(mutation, options);
      results.push(result);
      options.onResult?.(result);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return results.sort((a, b) => a.mutation.index - b.mutation.index);
}

interface MutationView {
  readonly sequence?: string;
  readonly loggedAt?: string;
  readonly deliverAt?: string;
}

/**
 * For answers without `effectiveAt` (an API older than the field), reads it through the public
 * `GET /v1/namespaces/{ns}/mutations/{id}`: the delivery time if delayed, else the log time.
 */
export async function fillEffectiveTimes(
  results: readonly MutationResult[],
  options: Pick<SendOptions, 'apiUrl' | 'namespace'>,
  concurrency = 8,
): Promise<MutationResult[]> {
  const lookUp = async (result: MutationResult): Promise<MutationResult> => {
    if (result.outcome !== 'acked' || !result.id || (result.effectiveAt !== undefined && result.sequence)) {
      return result;
    }
    const url = `${options.apiUrl}/v1/namespaces/${options.namespace}/mutations/${result.id}`;
    let view: MutationView | undefined;
    for (let attempt = 0; attempt < 30 && !view; attempt++) {
      view = await fetch(url)
        .then(async (answer) => (answer.ok ? ((await answer.json()) as MutationView) : undefined))
        .catch(() => undefined);
      if (!view) await sleep(200);
    }
    const time = view?.deliverAt ?? view?.loggedAt;
    return {
      ...result,
      ...(time ? { effectiveAt: parseEffectiveAt(time) } : {}),
      ...(result.sequence ? {} : view?.sequence ? { sequence: view.sequence } : {}),
    };
  };
  const filled: MutationResult[] = [...results];
  let next = 0;
  const worker = async () => {
    while (next < filled.length) {
      const index = next++;
      filled[index] = await lookUp(filled[index] as MutationResult);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return filled;
}

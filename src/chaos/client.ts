/**
 * The chaos clients, as the README tells services to behave, and as impatient or keyless ones do:
 * - careful: one idempotency key per mutation, retried with it on UNKNOWN, a bare 5xx or a dropped
 *   connection, never after FAIL; waits for each answer;
 * - impatient: the same, but gives up on an attempt after 50-300 ms (shorter than the WAL's timeout)
 *   and retries at once with the same key while the earlier attempt may still run;
 * - keyless: no Idempotency-Key. An answer's `id` is the key for a retry; without any answer it can
 *   only send again without a key, which may apply twice (at-least-once, as the README says).
 */
import { mapConcurrently } from '#src/local/map-concurrently';
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
  /** Sent through the batch endpoint. */
  readonly batched?: boolean;
}

export interface SendOptions {
  readonly apiUrl: string;
  readonly namespace: string;
  readonly concurrency: number;
  /** How long a client keeps retrying one mutation before it counts as unresolved (outages last a while). */
  readonly retryForMs?: number;
  readonly random?: () => number;
  /** Share of requests sent as batches of 2 to 10 (default BATCH_SHARE). */
  readonly batchShare?: number;
  readonly onResult?: (result: MutationResult) => void;
}

interface Answer {
  readonly status: number;
  /** A batch answer's results, one per mutation in order. */
  readonly results?: readonly Answer[];
  readonly id?: string;
  readonly durable?: string;
  readonly sequence?: string;
  readonly effectiveAt?: string;
}

/** No answer came: a network error, or the client's own timeout. */
interface NoAnswer {
  readonly error: string;
  readonly timedOut: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One HTTP attempt; undefined when no answer came (network error or the client's own timeout). */
async function post(
  url: string,
  body: unknown,
  idempotencyKey: string | undefined,
  timeoutMs: number | undefined,
): Promise<Answer | NoAnswer> {
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

/** What one client saw across the attempts of one mutation. */
class Attempts {
  key: string | undefined;
  count = 0;
  keylessSends = 0;
  abandoned = 0;
  unknownAnswers = 0;
  lastAnswer = '';

  constructor(readonly mutation: PlannedMutation) {
    this.key = mutation.idempotencyKey;
  }

  /** One attempt, counted: keyless sends, and what came back (or did not). */
  async send(url: string, patienceMs: number): Promise<Answer | NoAnswer> {
    const timeoutMs = this.begin(patienceMs);
    return this.ended(await post(url, this.mutation.body, this.key, timeoutMs));
  }

  /** Counts an attempt about to be sent; its timeout (see timeoutMs). */
  begin(patienceMs: number): number | undefined {
    if (this.key === undefined) this.keylessSends++;
    const timeoutMs = this.timeoutMs(patienceMs);
    this.count++;
    return timeoutMs;
  }

  /** Counts what came back of an attempt: no answer is an unknown (and, timed out, an abandoned attempt). */
  ended<T extends Answer | NoAnswer>(answer: T): T {
    if ('error' in answer) {
      this.lastAnswer = `no answer: ${answer.error}`;
      this.unknownAnswers++;
      if (answer.timedOut) this.abandoned++;
    }
    return answer;
  }

  /** The mutation as one entry of a batch: the key (if it has one yet) goes in the body. */
  batchEntry(): unknown {
    return this.key === undefined ? this.mutation.body : { ...this.mutation.body, idempotencyKey: this.key };
  }

  /** The outcome the answer settles; else it counts as unknown (and a keyless client learns its key). */
  answered(answer: Answer): Outcome | undefined {
    this.lastAnswer = `${answer.status} ${answer.durable ?? ''}`.trim();
    const outcome = settledOutcome(answer);
    if (outcome) return outcome;
    // A keyless client learns its key from any answer that names the mutation.
    if (this.key === undefined && answer.id) this.key = answer.id;
    this.unknownAnswers++;
    return undefined;
  }

  /**
   * The timeout of the next attempt: the impatient client's first two give up early. Two abandoned
   * attempts make the overlap; then it waits (each abandoned attempt still loads the WAL).
   */
  timeoutMs(patienceMs: number): number | undefined {
    return this.mutation.client === 'impatient' && this.count < 2 ? patienceMs * 2 ** this.count : undefined;
  }

  result(outcome: Outcome, answer?: Answer): MutationResult {
    return {
      mutation: this.mutation,
      outcome,
      ...(answer?.id ? { id: answer.id } : {}),
      ...(answer?.sequence ? { sequence: answer.sequence } : {}),
      ...(answer?.effectiveAt ? { effectiveAt: parseEffectiveAt(answer.effectiveAt) } : {}),
      attempts: this.count,
      unknownAnswers: this.unknownAnswers,
      keylessSends: this.keylessSends,
      abandoned: this.abandoned,
      lastAnswer: this.lastAnswer,
    };
  }
}

/** The outcome an answer settles, if it settles one. */
function settledOutcome(answer: Answer): Outcome | undefined {
  if (answer.status === 200 && answer.durable === 'SUCCESS') return 'acked';
  if (answer.durable === 'FAIL') return 'failed';
  if (answer.status >= 400 && answer.status < 500 && answer.durable === undefined) return 'rejected';
  return undefined;
}

export async function sendOne(mutation: PlannedMutation, options: SendOptions): Promise<MutationResult> {
  const random = options.random ?? Math.random;
  const url = `${options.apiUrl}/v1/namespaces/${options.namespace}/mutations`;
  const deadline = Date.now() + (options.retryForMs ?? 120_000);
  // The impatient client's first timeout (its second is twice as long).
  const patienceMs = 50 + Math.floor(random() * 250);
  const attempts = new Attempts(mutation);
  while (Date.now() < deadline) {
    const answer = await attempts.send(url, patienceMs);
    const outcome = 'error' in answer ? undefined : attempts.answered(answer);
    if (outcome) return attempts.result(outcome, answer as Answer);
    // The impatient client retries at once: the attempt it abandoned may still be running.
    if (!('error' in answer && answer.timedOut)) await sleep(Math.min(50 * attempts.count, 1_000));
  }
  return attempts.result('unresolved');
}

/**
 * Sends the mutations of a batch through `POST .../mutations:batch`, each with the behaviour of its
 * client: every round sends the mutations not settled yet, each with its key in its body; each
 * result settles (or not) its own mutation, as a single answer would. A round gives up early only when all its
 * members are impatient; no answer, or an answer for the whole batch, counts for every member.
 */
export async function sendBatch(
  mutations: readonly PlannedMutation[],
  options: SendOptions,
): Promise<MutationResult[]> {
  const random = options.random ?? Math.random;
  const url = `${options.apiUrl}/v1/namespaces/${options.namespace}/mutations:batch`;
  const deadline = Date.now() + (options.retryForMs ?? 120_000);
  const patienceMs = 50 + Math.floor(random() * 250);
  let open = mutations.map((mutation) => new Attempts(mutation));
  const results: MutationResult[] = [];
  while (open.length > 0 && Date.now() < deadline) {
    const timeouts = open.map((attempts) => attempts.begin(patienceMs));
    // The request waits as long as its most patient member would: impatient only if all of them are.
    const timeoutMs = timeouts.includes(undefined) ? undefined : Math.max(...(timeouts as number[]));
    const answer = await post(
      url,
      { mutations: open.map((attempts) => attempts.batchEntry()) },
      undefined,
      timeoutMs,
    );
    const still: Attempts[] = [];
    open.forEach((attempts, position) => {
      const own = attempts.ended(memberAnswer(answer, position));
      const outcome = 'error' in own ? undefined : attempts.answered(own);
      if (outcome) results.push(attempts.result(outcome, own as Answer));
      else still.push(attempts);
    });
    open = still;
    if (!('error' in answer && answer.timedOut)) await sleep(Math.min(50 * (open[0]?.count ?? 1), 1_000));
  }
  return [...results, ...open.map((attempts) => attempts.result('unresolved'))].map((result) => ({
    ...result,
    batched: true,
  }));
}

/** One member's answer out of a batch answer: its own result, or the whole answer when there is none. */
function memberAnswer(answer: Answer | NoAnswer, position: number): Answer | NoAnswer {
  if ('error' in answer) return answer;
  const own = answer.status === 200 ? answer.results?.[position] : undefined;
  if (own) return own;
  // A 200 without this member's result says nothing of it; an error of the whole batch counts for each.
  return answer.status === 200 ? { status: 502 } : { ...answer, results: undefined };
}

/**
 * Sends the plan as its clients would: most mutations one per request, about one request in four a
 * batch of 2 to 10 consecutive mutations of the plan (BATCH_SHARE, see groupRequests).
 */
export async function sendWorkload(
  plan: readonly PlannedMutation[],
  options: SendOptions,
): Promise<MutationResult[]> {
  const requests = groupRequests(plan, options.random ?? Math.random, options.batchShare);
  const results = await mapConcurrently(requests, options.concurrency, async (request) => {
    const sent =
      request.length === 1
        ? [await sendOne(request[0] as PlannedMutation, options)]
        : await sendBatch(request, options);
    for (const result of sent) options.onResult?.(result);
    return sent;
  });
  return results.flat().sort((a, b) => a.mutation.index - b.mutation.index);
}

/** Share of requests that are batches. */
const BATCH_SHARE = 0.25;

/** The plan cut into requests: single mutations, and batches of 2 to 10 consecutive ones. */
export function groupRequests(
  plan: readonly PlannedMutation[],
  random: () => number,
  batchShare = BATCH_SHARE,
): PlannedMutation[][] {
  const requests: PlannedMutation[][] = [];
  let next = 0;
  while (next < plan.length) {
    const size = random() < batchShare ? 2 + Math.floor(random() * 9) : 1;
    requests.push(plan.slice(next, next + size));
    next += size;
  }
  return requests;
}

interface MutationView {
  readonly sequence?: string;
  /** The lean ledger's view has it; older APIs gave only the times below. */
  readonly effectiveAt?: string;
  readonly loggedAt?: string;
  readonly deliverAt?: string;
}

/**
 * For answers without `effectiveAt` (an API older than the field), reads it through the public
 * `GET /v1/namespaces/{ns}/mutations/{id}`: the delivery time if delayed, else the log time.
 */
export function fillEffectiveTimes(
  results: readonly MutationResult[],
  options: Pick<SendOptions, 'apiUrl' | 'namespace'>,
  concurrency = 8,
): Promise<MutationResult[]> {
  return mapConcurrently(results, concurrency, (result) => fillEffectiveTime(result, options));
}

async function fillEffectiveTime(
  result: MutationResult,
  options: Pick<SendOptions, 'apiUrl' | 'namespace'>,
): Promise<MutationResult> {
  if (result.outcome !== 'acked' || !result.id || (result.effectiveAt !== undefined && result.sequence)) {
    return result;
  }
  // The ledger has no index by id: a keyed mutation is found by its idempotency key.
  const key = result.mutation.idempotencyKey;
  const query = key === undefined ? '' : `?idempotencyKey=${encodeURIComponent(key)}`;
  const view = await readView(
    `${options.apiUrl}/v1/namespaces/${options.namespace}/mutations/${result.id}${query}`,
  );
  const time = view?.effectiveAt ?? view?.deliverAt ?? view?.loggedAt;
  const sequence = result.sequence || view?.sequence;
  return {
    ...result,
    ...(time ? { effectiveAt: parseEffectiveAt(time) } : {}),
    ...(sequence ? { sequence } : {}),
  };
}

/** The mutation as the API shows it, after up to 30 tries 200 ms apart; undefined if it never answers. */
async function readView(url: string): Promise<MutationView | undefined> {
  for (let attempt = 0; attempt < 30; attempt++) {
    const view = await fetch(url)
      .then(async (answer) => (answer.ok ? ((await answer.json()) as MutationView) : undefined))
      .catch(() => undefined);
    if (view) return view;
    await sleep(200);
  }
  return undefined;
}

/**
 * The chaos client: sends mutations the way a careful service would — each with its own
 * idempotency key, retried with the same key while the answer is UNKNOWN (or a 5xx / a dropped
 * connection says nothing), never after FAIL — and records every final answer.
 */
export type MutationKind = 'counter' | 'put';

export interface PlannedMutation {
  readonly index: number;
  readonly kind: MutationKind;
  /** The target item's key. Counters have one key each; puts share a few keys. */
  readonly key: string;
  readonly idempotencyKey: string;
  readonly body: Record<string, unknown>;
}

export type Outcome = 'acked' | 'failed' | 'unresolved' | 'rejected';

export interface MutationResult {
  readonly mutation: PlannedMutation;
  readonly outcome: Outcome;
  readonly id?: string;
  /** Attempts whose answer did not settle the outcome (UNKNOWN, 5xx without durable, network error). */
  readonly unknownAnswers: number;
  readonly lastAnswer?: string;
}

export interface WorkloadOptions {
  readonly mutations: number;
  readonly runId: string;
  /** Keys shared by the put mutations (per-key order is checked on them). */
  readonly sharedKeys?: number;
  readonly putShare?: number;
  readonly delayedShare?: number;
  readonly random?: () => number;
}

export function planWorkload(options: WorkloadOptions): PlannedMutation[] {
  const random = options.random ?? Math.random;
  const sharedKeys = options.sharedKeys ?? 20;
  const plan: PlannedMutation[] = [];
  for (let index = 0; index < options.mutations; index++) {
    const idempotencyKey = `${options.runId}-m${index}`;
    if (random() < (options.putShare ?? 0.3)) {
      const key = `${options.runId}-k${index % sharedKeys}`;
      const delayed = random() < (options.delayedShare ?? 0.1);
      plan.push({
        index,
        kind: 'put',
        key,
        idempotencyKey,
        body: {
          payload: { id: key, v: index },
          ...(delayed ? { lifecycle: { delaySeconds: 1 + Math.floor(random() * 3) } } : {}),
        },
      });
    } else {
      // A counter: applied twice in effect, it shows 2.
      const key = `${options.runId}-c${index}`;
      plan.push({
        index,
        kind: 'counter',
        key,
        idempotencyKey,
        body: { op: 'update', payload: { id: key }, add: { count: 1 }, set: { index } },
      });
    }
  }
  return plan;
}

export interface SendOptions {
  readonly apiUrl: string;
  readonly namespace: string;
  readonly concurrency: number;
  /** Attempts per mutation before it counts as unresolved. */
  readonly maxAttempts?: number;
  readonly onResult?: (result: MutationResult) => void;
}

export async function sendWorkload(plan: PlannedMutation[], options: SendOptions): Promise<MutationResult[]> {
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

async function sendOne(mutation: PlannedMutation, options: SendOptions): Promise<MutationResult> {
  const url = `${options.apiUrl}/v1/namespaces/${options.namespace}/mutations`;
  let unknownAnswers = 0;
  let lastAnswer = '';
  for (let attempt = 0; attempt < (options.maxAttempts ?? 20); attempt++) {
    let status = 0;
    let body: { id?: string; durable?: string } = {};
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': mutation.idempotencyKey },
        body: JSON.stringify(mutation.body),
      });
      status = response.status;
      body = (await response.json().catch(() => ({}))) as typeof body;
    } catch (error) {
      lastAnswer = `network: ${(error as Error).message}`;
    }
    if (status !== 0) lastAnswer = `${status} ${body.durable ?? ''}`.trim();
    if (status === 200 && body.durable === 'SUCCESS') {
      return { mutation, outcome: 'acked', ...(body.id ? { id: body.id } : {}), unknownAnswers, lastAnswer };
    }
    if (body.durable === 'FAIL') {
      return { mutation, outcome: 'failed', ...(body.id ? { id: body.id } : {}), unknownAnswers, lastAnswer };
    }
    if (status >= 400 && status < 500) return { mutation, outcome: 'rejected', unknownAnswers, lastAnswer };
    unknownAnswers++;
    await new Promise((resolve) => setTimeout(resolve, 50 + 50 * attempt));
  }
  return { mutation, outcome: 'unresolved', unknownAnswers, lastAnswer };
}

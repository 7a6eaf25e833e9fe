/**
 * The chaos workload: what to send. Shared keys get puts, updates (`set` and `add`) and deletes,
 * many per key, some delayed, so that per-key order matters; counters on keys of their own show a
 * double application as 2. Every mutation leaves a marker of its own (`tag`, `x<index>`) so that a
 * FAILed one that was applied anyway shows. Clients: careful, impatient (shorter timeout than the
 * WAL's, retrying while an attempt may still run) and keyless (at-least-once, own counters).
 */
import type { Item } from './oracle';

/** How the mutation's client behaves; see client.ts. */
export type ClientKind = 'careful' | 'impatient' | 'keyless';

/** What the mutation does: ops on shared keys, or a counter on a key of its own. */
export type WorkloadOp = 'put' | 'update-set' | 'update-add' | 'delete' | 'counter' | 'keyless-counter';

export interface PlannedMutation {
  readonly index: number;
  readonly op: WorkloadOp;
  readonly client: ClientKind;
  /** The target item's key (attribute `id`). */
  readonly key: string;
  /** Absent for keyless clients: the first answer's `id` becomes the key for retries. */
  readonly idempotencyKey?: string;
  /** The request body, as sent. */
  readonly body: MutationBody;
  readonly delayed: boolean;
}

export interface MutationBody {
  readonly op: 'put' | 'update' | 'delete';
  readonly payload: Item;
  readonly set?: Item;
  readonly add?: Record<string, number>;
  readonly lifecycle?: { readonly delaySeconds: number };
}

/** The target table's key attribute. */
export const KEY_ATTRIBUTES = ['id'] as const;

export interface WorkloadOptions {
  readonly mutations: number;
  readonly runId: string;
  /** Share of mutations on shared keys (the rest are counters). */
  readonly sharedShare?: number;
  /** Share of counters sent by keyless clients. */
  readonly keylessShare?: number;
  /** Share of careful-keyed mutations sent by impatient clients instead. */
  readonly impatientShare?: number;
  /** Share of mutations delayed by 1-3 s. */
  readonly delayedShare?: number;
  /** Mutations per shared key, on average. */
  readonly mutationsPerKey?: number;
  readonly random?: () => number;
}

/** The marker a mutation leaves on its item, if it leaves one: put/set write `tag`, add writes `x<index>`. */
export function markerOf(mutation: PlannedMutation): { attribute: string; value?: unknown } | undefined {
  switch (mutation.op) {
    case 'put':
      return { attribute: 'tag', value: `p${mutation.index}` };
    case 'update-set':
      return { attribute: 'tag', value: `s${mutation.index}` };
    case 'update-add':
      return { attribute: `x${mutation.index}` };
    default:
      return undefined;
  }
}

export function isShared(op: WorkloadOp): boolean {
  return op !== 'counter' && op !== 'keyless-counter';
}

function sharedBody(op: WorkloadOp, key: string, index: number): MutationBody {
  switch (op) {
    case 'put':
      return { op: 'put', payload: { id: key, tag: `p${index}`, v: index } };
    case 'update-set':
      return { op: 'update', payload: { id: key }, set: { tag: `s${index}`, s: index } };
    case 'update-add':
      // `n` sums every add of the key; `x<index>` is this mutation's own counter (2 = applied twice).
      return { op: 'update', payload: { id: key }, add: { n: 1 + (index % 3), [`x${index}`]: 1 } };
    default:
      return { op: 'delete', payload: { id: key } };
  }
}

function pick<T>(random: () => number, choices: readonly (readonly [T, number])[]): T {
  let roll = random() * choices.reduce((sum, [, weight]) => sum + weight, 0);
  for (const [choice, weight] of choices) {
    roll -= weight;
    if (roll < 0) return choice;
  }
  return (choices[choices.length - 1] as readonly [T, number])[0];
}

const SHARED_OPS = [
  ['put', 0.3],
  ['update-set', 0.2],
  ['update-add', 0.35],
  ['delete', 0.15],
] as const;

export function planWorkload(options: WorkloadOptions): PlannedMutation[] {
  const random = options.random ?? Math.random;
  const sharedShare = options.sharedShare ?? 0.45;
  // A few keys with many mutations each: concurrent, retried and delayed mutations of one key meet.
  const sharedKeys = Math.min(
    10,
    Math.max(2, Math.round((options.mutations * sharedShare) / (options.mutationsPerKey ?? 25))),
  );
  const plan: PlannedMutation[] = [];
  for (let index = 0; index < options.mutations; index++) {
    plan.push(planMutation(index, random, { ...options, sharedShare, sharedKeys }));
  }
  return plan;
}

/** One mutation of the plan; the draws from `random` in a fixed order, so a seed replays the plan. */
function planMutation(
  index: number,
  random: () => number,
  options: WorkloadOptions & { sharedShare: number; sharedKeys: number },
): PlannedMutation {
  const delaySeconds = random() < (options.delayedShare ?? 0.15) ? 1 + Math.floor(random() * 3) : 0;
  const lifecycle = delaySeconds > 0 ? { lifecycle: { delaySeconds } } : {};
  const delayed = delaySeconds > 0;
  const impatient = random() < (options.impatientShare ?? 0.35);
  const keyed = {
    client: impatient ? ('impatient' as const) : ('careful' as const),
    idempotencyKey: `${options.runId}-m${index}`,
  };
  if (random() < options.sharedShare) {
    const op = pick(random, SHARED_OPS);
    const key = `${options.runId}-k${index % options.sharedKeys}`;
    return { index, op, key, body: { ...sharedBody(op, key, index), ...lifecycle }, delayed, ...keyed };
  }
  if (random() < (options.keylessShare ?? 0.25)) {
    const key = `${options.runId}-n${index}`;
    const body: MutationBody = { op: 'update', payload: { id: key }, add: { count: 1 }, ...lifecycle };
    return { index, op: 'keyless-counter', client: 'keyless', key, body, delayed };
  }
  const key = `${options.runId}-c${index}`;
  const body: MutationBody = { op: 'update', payload: { id: key }, add: { count: 1 }, ...lifecycle };
  return { index, op: 'counter', key, body, delayed, ...keyed };
}

/**
 * How many of each op, and of each client, the plan holds: the report's "sent" line; with the
 * results, also the keyless clients' sends and the attempts impatient clients abandoned.
 */
export function countSent(
  plan: readonly PlannedMutation[],
  results: readonly {
    readonly keylessSends: number;
    readonly abandoned: number;
    readonly batched?: boolean;
  }[] = [],
): Record<string, number> {
  const sent: Record<string, number> = {
    put: 0,
    'update-set': 0,
    'update-add': 0,
    delete: 0,
    counter: 0,
    'keyless-counter': 0,
    delayed: 0,
    impatient: 0,
  };
  for (const mutation of plan) {
    sent[mutation.op] = (sent[mutation.op] ?? 0) + 1;
    if (mutation.delayed) sent.delayed = (sent.delayed ?? 0) + 1;
    if (mutation.client === 'impatient') sent.impatient = (sent.impatient ?? 0) + 1;
  }
  sent['keyless-sends'] = results.reduce((sum, result) => sum + result.keylessSends, 0);
  sent['abandoned-attempts'] = results.reduce((sum, result) => sum + result.abandoned, 0);
  sent.batched = results.filter((result) => result.batched).length;
  return sent;
}

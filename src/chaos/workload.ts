/**
 * The chaos workload: what to send. Shared keys get puts, updates (`set` and `add`) and deletes,
 * many per key, some delayed, so that per-key order matters; counters on keys of their own show a
 * double application as 2. Every mutation leaves a marker of its own (`tag`, `x<index>`) so that a
 * FAILed one that was applied anyway shows. Multi-item mutations (`items[]`) change a shared key of
 * the main table and a shared key of the side table at once, each item with its own marker; keyless
 * ones add to a counter of their own in both tables (each send applies both or neither). Clients:
 * careful, impatient (shorter timeout than the WAL's, retrying while an attempt may still run) and
 * keyless (at-least-once, own counters).
 */
import type { Item, Op } from './oracle';

/** How the mutation's client behaves; see client.ts. */
export type ClientKind = 'careful' | 'impatient' | 'keyless';

/** What the mutation does: ops on shared keys, or a counter on a key of its own. */
export type WorkloadOp =
  | 'put'
  | 'update-set'
  | 'update-add'
  | 'delete'
  | 'counter'
  | 'keyless-counter'
  | 'items'
  | 'keyless-items';

/** The chaos namespace's targets (src/chaos/config/chaos/counters.json). */
export const MAIN_TARGET = 'main';
export const SIDE_TARGET = 'side';
/** Single mutations name their targets: the side table gets multi-item mutations only. */
export const SINGLE_TARGETS: readonly string[] = [MAIN_TARGET, 'fifo'];

/** The marker a mutation leaves on an item: `tag` with its own value, or its own counter `x<index>`. */
export interface Marker {
  readonly attribute: string;
  readonly value?: unknown;
}

/**
 * What a mutation does to one item of one target, as the oracle folds it: put = `payload` is the item;
 * update = `payload` holds the key, `set`/`add` the change.
 */
export interface Touch {
  readonly target: string;
  readonly key: string;
  readonly op: Op;
  readonly payload: Item;
  readonly set?: Item;
  readonly add?: Record<string, number>;
  readonly marker?: Marker;
}

export interface PlannedMutation {
  readonly index: number;
  readonly op: WorkloadOp;
  readonly client: ClientKind;
  /** The target item's key (attribute `id`); for a multi-item mutation, its main-table item's key. */
  readonly key: string;
  /** Absent for keyless clients: the first answer's `id` becomes the key for retries. */
  readonly idempotencyKey?: string;
  /** The request body, as sent. */
  readonly body: MutationBody;
  readonly delayed: boolean;
  /** A multi-item mutation's items, in the order of `body.items`. */
  readonly touches?: readonly Touch[];
}

export interface SingleBody {
  readonly op: Op;
  readonly payload: Item;
  readonly set?: Item;
  readonly add?: Record<string, number>;
  readonly targets?: readonly string[];
  readonly lifecycle?: { readonly delaySeconds: number };
}

/** One item of `items[]` in the request form (DESIGN.md): a put carries the item, an update or a delete its key. */
export type RequestItem =
  | { readonly target: string; readonly op: 'put'; readonly item: Item }
  | {
      readonly target: string;
      readonly op: 'update';
      readonly key: Item;
      readonly set?: Item;
      readonly add?: Record<string, number>;
    }
  | { readonly target: string; readonly op: 'delete'; readonly key: Item };

export interface ItemsBody {
  readonly items: readonly RequestItem[];
  readonly lifecycle?: { readonly delaySeconds: number };
}

export type MutationBody = SingleBody | ItemsBody;

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
  /** Share of mutations with `items[]` over the main and the side table (keyless ones: keyless-items). */
  readonly itemsShare?: number;
  readonly random?: () => number;
}

/** The marker a single mutation leaves on its item, if it leaves one: put/set write `tag`, add writes `x<index>`. */
export function markerOf(mutation: PlannedMutation): Marker | undefined {
  return markerFor(mutation.op, mutation.index);
}

function markerFor(op: WorkloadOp, index: number): Marker | undefined {
  switch (op) {
    case 'put':
      return { attribute: 'tag', value: `p${index}` };
    case 'update-set':
      return { attribute: 'tag', value: `s${index}` };
    case 'update-add':
      return { attribute: `x${index}` };
    default:
      return undefined;
  }
}

/** A single mutation on a shared key of the main table. */
export function isShared(op: WorkloadOp): boolean {
  return op === 'put' || op === 'update-set' || op === 'update-add' || op === 'delete';
}

/** A mutation with `items[]` (it reaches only its items' targets, not the FIFO queue). */
export function isMultiItem(mutation: PlannedMutation): boolean {
  return mutation.op === 'items' || mutation.op === 'keyless-items';
}

/** The items a mutation changes: a single mutation its main-table item, a multi-item one each of its items. */
export function touchesOf(mutation: PlannedMutation): readonly Touch[] {
  if (mutation.touches) return mutation.touches;
  if ('items' in mutation.body) return [];
  const { op, payload, set, add } = mutation.body;
  const marker = markerOf(mutation);
  return [
    {
      target: MAIN_TARGET,
      key: mutation.key,
      op,
      payload,
      ...(set ? { set } : {}),
      ...(add ? { add } : {}),
      ...(marker ? { marker } : {}),
    },
  ];
}

/** The request form of one item. */
function requestItem(touch: Touch): RequestItem {
  const { target, op, payload, set, add } = touch;
  if (op === 'put') return { target, op, item: payload };
  if (op === 'delete') return { target, op, key: payload };
  return { target, op, key: payload, ...(set ? { set } : {}), ...(add ? { add } : {}) };
}

function sharedBody(op: WorkloadOp, key: string, index: number): SingleBody {
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

/** Ops of an item of a multi-item mutation: each leaves a marker, and adds' markers outlive later updates. */
const ITEM_OPS = [
  ['put', 0.3],
  ['update-set', 0.2],
  ['update-add', 0.5],
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

type PlanOptions = WorkloadOptions & { sharedShare: number; sharedKeys: number };

/** One mutation of the plan; the draws from `random` in a fixed order, so a seed replays the plan. */
function planMutation(index: number, random: () => number, options: PlanOptions): PlannedMutation {
  const delaySeconds = random() < (options.delayedShare ?? 0.15) ? 1 + Math.floor(random() * 3) : 0;
  const lifecycle = delaySeconds > 0 ? { lifecycle: { delaySeconds } } : {};
  const delayed = delaySeconds > 0;
  const impatient = random() < (options.impatientShare ?? 0.35);
  const keyed = {
    client: impatient ? ('impatient' as const) : ('careful' as const),
    idempotencyKey: `${options.runId}-m${index}`,
  };
  // Drawn only when items are on: with itemsShare 0 a seed gives the plan it gave before items existed.
  const itemsShare = options.itemsShare ?? 0;
  if (itemsShare > 0 && random() < itemsShare) {
    return planItems(index, random, options, { lifecycle, delayed, keyed });
  }
  if (random() < options.sharedShare) {
    const op = pick(random, SHARED_OPS);
    const key = `${options.runId}-k${index % options.sharedKeys}`;
    const body = { ...sharedBody(op, key, index), targets: SINGLE_TARGETS, ...lifecycle };
    return { index, op, key, body, delayed, ...keyed };
  }
  const counter = (key: string): SingleBody => ({
    op: 'update',
    payload: { id: key },
    add: { count: 1 },
    targets: SINGLE_TARGETS,
    ...lifecycle,
  });
  if (random() < (options.keylessShare ?? 0.25)) {
    const key = `${options.runId}-n${index}`;
    return { index, op: 'keyless-counter', client: 'keyless', key, body: counter(key), delayed };
  }
  const key = `${options.runId}-c${index}`;
  return { index, op: 'counter', key, body: counter(key), delayed, ...keyed };
}

/** What planMutation drew before it chose the kind of mutation. */
interface Drawn {
  readonly lifecycle: { lifecycle?: { delaySeconds: number } };
  readonly delayed: boolean;
  readonly keyed: { client: ClientKind; idempotencyKey: string };
}

/**
 * A multi-item mutation: keyed, a put or update of a shared key in each table (the main table's key as a
 * single mutation of this index would pick it, the side table's at random); keyless, an add to a counter
 * of its own in each table, so that each send applies both or neither.
 */
function planItems(index: number, random: () => number, options: PlanOptions, drawn: Drawn): PlannedMutation {
  const { lifecycle, delayed, keyed } = drawn;
  const withBody = (touches: readonly Touch[]) => ({
    touches,
    body: { items: touches.map(requestItem), ...lifecycle },
    delayed,
  });
  if (random() < (options.keylessShare ?? 0.25)) {
    const key = `${options.runId}-i${index}`;
    const counter = (target: string): Touch => ({
      target,
      key,
      op: 'update',
      payload: { id: key },
      add: { count: 1 },
    });
    return {
      index,
      op: 'keyless-items',
      client: 'keyless',
      key,
      ...withBody([counter(MAIN_TARGET), counter(SIDE_TARGET)]),
    };
  }
  const touch = (target: string, key: string): Touch => {
    const op = pick(random, ITEM_OPS);
    const marker = markerFor(op, index);
    return { target, key, ...sharedBody(op, key, index), ...(marker ? { marker } : {}) };
  };
  const key = `${options.runId}-k${index % options.sharedKeys}`;
  const sideKey = `${options.runId}-s${Math.floor(random() * options.sharedKeys)}`;
  const touches = [touch(MAIN_TARGET, key), touch(SIDE_TARGET, sideKey)];
  return { index, op: 'items', key, ...withBody(touches), ...keyed };
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
    items: 0,
    'keyless-items': 0,
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

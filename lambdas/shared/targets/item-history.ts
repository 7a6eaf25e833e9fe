import {
  ADDS_ATTRIBUTE,
  BASE_ATTRIBUTE,
  DELETED_ATTRIBUTE,
  EXPIRES_AT_ATTRIBUTE,
  FOLDED_ATTRIBUTE,
  MUTATION_ID_ATTRIBUTE,
  ORDER_ATTRIBUTE,
  RESERVED_ATTRIBUTE_PREFIX,
  REVISION_ATTRIBUTE,
  STAMPS_ATTRIBUTE,
} from './wal-attributes';

/**
 * Per-key semantics of a DynamoDB target, as a pure function: an item keeps just enough of its history
 * that a mutation arriving in any order (a retry, a late delayed delivery, a redrive, two ingests racing)
 * lands in its place in the WAL's order — never dropped, never over newer attributes — and a repeat is a
 * no-op. The item carries (names start with `_wal`, reserved):
 *  - `_walOrder`: the greatest WAL order applied (padded, so conditions can compare it as a string);
 *  - `_walBase`: the order of the last put or delete, which replaced everything before it;
 *  - `_walStamps`: per attribute set by an update after the base, the order of that set;
 *  - `_walAdds`: per counter attribute, the adds applied after its last set (order -> amount), so that a
 *    late set or put can put them back on top, and a repeated add is recognised;
 *  - `_walFolded`: per counter attribute, the newest add folded away when the logs outgrew their budget —
 *    a mutation older than that cannot be placed any more and goes to the DLQ with the reason;
 *  - `_walDeleted` and `_walExpiresAt` on a tombstone: a delete stays deleted for the retention period.
 * Orders in maps are compact (`time#sequence`); {@link compareOrders} compares them numerically.
 */

/**
 * Bytes of add history an item keeps, all counters together (~80 bytes an add: about 800 adds): the oldest
 * adds are folded into their values beyond it, so an item stays far below DynamoDB's 400 KB with the
 * largest payload (192 KiB).
 */
export const ADD_HISTORY_BUDGET_BYTES = 64 * 1024;

export type Item = Record<string, unknown>;

/** A mutation's place in the WAL order, in both encodings. */
export interface OrderedMutation {
  readonly id: string;
  readonly op: 'put' | 'update' | 'delete';
  /** `time#sequence`, unpadded. */
  readonly order: string;
  /** The same, padded to compare as a string (`walOrder`). */
  readonly paddedOrder: string;
  readonly payload: Item;
  readonly set?: Record<string, unknown> | undefined;
  readonly add?: Record<string, number> | undefined;
}

export interface HistoryContext {
  readonly keyAttributes: readonly string[];
  /** Epoch seconds after which a tombstone may expire. */
  readonly tombstoneExpiresAt: number;
  /** A fresh value for `_walRev`. */
  readonly revision: string;
}

export type HistoryOutcome =
  | { readonly outcome: 'applied'; readonly item: Item }
  | { readonly outcome: 'superseded' | 'replaced' | 'duplicate' };

/**
 * A counter add meets a value that is not a number. Not final: a set or put of that attribute that comes
 * earlier in the order may still arrive, so the delivery is retried (and dead-lettered after its attempts).
 */
export class CounterNotANumberError extends Error {
  constructor(readonly attribute: string) {
    super(
      `"${attribute}" is not a number, so adds cannot count on it (yet: an earlier set may still arrive)`,
    );
    this.name = 'CounterNotANumberError';
  }
}

/** A mutation that cannot be placed in its key's order any more: it goes to the DLQ with the reason. */
export class UnorderableMutationError extends Error {
  constructor(readonly detail: string) {
    super(`cannot be ordered: ${detail}`);
    this.name = 'UnorderableMutationError';
  }
}

/** Compares compact or padded orders (`time#sequence`) numerically. */
export function compareOrders(a: string, b: string): number {
  const [timeA = '0', sequenceA = '0'] = a.split('#');
  const [timeB = '0', sequenceB = '0'] = b.split('#');
  const time = BigInt(timeA) - BigInt(timeB);
  if (time !== 0n) return time > 0n ? 1 : -1;
  const sequence = BigInt(sequenceA) - BigInt(sequenceB);
  return sequence === 0n ? 0 : sequence > 0n ? 1 : -1;
}

/** The compact form of a padded order. */
export function compactOrder(padded: string): string {
  const [time = '0', sequence = '0'] = padded.split('#');
  return `${BigInt(time)}#${BigInt(sequence)}`;
}

/** What the stored item says, split into the user's attributes and the WAL's history. */
interface ItemState {
  /** The greatest order applied (padded). */
  readonly watermark: string | undefined;
  readonly attributes: Map<string, unknown>;
  readonly exists: boolean;
  readonly base: string | undefined;
  readonly stamps: Map<string, string>;
  readonly adds: Map<string, Map<string, number>>;
  readonly folded: Map<string, string>;
}

function mapOf<V>(value: unknown): Map<string, V> {
  if (typeof value !== 'object' || value === null) return new Map();
  return new Map(Object.entries(value as Record<string, V>));
}

function readState(stored: Item | undefined): ItemState {
  const attributes = new Map<string, unknown>();
  for (const [name, value] of Object.entries(stored ?? {})) {
    if (!name.startsWith(RESERVED_ATTRIBUTE_PREFIX)) attributes.set(name, value);
  }
  const adds = new Map<string, Map<string, number>>();
  for (const [name, log] of mapOf<unknown>(stored?.[ADDS_ATTRIBUTE])) adds.set(name, mapOf<number>(log));
  const watermark = stored?.[ORDER_ATTRIBUTE];
  let base = stored?.[BASE_ATTRIBUTE];
  if (stored?.[REVISION_ATTRIBUTE] === undefined && typeof watermark === 'string') {
    // Written before items kept their history: all that is known is its order, so it counts as a put.
    base = compactOrder(watermark);
  }
  return {
    watermark: typeof watermark === 'string' ? watermark : undefined,
    attributes,
    exists: stored !== undefined && stored[DELETED_ATTRIBUTE] !== true,
    base: typeof base === 'string' ? base : undefined,
    stamps: mapOf<string>(stored?.[STAMPS_ATTRIBUTE]),
    adds,
    folded: mapOf<string>(stored?.[FOLDED_ATTRIBUTE]),
  };
}

const isAfter = (order: string, than: string | undefined) =>
  than === undefined || compareOrders(order, than) > 0;

/** The order of the last write that replaced `attribute` (its set, else the base). */
function stampOf(state: ItemState, attribute: string): string | undefined {
  const stamp = state.stamps.get(attribute);
  if (stamp === undefined) return state.base;
  return state.base === undefined || compareOrders(stamp, state.base) > 0 ? stamp : state.base;
}

/**
 * Applies one mutation to the stored item (undefined: no item) and returns the item to write, or why
 * nothing changes. Throws UnorderableMutationError when the history needed to place it was folded away,
 * or when a counter would add to something that is not a number.
 */
export function applyToHistory(
  stored: Item | undefined,
  mutation: OrderedMutation,
  context: HistoryContext,
): HistoryOutcome {
  const state = readState(stored);
  if (!isAfter(mutation.order, state.base)) {
    return mutation.order === state.base
      ? { outcome: 'duplicate' }
      : mutation.op === 'put'
        ? { outcome: 'superseded' }
        : { outcome: 'replaced' };
  }
  switch (mutation.op) {
    case 'put':
      return replaceBase(state, mutation, context, new Map(Object.entries(mutation.payload)));
    case 'delete':
      return replaceBase(state, mutation, context, undefined);
    case 'update':
      return update(state, mutation, context);
  }
}

/** A put (`fields`) or a delete (no fields) that is newer than the base: it replaces everything older. */
function replaceBase(
  state: ItemState,
  mutation: OrderedMutation,
  context: HistoryContext,
  fields: Map<string, unknown> | undefined,
): HistoryOutcome {
  const order = mutation.order;
  const next = newHistory(order);
  const attributes = new Map<string, unknown>(fields ?? []);
  const names = new Set([...state.attributes.keys(), ...state.adds.keys(), ...attributes.keys()]);
  for (const name of names) {
    const stamp = state.stamps.get(name);
    if (stamp !== undefined && compareOrders(stamp, order) > 0) {
      // Set by a later update: it stays on top, with the adds after it.
      if (state.attributes.has(name)) attributes.set(name, state.attributes.get(name));
      next.stamps.set(name, stamp);
      copyCounter(state, next, name);
      continue;
    }
    const later = addsAfter(state, name, order, 'the put or delete');
    if (later.size === 0) continue;
    // Adds later than this write land on top of its value (0 when it does not hold the attribute).
    const value = sumOnto(attributes.get(name), later, name);
    attributes.set(name, value);
    next.adds.set(name, later);
  }
  const recreated = [...attributes.keys()].some((name) => !context.keyAttributes.includes(name));
  if (fields === undefined) {
    for (const key of context.keyAttributes) attributes.set(key, mutation.payload[key]);
  }
  return {
    outcome: 'applied',
    item: writeState(attributes, next, state.watermark, mutation, context, fields !== undefined || recreated),
  };
}

function update(state: ItemState, mutation: OrderedMutation, context: HistoryContext): HistoryOutcome {
  if (isUpdateApplied(state, mutation)) return { outcome: 'duplicate' };
  const next = newHistory(state.base);
  for (const [name, stamp] of state.stamps) next.stamps.set(name, stamp);
  for (const name of state.adds.keys()) copyCounter(state, next, name);
  const attributes = new Map(state.attributes);
  if (!state.exists) {
    // An update of a deleted (or never written) item creates it, as DynamoDB's UpdateItem does.
    attributes.clear();
    for (const key of context.keyAttributes) attributes.set(key, mutation.payload[key]);
  }
  const sets = applySets(state, next, attributes, mutation);
  const adds = applyAdds(state, next, attributes, mutation);
  foldToBudget(next);
  if (!sets.changed && !adds.changed) {
    return sets.repeated || adds.repeated ? { outcome: 'duplicate' } : { outcome: 'replaced' };
  }
  return { outcome: 'applied', item: writeState(attributes, next, state.watermark, mutation, context, true) };
}

/**
 * An update is applied whole: one of its marks on the item proves all of it was (a fold may have taken
 * the marks of some of its counters and not of others).
 */
function isUpdateApplied(state: ItemState, mutation: OrderedMutation): boolean {
  const order = mutation.order;
  return (
    Object.keys(mutation.add ?? {}).some((name) => state.adds.get(name)?.has(order)) ||
    Object.keys(mutation.set ?? {}).some((name) => state.stamps.get(name) === order)
  );
}

/** What part of an update did: `changed` the item, or met a part of it already applied (`repeated`). */
interface UpdateEffect {
  changed: boolean;
  repeated: boolean;
}

/** The update's sets that are newer than what replaced their attributes, with later adds on top. */
function applySets(
  state: ItemState,
  next: MutableHistory,
  attributes: Map<string, unknown>,
  mutation: OrderedMutation,
): UpdateEffect {
  const order = mutation.order;
  const effect: UpdateEffect = { changed: false, repeated: false };
  for (const [name, value] of Object.entries(mutation.set ?? {})) {
    const stamp = stampOf(state, name);
    if (!isAfter(order, stamp)) {
      effect.repeated ||= stamp === order;
      continue;
    }
    const later = addsAfter(state, name, order, 'the set');
    attributes.set(name, later.size > 0 ? sumOnto(value, later, name) : value);
    next.stamps.set(name, order);
    next.adds.delete(name);
    next.folded.delete(name);
    if (later.size > 0) next.adds.set(name, later);
    effect.changed = true;
  }
  return effect;
}

/** The update's adds to counters not replaced after it, each logged so that a repeat is recognised. */
function applyAdds(
  state: ItemState,
  next: MutableHistory,
  attributes: Map<string, unknown>,
  mutation: OrderedMutation,
): UpdateEffect {
  const order = mutation.order;
  const effect: UpdateEffect = { changed: false, repeated: false };
  for (const [name, amount] of Object.entries(mutation.add ?? {})) {
    if (!isAfter(order, stampOf(state, name))) continue;
    const log = new Map(next.adds.get(name) ?? []);
    if (log.has(order)) {
      effect.repeated = true;
      continue;
    }
    const folded = next.folded.get(name);
    if (folded !== undefined && compareOrders(order, folded) <= 0) {
      throw new UnorderableMutationError(
        `the adds to "${name}" up to ${folded} were folded (the item keeps ${ADD_HISTORY_BUDGET_BYTES} bytes of add history); whether this one was applied is unknown`,
      );
    }
    attributes.set(name, sumOnto(attributes.get(name), new Map([[order, amount]]), name));
    log.set(order, amount);
    next.adds.set(name, log);
    effect.changed = true;
  }
  return effect;
}

interface MutableHistory {
  readonly base: string | undefined;
  readonly stamps: Map<string, string>;
  readonly adds: Map<string, Map<string, number>>;
  readonly folded: Map<string, string>;
}

function newHistory(base: string | undefined): MutableHistory {
  return { base, stamps: new Map(), adds: new Map(), folded: new Map() };
}

function copyCounter(state: ItemState, next: MutableHistory, name: string): void {
  const log = state.adds.get(name);
  if (log && log.size > 0) next.adds.set(name, new Map(log));
  const folded = state.folded.get(name);
  if (folded !== undefined) next.folded.set(name, folded);
}

/** The adds to `name` after `order`; throws if some of them may have been folded away. */
function addsAfter(state: ItemState, name: string, order: string, what: string): Map<string, number> {
  const folded = state.folded.get(name);
  if (folded !== undefined && compareOrders(folded, order) > 0) {
    throw new UnorderableMutationError(
      `${what} is older than adds to "${name}" that were folded (the item keeps ${ADD_HISTORY_BUDGET_BYTES} bytes of add history)`,
    );
  }
  return new Map([...(state.adds.get(name) ?? [])].filter(([added]) => compareOrders(added, order) > 0));
}

function sumOnto(value: unknown, adds: Map<string, number>, name: string): number {
  if (value !== undefined && typeof value !== 'number') throw new CounterNotANumberError(name);
  let sum = value ?? 0;
  for (const amount of adds.values()) sum += amount;
  if (Math.abs(sum) > Number.MAX_SAFE_INTEGER) {
    throw new UnorderableMutationError(`the counter "${name}" would pass 2^53-1, beyond exact integers`);
  }
  return sum;
}

/** Folds the oldest adds (of any counter) until the logs fit their budget; folding only raises marks. */
function foldToBudget(history: MutableHistory): void {
  const entries = [...history.adds].flatMap(([name, log]) =>
    [...log.keys()].map((order) => ({ name, order })),
  );
  let bytes = entries.reduce((sum, entry) => sum + entryBytes(entry.name, entry.order), 0);
  if (bytes <= ADD_HISTORY_BUDGET_BYTES) return;
  entries.sort((a, b) => compareOrders(a.order, b.order));
  for (const { name, order } of entries) {
    if (bytes <= ADD_HISTORY_BUDGET_BYTES) return;
    history.adds.get(name)?.delete(order);
    const folded = history.folded.get(name);
    if (folded === undefined || compareOrders(order, folded) > 0) history.folded.set(name, order);
    bytes -= entryBytes(name, order);
  }
}

/** About what one add costs in the stored map: its order, its amount, and its share of the name. */
function entryBytes(name: string, order: string): number {
  return Buffer.byteLength(order, 'utf8') + Math.ceil(Buffer.byteLength(name, 'utf8') / 4) + 12;
}

function writeState(
  attributes: Map<string, unknown>,
  history: MutableHistory,
  watermark: string | undefined,
  mutation: OrderedMutation,
  context: HistoryContext,
  exists: boolean,
): Item {
  const item: Item = Object.fromEntries(attributes);
  // The watermark only grows: a late mutation must not let an older put take the fast path later.
  const order =
    watermark !== undefined && watermark > mutation.paddedOrder ? watermark : mutation.paddedOrder;
  const meta: [string, unknown][] = [
    [ORDER_ATTRIBUTE, order],
    [MUTATION_ID_ATTRIBUTE, mutation.id],
    [REVISION_ATTRIBUTE, context.revision],
  ];
  if (history.base !== undefined) meta.push([BASE_ATTRIBUTE, history.base]);
  if (history.stamps.size > 0) meta.push([STAMPS_ATTRIBUTE, Object.fromEntries(history.stamps)]);
  const adds = [...history.adds].filter(([, log]) => log.size > 0);
  if (adds.length > 0) {
    meta.push([
      ADDS_ATTRIBUTE,
      Object.fromEntries(adds.map(([name, log]) => [name, Object.fromEntries(log)])),
    ]);
  }
  if (history.folded.size > 0) meta.push([FOLDED_ATTRIBUTE, Object.fromEntries(history.folded)]);
  if (!exists) {
    meta.push([DELETED_ATTRIBUTE, true], [EXPIRES_AT_ATTRIBUTE, context.tombstoneExpiresAt]);
  }
  return { ...item, ...Object.fromEntries(meta) };
}

/**
 * The chaos checker's oracle: what a DynamoDB target must hold, computed from the acknowledged
 * history alone (what the clients sent and what the API answered: `sequence`, `effectiveAt`).
 * It imports nothing of the implementation's logic on purpose (only the item attributes' names), so it
 * checks the contract (DESIGN.md "Apply idempotently, in order"), not the code's own idea of it.
 */
import { DELETED_ATTRIBUTE, RESERVED_ATTRIBUTE_PREFIX } from '#lambdas/shared/targets/wal-attributes';

export type Item = Record<string, unknown>;
export type Op = 'put' | 'update' | 'delete';

/**
 * One acknowledged mutation of one target item, as the client knows it. A multi-item mutation is one
 * entry per item, each with its target, all with the mutation's id, sequence and effective time.
 */
export interface AckedMutation {
  readonly id: string;
  /** The target's name; absent when there is one target. */
  readonly target?: string;
  /** The target item's key, as one string (the partition key's value). */
  readonly key: string;
  readonly op: Op;
  /** put: the item; update/delete: holds the key attributes. */
  readonly payload: Item;
  readonly set?: Item;
  readonly add?: Record<string, number>;
  /** Effective time, epoch ms: the delivery time of a delayed mutation, else its log time. */
  readonly effectiveAt: number;
  /** The stream sequence number the answer gave (a decimal string of up to 128 digits). */
  readonly sequence: string;
}

export class AddToNonNumberError extends Error {
  constructor(
    readonly mutationId: string,
    readonly attribute: string,
    options?: { cause?: unknown },
  ) {
    super(`mutation ${mutationId} adds to "${attribute}", which is not a number`, options);
    this.name = 'AddToNonNumberError';
  }
}

export class InvalidEffectiveTimeError extends Error {
  constructor(value: unknown, options?: { cause?: unknown }) {
    super(`effectiveAt must be an ISO-8601 time, not ${JSON.stringify(value)}`, options);
    this.name = 'InvalidEffectiveTimeError';
  }
}

/** Parses the answer's `effectiveAt` (ISO-8601 with milliseconds) to epoch ms. */
export function parseEffectiveAt(value: unknown): number {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw new InvalidEffectiveTimeError(value);
  return ms;
}

/**
 * The WAL's order: effective time in ms, then the stream sequence compared as a number (BigInt:
 * Kinesis sequence numbers are decimal strings of up to 129 digits, far beyond 2^53, and as strings
 * "9" would sort after "10"). Records of one partition key go to one shard, where sequence numbers are
 * unique and "generally increase over time" (Kinesis API reference, PutRecord:
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecord.html).
 */
export function compareWalOrder(a: AckedMutation, b: AckedMutation): number {
  if (a.effectiveAt !== b.effectiveAt) return a.effectiveAt < b.effectiveAt ? -1 : 1;
  const left = BigInt(a.sequence);
  const right = BigInt(b.sequence);
  return left === right ? 0 : left < right ? -1 : 1;
}

/** One mutation on top of the item's state (undefined = absent). */
function applyMutation(
  item: Item | undefined,
  mutation: AckedMutation,
  keyAttributes: readonly string[],
): Item | undefined {
  switch (mutation.op) {
    case 'put':
      return { ...mutation.payload };
    case 'delete':
      return undefined;
    case 'update': {
      // An update of an absent item creates it from the key attributes.
      const next: Item = item
        ? { ...item }
        : Object.fromEntries(keyAttributes.map((name) => [name, mutation.payload[name]]));
      Object.assign(next, mutation.set ?? {});
      for (const [attribute, amount] of Object.entries(mutation.add ?? {})) {
        const current = next[attribute] ?? 0;
        if (typeof current !== 'number') throw new AddToNonNumberError(mutation.id, attribute);
        next[attribute] = current + amount;
      }
      return next;
    }
  }
}

/**
 * Each key's expected final item: its acknowledged mutations folded in WAL order (undefined =
 * absent). A mutation acknowledged to several attempts of one client counts once (same id).
 */
export function expectedItems(
  history: readonly AckedMutation[],
  keyAttributes: readonly string[],
): Map<string, Item | undefined> {
  const byKey = new Map<string, Map<string, AckedMutation>>();
  for (const mutation of history) {
    const mutations = byKey.get(mutation.key) ?? new Map<string, AckedMutation>();
    mutations.set(mutation.id, mutation);
    byKey.set(mutation.key, mutations);
  }
  const expected = new Map<string, Item | undefined>();
  for (const [key, mutations] of byKey) {
    let item: Item | undefined;
    for (const mutation of [...mutations.values()].sort(compareWalOrder)) {
      item = applyMutation(item, mutation, keyAttributes);
    }
    expected.set(key, item);
  }
  return expected;
}

/**
 * Per target, each key's expected final item: the items of multi-item mutations fold per (target, key)
 * exactly as single mutations do, each in its mutation's place in the WAL order. Entries without a
 * target are under ''.
 */
export function expectedTables(
  history: readonly AckedMutation[],
  keyAttributes: readonly string[],
): Map<string, Map<string, Item | undefined>> {
  const byTarget = new Map<string, AckedMutation[]>();
  for (const mutation of history) {
    const target = mutation.target ?? '';
    const entries = byTarget.get(target) ?? [];
    entries.push(mutation);
    byTarget.set(target, entries);
  }
  return new Map([...byTarget].map(([target, entries]) => [target, expectedItems(entries, keyAttributes)]));
}

/** What one item of a multi-item mutation shows at the end. */
export interface ItemEvidence {
  /** The item holds the mutation's own marker: it was applied (no other mutation writes that marker). */
  readonly shows: boolean;
  /**
   * The fold of the acknowledged history, this mutation included, shows the marker on the item: then an
   * item without it was not applied. Where a later put or delete replaced it, absence says nothing.
   */
  readonly expected: boolean;
}

/**
 * All or nothing: a multi-item mutation is partial when one of its items shows it applied and another
 * shows it was not (its marker absent where the history says it would show).
 */
export function isPartial(evidence: readonly ItemEvidence[]): boolean {
  return evidence.some((item) => item.shows) && evidence.some((item) => item.expected && !item.shows);
}

/** The item as a reader sees it: without the WAL's attributes, and absent if it is a tombstone. */
export function visibleItem(stored: Item | undefined): Item | undefined {
  if (!stored || stored[DELETED_ATTRIBUTE] === true) return undefined;
  return Object.fromEntries(
    Object.entries(stored).filter(([attribute]) => !attribute.startsWith(RESERVED_ATTRIBUTE_PREFIX)),
  );
}

/** Deep equality of JSON-like values; attribute order does not matter. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => Object.hasOwn(right, key) && sameValue(left[key], right[key]));
}

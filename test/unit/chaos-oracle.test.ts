import {
  type AckedMutation,
  AddToNonNumberError,
  compareWalOrder,
  expectedItems,
  expectedTables,
  InvalidEffectiveTimeError,
  isPartial,
  parseEffectiveAt,
  visibleItem,
} from '#src/chaos/oracle';

const KEY = ['id'];

/** A hand-made acknowledged mutation of item "k". */
function acked(
  id: string,
  op: AckedMutation['op'],
  effectiveAt: number,
  sequence: string,
  rest: Partial<AckedMutation> = {},
): AckedMutation {
  return { id, key: 'k', op, payload: { id: 'k' }, effectiveAt, sequence, ...rest };
}

describe('chaos oracle', () => {
  it('folds mutations in WAL order, not in the order they arrived', () => {
    // GIVEN a put, an update set and an update add, listed in the reverse of the WAL order;
    // the add has the lowest sequence but the latest effective time, so it is last
    const put = acked('m1', 'put', 1_000, '5', { payload: { id: 'k', a: 1 } });
    const set = acked('m2', 'update', 1_000, '7', { set: { b: 2 } });
    const add = acked('m3', 'update', 1_500, '3', { add: { n: 1 } });
    // WHEN the oracle folds them
    const expected = expectedItems([add, set, put], KEY);
    // THEN each lands on top of the earlier ones
    expect(expected.get('k')).toEqual({ id: 'k', a: 1, b: 2, n: 1 });
  });

  it('lets a later put replace everything before it, updates included', () => {
    // GIVEN an update at 1 s and a put at 2 s
    const set = acked('m1', 'update', 1_000, '1', { set: { b: 2 } });
    const put = acked('m2', 'put', 2_000, '2', { payload: { id: 'k', a: 1 } });
    // WHEN/THEN they are folded in any order: the put's item alone
    expect(expectedItems([put, set], KEY).get('k')).toEqual({ id: 'k', a: 1 });
  });

  it('compares sequences as numbers: "10" is after "9", also beyond 2^53', () => {
    // GIVEN two puts at the same time, sequences 9 and 10
    const nine = acked('m1', 'put', 1_000, '9', { payload: { id: 'k', v: 9 } });
    const ten = acked('m2', 'put', 1_000, '10', { payload: { id: 'k', v: 10 } });
    // WHEN/THEN they are ordered: 10 comes last
    expect(compareWalOrder(nine, ten)).toBeLessThan(0);
    expect(expectedItems([ten, nine], KEY).get('k')).toEqual({ id: 'k', v: 10 });
    // Kinesis sequence numbers are 56 digits: as doubles these two would be equal.
    const low = acked('m3', 'put', 1_000, '49590338271490256608559692538361571095921575989136588898');
    const high = acked('m4', 'put', 1_000, '49590338271490256608559692538361571095921575989136588899');
    expect(compareWalOrder(high, low)).toBeGreaterThan(0);
  });

  it('creates an item from an update after a delete: key attributes plus the set and add attributes', () => {
    // GIVEN a put, a delete, then an update
    const put = acked('m1', 'put', 1_000, '1', { payload: { id: 'k', a: 1, n: 5 } });
    const remove = acked('m2', 'delete', 2_000, '2');
    const update = acked('m3', 'update', 3_000, '3', {
      payload: { id: 'k', ignored: true },
      set: { s: 'x' },
      add: { n: 2 },
    });
    // WHEN/THEN they are folded: the update builds the item from the key and its own attributes
    expect(expectedItems([update, remove, put], KEY).get('k')).toEqual({ id: 'k', s: 'x', n: 2 });
  });

  it('keeps a delete deleted when an older put arrives late', () => {
    // GIVEN a delete, and a put earlier in the WAL order that is acknowledged (and delivered) after it
    const remove = acked('m2', 'delete', 2_000, '9');
    const latePut = acked('m1', 'put', 1_000, '12', { payload: { id: 'k', a: 1 } });
    // THEN the item is absent
    const expected = expectedItems([remove, latePut], KEY);
    expect(expected.has('k')).toBe(true);
    expect(expected.get('k')).toBeUndefined();
  });

  it('lets a delayed put whose delivery time is after the delete bring the item back', () => {
    // GIVEN a delete, and a put with a lower sequence delivered after it
    const remove = acked('m1', 'delete', 2_000, '9');
    const delayedPut = acked('m2', 'put', 3_000, '5', { payload: { id: 'k', a: 1 } });
    // WHEN/THEN they are folded: the put wins
    expect(expectedItems([delayedPut, remove], KEY).get('k')).toEqual({ id: 'k', a: 1 });
  });

  it('counts a mutation acknowledged to several attempts once (same id)', () => {
    // GIVEN one add acknowledged three times
    const add = acked('m1', 'update', 1_000, '1', { add: { n: 1 } });
    // WHEN/THEN it is folded: applied once
    expect(expectedItems([add, add, { ...add }], KEY).get('k')).toEqual({ id: 'k', n: 1 });
  });

  it('fails if an add targets an attribute that is not a number', () => {
    // GIVEN a text attribute, then an add to it
    const put = acked('m1', 'put', 1_000, '1', { payload: { id: 'k', n: 'text' } });
    const add = acked('m2', 'update', 2_000, '2', { add: { n: 1 } });
    // WHEN/THEN they are folded
    expect(() => expectedItems([put, add], KEY)).toThrow(AddToNonNumberError);
  });

  it('reads an item without the WAL attributes, and a tombstone as absent', () => {
    // WHEN/THEN a stored item, a tombstone and no item are read
    expect(visibleItem({ id: 'k', a: 1, _walOrder: 'x', _walId: 'y' })).toEqual({ id: 'k', a: 1 });
    expect(visibleItem({ id: 'k', _walDeleted: true, _walOrder: 'x' })).toBeUndefined();
    expect(visibleItem(undefined)).toBeUndefined();
  });

  it('parses effectiveAt with milliseconds', () => {
    // WHEN/THEN an ISO time with milliseconds is parsed
    expect(parseEffectiveAt('2026-11-26T15:45:01.234Z')).toBe(Date.UTC(2026, 10, 26, 15, 45, 1, 234));
  });

  it('fails if effectiveAt is not an ISO-8601 time', () => {
    // WHEN/THEN a word and a number are parsed
    expect(() => parseEffectiveAt('yesterday')).toThrow(InvalidEffectiveTimeError);
    expect(() => parseEffectiveAt(1_000)).toThrow(InvalidEffectiveTimeError);
  });
});

describe('chaos oracle: multi-item mutations', () => {
  /** One item of a multi-item mutation: the mutation's id, time and sequence, the item's target and key. */
  function item(
    id: string,
    target: string,
    key: string,
    effectiveAt: number,
    sequence: string,
    rest: Partial<AckedMutation> = {},
  ): AckedMutation {
    return acked(id, 'update', effectiveAt, sequence, { target, key, payload: { id: key }, ...rest });
  }

  it("folds each item in its mutation's place in the WAL order, per (target, key)", () => {
    // GIVEN on table a key k: a put (1 s), then the items mutation m2 (2 s) adding to a:k and putting b:k,
    // then an add on a:k (3 s) listed first; and on table b key k only m2, then a later items mutation m4
    const put = acked('m1', 'put', 1_000, '1', { target: 'a', payload: { id: 'k', v: 1 } });
    const m2a = item('m2', 'a', 'k', 2_000, '2', { add: { n: 2, x2: 1 } });
    const m2b = item('m2', 'b', 'k', 2_000, '2', { op: 'put', payload: { id: 'k', tag: 'p2' } });
    const add = acked('m3', 'update', 3_000, '3', { target: 'a', add: { n: 1 } });
    const m4b = item('m4', 'b', 'k', 4_000, '4', { set: { s: 4 } });
    // WHEN the oracle folds the history, in any order
    const tables = expectedTables([m4b, add, m2b, m2a, put], KEY);
    // THEN the same key of two tables is two items, each the fold of its own mutations
    expect(tables.get('a')?.get('k')).toEqual({ id: 'k', v: 1, n: 3, x2: 1 });
    expect(tables.get('b')?.get('k')).toEqual({ id: 'k', tag: 'p2', s: 4 });
    expect([...tables.keys()].sort()).toEqual(['a', 'b']);
  });

  it('keeps entries without a target under one table', () => {
    // GIVEN two single puts with no target
    const history = [acked('m1', 'put', 1_000, '1'), acked('m2', 'put', 2_000, '2', { key: 'j' })];
    // WHEN/THEN they fold under ''
    expect([...(expectedTables(history, KEY).get('')?.keys() ?? [])].sort()).toEqual(['j', 'k']);
  });

  it('finds a partial application: one item shows the mutation, another lacks it where the history says it shows', () => {
    // GIVEN the items of one mutation: applied on table a, missing on table b though nothing replaced it there
    const applied = { shows: true, expected: true };
    const missing = { shows: false, expected: true };
    // WHEN/THEN it is partial, in either order of the items
    expect(isPartial([applied, missing])).toBe(true);
    expect(isPartial([missing, applied])).toBe(true);
  });

  it('takes all or nothing as whole, and a replaced item as no evidence', () => {
    // GIVEN items applied, items not applied, and an item whose marker a later put replaced
    const applied = { shows: true, expected: true };
    const notApplied = { shows: false, expected: true };
    const replaced = { shows: false, expected: false };
    // WHEN/THEN none of these is partial
    expect(isPartial([applied, applied])).toBe(false);
    expect(isPartial([notApplied, notApplied])).toBe(false);
    expect(isPartial([applied, replaced])).toBe(false);
    expect(isPartial([notApplied, replaced])).toBe(false);
  });
});

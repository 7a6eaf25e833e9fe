import {
  ADD_HISTORY_BUDGET_BYTES,
  applyToHistory,
  CounterNotANumberError,
  compareOrders,
  type Item,
  type OrderedMutation,
  UnorderableMutationError,
} from '#lambdas/shared/targets/item-history';

const CONTEXT = { keyAttributes: ['id'], tombstoneExpiresAt: 1_900_000_000, revision: 'r' };

function mutation(
  time: number,
  sequence: number,
  op: OrderedMutation['op'],
  fields: Partial<Pick<OrderedMutation, 'payload' | 'set' | 'add'>> = {},
): OrderedMutation {
  return {
    id: `m${time}-${sequence}`,
    op,
    order: `${time}#${sequence}`,
    paddedOrder: `${String(time).padStart(15, '0')}#${String(sequence).padStart(128, '0')}`,
    payload: fields.payload ?? { id: 'k' },
    set: fields.set,
    add: fields.add,
  };
}

/** Applies deliveries one after the other, as the target would, and returns what a reader sees. */
function deliver(deliveries: OrderedMutation[]): Item | undefined {
  let stored: Item | undefined;
  for (const delivery of deliveries) {
    const result = applyToHistory(stored, delivery, CONTEXT);
    if (result.outcome === 'applied') stored = result.item;
  }
  return visible(stored);
}

function visible(item: Item | undefined): Item | undefined {
  if (!item || item._walDeleted === true) return undefined;
  return Object.fromEntries(Object.entries(item).filter(([name]) => !name.startsWith('_wal')));
}

/**
 * The contract, computed without the implementation: fold the mutations in WAL order (effective
 * time, then sequence). A put replaces, an update sets and adds (creating the item), a delete removes.
 */
function expected(mutations: OrderedMutation[]): Item | undefined {
  let item: Item | undefined;
  const sorted = [...mutations].sort((a, b) => compareOrders(a.order, b.order));
  for (const m of sorted) {
    if (m.op === 'put') item = { ...m.payload };
    else if (m.op === 'delete') item = undefined;
    else {
      item = item ?? { id: m.payload.id };
      Object.assign(item, m.set ?? {});
      for (const [name, amount] of Object.entries(m.add ?? {})) {
        item[name] = ((item[name] as number | undefined) ?? 0) + amount;
      }
    }
  }
  return item;
}

/** Under the add history's budget: the adds below fold after about 3070 of them. */
const SEEDED_ADDS = 3000;

/** The item after `count` adds of 1 to n at 101#1, 102#2, ..., applied in order (the test checks the form). */
function itemAfterAdds(count: number): Item {
  const last = mutation(100 + count, count, 'update');
  const adds = Array.from({ length: count }, (_, index) => [`${101 + index}#${index + 1}`, 1]);
  return {
    id: 'k',
    n: count,
    _walOrder: last.paddedOrder,
    _walId: last.id,
    _walRev: 'r',
    _walAdds: { n: Object.fromEntries(adds) },
  };
}

describe('applyToHistory', () => {
  it('lands a retried add under a later add: both count (defect: the first was dropped)', () => {
    // GIVEN two adds on one key; the first fails and is retried after the second was applied
    const first = mutation(100, 1, 'update', { add: { count: 1 } });
    const second = mutation(200, 2, 'update', { add: { count: 1 } });
    // WHEN
    const item = deliver([second, first]);
    // THEN
    expect(item).toEqual({ id: 'k', count: 2 });
  });

  it("keeps a put's fields when it is retried after a later update", () => {
    // GIVEN a put, then an update of one attribute, applied in the wrong order
    const put = mutation(100, 1, 'put', { payload: { id: 'k', name: 'Ada', status: 'new' } });
    const update = mutation(200, 2, 'update', { set: { status: 'paid' } });
    // WHEN
    const item = deliver([update, put]);
    // THEN the put's fields are there, under the later update
    expect(item).toEqual({ id: 'k', name: 'Ada', status: 'paid' });
  });

  it('keeps a delete deleted when an older put is retried after it', () => {
    // GIVEN a put and a later delete, the put retried last
    const put = mutation(100, 1, 'put', { payload: { id: 'k', v: 1 } });
    const del = mutation(200, 2, 'delete');
    // WHEN
    const stored = [del, put].reduce<Item | undefined>((item, m) => {
      const result = applyToHistory(item, m, CONTEXT);
      return result.outcome === 'applied' ? result.item : item;
    }, undefined);
    // THEN a tombstone stays, with its expiry
    expect(visible(stored)).toBeUndefined();
    expect(stored).toMatchObject({ id: 'k', _walDeleted: true, _walExpiresAt: 1_900_000_000 });
  });

  it('puts adds that came later back on top of a late put', () => {
    // GIVEN put count=10 at t100, then add 1 at t200 applied first
    const put = mutation(100, 1, 'put', { payload: { id: 'k', count: 10 } });
    const add = mutation(200, 2, 'update', { add: { count: 1 } });
    // WHEN
    const item = deliver([add, put]);
    // THEN
    expect(item).toEqual({ id: 'k', count: 11 });
  });

  it('recognises a redelivered add and put as duplicates', () => {
    // GIVEN
    const put = mutation(100, 1, 'put', { payload: { id: 'k', count: 10 } });
    const add = mutation(200, 2, 'update', { add: { count: 1 } });
    const first = applyToHistory(undefined, put, CONTEXT) as { item: Item };
    const after = applyToHistory(first.item, add, CONTEXT);
    const stored = (after as { item: Item }).item;
    // WHEN / THEN
    expect(applyToHistory(stored, add, CONTEXT).outcome).toBe('duplicate');
    expect(applyToHistory(stored, put, CONTEXT).outcome).toBe('duplicate');
  });

  it('reports an update older than a later put as replaced (its effects are gone in the final state)', () => {
    // GIVEN an item written by a put at 200
    const update = mutation(100, 1, 'update', { set: { a: 1 } });
    const put = mutation(200, 2, 'put', { payload: { id: 'k', a: 2 } });
    const stored = (applyToHistory(undefined, put, CONTEXT) as { item: Item }).item;
    // WHEN/THEN an update at 100 arrives: its effects are gone, so it is replaced
    expect(applyToHistory(stored, update, CONTEXT).outcome).toBe('replaced');
  });

  it('treats an item written before items kept their history as a put at its order', () => {
    // GIVEN an item as the earlier target wrote it: its order and id, no history
    const legacy = { id: 'k', v: 2, _walOrder: mutation(200, 2, 'put').paddedOrder, _walId: 'old' };
    // WHEN an older update arrives late / a newer one arrives
    const late = applyToHistory(legacy, mutation(100, 1, 'update', { set: { v: 1 } }), CONTEXT);
    const newer = applyToHistory(legacy, mutation(300, 3, 'update', { set: { w: 1 } }), CONTEXT);
    // THEN the older one stays under it, the newer one lands on top
    expect(late.outcome).toBe('replaced');
    expect(newer).toMatchObject({ outcome: 'applied', item: { id: 'k', v: 2, w: 1 } });
  });

  it('never lowers the watermark when a late mutation lands', () => {
    // GIVEN an item updated at 200
    const later = mutation(200, 2, 'update', { set: { a: 1 } });
    const earlier = mutation(100, 1, 'update', { set: { b: 1 } });
    const stored = (applyToHistory(undefined, later, CONTEXT) as { item: Item }).item;
    // WHEN an update at 100 lands
    const result = applyToHistory(stored, earlier, CONTEXT);
    // THEN both attributes are there, and the watermark stays at 200
    expect(result).toMatchObject({ outcome: 'applied', item: { _walOrder: later.paddedOrder, a: 1, b: 1 } });
  });

  it('fails if an add is older than the add history the item keeps (folded past its byte budget)', () => {
    // GIVEN more adds than the budget keeps, applied in order: the first SEEDED_ADDS written directly (applying
    // ~3000 adds one by one costs 5 to 15 s), in the form applyToHistory writes them, the rest applied for real
    let inOrder: Item | undefined;
    for (let count = 1; count <= 3; count++) {
      inOrder = (
        applyToHistory(inOrder, mutation(100 + count, count, 'update', { add: { n: 1 } }), CONTEXT) as {
          item: Item;
        }
      ).item;
    }
    expect(itemAfterAdds(3)).toEqual(inOrder);
    let stored: Item | undefined = itemAfterAdds(SEEDED_ADDS);
    let count = SEEDED_ADDS;
    while (stored?._walFolded === undefined) {
      count++;
      const result = applyToHistory(
        stored,
        mutation(100 + count, count, 'update', { add: { n: 1 } }),
        CONTEXT,
      );
      stored = (result as { item: Item }).item;
    }
    expect(count * 60).toBeGreaterThan(ADD_HISTORY_BUDGET_BYTES);
    expect(JSON.stringify(stored._walAdds).length).toBeLessThanOrEqual(ADD_HISTORY_BUDGET_BYTES);
    expect(stored.n).toBe(count);
    // WHEN the oldest arrives again (a redelivery or a late first delivery: which is unknown)
    const late = () => applyToHistory(stored, mutation(101, 1, 'update', { add: { n: 1 } }), CONTEXT);
    // THEN it cannot be placed, and says so
    expect(late).toThrow(UnorderableMutationError);
    expect(late).toThrow(/folded/);
    // AND a newer add still counts
    const newer = applyToHistory(
      stored,
      mutation(100 + count + 1, count + 1, 'update', { add: { n: 1 } }),
      CONTEXT,
    );
    expect(newer).toMatchObject({ outcome: 'applied', item: { n: count + 1 } });
  });

  it('recognises a redelivered update whose counters were folded apart (one kept its mark, one did not)', () => {
    // GIVEN the item after an update that added to n and m at 100#1, where the fold took m's mark, not n's
    const stored: Item = {
      id: 'k',
      n: 1,
      m: 500,
      _walOrder: mutation(600, 600, 'put').paddedOrder,
      _walRev: 'r',
      _walAdds: { n: { '100#1': 1 } },
      _walFolded: { m: '100#1' },
    };
    // WHEN that update arrives again
    const again = applyToHistory(stored, mutation(100, 1, 'update', { add: { n: 1, m: 1 } }), CONTEXT);
    // THEN n's mark proves it was applied: a duplicate, not a DLQ case
    expect(again.outcome).toBe('duplicate');
  });

  it('fails if a counter would pass 2^53-1', () => {
    // GIVEN a counter at 2^53-1
    const big = mutation(100, 1, 'put', { payload: { id: 'k', n: Number.MAX_SAFE_INTEGER } });
    const stored = (applyToHistory(undefined, big, CONTEXT) as { item: Item }).item;
    // WHEN/THEN an add of 1 arrives
    expect(() => applyToHistory(stored, mutation(200, 2, 'update', { add: { n: 1 } }), CONTEXT)).toThrow(
      UnorderableMutationError,
    );
  });

  it('fails, for a retry, if a counter would add to a string an earlier set may still replace', () => {
    // GIVEN put n="text" at t100; set n=5 at t200 not here yet; add 1 at t300 arrives
    const put = mutation(100, 1, 'put', { payload: { id: 'k', n: 'text' } });
    const set = mutation(200, 2, 'update', { set: { n: 5 } });
    const add = mutation(300, 3, 'update', { add: { n: 1 } });
    const stored = (applyToHistory(undefined, put, CONTEXT) as { item: Item }).item;
    // WHEN / THEN the add fails with a retryable error, not a verdict
    expect(() => applyToHistory(stored, add, CONTEXT)).toThrow(CounterNotANumberError);
    // AND once the set has landed, the retried add counts
    expect(deliver([put, set, add])).toEqual({ id: 'k', n: 6 });
  });

  it('matches the in-order fold for any arrival order with redeliveries (seeded random histories)', () => {
    const random = seededRandom(7);
    for (let scenario = 0; scenario < 3000; scenario++) {
      // GIVEN a history of puts, updates and deletes on one key, some with equal times
      const history = randomHistory(random);
      // WHEN it arrives shuffled, some mutations twice
      const deliveries = shuffle([...history, ...history.filter(() => random() < 0.3)], random);
      // THEN the item is what the ordered fold says
      expect({ scenario, item: deliver(deliveries) }).toEqual({ scenario, item: expected(history) });
    }
  });
});

function randomHistory(random: () => number): OrderedMutation[] {
  const count = 2 + Math.floor(random() * 7);
  return Array.from({ length: count }, (_, index) => randomMutation(random, index));
}

function randomMutation(random: () => number, index: number): OrderedMutation {
  const time = 100 + Math.floor(random() * 5);
  const ops = ['put', 'put', 'update', 'update', 'update', 'delete'] as const;
  const op = ops[Math.floor(random() * ops.length)] as OrderedMutation['op'];
  const payload = op === 'put' ? randomPutPayload(random, index) : { id: 'k' };
  const { set, add } = op === 'update' ? randomUpdate(random, index) : { set: {}, add: {} };
  return mutation(time, index + 1, op, { payload, set, add });
}

function randomPutPayload(random: () => number, index: number): Item {
  const payload: Item = { id: 'k' };
  if (random() < 0.7) payload.a = `a${index}`;
  if (random() < 0.5) payload.n = index;
  return payload;
}

function randomUpdate(
  random: () => number,
  index: number,
): { set: Record<string, unknown>; add: Record<string, number> } {
  const set: Record<string, unknown> = {};
  const add: Record<string, number> = {};
  if (random() < 0.5) set.a = `s${index}`;
  if (random() < 0.3) set.n = index * 10;
  if (random() < 0.6 && set.n === undefined) add.n = 1 + index;
  if (random() < 0.4) add.m = 1;
  if (Object.keys(set).length + Object.keys(add).length === 0) add.m = 1;
  return { set, add };
}

function shuffle<T>(values: T[], random: () => number): T[] {
  for (let index = values.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [values[index], values[other]] = [values[other] as T, values[index] as T];
  }
  return values;
}

/** mulberry32: a small seeded PRNG, so a failure reproduces. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

import type { MutationResult } from '#src/chaos/client';
import type { Item } from '#src/chaos/oracle';
import { formatReport, isClean, reconcile, type SettledState } from '#src/chaos/reconcile';
import type { MutationBody, PlannedMutation, Touch, WorkloadOp } from '#src/chaos/workload';

function planned(index: number, op: WorkloadOp, key: string, body: MutationBody): PlannedMutation {
  const client = op === 'keyless-counter' || op === 'keyless-items' ? 'keyless' : 'careful';
  return {
    index,
    op,
    client,
    key,
    body,
    delayed: false,
    ...(client === 'careful' ? { idempotencyKey: `m${index}` } : {}),
  };
}
const counter = (index: number) =>
  planned(index, 'counter', `c${index}`, { op: 'update', payload: { id: `c${index}` }, add: { count: 1 } });
const keyless = (index: number) =>
  planned(index, 'keyless-counter', `n${index}`, {
    op: 'update',
    payload: { id: `n${index}` },
    add: { count: 1 },
  });
const put = (index: number) =>
  planned(index, 'put', 'k', { op: 'put', payload: { id: 'k', tag: `p${index}`, v: index } });
const add = (index: number) =>
  planned(index, 'update-add', 'k', { op: 'update', payload: { id: 'k' }, add: { n: 1, [`x${index}`]: 1 } });
const remove = (index: number) => planned(index, 'delete', 'k', { op: 'delete', payload: { id: 'k' } });

/** An answer: acked at (effectiveAt, sequence), or another outcome. */
function answered(
  mutation: PlannedMutation,
  effectiveAt = 1_000 + mutation.index,
  outcome: MutationResult['outcome'] = 'acked',
  keylessSends = 0,
): MutationResult {
  return {
    mutation,
    outcome,
    id: `id${mutation.index}`,
    sequence: String(100 + mutation.index),
    effectiveAt,
    attempts: 1,
    unknownAnswers: 0,
    keylessSends,
    abandoned: 0,
  };
}

function state(
  items: Record<string, Item>,
  deadLettered: Record<string, string> = {},
  side: Record<string, Item> = {},
): SettledState {
  return {
    items: new Map(Object.entries(items)),
    tables: new Map([['side', new Map(Object.entries(side))]]),
    deadLettered: new Map(Object.entries(deadLettered)),
  };
}

/** An item of a multi-item mutation: a put (tag p<index>) or an add (own counter x<index>), with its marker. */
function touch(target: string, key: string, kind: 'put' | 'add', index: number): Touch {
  return kind === 'put'
    ? {
        target,
        key,
        op: 'put',
        payload: { id: key, tag: `p${index}` },
        marker: { attribute: 'tag', value: `p${index}` },
      }
    : {
        target,
        key,
        op: 'update',
        payload: { id: key },
        add: { [`x${index}`]: 1 },
        marker: { attribute: `x${index}` },
      };
}

/** A keyed multi-item mutation over the main table's key k and the side table's key s (the body is not read). */
function items(index: number, main: 'put' | 'add', side: 'put' | 'add', sideKey = 's'): PlannedMutation {
  const touches = [touch('main', 'k', main, index), touch('side', sideKey, side, index)];
  return {
    ...planned(index, 'items', 'k', { items: [] }),
    touches,
  };
}

/** A keyless multi-item mutation: count += 1 on its own key i<index> in both tables. */
function keylessItems(index: number): PlannedMutation {
  const counter = (target: string): Touch => ({
    target,
    key: `i${index}`,
    op: 'update',
    payload: { id: `i${index}` },
    add: { count: 1 },
  });
  return {
    ...planned(index, 'keyless-items', `i${index}`, { items: [] }),
    client: 'keyless',
    touches: [counter('main'), counter('side')],
  };
}

describe('reconcile (the chaos checker)', () => {
  it('counts a clean run as clean', () => {
    // GIVEN a counter, and a put then an add on a shared key, all applied as the oracle says
    const results = [answered(counter(0)), answered(put(1)), answered(add(2))];
    const settled = state({
      c0: { id: 'c0', count: 1, _walOrder: 'o' },
      k: { id: 'k', tag: 'p1', v: 1, n: 1, x2: 1, _walId: 'id2' },
    });
    // WHEN reconciled
    const report = reconcile(results, settled);
    // THEN everything is applied and nothing is wrong
    expect(report).toMatchObject({ acked: 3, applied: 3, lost: 0, doubleApplied: 0, orderViolations: 0 });
    expect(isClean(report)).toBe(true);
  });

  it('finds an add dropped as "superseded" (lost, and the key is not the oracle\'s)', () => {
    // GIVEN two acked adds on one key; the first was retried after the second had landed, and dropped
    const results = [answered(add(1)), answered(add(2))];
    const settled = state({ k: { id: 'k', n: 1, x2: 1 } });
    // WHEN reconciled
    const report = reconcile(results, settled);
    // THEN the first add is lost and the key violates the order
    expect(report).toMatchObject({ lost: 1, orderViolations: 1 });
    expect(report.problems.join('\n')).toContain('#1 update-add');
    expect(isClean(report)).toBe(false);
  });

  it('finds a delete undone by an older put retried after it', () => {
    // GIVEN a put, then a delete later in the WAL order; the put's retry recreated the item
    const results = [answered(put(1), 1_000), answered(remove(2), 2_000)];
    const settled = state({ k: { id: 'k', tag: 'p1', v: 1 } });
    // THEN the key holds an item the oracle says is absent
    expect(reconcile(results, settled).orderViolations).toBe(1);
    // AND a tombstone counts as absent: clean
    expect(reconcile(results, state({ k: { id: 'k', _walDeleted: true } })).orderViolations).toBe(0);
  });

  it('finds a double application of a counter and of a shared add', () => {
    // GIVEN a counter and an add, each acknowledged once but applied twice
    const results = [answered(counter(0)), answered(add(1))];
    // WHEN the results are reconciled with the tables
    const report = reconcile(results, state({ c0: { id: 'c0', count: 2 }, k: { id: 'k', n: 2, x1: 2 } }));
    // THEN both count as applied twice, and the run is not clean
    expect(report.doubleApplied).toBe(2);
    expect(isClean(report)).toBe(false);
  });

  it('finds FAILed mutations that were applied anyway, by their markers', () => {
    // GIVEN a FAILed counter and a FAILed put whose effects show
    const results = [answered(counter(0), 0, 'failed'), answered(put(1), 0, 'failed')];
    const report = reconcile(results, state({ c0: { id: 'c0', count: 1 }, k: { id: 'k', tag: 'p1', v: 1 } }));
    // THEN both count, and the key is not what the (empty) acked history says
    expect(report).toMatchObject({ failed: 2, failedButApplied: 2, orderViolations: 1 });
  });

  it('allows a keyless counter at up to one application per send, and no more', () => {
    // GIVEN a keyless counter acked after 2 sends without a key (the first got no answer)
    const acked = answered(keyless(0), 1_000, 'acked', 2);
    // THEN 2 is at-least-once (allowed, counted), 3 is a double application, 0 is lost
    const twice = reconcile([acked], state({ n0: { id: 'n0', count: 2 } }));
    expect(twice).toMatchObject({ keylessDuplicates: 1, doubleApplied: 0, applied: 1 });
    expect(isClean(twice)).toBe(true);
    expect(reconcile([acked], state({ n0: { id: 'n0', count: 3 } })).doubleApplied).toBe(1);
    expect(reconcile([acked], state({})).lost).toBe(1);
  });

  it('finds a keyless send answered FAIL that was applied', () => {
    // GIVEN one keyless send, answered FAIL: it may never apply
    const failed = answered(keyless(0), 0, 'failed', 1);
    expect(reconcile([failed], state({ n0: { id: 'n0', count: 1 } })).failedButApplied).toBe(1);
    expect(reconcile([failed], state({})).failedButApplied).toBe(0);
  });

  it('counts dead-lettered mutations apart, with their reasons, and orders the rest without them', () => {
    // GIVEN a counter and the last put of a key on the DLQ, not applied
    const results = [answered(counter(0)), answered(put(1)), answered(put(2))];
    const settled = state(
      { k: { id: 'k', tag: 'p1', v: 1 } },
      { id0: 'target-rejected after 1 attempt(s)', id2: 'x' },
    );
    // WHEN reconciled
    const report = reconcile(results, settled);
    // THEN neither is lost, the key is right for what was applied, and the DLQ is listed
    expect(report).toMatchObject({ dlq: 2, lost: 0, orderViolations: 0, applied: 1 });
    expect(report.deadLetters).toContainEqual({
      id: 'id0',
      reason: 'target-rejected after 1 attempt(s)',
      mutation: '#0 counter c0 (careful)',
    });
  });

  it('finds an acked counter that is neither applied nor on the DLQ', () => {
    // WHEN an acknowledged counter is missing from the tables and the DLQ
    const report = reconcile([answered(counter(0))], state({}));
    // THEN it is lost
    expect(report).toMatchObject({ lost: 1, applied: 0 });
  });

  it('counts an UNKNOWN that never resolved', () => {
    // GIVEN a mutation whose every answer was UNKNOWN
    const result: MutationResult = {
      mutation: counter(0),
      outcome: 'unresolved',
      attempts: 20,
      unknownAnswers: 20,
      keylessSends: 0,
      abandoned: 3,
    };
    // WHEN it is reconciled
    const report = reconcile([result], state({}));
    // THEN it counts as unresolved, and the run is not clean
    expect(report).toMatchObject({ unknown: 1, unresolved: 1 });
    expect(isClean(report)).toBe(false);
  });
});

describe('reconcile: multi-item mutations, all or nothing', () => {
  it("counts a multi-item mutation applied in both tables, in the key's order, as clean", () => {
    // GIVEN a single put on k, then an items mutation adding to k and putting side:s, both applied
    const results = [answered(put(1)), answered(items(2, 'add', 'put'))];
    const settled = state({ k: { id: 'k', tag: 'p1', v: 1, x2: 1 } }, {}, { s: { id: 's', tag: 'p2' } });
    // WHEN reconciled
    const report = reconcile(results, settled);
    // THEN both are applied, nothing is partial, and the line says items-partial=0
    expect(report).toMatchObject({ acked: 2, applied: 2, itemsPartial: 0, lost: 0, orderViolations: 0 });
    expect(isClean(report)).toBe(true);
    expect(formatReport(report)).toContain('order-violations=0 items-partial=0');
  });

  it('finds a multi-item mutation applied in one table and not in the other', () => {
    // GIVEN an acked items mutation whose main item landed and whose side item did not
    const results = [answered(put(1)), answered(items(2, 'add', 'put'))];
    const settled = state({ k: { id: 'k', tag: 'p1', v: 1, x2: 1 } }, {}, {});
    // WHEN reconciled
    const report = reconcile(results, settled);
    // THEN it is partial (and lost, and the side key is not the oracle's), and the run is not clean
    expect(report).toMatchObject({ itemsPartial: 1, lost: 1, orderViolations: 1 });
    expect(report.problems.join('\n')).toContain('is partial: main:applied, side:not applied');
    expect(formatReport(report)).toContain('items-partial=1');
    expect(isClean(report)).toBe(false);
  });

  it('finds a partial application of a dead-lettered multi-item mutation', () => {
    // GIVEN an items mutation on the DLQ: neither item applied is fine, one of them is not
    const results = [answered(items(1, 'put', 'add'))];
    const none = reconcile(results, state({}, { id1: 'target-rejected' }, {}));
    const one = reconcile(results, state({}, { id1: 'target-rejected' }, { s: { id: 's', x1: 1 } }));
    // THEN the first is on the DLQ and clean, the second partial
    expect(none).toMatchObject({ dlq: 1, itemsPartial: 0, lost: 0 });
    expect(isClean(none)).toBe(true);
    expect(one.itemsPartial).toBe(1);
    expect(isClean(one)).toBe(false);
  });

  it('takes an item replaced by a later put as no evidence of a partial application', () => {
    // GIVEN two items mutations on side:s; the later one's put replaced the earlier one's put
    const results = [answered(items(1, 'add', 'put')), answered(items(2, 'add', 'put'))];
    const settled = state({ k: { id: 'k', x1: 1, x2: 1 } }, {}, { s: { id: 's', tag: 'p2' } });
    // WHEN reconciled / THEN both are applied, nothing is partial
    expect(reconcile(results, settled)).toMatchObject({ applied: 2, itemsPartial: 0, orderViolations: 0 });
  });

  it('folds the side table per key in the WAL order, as the main table', () => {
    // GIVEN two items mutations putting side:s, the second earlier in the WAL order; the table kept the first
    const results = [answered(items(1, 'add', 'put'), 2_000), answered(items(2, 'add', 'put'), 1_000)];
    const settled = state({ k: { id: 'k', x1: 1, x2: 1 } }, {}, { s: { id: 's', tag: 'p2' } });
    // WHEN reconciled
    const report = reconcile(results, settled);
    // THEN side:s is an order violation (and #1 lost there, so partial)
    expect(report.orderViolations).toBe(1);
    expect(report.problems.join('\n')).toContain('side key s: expected');
    expect(report.itemsPartial).toBe(1);
  });

  it('finds a FAILed multi-item mutation applied in one table', () => {
    // GIVEN an items mutation answered FAIL whose side item shows
    const results = [answered(items(1, 'put', 'put'), 0, 'failed')];
    const report = reconcile(results, state({}, {}, { s: { id: 's', tag: 'p1' } }));
    // THEN it is failed but applied
    expect(report).toMatchObject({ failed: 1, failedButApplied: 1 });
    expect(isClean(report)).toBe(false);
  });

  it("finds a double application of an item's own counter", () => {
    // GIVEN an items mutation whose side add landed twice
    const results = [answered(items(1, 'put', 'add'))];
    const report = reconcile(results, state({ k: { id: 'k', tag: 'p1' } }, {}, { s: { id: 's', x1: 2 } }));
    // THEN it is applied twice
    expect(report.doubleApplied).toBe(1);
  });

  it('checks a keyless multi-item mutation: equal counts in both tables, one per send at most', () => {
    // GIVEN a keyless items mutation acked after 2 sends without a key
    const acked = answered(keylessItems(0), 1_000, 'acked', 2);
    // WHEN reconciled with both counts at 2, at 1 and 0, and at 3
    const twice = reconcile(
      [acked],
      state({ i0: { id: 'i0', count: 2 } }, {}, { i0: { id: 'i0', count: 2 } }),
    );
    const partial = reconcile([acked], state({ i0: { id: 'i0', count: 1 } }, {}, {}));
    const thrice = reconcile(
      [acked],
      state({ i0: { id: 'i0', count: 3 } }, {}, { i0: { id: 'i0', count: 3 } }),
    );
    // THEN twice is at-least-once (clean), 1 and 0 is partial, 3 is a double application
    expect(twice).toMatchObject({ applied: 1, keylessDuplicates: 1, itemsPartial: 0 });
    expect(isClean(twice)).toBe(true);
    expect(partial.itemsPartial).toBe(1);
    expect(partial.problems.join('\n')).toContain('counts 1 and 0');
    expect(isClean(partial)).toBe(false);
    expect(thrice.doubleApplied).toBe(1);
    expect(reconcile([acked], state({})).lost).toBe(1);
  });
});

import type { MutationResult } from '#src/chaos/client';
import type { Item } from '#src/chaos/oracle';
import { isClean, reconcile, type SettledState } from '#src/chaos/reconcile';
import type { MutationBody, PlannedMutation, WorkloadOp } from '#src/chaos/workload';

function planned(index: number, op: WorkloadOp, key: string, body: MutationBody): PlannedMutation {
  const client = op === 'keyless-counter' ? 'keyless' : 'careful';
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

function state(items: Record<string, Item>, deadLettered: Record<string, string> = {}): SettledState {
  return { items: new Map(Object.entries(items)), deadLettered: new Map(Object.entries(deadLettered)) };
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

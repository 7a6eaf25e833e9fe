import type { LedgerEntry } from '../../lambdas/shared/ledger';
import { isClean, reconcile, type SettledState } from '../../src/chaos/reconcile';
import type { MutationResult, PlannedMutation } from '../../src/chaos/workload';
import { envelope } from '../support/fixtures';

function counter(index: number): PlannedMutation {
  return { index, kind: 'counter', key: `c${index}`, idempotencyKey: `m${index}`, body: {} };
}
function put(index: number, key: string): PlannedMutation {
  return { index, kind: 'put', key, idempotencyKey: `m${index}`, body: {} };
}
function acked(mutation: PlannedMutation): MutationResult {
  return { mutation, outcome: 'acked', id: `id${mutation.index}`, unknownAnswers: 0 };
}
function committed(mutation: PlannedMutation, loggedAt: number, sequence: string): [string, LedgerEntry] {
  return [
    mutation.idempotencyKey,
    {
      pk: `ns#${mutation.idempotencyKey}`,
      namespace: 'ns',
      idempotencyKey: mutation.idempotencyKey,
      id: `id${mutation.index}`,
      state: 'COMMITTED',
      sequence,
      envelope: envelope({ id: `id${mutation.index}`, loggedAt }),
      updatedAt: loggedAt,
      expiresAt: 0,
    },
  ];
}
const order = (loggedAt: number, sequence: string) =>
  `${String(loggedAt).padStart(15, '0')}#${sequence.padStart(128, '0')}`;

describe('reconcile (the chaos checker)', () => {
  const c0 = counter(0);
  const p1 = put(1, 'k');
  const p2 = put(2, 'k');
  const clean: SettledState = {
    items: new Map<string, Record<string, unknown>>([
      ['c0', { id: 'c0', count: 1 }],
      ['k', { id: 'k', _walId: 'id2', _walOrder: order(2_000, '2') }],
    ]),
    committed: new Map([committed(c0, 1_000, '1'), committed(p1, 1_500, '3'), committed(p2, 2_000, '2')]),
    deadLettered: new Set(),
  };

  it('counts a clean run as clean', () => {
    const report = reconcile([acked(c0), acked(p1), acked(p2)], clean);
    expect(report).toMatchObject({ acked: 3, applied: 3, lost: 0, doubleApplied: 0, orderViolations: 0 });
    expect(isClean(report)).toBe(true);
  });

  it('finds a double application of a counter', () => {
    const items = new Map(clean.items).set('c0', { id: 'c0', count: 2 });
    const report = reconcile([acked(c0)], { ...clean, items });
    expect(report.doubleApplied).toBe(1);
    expect(isClean(report)).toBe(false);
  });

  it('finds a lost mutation, and counts a dead-lettered one apart', () => {
    const items = new Map(clean.items);
    items.delete('c0');
    expect(reconcile([acked(c0)], { ...clean, items }).lost).toBe(1);
    expect(reconcile([acked(c0)], { ...clean, items, deadLettered: new Set(['id0']) })).toMatchObject({
      lost: 0,
      dlq: 1,
    });
  });

  it('finds a FAILed mutation that was committed', () => {
    const report = reconcile([{ mutation: c0, outcome: 'failed', id: 'id0', unknownAnswers: 0 }], clean);
    expect(report.failedButApplied).toBe(1);
  });

  it('finds a key that does not hold its last committed mutation', () => {
    // p2 is last in the WAL's order (later log time), but the item holds p1.
    const items = new Map(clean.items).set('k', { id: 'k', _walId: 'id1', _walOrder: order(2_500, '3') });
    expect(reconcile([acked(p1), acked(p2)], { ...clean, items }).orderViolations).toBe(1);
  });

  it('counts an UNKNOWN that never resolved', () => {
    const report = reconcile([{ mutation: c0, outcome: 'unresolved', unknownAnswers: 20 }], clean);
    expect(report).toMatchObject({ unknown: 1, unresolved: 1 });
    expect(isClean(report)).toBe(false);
  });
});

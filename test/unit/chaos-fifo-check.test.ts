import type { MutationResult } from '#src/chaos/client';
import { isFifoClean, type ReceivedFifoMessage, reconcileFifo } from '#src/chaos/fifo-check';
import type { PlannedMutation } from '#src/chaos/workload';

function result(index: number, key: string, outcome: MutationResult['outcome'] = 'acked'): MutationResult {
  const mutation: PlannedMutation = {
    index,
    op: 'put',
    client: 'careful',
    key,
    body: { op: 'put', payload: { id: key } },
    delayed: false,
    idempotencyKey: `m${index}`,
  };
  return {
    mutation,
    outcome,
    id: `id${index}`,
    attempts: 1,
    unknownAnswers: 0,
    keylessSends: 0,
    abandoned: 0,
  };
}

/** The message a correct WAL sends for a result: dedup id = mutation id, group = the key. */
const messageOf = (r: MutationResult, overrides: Partial<ReceivedFifoMessage> = {}): ReceivedFifoMessage => ({
  id: r.id,
  deduplicationId: r.id,
  groupId: r.mutation.key,
  ...overrides,
});

describe('reconcileFifo', () => {
  const a = result(1, 'k1');
  const b = result(2, 'k1');
  const c = result(3, 'k2');

  it('is clean when every acked mutation arrived once, deduplicated by its id, one group per key', () => {
    // GIVEN three acked mutations, each received once
    const report = reconcileFifo(
      [a, b, c],
      [a, b, c].map((r) => messageOf(r)),
      new Set(),
    );
    // THEN nothing is wrong
    expect(report).toMatchObject({ delivered: 3, lost: 0, duplicates: 0, splitGroups: 0 });
    expect(isFifoClean(report)).toBe(true);
  });

  it('fails if an acked mutation is missing, unless it waits on the DLQ', () => {
    // GIVEN c never arrived, and b is dead-lettered for this target
    const report = reconcileFifo([a, b, c], [messageOf(a)], new Set(['id2']));
    // THEN c is lost, b is on the DLQ
    expect(report).toMatchObject({ delivered: 1, dlq: 1, lost: 1 });
    expect(isFifoClean(report)).toBe(false);
    expect(report.problems.join('\n')).toMatch(/acked id3 \(key k2\) never reached the queue/);
  });

  it('fails if a deduplication id is received twice', () => {
    // GIVEN a's message arrived twice
    const report = reconcileFifo([a], [messageOf(a), messageOf(a)], new Set());
    // THEN it counts as a duplicate
    expect(report.duplicates).toBe(1);
    expect(isFifoClean(report)).toBe(false);
  });

  it('fails if the deduplication id is not the mutation id', () => {
    // GIVEN a message deduplicated by something else (a receiver could not dedup it)
    const report = reconcileFifo([a], [messageOf(a, { deduplicationId: 'content-hash' })], new Set());
    // THEN it is reported
    expect(report.wrongDeduplicationIds).toBe(1);
    expect(isFifoClean(report)).toBe(false);
  });

  it('fails if one key arrives in two message groups', () => {
    // GIVEN two mutations of k1 in different groups
    const report = reconcileFifo([a, b], [messageOf(a), messageOf(b, { groupId: 'other' })], new Set());
    // THEN per-key order is lost: reported
    expect(report.splitGroups).toBe(1);
    expect(isFifoClean(report)).toBe(false);
  });

  it('fails if a FAILed mutation was delivered', () => {
    // GIVEN a mutation answered FAIL whose id reached the queue
    const failed = result(4, 'k3', 'failed');
    const report = reconcileFifo([failed], [messageOf(failed)], new Set());
    // THEN it is reported
    expect(report.failedButDelivered).toBe(1);
    expect(isFifoClean(report)).toBe(false);
  });

  it('allows ids no client was answered with (keyless resends), and counts them', () => {
    // GIVEN a message of a mutation whose answer was lost
    const report = reconcileFifo(
      [a],
      [messageOf(a), { id: 'lost-answer', deduplicationId: 'lost-answer', groupId: 'k9' }],
      new Set(),
    );
    // THEN it is counted, not a failure
    expect(report.unattributed).toBe(1);
    expect(isFifoClean(report)).toBe(true);
  });
});

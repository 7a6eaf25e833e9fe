import { costPerMillion, loadPrices, total } from '#bench/cost-model';
import { failedAttemptUsage, lookupUsage, trackAllUsage } from '#bench/status-cost';

describe('status tracking cost (README "Status of a mutation")', () => {
  const prices = loadPrices();
  // GIVEN (each test) a status item of about 250 bytes (+100 billed per item) per target, kept 30 days, and a
  // consumer of 512 MB that waits 6 ms for an UpdateItem
  const load = { delayedShare: 0, retentionDays: 30, updateMs: 6, memoryMb: 512 };
  const perMillion = (targets: number, delayedShare = 0) =>
    total(
      costPerMillion(
        trackAllUsage({ ...load, targets, delayedShare, itemBytes: 100 + 250 * targets }),
        prices,
      ),
    );

  it('prices "all" per million mutations: one write unit per target, storage and backup, consumer time', () => {
    // WHEN one and three targets are priced, and one target with every mutation delayed
    const one = perMillion(1);
    const three = perMillion(3);
    const delayed = perMillion(1, 1);
    // THEN one target costs about $0.81 (the write unit is $0.625 of it), each more about $0.77; a delayed mutation
    // one more write per target
    expect(one).toBeCloseTo(0.81, 2);
    expect(three).toBeCloseTo(2.35, 2);
    expect(delayed - one).toBeCloseTo(0.625 + 0.04, 2);
  });

  it('prices "failures": nothing on the happy path, a write per failed attempt, a read per look-up', () => {
    // WHEN a million failed attempts and a million look-ups are priced
    const failed = total(costPerMillion(failedAttemptUsage(load), prices));
    const lookups = total(costPerMillion(lookupUsage(), prices));
    // THEN
    expect(failed).toBeCloseTo(0.665, 3);
    expect(lookups).toBeCloseTo(0.125, 3);
  });
});

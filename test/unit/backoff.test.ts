import { backoffMs } from '#lambdas/shared/backoff';
import { namespaceConfig } from '#test/support/fixtures';

describe('backoffMs', () => {
  // GIVEN backoffs of 2 s x 3, capped at 40 s, without jitter
  const retry = namespaceConfig({
    retry: { initialBackoffSeconds: 2, backoffMultiplier: 3, maxBackoffSeconds: 40, jitter: 'none' },
  }).retry;

  it('grows exponentially from the initial backoff', () => {
    // WHEN/THEN the first three attempts wait 2 s, 6 s, 18 s
    expect([1, 2, 3].map((attempt) => backoffMs(retry, attempt, Math.random))).toEqual([
      2_000, 6_000, 18_000,
    ]);
  });

  it('is capped at the max backoff', () => {
    // WHEN/THEN the 10th attempt waits the cap
    expect(backoffMs(retry, 10, Math.random)).toBe(40_000);
  });

  it('draws full jitter up to the capped value', () => {
    // GIVEN full jitter
    const jittered = { ...retry, jitter: 'full' as const };
    // WHEN/THEN the draw scales the 6 s backoff
    expect(backoffMs(jittered, 2, () => 0.5)).toBe(3_000);
    expect(backoffMs(jittered, 2, () => 0)).toBe(0);
  });

  it('allows backoffs longer than SQS delays (15 minutes)', () => {
    // WHEN/THEN backoffs of an hour are kept, not cut to SQS's 15 minutes
    const long = { ...retry, initialBackoffSeconds: 3_600, maxBackoffSeconds: 7_200 };
    expect(backoffMs(long, 1, Math.random)).toBe(3_600_000);
  });
});

import { backoffMs } from '#lambdas/shared/backoff';
import { namespaceConfig } from '#test/support/fixtures';

describe('backoffMs', () => {
  const retry = namespaceConfig({
    retry: { initialBackoffSeconds: 2, backoffMultiplier: 3, maxBackoffSeconds: 40, jitter: 'none' },
  }).retry;

  it('grows exponentially from the initial backoff', () => {
    expect([1, 2, 3].map((attempt) => backoffMs(retry, attempt, Math.random))).toEqual([
      2_000, 6_000, 18_000,
    ]);
  });

  it('is capped at the max backoff', () => {
    expect(backoffMs(retry, 10, Math.random)).toBe(40_000);
  });

  it('draws full jitter up to the capped value', () => {
    const jittered = { ...retry, jitter: 'full' as const };
    expect(backoffMs(jittered, 2, () => 0.5)).toBe(3_000);
    expect(backoffMs(jittered, 2, () => 0)).toBe(0);
  });

  it('allows backoffs longer than SQS delays (15 minutes)', () => {
    const long = { ...retry, initialBackoffSeconds: 3_600, maxBackoffSeconds: 7_200 };
    expect(backoffMs(long, 1, Math.random)).toBe(3_600_000);
  });
});

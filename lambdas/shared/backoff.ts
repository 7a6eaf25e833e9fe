import type { RetryConfig } from './namespace-config';

/**
 * The wait before attempt `failedAttempts + 1`, in ms: exponential from the namespace's initial
 * backoff, capped, with full jitter (a uniform draw up to the cap) unless jitter is off.
 */
export function backoffMs(retry: RetryConfig, failedAttempts: number, random: () => number): number {
  const exponential =
    retry.initialBackoffSeconds * retry.backoffMultiplier ** Math.max(failedAttempts - 1, 0);
  const capped = Math.min(exponential, retry.maxBackoffSeconds) * 1000;
  return Math.round(retry.jitter === 'full' ? random() * capped : capped);
}

/** Pure helpers of the bench sections: percentiles and the open-loop send schedule. */

export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

/** Thrown when a percentile of nothing is asked for: the measurement produced no samples. */
export class NoSamplesError extends Error {
  constructor(what: string) {
    super(`No samples for ${what}: the run measured nothing; look at its progress lines for what failed`);
    this.name = 'NoSamplesError';
  }
}

/**
 * The `p`-th percentile (0 < p <= 100) of `values` by the nearest-rank method: the smallest sample that at
 * least p % of the samples are at or below. No interpolation, so every figure is a latency that was measured.
 */
export function percentile(values: readonly number[], p: number, what = 'a percentile'): number {
  if (values.length === 0) throw new NoSamplesError(what);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1] as number;
}

/** p50, p95 and p99 of `values`, rounded to 0.1 ms. */
export function percentiles(values: readonly number[], what = 'percentiles'): Percentiles {
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    p50: round(percentile(values, 50, what)),
    p95: round(percentile(values, 95, what)),
    p99: round(percentile(values, 99, what)),
  };
}

/**
 * When each send of an open loop is due, in ms from its start: `ratePerSecond` evenly spaced for
 * `durationMs`. Fixed in advance, so slow answers cannot lower the offered load.
 */
export function openLoopSchedule(ratePerSecond: number, durationMs: number): number[] {
  const count = Math.floor((ratePerSecond * durationMs) / 1000);
  const intervalMs = 1000 / ratePerSecond;
  return Array.from({ length: count }, (_, index) => index * intervalMs);
}

/** The clock (epoch ms) and timer an open loop runs on (real ones by default; tests pass fakes). */
export interface LoopClock {
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

const REAL_CLOCK: LoopClock = {
  // Epoch ms with sub-millisecond resolution: comparable with the functions' log timestamps.
  now: () => performance.timeOrigin + performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Starts `send(index)` at each offset of `schedule` without waiting for earlier sends to finish (an open loop);
 * resolves with every send's result once all have settled. A send that starts late (the event loop was busy)
 * is still counted from its due time by the caller, who gets `dueAt` (the clock's time it was due).
 */
export async function runOpenLoop<T>(
  schedule: readonly number[],
  send: (index: number, dueAt: number) => Promise<T>,
  clock: LoopClock = REAL_CLOCK,
): Promise<T[]> {
  const start = clock.now();
  const pending: Promise<T>[] = [];
  for (const [index, offset] of schedule.entries()) {
    const wait = start + offset - clock.now();
    if (wait > 0) await clock.sleep(wait);
    pending.push(send(index, start + offset));
  }
  return Promise.all(pending);
}

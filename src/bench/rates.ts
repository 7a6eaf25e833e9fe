/**
 * The arithmetic of the throughput figures (bench/throughput.ts): medians of repeated runs, rates, and a
 * fixed-concurrency pool that runs the same work for the WAL and for its baseline.
 */

/** The median of `values` (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[middle] as number;
  return ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * The median of the per-run ratios `samples[i] / baselineSamples[i]`: each pair ran back to back, so a load
 * swing on the machine between runs cancels out, which it does not in the ratio of the two medians.
 */
export function medianPairedRatio(samples: readonly number[], baselineSamples: readonly number[]): number {
  return median(samples.map((sample, index) => sample / (baselineSamples[index] ?? Number.NaN)));
}

/** Operations per second for `count` operations done in `elapsedMs`. */
export function perSecond(count: number, elapsedMs: number): number {
  if (elapsedMs <= 0) return Number.POSITIVE_INFINITY;
  return (count * 1000) / elapsedMs;
}

/**
 * Runs `task(0)` to `task(count - 1)`, at most `concurrency` at a time, each worker taking the next index
 * as it finishes one; resolves with the elapsed milliseconds. The first failure rejects (the rest stop).
 */
export async function runPool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  return performance.now() - started;
}

/** What a timed run did: how many tasks finished, in how many milliseconds. */
export interface TimedRun {
  readonly count: number;
  readonly elapsedMs: number;
}

/**
 * Runs `task(0)`, `task(1)`, ... at most `concurrency` at a time, starting new ones until `durationMs` has
 * passed; resolves once the last one started has finished. A fixed duration bounds the run's time however
 * slow the machine is. The first failure rejects.
 */
export async function runFor(
  durationMs: number,
  concurrency: number,
  task: (index: number) => Promise<unknown>,
): Promise<TimedRun> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (performance.now() - started < durationMs) {
      await task(next++);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return { count: next, elapsedMs: performance.now() - started };
}

/** Rates of alternating runs of a measured thing and its baseline. */
export interface AlternatedRates {
  readonly perSecond: number;
  readonly baselinePerSecond: number;
  readonly samples: readonly number[];
  readonly baselineSamples: readonly number[];
}

/**
 * Runs `measured` and `baseline` `runs` times each, alternating (baseline first on odd runs, so neither
 * always runs on the warmer machine), and gives their median rates. Each gets the run's index and resolves
 * with its rate.
 */
export async function alternate(
  runs: number,
  measured: (run: number) => Promise<number>,
  baseline: (run: number) => Promise<number>,
): Promise<AlternatedRates> {
  const samples: number[] = [];
  const baselineSamples: number[] = [];
  for (let run = 0; run < runs; run++) {
    if (run % 2 === 0) {
      samples.push(await measured(run));
      baselineSamples.push(await baseline(run));
    } else {
      baselineSamples.push(await baseline(run));
      samples.push(await measured(run));
    }
  }
  return { perSecond: median(samples), baselinePerSecond: median(baselineSamples), samples, baselineSamples };
}

import { alternate, median, medianPairedRatio, perSecond, runFor, runPool } from '#src/bench/rates';

describe('median', () => {
  it('is the middle value of an odd count, whatever the order', () => {
    // GIVEN/WHEN/THEN five unsorted rates give the third smallest
    expect(median([30, 10, 50, 20, 40])).toBe(30);
  });

  it('is the mean of the middle two of an even count', () => {
    // GIVEN/WHEN/THEN four rates give the mean of 20 and 30
    expect(median([40, 10, 30, 20])).toBe(25);
  });

  it('is NaN for no values', () => {
    // GIVEN/WHEN/THEN nothing measured has no median
    expect(median([])).toBeNaN();
  });
});

describe('medianPairedRatio', () => {
  it('is the median of the run-by-run ratios, not the ratio of the medians', () => {
    // GIVEN three pairs of runs on a machine whose load swung between them
    const samples = [100, 60, 30];
    const baselineSamples = [110, 50, 40];
    // WHEN/THEN the run ratios 0.91, 1.2 and 0.75 give 0.91 (the medians' ratio, 60 / 50, would say 1.2)
    expect(medianPairedRatio(samples, baselineSamples)).toBeCloseTo(100 / 110);
  });
});

describe('perSecond', () => {
  it('turns a count and milliseconds into a rate', () => {
    // GIVEN/WHEN/THEN 400 operations in 2.5 s are 160 per second
    expect(perSecond(400, 2_500)).toBe(160);
  });
});

describe('runPool', () => {
  it('runs every index once, never more than the concurrency at a time', async () => {
    // GIVEN a task that records which indexes ran and how many ran at once
    const seen: number[] = [];
    let running = 0;
    let peak = 0;
    const task = async (index: number) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 1));
      seen.push(index);
      running--;
    };
    // WHEN 20 tasks run at concurrency 4
    await runPool(20, 4, task);
    // THEN each index ran once, and at most 4 at a time (and 4 did run at once)
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, index) => index));
    expect(peak).toBe(4);
  });
});

describe('runFor', () => {
  it('starts tasks until the duration has passed and counts each one', async () => {
    // GIVEN tasks of about 5 ms
    const started: number[] = [];
    // WHEN they run for 30 ms at concurrency 2
    const run = await runFor(30, 2, async (index) => {
      started.push(index);
      await new Promise((resolve) => setTimeout(resolve, 5));
    });
    // THEN every started task is counted, with consecutive indexes, and the run lasted at least 30 ms
    expect(run.count).toBe(started.length);
    expect([...started].sort((a, b) => a - b)).toEqual(
      Array.from({ length: run.count }, (_, index) => index),
    );
    expect(run.count).toBeGreaterThan(2);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(30);
  });
});

describe('alternate', () => {
  it('alternates which side runs first and reports the median of each side', async () => {
    // GIVEN a measured side and a baseline that log their turns and give rates by run
    const turns: string[] = [];
    const measured = async (run: number) => {
      turns.push(`wal${run}`);
      return [10, 30, 20][run] ?? 0;
    };
    const baseline = async (run: number) => {
      turns.push(`base${run}`);
      return [100, 300, 200][run] ?? 0;
    };
    // WHEN three runs alternate
    const rates = await alternate(3, measured, baseline);
    // THEN the baseline goes first on the second run, and the medians are 20 and 200
    expect(turns).toEqual(['wal0', 'base0', 'base1', 'wal1', 'wal2', 'base2']);
    expect(rates).toEqual({
      perSecond: 20,
      baselinePerSecond: 200,
      samples: [10, 30, 20],
      baselineSamples: [100, 300, 200],
    });
  });
});

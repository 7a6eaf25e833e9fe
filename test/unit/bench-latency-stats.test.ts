import { FunctionLog } from '#bench/function-log';
import {
  type LoopClock,
  NoSamplesError,
  openLoopSchedule,
  percentile,
  percentiles,
  runOpenLoop,
} from '#bench/stats';

describe('percentile', () => {
  it('is the nearest-rank sample, whatever the order', () => {
    // GIVEN ten latencies, unsorted
    const values = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
    // WHEN/THEN p50 is the 5th smallest, p90 the 9th, p99 and p100 the largest, p1 the smallest
    expect([50, 90, 99, 100, 1].map((p) => percentile(values, p))).toEqual([5, 9, 10, 10, 1]);
  });

  it('is a measured value, never an interpolation', () => {
    // GIVEN two samples far apart
    // WHEN/THEN their median is the lower one, not the mean
    expect(percentile([100, 2], 50)).toBe(2);
  });

  it('fails if there are no samples', () => {
    // GIVEN no samples / WHEN a percentile is asked for / THEN it says what had none
    expect(() => percentile([], 50, 'POST to applied')).toThrow(NoSamplesError);
    expect(() => percentile([], 50, 'POST to applied')).toThrow(/No samples for POST to applied/);
  });
});

describe('percentiles', () => {
  it('gives p50, p95 and p99 rounded to 0.1 ms', () => {
    // GIVEN 1..100 ms plus a third of a millisecond
    const values = Array.from({ length: 100 }, (_, index) => index + 1 + 1 / 3);
    // WHEN/THEN each is its rank's sample, rounded
    expect(percentiles(values)).toEqual({ p50: 50.3, p95: 95.3, p99: 99.3 });
  });
});

describe('openLoopSchedule', () => {
  it('spaces the sends evenly at the rate for the duration', () => {
    // GIVEN 4 per second for 1.5 s / WHEN scheduled / THEN 6 sends, 250 ms apart
    expect(openLoopSchedule(4, 1_500)).toEqual([0, 250, 500, 750, 1_000, 1_250]);
  });

  it('schedules nothing for a duration shorter than one interval', () => {
    // GIVEN 1 per second for half a second / WHEN/THEN no send is due
    expect(openLoopSchedule(1, 500)).toEqual([]);
  });
});

/** A clock that only moves when the loop sleeps. */
function fakeClock(start: number): LoopClock & { sleeps: number[] } {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

describe('runOpenLoop', () => {
  it('starts every send at its due time without waiting for earlier answers', async () => {
    // GIVEN sends whose answers never come until released
    const clock = fakeClock(1_000);
    const started: { index: number; dueAt: number; at: number }[] = [];
    let release = (): void => undefined;
    const answered = new Promise<void>((resolve) => {
      release = resolve;
    });
    // WHEN three sends are scheduled 100 ms apart
    const loop = runOpenLoop(
      [0, 100, 200],
      async (index, dueAt) => {
        started.push({ index, dueAt, at: clock.now() });
        await answered;
        return index * 10;
      },
      clock,
    );
    await new Promise((resolve) => setImmediate(resolve));
    // THEN all three started on the clock while none had answered
    expect(started).toEqual([
      { index: 0, dueAt: 1_000, at: 1_000 },
      { index: 1, dueAt: 1_100, at: 1_100 },
      { index: 2, dueAt: 1_200, at: 1_200 },
    ]);
    release();
    expect(await loop).toEqual([0, 10, 20]);
  });

  it('does not sleep for a send already late, and still gives its due time', async () => {
    // GIVEN a clock that jumps 500 ms inside the first send (a busy event loop)
    const clock = fakeClock(0);
    const dueTimes: number[] = [];
    // WHEN the second send was due at 100 ms
    await runOpenLoop(
      [0, 100],
      async (index, dueAt) => {
        dueTimes.push(dueAt);
        if (index === 0) await clock.sleep(500);
      },
      clock,
    );
    // THEN it started without a further sleep, counted from 100 ms
    expect(clock.sleeps).toEqual([500]);
    expect(dueTimes).toEqual([0, 100]);
  });
});

describe('FunctionLog', () => {
  it('reads commit, delay and apply times from log lines split across chunks', () => {
    // GIVEN the functions' JSON log lines, one split in two chunks, with other output between
    const log = new FunctionLog();
    const line = (fields: Record<string, unknown>) => `${JSON.stringify(fields)}\n`;
    const applied = line({ message: 'Mutation applied', id: 'a', timestamp: '2026-01-01T00:00:01.250Z' });
    // WHEN they are fed
    log.feed(line({ message: 'Mutation committed', id: 'a', timestamp: '2026-01-01T00:00:01.000Z' }));
    log.feed('not json\n');
    log.feed(
      line({ message: 'Mutation delayed', id: 'a', timestamp: '2026-01-01T00:00:01.100Z', deliverAt: 7 }),
    );
    log.feed(applied.slice(0, 20));
    log.feed(applied.slice(20));
    log.feed(line({ message: 'Mutation applied', id: 'a', timestamp: '2026-01-01T00:00:09.000Z' }));
    // THEN each time is the log's timestamp; the first apply counts
    expect(log.of('a')).toEqual({
      committedAt: Date.parse('2026-01-01T00:00:01.000Z'),
      deliverAt: 7,
      appliedAt: Date.parse('2026-01-01T00:00:01.250Z'),
    });
    expect(log.of('b')).toEqual({});
  });

  it('ignores lines about other things and lines without an id', () => {
    // GIVEN a routed line and an applied line without an id
    const log = new FunctionLog();
    // WHEN they are fed
    log.feed('{"message":"Mutation routed","id":"a","timestamp":"2026-01-01T00:00:01.000Z"}\n');
    log.feed('{"message":"Mutation applied","timestamp":"2026-01-01T00:00:01.000Z"}\n{"broken\n');
    // THEN nothing is known of the mutation
    expect(log.of('a')).toEqual({});
  });

  it('waits until every id is applied, and tells how many never were', async () => {
    // GIVEN one mutation applied and one not
    const log = new FunctionLog();
    log.feed('{"message":"Mutation applied","id":"a","timestamp":"2026-01-01T00:00:01.000Z"}\n');
    // WHEN waiting briefly for both / THEN one is missing
    expect(await log.waitForApplied(['a', 'b'], 150)).toBe(1);
    // WHEN the other is applied while waiting / THEN none is missing
    setTimeout(
      () => log.feed('{"message":"Mutation applied","id":"b","timestamp":"2026-01-01T00:00:02.000Z"}\n'),
      20,
    );
    expect(await log.waitForApplied(['a', 'b'], 5_000)).toBe(0);
  });
});

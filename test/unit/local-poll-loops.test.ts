import { type RuntimeLogEntry, startPollLoops } from '#src/local/runtime/poll-loops';

describe('local event source poll loops', () => {
  it('fails if a failing poll is swallowed silently: it is logged with its source, and polling goes on', async () => {
    // GIVEN a source whose first poll fails and whose later polls work
    let polls = 0;
    const source = {
      name: 'http://127.0.0.1:9324/000000000000/retry',
      pollOnce: async () => {
        polls++;
        if (polls === 1) throw new Error('connect ECONNREFUSED 127.0.0.1:9324');
        return 0;
      },
    };
    const logged: RuntimeLogEntry[] = [];

    // WHEN the loops run for a few rounds
    const stop = startPollLoops([source], { intervalMs: 5, log: (entry) => logged.push(entry) });
    while (polls < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    await stop();

    // THEN the failure is logged once, naming the source and the error, then the recovery, and the source is polled again
    expect(logged).toEqual([
      {
        level: 'ERROR',
        message: 'event source poll failed',
        source: source.name,
        error: 'Error: connect ECONNREFUSED 127.0.0.1:9324',
        failures: 1,
      },
      { level: 'INFO', message: 'event source poll recovered', source: source.name, failures: 1 },
    ]);
    expect(polls).toBeGreaterThanOrEqual(3);
  });

  it('logs a source that keeps failing once, then again when its error changes, not every round', async () => {
    // GIVEN a source that fails 20 rounds with one error, then with another
    let polls = 0;
    const source = {
      name: 'stream',
      pollOnce: async (): Promise<number> => {
        polls++;
        throw new Error(polls <= 20 ? 'ECONNREFUSED' : 'ResourceNotFoundException');
      },
    };
    const logged: RuntimeLogEntry[] = [];

    // WHEN the loop runs 25 rounds
    const stop = startPollLoops([source], { intervalMs: 1, log: (entry) => logged.push(entry) });
    while (polls < 25) await new Promise((resolve) => setTimeout(resolve, 2));
    await stop();

    // THEN two lines: the first failure and the changed error, with the failures so far
    expect(logged.map(({ error, failures }) => ({ error, failures }))).toEqual([
      { error: 'Error: ECONNREFUSED', failures: 1 },
      { error: 'Error: ResourceNotFoundException', failures: 21 },
    ]);
  });

  it('stops polling once stopped', async () => {
    // GIVEN a loop over an idle source
    let polls = 0;
    const stop = startPollLoops([{ name: 'idle', pollOnce: async () => ++polls && 0 }], {
      intervalMs: 1,
      log: () => undefined,
    });
    // WHEN it is stopped
    await stop();
    const after = polls;
    await new Promise((resolve) => setTimeout(resolve, 20));
    // THEN no poll follows
    expect(polls).toBe(after);
  });
});

import type { RuntimeLogEntry } from '#src/local/runtime/poll-loops';
import { scheduledEvent, startSchedules } from '#src/local/runtime/schedules';
import { ratePeriodMs, type ScheduleWiring } from '#src/local/runtime/wiring';
import { waitFor } from '#test/support/wait';

const SCHEDULE: ScheduleWiring = {
  logicalId: 'WaitingRoomSchedule',
  ruleArn: 'arn:aws:events:us-east-1:000000000000:rule/stack-WaitingRoomSchedule',
  functionLogicalId: 'Poller',
  periodMs: 60_000,
};

describe('ratePeriodMs', () => {
  it.each([
    ['rate(1 minute)', 60_000],
    ['rate(5 minutes)', 300_000],
    ['rate(2 hours)', 7_200_000],
    ['rate(1 day)', 86_400_000],
  ])('reads %s as %i ms', (expression, expected) => {
    // WHEN/THEN a rate expression is read as its period
    expect(ratePeriodMs(expression)).toBe(expected);
  });

  it.each(['cron(0 12 * * ? *)', 'rate(0 minutes)', 'rate(1 fortnight)'])('refuses %s', (expression) => {
    // WHEN/THEN anything but a positive rate has no period (the wiring then fails with what it cannot run)
    expect(ratePeriodMs(expression)).toBeUndefined();
  });
});

describe('scheduled rules in the local runtime', () => {
  it('hands the function the event EventBridge sends for a scheduled rule', () => {
    // WHEN the event of a run at a known time is built
    const event = scheduledEvent(
      SCHEDULE,
      { region: 'us-east-1', accountId: '000000000000' },
      Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    );
    // THEN it has EventBridge's shape: source aws.events, whole-second time, the rule as its resource
    expect(event).toMatchObject({
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      region: 'us-east-1',
      time: '2026-01-02T03:04:05Z',
      resources: [SCHEDULE.ruleArn],
      detail: {},
    });
  });

  it('invokes on every period, logs a failed run and goes on, and stops when asked', async () => {
    // GIVEN a schedule every 20 ms whose second run fails
    const logs: RuntimeLogEntry[] = [];
    let runs = 0;
    const stop = startSchedules(
      [SCHEDULE],
      async () => {
        runs++;
        if (runs === 2) throw new Error('poller down');
      },
      { log: (entry) => logs.push(entry), periodMs: 20 },
    );
    // WHEN it runs a few times, then is stopped
    await waitFor(async () => (runs >= 4 ? true : undefined), 5_000, { intervalMs: 10 });
    await stop();
    const stoppedAt = runs;
    await new Promise((resolve) => setTimeout(resolve, 100));
    // THEN the failure was logged with the rule's id, later runs still came, and none after the stop
    expect(logs).toEqual([
      expect.objectContaining({ level: 'ERROR', source: 'WaitingRoomSchedule', error: 'Error: poller down' }),
    ]);
    expect(runs).toBe(stoppedAt);
  });
});

import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';
import type { RuntimeLog } from './poll-loops';
import type { ScheduleWiring } from './wiring';

/** The event EventBridge hands a function its scheduled rule targets. */
export function scheduledEvent(
  schedule: ScheduleWiring,
  where: { readonly region: string; readonly accountId: string },
  now = Date.now(),
): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: where.accountId,
    // EventBridge's own format: whole seconds.
    time: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: where.region,
    resources: [schedule.ruleArn],
    detail: {},
  };
}

export interface ScheduleRunnerOptions {
  readonly log: RuntimeLog;
  /** Overrides every rule's period (tests, a demo that should not wait a minute). @default each rule's rate */
  readonly periodMs?: number;
}

/**
 * Invokes each scheduled rule's function on its period, as EventBridge does: the first run one period after the
 * start, a failed run logged (the next one still comes). Returns what stops the timers and waits for runs under way.
 */
export function startSchedules(
  schedules: readonly ScheduleWiring[],
  run: (schedule: ScheduleWiring) => Promise<unknown>,
  options: ScheduleRunnerOptions,
): () => Promise<void> {
  const running = new Set<Promise<unknown>>();
  const timers = schedules.map((schedule) =>
    setInterval(() => {
      const invocation = run(schedule).catch((error: unknown) => {
        options.log({
          level: 'ERROR',
          message: 'scheduled invocation failed',
          source: schedule.logicalId,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        });
      });
      running.add(invocation);
      void invocation.finally(() => running.delete(invocation));
    }, options.periodMs ?? schedule.periodMs),
  );
  return async () => {
    for (const timer of timers) clearInterval(timer);
    await Promise.all(running);
  };
}

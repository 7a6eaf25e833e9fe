import * as os from 'node:os';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '#lambdas/shared/clients';
import { type LocalWal, startLocalWal } from '#src/local/runtime/local-wal';
import { targetTableName } from '#src/local/runtime/namespace-targets';
import { synthesizeStack } from '#src/local/runtime/synthesize';
import { FunctionLog } from './function-log';
import { type BenchSection, ratio } from './section';
import { openLoopSchedule, type Percentiles, percentiles, runOpenLoop } from './stats';

/**
 * End-to-end latency through the local runtime as `npm start` runs it (stage `local`, namespace `demo`,
 * in memory, free ports), at a fixed offered rate: the sends follow a clock (an open loop), so slow answers
 * do not lower the load. Every latency counts from the send's due time, so a send the machine started
 * late counts its wait too. Apply and commit times are the functions' own log timestamps.
 */

const REPO_ROOT = join(__dirname, '..');
const STAGE = 'local';
const NAMESPACE = 'demo';
const TARGET = 'main';
/**
 * Well under what the local WAL sustains on a quiet 2-core machine (issue 10: ~180/s at concurrency 16), so the
 * figure is latency, not queueing (at 50/s a machine busy with other work was queueing for seconds).
 * WAL_BENCH_LATENCY_RATE overrides it.
 */
const RATE_PER_SECOND = Number(process.env.WAL_BENCH_LATENCY_RATE ?? 25);
const DURATION_MS = 20_000;
const BASELINE_DURATION_MS = 10_000;
/**
 * Sent at once, twice: more than the local runtime's execution environments per function (8,
 * src/local/runtime/function-host.ts), so every one is started (a worker thread compiling the handler) before
 * the measurement, not during it.
 */
const WARM_UP_BURST = 16;
const WARM_UP_ROUNDS = 2;
/** Delayed mutations: a few seconds each, so they take SQS's own delay (the short path). */
const DELAYED_MUTATIONS = 20;
const DELAYED_RATE_PER_SECOND = 5;
const DELAY_SECONDS = [2, 3, 4] as const;
const SETTLE_TIMEOUT_MS = 30_000;
/** About 1 KB of JSON per mutation, as in the figures. */
const FILLER = 'x'.repeat(1000);

interface Sent {
  /** The mutation's id; undefined when the answer was not SUCCESS (counted as failed). */
  readonly id: string | undefined;
  readonly dueAt: number;
  readonly ackAt: number;
  /** When a delayed mutation is due (its `effectiveAt`), epoch ms. */
  readonly effectiveAt: number;
}

/**
 * Posts one mutation. An answer other than SUCCESS, or no answer (the connection failed), is kept without an id
 * and counted as failed: on a loaded machine calls time out, and the run goes on.
 */
async function post(wal: LocalWal, body: unknown, dueAt: number): Promise<Sent> {
  try {
    const response = await fetch(`${wal.apiUrl}/v1/namespaces/${NAMESPACE}/mutations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = (await response.json()) as { id?: string; effectiveAt?: string };
    const ackAt = performance.timeOrigin + performance.now();
    const id = response.status === 200 ? answer.id : undefined;
    return { id, dueAt, ackAt, effectiveAt: Date.parse(answer.effectiveAt ?? '') };
  } catch {
    return { id: undefined, dueAt, ackAt: Number.NaN, effectiveAt: Number.NaN };
  }
}

/** The ids of the mutations that were accepted. */
function accepted(sent: readonly Sent[]): string[] {
  return sent.flatMap((one) => (one.id === undefined ? [] : [one.id]));
}

function mutation(key: string, delaySeconds?: number): unknown {
  return {
    payload: { id: key, data: FILLER },
    ...(delaySeconds === undefined ? {} : { lifecycle: { delaySeconds } }),
  };
}

async function startWal(log: FunctionLog): Promise<LocalWal> {
  const { stackName, template } = synthesizeStack(STAGE);
  return startLocalWal({
    stackName,
    template,
    repoRoot: REPO_ROOT,
    // DEBUG (the local stage's level): the per-mutation commit, delay and apply lines the figures are read from.
    overrideEnv: { POWERTOOLS_LOG_LEVEL: 'DEBUG' },
    functionOutput: log.feed,
  });
}

interface MutationFigures {
  readonly ack: number[];
  readonly applied: number[];
  readonly commitToApply: number[];
  /** Answers other than SUCCESS (a call timed out on the loaded machine): not in the latencies. */
  readonly failed: number;
  readonly unapplied: number;
}

/** Sends at the fixed rate and collects each mutation's latencies once all are applied (or time is up). */
async function measureMutations(wal: LocalWal, log: FunctionLog, run: string): Promise<MutationFigures> {
  const schedule = openLoopSchedule(RATE_PER_SECOND, DURATION_MS);
  const sent = await runOpenLoop(schedule, (index, dueAt) => post(wal, mutation(`${run}-${index}`), dueAt));
  const unapplied = await log.waitForApplied(accepted(sent), SETTLE_TIMEOUT_MS);
  const figures = { ack: [] as number[], applied: [] as number[], commitToApply: [] as number[] };
  for (const one of sent) {
    if (one.id === undefined) continue;
    figures.ack.push(one.ackAt - one.dueAt);
    const { committedAt, appliedAt } = log.of(one.id);
    if (appliedAt === undefined) continue;
    figures.applied.push(appliedAt - one.dueAt);
    if (committedAt !== undefined) figures.commitToApply.push(appliedAt - committedAt);
  }
  return { ...figures, failed: sent.length - accepted(sent).length, unapplied };
}

/** The same rate of raw PutItem round trips of the same item size to the same DynamoDB emulator. */
async function measureBaseline(wal: LocalWal, run: string): Promise<number[]> {
  const documents = createDocumentClient(wal.clients.dynamodb);
  const tableName = await targetTableName(wal.clients.ssm, STAGE, NAMESPACE, TARGET);
  const schedule = openLoopSchedule(RATE_PER_SECOND, BASELINE_DURATION_MS);
  return runOpenLoop(schedule, async (index, dueAt) => {
    await documents.send(
      new PutCommand({ TableName: tableName, Item: { id: `${run}-raw-${index}`, data: FILLER } }),
    );
    return performance.timeOrigin + performance.now() - dueAt;
  });
}

/** Delayed mutations through SQS's own delay: applied time minus due time. */
async function measureLateness(wal: LocalWal, log: FunctionLog, run: string): Promise<number[]> {
  const schedule = openLoopSchedule(
    DELAYED_RATE_PER_SECOND,
    (DELAYED_MUTATIONS * 1000) / DELAYED_RATE_PER_SECOND,
  );
  const sent = await runOpenLoop(schedule, (index, dueAt) =>
    post(wal, mutation(`${run}-delayed-${index}`, DELAY_SECONDS[index % DELAY_SECONDS.length]), dueAt),
  );
  await log.waitForApplied(accepted(sent), SETTLE_TIMEOUT_MS);
  return sent.flatMap((one) => {
    const appliedAt = one.id === undefined ? undefined : log.of(one.id).appliedAt;
    return appliedAt === undefined ? [] : [appliedAt - one.effectiveAt];
  });
}

/** Cold workers and first connections out of the figures: bursts of mutations, applied, before measuring. */
async function warmUp(wal: LocalWal, log: FunctionLog, run: string): Promise<void> {
  for (let round = 0; round < WARM_UP_ROUNDS; round++) {
    const burst = Array.from({ length: WARM_UP_BURST }, () => 0);
    const sent = await runOpenLoop(burst, (index, dueAt) =>
      post(wal, mutation(`${run}-warm-${round}-${index}`), dueAt),
    );
    await log.waitForApplied(accepted(sent), SETTLE_TIMEOUT_MS);
  }
}

interface LatencyFigures {
  readonly ack: Percentiles;
  readonly applied: Percentiles;
  readonly commitToApply: Percentiles;
  readonly baseline: Percentiles;
  readonly lateness: Percentiles;
  readonly mutations: number;
  readonly failed: number;
  readonly unapplied: number;
  readonly delayed: number;
  /** The machine's 1-minute load average when the run started (other work skews every figure). */
  readonly loadAverage: number;
}

async function measureLatency(progress: (step: string) => void): Promise<LatencyFigures> {
  const log = new FunctionLog();
  const loadAverage = Math.round((os.loadavg()[0] ?? 0) * 10) / 10;
  progress('latency: starting the local WAL (stage local)');
  const wal = await startWal(log);
  const run = `bench-${Date.now().toString(36)}`;
  try {
    progress('latency: warming every execution environment up');
    await warmUp(wal, log, run);
    progress(`latency: ${RATE_PER_SECOND} mutations/s for ${DURATION_MS / 1000} s, open loop`);
    const figures = await measureMutations(wal, log, run);
    progress(`latency: baseline, ${RATE_PER_SECOND} raw PutItem/s for ${BASELINE_DURATION_MS / 1000} s`);
    const baseline = await measureBaseline(wal, run);
    progress(`latency: ${DELAYED_MUTATIONS} mutations delayed ${DELAY_SECONDS.join('/')} s`);
    const lateness = await measureLateness(wal, log, run);
    return {
      ack: percentiles(figures.ack, 'POST to ack'),
      applied: percentiles(figures.applied, 'POST to applied'),
      commitToApply: percentiles(figures.commitToApply, 'commit to apply'),
      baseline: percentiles(baseline, 'raw PutItem'),
      lateness: percentiles(lateness, 'delay lateness'),
      mutations: figures.ack.length + figures.failed,
      failed: figures.failed,
      unapplied: figures.unapplied,
      delayed: lateness.length,
      loadAverage,
    };
  } finally {
    await wal.stop();
  }
}

function row(name: string, figures: Percentiles, baseline?: Percentiles): string {
  const cells = [figures.p50, figures.p95, figures.p99].map((value) => value.toFixed(1).padStart(8));
  const ratios = baseline
    ? [
        `${ratio(figures.p50, baseline.p50).toFixed(1)}x`.padStart(8),
        `${ratio(figures.p99, baseline.p99).toFixed(1)}x`.padStart(8),
      ]
    : [];
  return [name.padEnd(26), ...cells, ...ratios].join(' ');
}

function table(figures: LatencyFigures): string[] {
  return [
    `${RATE_PER_SECOND} mutations/s offered for ${DURATION_MS / 1000} s (${figures.mutations} sent, ` +
      `${figures.failed} not SUCCESS, ${figures.unapplied} not applied within ${SETTLE_TIMEOUT_MS / 1000} s; ` +
      `load average ${figures.loadAverage} on ${os.cpus().length} cores)`,
    `${'ms'.padEnd(26)}      p50      p95      p99  p50 vs   p99 vs`,
    row('POST -> ack', figures.ack, figures.baseline),
    row('POST -> applied', figures.applied, figures.baseline),
    row('commit -> apply', figures.commitToApply, figures.baseline),
    row('baseline: raw PutItem', figures.baseline),
    row(`delay lateness (${figures.delayed} of ${DELAYED_MUTATIONS})`, figures.lateness),
    ...(figures.failed > figures.mutations / 100
      ? [
          `OVERLOADED: over 1 % of the mutations failed; the WAL did not keep up with ${RATE_PER_SECOND}/s on this ` +
            'machine, so the latencies above are mostly queueing (a lower WAL_BENCH_LATENCY_RATE measures latency)',
        ]
      : []),
  ];
}

/** POST to ack and to applied at a fixed offered rate, against raw PutItem round trips; delay lateness. */
export const latencySection: BenchSection = {
  name: 'latency',
  run: async ({ progress }) => {
    const figures = await measureLatency(progress);
    return {
      table: table(figures),
      json: {
        latencyMs: {
          offeredPerSecond: RATE_PER_SECOND,
          mutations: figures.mutations,
          failed: figures.failed,
          overloaded: figures.failed > figures.mutations / 100,
          unapplied: figures.unapplied,
          loadAverage: figures.loadAverage,
          ...figures.applied,
          ack: figures.ack,
          commitToApply: figures.commitToApply,
          baseline: figures.baseline,
          ratio: {
            p50: ratio(figures.applied.p50, figures.baseline.p50),
            p99: ratio(figures.applied.p99, figures.baseline.p99),
          },
        },
        delayLatenessMs: { p50: figures.lateness.p50, p99: figures.lateness.p99, mutations: figures.delayed },
      },
    };
  },
};

import { join } from 'node:path';
import { GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { Duration } from 'aws-cdk-lib';
import { FAULTS_ENV } from '#lambdas/shared/faults';
import { namespaceParameterName } from '#lambdas/shared/namespace-config';
import { WAL_OUTPUTS } from '#lib/wal-outputs';
import { type LocalWal, startLocalWal } from '#src/local/runtime/local-wal';
import { targetTableName } from '#src/local/runtime/namespace-targets';
import { synthesizeStack } from '#src/local/runtime/synthesize';
import { fillEffectiveTimes, type MutationResult, sendWorkload } from './client';
import { configChange } from './config-change';
import { type DeadLetterSeen, deadLetterOf } from './dead-letters';
import { type FifoReport, reconcileFifo } from './fifo-check';
import { fifoTargetOf, receiveAll } from './fifo-receiver';
import type { Item } from './oracle';
import { type OutageSpec, type OutageWindow, outageWindows } from './outages';
import { type ChaosReport, reconcile, type SettledState } from './reconcile';
import { countSent, isMultiItem, planWorkload, SIDE_TARGET } from './workload';

const REPO_ROOT = join(__dirname, '..', '..');
const CHAOS_CONFIG_DIR = join(__dirname, 'config');
const STAGE = 'chaos';
const NAMESPACE = 'counters';

export interface ChaosOptions {
  readonly mutations: number;
  /** Share of AWS SDK calls, in every function, that fail, throttle, lose their answer or slow down. */
  readonly faultRate: number;
  /** Share of passes through each crash point that end the function's runtime. */
  readonly crashRate: number;
  readonly concurrency: number;
  /** Share of requests sent as batches (client.ts); default 0.25. */
  readonly batchShare?: number;
  /** Share of mutations with `items[]` over the main and the side table (workload.ts); default ITEMS_SHARE. */
  readonly itemsShare?: number;
  /** How long to wait for the WAL to settle after the last answer. */
  readonly settleTimeoutMs: number;
  /** Dependencies that fail every call for a while, starting `outageDelayMs` after the sending starts. */
  readonly outages?: readonly OutageSpec[];
  readonly outageDelayMs?: number;
  /** Rewrite the namespace's retry settings a third into the sending, and back at two thirds. @default true */
  readonly configChange?: boolean;
  readonly onProgress?: (event: { phase: string; done: number; total: number }) => void;
  readonly onEvent?: (message: string) => void;
}

export interface ChaosRun {
  readonly report: ChaosReport;
  /** The namespace's SQS FIFO target as its receiver saw it, when the namespace has one. */
  readonly fifo?: FifoReport;
  readonly results: MutationResult[];
  readonly outages: readonly OutageWindow[];
  readonly seconds: number;
}

// Outages are absolute times, fixed in the functions' environment before they start; the sending
// waits for them (startup takes 5-25 s on a busy 2-core machine).
const STARTUP_ALLOWANCE_MS = 30_000;

/** Share of multi-item mutations when the options name none. */
export const ITEMS_SHARE = 0.1;

/** Drives mutations through the local WAL under injected faults, outages and crashes, then reconciles. */
export async function runChaos(options: ChaosOptions): Promise<ChaosRun> {
  const started = Date.now();
  // Consumers with a short timeout: a failed queue message comes back in 6 x 3 s, not 6 minutes.
  const { stackName, template } = synthesizeStack(STAGE, {
    configDir: CHAOS_CONFIG_DIR,
    settings: { consumerTimeout: Duration.seconds(3) },
  });
  const sendAt = Date.now() + STARTUP_ALLOWANCE_MS;
  let outages: OutageWindow[] = [];
  let targetTable = '';
  let sideTable = '';
  const wal = await startLocalWal({
    stackName,
    template,
    repoRoot: REPO_ROOT,
    // The outages name the stack's resources: its outputs, and the target table its namespace config names.
    overrideEnv: async ({ outputs, clients }) => {
      targetTable = await targetTableName(clients.ssm, STAGE, NAMESPACE);
      sideTable = await targetTableName(clients.ssm, STAGE, NAMESPACE, SIDE_TARGET);
      const startAt = sendAt + (options.outageDelayMs ?? 3_000);
      outages = outageWindows({ outputs, targetTable }, options.outages ?? [], startAt);
      return {
        [FAULTS_ENV]: JSON.stringify(faultsOf(options, outages)),
        POWERTOOLS_LOG_LEVEL: process.env.WAL_CHAOS_LOGS ?? 'SILENT',
      };
    },
    pollIntervalMs: 50,
  });
  try {
    await waitForOutages(sendAt, outages, options);
    const fifoTarget = await fifoTargetOf(wal.clients.ssm, namespaceParameterName(STAGE, NAMESPACE));
    const stack = { wal, targetTable, sideTable, ...(fifoTarget ? { fifoTarget } : {}) };
    const { report, results, fifoDeadLettered } = await sendAndSettle(stack, started, options);
    // Multi-item mutations reach their items' targets only, not the FIFO queue.
    const single = results.filter((result) => !isMultiItem(result.mutation));
    const fifo = fifoTarget
      ? reconcileFifo(single, await receiveAll(wal.clients.sqs, fifoTarget.queueUrl), fifoDeadLettered)
      : undefined;
    return { report, results, ...(fifo ? { fifo } : {}), outages, seconds: (Date.now() - started) / 1000 };
  } finally {
    await wal.stop();
  }
}

function faultsOf(options: ChaosOptions, outages: readonly OutageWindow[]) {
  return {
    rate: options.faultRate,
    kinds: ['error', 'throttle', 'timeout-after', 'duplicate', 'latency'],
    latencyMs: 100,
    crashRate: options.crashRate,
    outages,
  };
}

/** With outages, the sending starts at the time they were fixed for. */
async function waitForOutages(
  sendAt: number,
  outages: readonly OutageWindow[],
  options: ChaosOptions,
): Promise<void> {
  if (outages.length > 0) {
    const wait = sendAt - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    else options.onEvent?.(`startup took ${(-wait / 1000).toFixed(1)} s longer than allowed for the outages`);
  }
  for (const outage of outages) {
    options.onEvent?.(
      `outage of ${outage.resource} from +${((outage.from - Date.now()) / 1000).toFixed(1)} s for ` +
        `${(outage.to - outage.from) / 1000} s`,
    );
  }
}

/** The running chaos stack and the tables its namespace writes to. */
interface ChaosStack {
  readonly wal: LocalWal;
  readonly targetTable: string;
  /** The side target's table: only multi-item mutations write to it. */
  readonly sideTable: string;
  /** The namespace's SQS FIFO target, if it has one: its dead letters are told apart from the table's. */
  readonly fifoTarget?: { readonly name: string; readonly queueUrl: string };
}

async function sendAndSettle(
  stack: ChaosStack,
  started: number,
  options: ChaosOptions,
): Promise<{ report: ChaosReport; results: MutationResult[]; fifoDeadLettered: ReadonlySet<string> }> {
  const { wal } = stack;
  const plan = planWorkload({
    mutations: options.mutations,
    runId: `r${started.toString(36)}`,
    itemsShare: options.itemsShare ?? ITEMS_SHARE,
  });
  const change = configChange(wal.clients.ssm, namespaceParameterName(STAGE, NAMESPACE));
  const changes = options.configChange === false ? [] : configChangeSteps(plan.length, change, options);
  let answered = 0;
  const sent = await sendWorkload(plan, {
    apiUrl: wal.apiUrl,
    namespace: NAMESPACE,
    concurrency: options.concurrency,
    ...(options.batchShare !== undefined ? { batchShare: options.batchShare } : {}),
    onResult: () => {
      answered++;
      for (const step of changes) if (step.at === answered) void step.run();
      options.onProgress?.({ phase: 'send', done: answered, total: plan.length });
    },
  });
  await Promise.all(changes.map((step) => step.done));
  const since = (from: number) => `${((Date.now() - from) / 1000).toFixed(1)} s`;
  options.onEvent?.(`sent in ${since(started)}`);
  const filling = Date.now();
  const results = await fillEffectiveTimes(sent, { apiUrl: wal.apiUrl, namespace: NAMESPACE });
  const settling = Date.now();
  const fifoDeadLettered = new Set<string>();
  const state = await settle(stack, results, options, fifoDeadLettered);
  options.onEvent?.(
    `effective times looked up in ${((settling - filling) / 1000).toFixed(1)} s, settled in ${since(settling)}`,
  );
  return { report: reconcile(results, state, countSent(plan, results)), results, fifoDeadLettered };
}

interface Step {
  readonly at: number;
  run(): Promise<void>;
  readonly done: Promise<void>;
}

/** The config change at a third of the answers and its undo at two thirds; a failure shows as an event. */
function configChangeSteps(
  total: number,
  change: ReturnType<typeof configChange>,
  options: ChaosOptions,
): Step[] {
  const step = (at: number, label: string, action: () => Promise<void>): Step => {
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    return {
      at,
      done,
      run: async () => {
        await action().then(
          () => options.onEvent?.(`${label} after ${at} answers`),
          (error: unknown) => options.onEvent?.(`${label} failed: ${String(error)}`),
        );
        finish();
      },
    };
  };
  const first = Math.max(1, Math.floor(total / 3));
  const second = Math.max(first + 1, Math.floor((2 * total) / 3));
  if (second > total) return [];
  return [
    step(first, 'namespace retry settings changed', () => change.apply()),
    step(second, 'namespace retry settings restored', () => change.restore()),
  ];
}

/** Waits until the WAL is quiet and every acked mutation is applied or dead-lettered (or the timeout). */
async function settle(
  stack: ChaosStack,
  results: MutationResult[],
  options: ChaosOptions,
  fifoDeadLettered: Set<string>,
): Promise<SettledState> {
  const deadline = Date.now() + options.settleTimeoutMs;
  const deadLettered = new Map<string, string>();
  const acked = results.filter((result) => result.outcome === 'acked').length;
  let quietRounds = 0;
  for (;;) {
    const state = await readState(stack, deadLettered, fifoDeadLettered);
    const report = reconcile(results, state);
    options.onProgress?.({ phase: 'settle', done: report.applied + report.dlq, total: acked });
    quietRounds = (await queuesBusy(stack.wal)) ? 0 : quietRounds + 1;
    // Two quiet rounds: late redeliveries (which would show as double applications) had their chance.
    // A run that is not clean yet gets a few more before its findings are final.
    const clean = report.lost === 0 && report.orderViolations === 0 && report.itemsPartial === 0;
    const settled = clean ? quietRounds >= 2 : quietRounds >= 6;
    if (settled || Date.now() >= deadline) return state;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** The queues work passes through (all but the DLQ), by the stack's outputs. */
const WORK_QUEUE_OUTPUTS = [
  WAL_OUTPUTS.delayQueueUrl,
  WAL_OUTPUTS.retryQueueUrl,
  WAL_OUTPUTS.streamFailureQueueUrl,
] as const;

async function queuesBusy(wal: LocalWal): Promise<boolean> {
  for (const output of WORK_QUEUE_OUTPUTS) {
    const answer = await wal.clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: wal.outputs[output],
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    const attributes = answer.Attributes ?? {};
    const total =
      Number(attributes.ApproximateNumberOfMessages ?? 0) +
      Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(attributes.ApproximateNumberOfMessagesDelayed ?? 0);
    if (total > 0) return true;
  }
  return wal.kinesisSources.some((source) => source.hasPendingRecords());
}

/** Every item of a table, by its key attribute `id`. */
async function scanTable(wal: LocalWal, tableName: string): Promise<Map<string, Item>> {
  const documents = DynamoDBDocumentClient.from(wal.clients.dynamodb);
  const items = new Map<string, Item>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    for (const item of page.Items ?? []) items.set(String(item.id), item);
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

async function readState(
  { wal, targetTable, sideTable, fifoTarget }: ChaosStack,
  deadLettered: Map<string, string>,
  fifoDeadLettered: Set<string>,
): Promise<SettledState> {
  const items = await scanTable(wal, targetTable);
  const tables = new Map([[SIDE_TARGET, await scanTable(wal, sideTable)]]);
  // Reading the DLQ hides its messages for a moment: ids seen once are remembered.
  for (const letter of await deadLetters(wal)) {
    // A dead letter of the FIFO target says nothing about the table, and the other way round; one without a
    // target (the whole mutation could not be routed) holds it back from both.
    if (fifoTarget && letter.target !== undefined && letter.target === fifoTarget.name) {
      fifoDeadLettered.add(letter.id);
      continue;
    }
    deadLettered.set(letter.id, letter.reason);
    if (letter.target === undefined) fifoDeadLettered.add(letter.id);
  }
  return { items, tables, deadLettered };
}

/** Mutation ids on the DLQ with their reasons (dead-letters.ts); the messages become visible again soon for the next look. */
async function deadLetters(wal: LocalWal): Promise<DeadLetterSeen[]> {
  const found: DeadLetterSeen[] = [];
  for (let round = 0; round < 100; round++) {
    const answer = await wal.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: wal.outputs[WAL_OUTPUTS.deadLetterQueueUrl],
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 2,
      }),
    );
    const messages = answer.Messages ?? [];
    if (messages.length === 0) break;
    for (const message of messages) {
      const letter = deadLetterOf(message.Body);
      if (letter) found.push(letter);
    }
  }
  return found;
}

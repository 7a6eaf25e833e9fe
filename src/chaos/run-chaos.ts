import { join } from 'node:path';
import { GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { Duration } from 'aws-cdk-lib';
import { FAULTS_ENV } from '../../lambdas/shared/faults';
import type { LedgerEntry } from '../../lambdas/shared/ledger';
import { queueMessageSchema } from '../../lambdas/shared/queue-message';
import { type LocalWal, startLocalWal } from '../local/runtime/local-wal';
import { synthesizeStack } from '../local/runtime/synthesize';
import { type ChaosReport, reconcile, type SettledState } from './reconcile';
import { type MutationResult, planWorkload, sendWorkload } from './workload';

const REPO_ROOT = join(__dirname, '..', '..');
const CHAOS_CONFIG_DIR = join(__dirname, 'config');
const NAMESPACE = 'counters';

export interface ChaosOptions {
  readonly mutations: number;
  /** Share of AWS SDK calls, in every function, that fail, throttle, lose their answer or slow down. */
  readonly faultRate: number;
  /** Share of passes through each crash point that end the function's runtime. */
  readonly crashRate: number;
  readonly concurrency: number;
  /** How long to wait for the WAL to settle after the last answer. */
  readonly settleTimeoutMs: number;
  readonly onProgress?: (event: { phase: string; done: number; total: number }) => void;
}

export interface ChaosRun {
  readonly report: ChaosReport;
  readonly results: MutationResult[];
  readonly seconds: number;
}

/** Drives mutations through the local WAL under injected faults and crashes, then reconciles. */
export async function runChaos(options: ChaosOptions): Promise<ChaosRun> {
  const started = Date.now();
  // Consumers with a short timeout: a failed queue message comes back in 6 x 3 s, not 6 minutes.
  const { stackName, template } = synthesizeStack('chaos', {
    configDir: CHAOS_CONFIG_DIR,
    settings: { consumerTimeout: Duration.seconds(3) },
  });
  const faults = {
    rate: options.faultRate,
    kinds: ['error', 'throttle', 'timeout-after', 'duplicate', 'latency'],
    latencyMs: 100,
    crashRate: options.crashRate,
  };
  const wal = await startLocalWal({
    stackName,
    template,
    repoRoot: REPO_ROOT,
    overrideEnv: {
      [FAULTS_ENV]: JSON.stringify(faults),
      POWERTOOLS_LOG_LEVEL: process.env.WAL_CHAOS_LOGS ?? 'SILENT',
    },
    pollIntervalMs: 50,
  });
  try {
    const runId = `r${started.toString(36)}`;
    const plan = planWorkload({ mutations: options.mutations, runId });
    let answered = 0;
    const results = await sendWorkload(plan, {
      apiUrl: wal.apiUrl,
      namespace: NAMESPACE,
      concurrency: options.concurrency,
      onResult: () => options.onProgress?.({ phase: 'send', done: ++answered, total: plan.length }),
    });
    const state = await settle(wal, results, options);
    return { report: reconcile(results, state), results, seconds: (Date.now() - started) / 1000 };
  } finally {
    await wal.stop();
  }
}

/** Waits until every acked mutation is applied or dead-lettered (or the timeout), then reads the state. */
async function settle(
  wal: LocalWal,
  results: MutationResult[],
  options: ChaosOptions,
): Promise<SettledState> {
  const deadline = Date.now() + options.settleTimeoutMs;
  const deadLettered = new Set<string>();
  const acked = results.filter((result) => result.outcome === 'acked').length;
  let stableRounds = 0;
  for (;;) {
    const state = await readState(wal, deadLettered);
    const report = reconcile(results, state);
    options.onProgress?.({ phase: 'settle', done: report.applied + report.dlq, total: acked });
    const quiet = report.lost === 0 && !(await queuesBusy(wal));
    stableRounds = quiet ? stableRounds + 1 : 0;
    // Two quiet rounds in a row: late redeliveries (which would show as double applications) had their chance.
    if (stableRounds >= 2 || Date.now() >= deadline) return state;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

async function queuesBusy(wal: LocalWal): Promise<boolean> {
  for (const [logicalId, queue] of wal.provisioned.queues) {
    if (logicalId.includes('DeadLetter')) continue;
    const answer = await wal.clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queue.url,
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

async function readState(wal: LocalWal, deadLettered: Set<string>): Promise<SettledState> {
  const documents = DynamoDBDocumentClient.from(wal.clients.dynamodb);
  const scan = async (tableName: string) => {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await documents.send(
        new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  };
  const ledgerTable = wal.provisioned.tables.find((table) => table.includes('Ledger')) as string;
  const targetTable = wal.provisioned.tables.find((table) => !table.includes('Ledger')) as string;
  const items = new Map((await scan(targetTable)).map((item) => [String(item.id), item]));
  const committed = new Map<string, LedgerEntry>();
  for (const entry of (await scan(ledgerTable)) as unknown as LedgerEntry[]) {
    if (entry.state === 'COMMITTED') committed.set(entry.idempotencyKey, entry);
  }
  // Reading the DLQ hides its messages for a moment: ids seen once are remembered.
  for (const id of await deadLetteredIds(wal)) deadLettered.add(id);
  return { items, committed, deadLettered };
}

/** Mutation ids on the DLQ; the messages become visible again right away for the next look. */
async function deadLetteredIds(wal: LocalWal): Promise<Set<string>> {
  const dlq = [...wal.provisioned.queues].find(([logicalId]) => logicalId.includes('DeadLetter'))?.[1];
  const ids = new Set<string>();
  if (!dlq) return ids;
  for (let round = 0; round < 100; round++) {
    const answer = await wal.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlq.url, MaxNumberOfMessages: 10, VisibilityTimeout: 2 }),
    );
    const messages = answer.Messages ?? [];
    if (messages.length === 0) break;
    for (const message of messages) {
      const parsed = queueMessageSchema.safeParse(JSON.parse(message.Body ?? '{}'));
      if (!parsed.success) continue;
      const letter = parsed.data;
      const id =
        letter.kind === 'poison'
          ? letter.id
          : letter.kind === 'stream-record'
            ? undefined
            : letter.mutation.envelope.id;
      if (id) ids.add(id);
    }
  }
  return ids;
}

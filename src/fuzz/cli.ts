// npm run fuzz -- --runs 20000 [--seed N] [--batch 100] [--concurrency 4]
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import fc from 'fast-check';
import { parseNamespaceConfig } from '#lambdas/shared/namespace-config';
import { startLocalWal } from '#src/local/runtime/local-wal';
import { synthesizeStack } from '#src/local/runtime/synthesize';
import { fuzzCaseArbitrary } from './arbitraries';
import {
  type CaseResult,
  checkApplied,
  FUZZ_NAMESPACE,
  FuzzTally,
  type FuzzWal,
  sendCase,
} from './ingest-fuzz';

const REPO_ROOT = join(__dirname, '..', '..');
const FUZZ_CONFIG_DIR = join(__dirname, 'config');
const STAGE = 'fuzz';

class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function count(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1)
    throw new UsageError(`${flag} must be a positive integer, not "${value}"`);
  return parsed;
}

async function tableName(ssm: SSMClient): Promise<string> {
  const answer = await ssm.send(
    new GetParameterCommand({ Name: `/wal/${STAGE}/namespaces/${FUZZ_NAMESPACE}` }),
  );
  const config = parseNamespaceConfig(JSON.parse(answer.Parameter?.Value ?? ''), 'parameter');
  const name = config.targets.find((target) => target.name === 'main')?.tableName;
  if (!name) throw new Error(`namespace ${FUZZ_NAMESPACE} has no provisioned table`);
  return name;
}

async function mapConcurrently<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      seed: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      verbose: { type: 'boolean' },
    },
  });
  const runs = count(values.runs, 1_000, '--runs');
  const seed = values.seed === undefined ? Date.now() % 2 ** 31 : count(values.seed, 1, '--seed');
  const batch = count(values.batch, 100, '--batch');
  const concurrency = count(values.concurrency, 4, '--concurrency');
  console.log(`fuzz: ${runs} requests, seed ${seed}, batches of ${batch}, concurrency ${concurrency}`);

  const started = Date.now();
  const { stackName, template } = synthesizeStack(STAGE, { configDir: FUZZ_CONFIG_DIR });
  const wal = await startLocalWal({
    stackName,
    template,
    repoRoot: REPO_ROOT,
    autoPoll: false,
    overrideEnv: { POWERTOOLS_LOG_LEVEL: process.env.WAL_FUZZ_LOGS ?? 'SILENT' },
  });
  const tally = new FuzzTally();
  try {
    const fuzzWal: FuzzWal = {
      apiUrl: wal.apiUrl,
      dynamodb: wal.clients.dynamodb,
      tableName: await tableName(wal.clients.ssm),
      pollOnce: () => wal.pollOnce(),
    };
    const runId = `f${started.toString(36)}`;
    for (let done = 0; done < runs; done += batch) {
      const size = Math.min(batch, runs - done);
      // One seed per batch: a failure names the batch's seed, which replays it alone.
      const cases = fc.sample(fuzzCaseArbitrary, { numRuns: size, seed: seed + done });
      const results: CaseResult[] = await mapConcurrently(
        cases.map((fuzzCase, index) => ({ fuzzCase, key: `${runId}-${done + index}` })),
        concurrency,
        ({ fuzzCase, key }) => sendCase(fuzzWal, fuzzCase.namespace, fuzzCase, key),
      );
      for (const result of results) tally.add(result);
      const expectations = results.flatMap((result) => (result.expectation ? [result.expectation] : []));
      const mismatches = await checkApplied(fuzzWal, FUZZ_NAMESPACE, expectations);
      tally.addMismatches(mismatches);
      // Failures as they happen, so a long run shows them before it ends.
      for (const result of results) {
        if (result.verdict === '5xx' || result.verdict === 'crash')
          console.log(`  ${result.verdict}: ${result.problem?.slice(0, 1_500)}`);
      }
      for (const { expectation, found } of mismatches) {
        console.log(
          `  mismatch: expected ${expectation.item?.slice(0, 500) ?? '(no item)'}, found ${found.slice(0, 500)}; request: ${expectation.request.slice(0, 1_000)}`,
        );
      }
      const seconds = (Date.now() - started) / 1000;
      console.log(`${tally.summary()} (${seconds.toFixed(0)} s, batch seed ${seed + done})`);
    }
  } finally {
    await wal.stop();
  }
  console.log(`4xx by type: ${tally.rejectionSummary()}`);
  if (values.verbose) for (const sample of tally.rejectionSamples) console.log(`  ${sample.slice(0, 600)}`);
  console.log(tally.summary());
  console.log(`took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return tally.clean ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    process.exitCode = 2;
  },
);

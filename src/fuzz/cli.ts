// npm run fuzz -- --runs 20000 [--seed N] [--batch 100] [--concurrency 4]
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { runTool } from '#src/cli/run-tool';
import { UsageError } from '#src/cli/usage-error';
import { mapConcurrently } from '#src/local/map-concurrently';
import { startLocalWal } from '#src/local/runtime/local-wal';
import { targetTableName } from '#src/local/runtime/namespace-targets';
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

function count(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1)
    throw new UsageError(`${flag} must be a positive integer, not "${value}"`);
  return parsed;
}

interface FuzzOptions {
  readonly runs: number;
  readonly seed: number;
  readonly batch: number;
  readonly concurrency: number;
  readonly verbose: boolean;
}

function parseOptions(): FuzzOptions {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      seed: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      verbose: { type: 'boolean' },
    },
  });
  return {
    runs: count(values.runs, 1_000, '--runs'),
    seed: values.seed === undefined ? Date.now() % 2 ** 31 : count(values.seed, 1, '--seed'),
    batch: count(values.batch, 100, '--batch'),
    concurrency: count(values.concurrency, 4, '--concurrency'),
    verbose: values.verbose === true,
  };
}

async function main(): Promise<number> {
  const options = parseOptions();
  const { runs, seed, batch, concurrency } = options;
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
      tableName: await targetTableName(wal.clients.ssm, STAGE, FUZZ_NAMESPACE, 'main'),
      pollOnce: () => wal.pollOnce(),
    };
    const runId = `f${started.toString(36)}`;
    for (let done = 0; done < runs; done += batch) {
      await runBatch(fuzzWal, tally, options, { runId, done });
      const seconds = (Date.now() - started) / 1000;
      console.log(`${tally.summary()} (${seconds.toFixed(0)} s, batch seed ${seed + done})`);
    }
  } finally {
    await wal.stop();
  }
  console.log(`4xx by type: ${tally.rejectionSummary()}`);
  if (options.verbose) for (const sample of tally.rejectionSamples) console.log(`  ${sample.slice(0, 600)}`);
  console.log(tally.summary());
  console.log(`took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return tally.clean ? 0 : 1;
}

/** One batch: its cases sent, tallied and checked against the target; failures printed as they happen. */
async function runBatch(
  fuzzWal: FuzzWal,
  tally: FuzzTally,
  options: FuzzOptions,
  { runId, done }: { runId: string; done: number },
): Promise<void> {
  const size = Math.min(options.batch, options.runs - done);
  // One seed per batch: a failure names the batch's seed, which replays it alone.
  const cases = fc.sample(fuzzCaseArbitrary, { numRuns: size, seed: options.seed + done });
  const results: CaseResult[] = await mapConcurrently(
    cases.map((fuzzCase, index) => ({ fuzzCase, key: `${runId}-${done + index}` })),
    options.concurrency,
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
}

runTool(main);

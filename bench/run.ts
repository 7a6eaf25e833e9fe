// Local tooling runs on Node 20; the SDK's reminder about it is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { runTool } from '#src/cli/run-tool';
import { type BundleFigures, measureBundles } from './bundles';

/**
 * `npm run bench`: the performance figures, each next to a baseline measured in the same run, as one table on
 * stdout and a JSON file under bench/results/. This first part measures bundles and their load (cold start);
 * issue 10 adds requests and cost per mutation, throughput, latency and memory.
 */
const RESULTS_DIR = path.join(__dirname, 'results');

function ratio(value: number, baseline: number): number {
  return Math.round((value / baseline) * 100) / 100;
}

function table(figures: readonly BundleFigures[]): string[] {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
  const header = 'function          bundle   baseline  ratio   load ms  baseline  ratio';
  const rows = figures.map((figure) =>
    [
      figure.function.padEnd(16),
      kb(figure.bytes).padStart(8),
      kb(figure.baselineBytes).padStart(9),
      `${ratio(figure.bytes, figure.baselineBytes).toFixed(2)}x`.padStart(6),
      figure.loadMs.toFixed(0).padStart(9),
      figure.baselineLoadMs.toFixed(0).padStart(9),
      `${ratio(figure.loadMs, figure.baselineLoadMs).toFixed(2)}x`.padStart(6),
    ].join(' '),
  );
  return [header, ...rows];
}

async function main(): Promise<number> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { runs: { type: 'string' } } });
  const runs = Number(values.runs ?? 5);
  const started = Date.now();
  const bundles = measureBundles(runs, (step) => console.log(`bench: ${step}...`));
  for (const line of table(bundles)) console.log(line);
  const result = {
    measuredAt: new Date().toISOString(),
    node: process.version,
    bundle: {
      maxRatio: Math.max(...bundles.map((figure) => ratio(figure.bytes, figure.baselineBytes))),
      byFunction: bundles,
    },
    coldStart: {
      maxRatio: Math.max(...bundles.map((figure) => ratio(figure.loadMs, figure.baselineLoadMs))),
    },
  };
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `bench-${result.measuredAt.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `bench: written ${path.relative(process.cwd(), file)} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return 0;
}

runTool(main);

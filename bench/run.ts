// Local tooling runs on Node 20; the SDK's reminder about it is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { runTool } from '#src/cli/run-tool';
import { bundleSection } from './bundles';
import { costSection } from './cost';
import { latencySection } from './latency';
import { memorySection } from './memory';
import { requestSection } from './requests';
import type { BenchSection } from './section';
import { throughputSection } from './throughput';

/**
 * `npm run bench`: the performance figures, each next to a baseline measured in the same run, as one table on
 * stdout and a JSON file under bench/results/. Each section (bench/*.ts) measures one kind of figure.
 */
const RESULTS_DIR = path.join(__dirname, 'results');

const SECTIONS: readonly BenchSection[] = [
  bundleSection,
  requestSection,
  costSection,
  latencySection,
  memorySection,
  throughputSection,
];

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { runs: { type: 'string' }, only: { type: 'string' } },
  });
  const runs = Number(values.runs ?? 5);
  const only = values.only?.split(',');
  const started = Date.now();
  const context = { runs, progress: (step: string) => console.log(`bench: ${step}...`) };
  const result: Record<string, unknown> = { measuredAt: new Date().toISOString(), node: process.version };
  const tables: string[] = [];
  for (const section of SECTIONS.filter((candidate) => !only || only.includes(candidate.name))) {
    const figures = await section.run(context);
    Object.assign(result, figures.json);
    tables.push('', `## ${section.name}`, ...figures.table);
  }
  for (const line of tables) console.log(line);
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `bench-${String(result.measuredAt).replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `bench: written ${path.relative(process.cwd(), file)} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return 0;
}

runTool(main);

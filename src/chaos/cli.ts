// npm run chaos -- --mutations 5000 --fault-rate 0.15 [--crash-rate 0.01] [--concurrency 16]
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { parseArgs } from 'node:util';
import { formatReport, isClean } from './reconcile';
import { runChaos } from './run-chaos';

function number(
  value: string | undefined,
  fallback: number,
  flag: string,
  max = Number.POSITIVE_INFINITY,
): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0 || parsed > max) {
    throw new Error(`${flag} must be a number from 0 to ${max}, not "${value}"`);
  }
  return parsed;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      mutations: { type: 'string' },
      'fault-rate': { type: 'string' },
      'crash-rate': { type: 'string' },
      concurrency: { type: 'string' },
      'settle-timeout': { type: 'string' },
    },
  });
  const mutations = number(values.mutations, 500, '--mutations');
  const options = {
    mutations,
    faultRate: number(values['fault-rate'], 0.15, '--fault-rate', 1),
    crashRate: number(values['crash-rate'], 0.01, '--crash-rate', 1),
    concurrency: number(values.concurrency, 16, '--concurrency'),
    settleTimeoutMs: number(values['settle-timeout'], 120 + mutations / 20, '--settle-timeout') * 1000,
  };
  console.log(
    `chaos: ${options.mutations} mutations, fault rate ${options.faultRate}, crash rate ${options.crashRate}, ` +
      `concurrency ${options.concurrency}`,
  );
  let lastLine = '';
  const run = await runChaos({
    ...options,
    onProgress: ({ phase, done, total }) => {
      const line = `${phase} ${done}/${total}`;
      const step = Math.max(1, Math.floor(total / 20));
      if (line !== lastLine && (done % step === 0 || done === total)) {
        lastLine = line;
        if (process.stdout.isTTY) process.stdout.write(`\r${line.padEnd(30)}`);
        else console.log(line);
      }
    },
  });
  if (process.stdout.isTTY) process.stdout.write('\n');
  console.log(formatReport(run.report));
  console.log(`took ${run.seconds.toFixed(1)} s`);
  for (const problem of run.report.problems) console.log(`  problem: ${problem}`);
  return isClean(run.report) ? 0 : 1;
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

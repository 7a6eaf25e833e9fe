// npm run chaos -- --mutations 5000 --fault-rate 0.15 [--crash-rate 0.01] [--concurrency 16] [--batch-share 0.25]
//   [--items-share 0.1]
//   [--outage target:30] [--outage ledger:N] [--outage queue:N] [--no-config-change]
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { parseArgs } from 'node:util';
import { runTool } from '#src/cli/run-tool';
import { formatFifoReport, isFifoClean } from './fifo-check';
import { parseOutage } from './outages';
import { formatReport, formatSent, isClean } from './reconcile';
import { ITEMS_SHARE, runChaos } from './run-chaos';

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

const OPTIONS = {
  mutations: { type: 'string' },
  'fault-rate': { type: 'string' },
  'crash-rate': { type: 'string' },
  concurrency: { type: 'string' },
  'batch-share': { type: 'string' },
  'items-share': { type: 'string' },
  'settle-timeout': { type: 'string' },
  outage: { type: 'string', multiple: true },
  'outage-delay': { type: 'string' },
  'no-config-change': { type: 'boolean' },
} as const;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: OPTIONS });
  const outages = (values.outage ?? []).map(parseOutage);
  const outageSeconds = outages.reduce((sum, outage) => sum + outage.seconds, 0);
  const mutations = number(values.mutations, 500, '--mutations');
  const options = {
    mutations,
    faultRate: number(values['fault-rate'], 0.15, '--fault-rate', 1),
    crashRate: number(values['crash-rate'], 0.01, '--crash-rate', 1),
    concurrency: number(values.concurrency, 16, '--concurrency'),
    batchShare: number(values['batch-share'], 0.25, '--batch-share', 1),
    itemsShare: number(values['items-share'], ITEMS_SHARE, '--items-share', 1),
    settleTimeoutMs:
      number(values['settle-timeout'], 120 + mutations / 20 + outageSeconds, '--settle-timeout') * 1000,
    outages,
    outageDelayMs: number(values['outage-delay'], 3, '--outage-delay') * 1000,
    configChange: values['no-config-change'] !== true,
  };
  console.log(
    `chaos: ${options.mutations} mutations, fault rate ${options.faultRate}, crash rate ${options.crashRate}, ` +
      `concurrency ${options.concurrency}, items share ${options.itemsShare}` +
      (outages.length > 0 ? `, outages ${outages.map((o) => `${o.resource}:${o.seconds}s`).join(' ')}` : ''),
  );
  let lastLine = '';
  const run = await runChaos({
    ...options,
    onEvent: (message) => console.log(message),
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
  console.log(formatSent(run.report));
  if (run.fifo) console.log(formatFifoReport(run.fifo));
  console.log(`took ${run.seconds.toFixed(1)} s`);
  for (const problem of run.report.problems) console.log(`  problem: ${problem}`);
  for (const letter of run.report.deadLetters) {
    console.log(
      `  dlq: ${letter.id} ${letter.mutation ?? '(not a mutation the clients were answered)'}: ${letter.reason}`,
    );
  }
  for (const problem of run.fifo?.problems ?? []) console.log(`  fifo problem: ${problem}`);
  return isClean(run.report) && (run.fifo === undefined || isFifoClean(run.fifo)) ? 0 : 1;
}

runTool(main);

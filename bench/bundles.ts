import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { ENV } from '#lambdas/shared/environment';
import { LAMBDA_ENTRIES, WAL_BUNDLING } from '#lib/wal-function';
import { type BenchSection, ratio } from './section';

/**
 * Bundle size and load time of each deployed function, next to a baseline: a bundle of only the SDK clients the
 * function uses, built with the same options. Load time is a fresh Node process requiring the bundle (module
 * initialisation: what a cold start pays before the first event), the median of several runs.
 */

type FunctionName = keyof typeof LAMBDA_ENTRIES;

/** The SDK clients each function really uses (its baseline), as `package#Client`. */
const CLIENTS_USED: Record<FunctionName, readonly string[]> = {
  ingest: [
    '@aws-sdk/client-dynamodb#DynamoDBClient',
    '@aws-sdk/client-kinesis#KinesisClient',
    '@aws-sdk/client-ssm#SSMClient',
  ],
  streamConsumer: consumerClients(),
  queueConsumer: consumerClients(),
  waitingRoomPoller: ['@aws-sdk/client-dynamodb#DynamoDBClient', '@aws-sdk/client-sqs#SQSClient'],
};

/** The consumers write every target type: all the clients. */
function consumerClients(): string[] {
  return [
    '@aws-sdk/client-dynamodb#DynamoDBClient',
    '@aws-sdk/client-kinesis#KinesisClient',
    '@aws-sdk/client-sqs#SQSClient',
    '@aws-sdk/client-ssm#SSMClient',
    '@aws-sdk/client-sns#SNSClient',
    '@aws-sdk/client-eventbridge#EventBridgeClient',
    '@aws-sdk/client-lambda#LambdaClient',
    '@aws-sdk/client-secrets-manager#SecretsManagerClient',
  ];
}

interface BundleFigures {
  readonly function: FunctionName;
  readonly bytes: number;
  readonly baselineBytes: number;
  readonly loadMs: number;
  readonly baselineLoadMs: number;
}

/** Bundles `entry` as the stack does (WAL_BUNDLING) into `outfile`; returns its size in bytes. */
function bundle(entry: string, outfile: string, nodePaths: string[] = []): number {
  buildSync({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    logLevel: 'silent',
    minify: WAL_BUNDLING.minify,
    target: WAL_BUNDLING.target,
    external: [...WAL_BUNDLING.externalModules],
    define: WAL_BUNDLING.define,
    nodePaths,
  });
  return fs.statSync(outfile).size;
}

/** A module that creates one of each client, as a handler does at load. */
function baselineSource(clients: readonly string[]): string {
  const lines = clients.map((spec, index) => {
    const [module, name] = spec.split('#');
    return `const { ${name}: C${index} } = require('${module}');\nexports.c${index} = new C${index}({});`;
  });
  return `${lines.join('\n')}\n`;
}

/** Environment a handler module reads at load (names from the stack's contract, dummy values). */
function handlerEnvironment(): NodeJS.ProcessEnv {
  const dummies = Object.fromEntries(
    Object.values(ENV).map((name) => [name, name.endsWith('SECONDS') ? '60' : 'bench']),
  );
  return { ...process.env, ...dummies, AWS_REGION: 'us-east-1', POWERTOOLS_LOG_LEVEL: 'SILENT' };
}

/** Median milliseconds for a fresh Node process to require `file`. */
function medianLoadMs(file: string, runs: number): number {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(file)});console.log(Number(process.hrtime.bigint()-t)/1e6)`;
  const times = Array.from({ length: runs }, () =>
    Number(
      execFileSync(process.execPath, ['-e', script], { env: handlerEnvironment(), encoding: 'utf8' }).trim(),
    ),
  ).sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

/** Every function's figures; `onProgress` hears about each step. */
function measureBundles(runs: number, onProgress: (step: string) => void): BundleFigures[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wal-bench-bundles-'));
  const repoModules = path.resolve(__dirname, '..', 'node_modules');
  try {
    return (Object.keys(LAMBDA_ENTRIES) as FunctionName[]).map((name) => {
      onProgress(`bundling ${name}`);
      const deployed = path.join(dir, `${name}.js`);
      const bytes = bundle(LAMBDA_ENTRIES[name], deployed);
      const baselineEntry = path.join(dir, `${name}-baseline-entry.js`);
      fs.writeFileSync(baselineEntry, baselineSource(CLIENTS_USED[name]));
      const baseline = path.join(dir, `${name}-baseline.js`);
      const baselineBytes = bundle(baselineEntry, baseline, [repoModules]);
      onProgress(`loading ${name} ${runs} times, and its baseline`);
      return {
        function: name,
        bytes,
        baselineBytes,
        loadMs: medianLoadMs(deployed, runs),
        baselineLoadMs: medianLoadMs(baseline, runs),
      };
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
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

/** Bundle size and cold start of each function against its SDK-clients-only baseline. */
export const bundleSection: BenchSection = {
  name: 'bundles',
  run: async ({ runs, progress }) => {
    const bundles = measureBundles(runs, progress);
    return {
      table: table(bundles),
      json: {
        bundle: {
          maxRatio: Math.max(...bundles.map((figure) => ratio(figure.bytes, figure.baselineBytes))),
          byFunction: bundles,
        },
        coldStart: {
          maxRatio: Math.max(...bundles.map((figure) => ratio(figure.loadMs, figure.baselineLoadMs))),
        },
      },
    };
  },
};

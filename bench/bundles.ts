import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LAMBDA_ENTRIES } from '#lib/wal-function';
import { postMutation } from '#test/support/local-wal-harness';
import { bundleAsDeployed, CLIENTS_USED } from './bundle-build';
import {
  assertServed,
  type BaselineCall,
  baselineCalls,
  type ColdStartBench,
  coldStart,
  deliverEvent,
  type FunctionName,
  ingestEvent,
  ordersStreamRecords,
  startColdStartBench,
} from './cold-start';
import { type BenchSection, ratio } from './section';

/**
 * Bundle size and cold start of each deployed function, next to a baseline: a bundle of only the SDK clients the
 * function uses, built with the same options. Cold start is a fresh Node process that requires the bundle and
 * serves one event against the emulators (bench/cold-start.ts); the baseline's process requires its clients and
 * makes the same AWS calls with them. Medians of `--runs` runs, deployed and baseline interleaved.
 */

/** What Node needs to apply a bundle's source map to stack traces; its load cost is measured. */
const SOURCE_MAPS = '--enable-source-maps';

interface BuiltBundles {
  readonly function: FunctionName;
  readonly deployed: string;
  readonly bytes: number;
  readonly sourceMapBytes: number;
  readonly baseline: string;
  readonly baselineBytes: number;
}

interface BundleFigures {
  readonly function: FunctionName;
  readonly bytes: number;
  readonly baselineBytes: number;
  readonly sourceMapBytes: number;
  /** Require, then the first event served. */
  readonly coldStartMs: number;
  readonly baselineColdStartMs: number;
  /**
   * The median of each run's deployed / baseline ratio (the two measured back to back): less moved than the
   * ratio of the medians by load that changes during the section on a shared machine.
   */
  readonly pairedColdStartRatio: number;
  /** Require only, without and with NODE_OPTIONS=--enable-source-maps; the baseline's require. */
  readonly loadMs: number;
  readonly baselineLoadMs: number;
  readonly loadMsWithSourceMaps: number;
}

/**
 * A module that creates each client at load, as a handler does, and whose `run` makes the given calls: the
 * commands are imported by name so the bundle holds just them, as the deployed one does.
 */
function baselineSource(clients: readonly string[], calls: readonly BaselineCall[]): string {
  const lines = clients.map((spec, index) => {
    const [module, name] = spec.split('#');
    const commands = [...new Set(calls.filter((call) => call.client === spec).map((call) => call.command))];
    const imports = [`${name} as C${index}`, ...commands].join(', ');
    return `import { ${imports} } from '${module}';\nconst c${index} = new C${index}({ requestHandler: new NodeHttpHandler() });\nclients['${spec}'] = c${index};\n${commands.map((command) => `commands['${command}'] = ${command};`).join('\n')}`;
  });
  return [
    // HTTP/1.1, as lambdas/shared/clients.ts: the Kinesis client's default HTTP/2 is refused by kinesalite.
    "import { NodeHttpHandler } from '@smithy/node-http-handler';",
    'const clients = {};',
    'const commands = {};',
    ...lines,
    'export async function run(calls) {',
    '  for (const { client, command, input } of calls) {',
    "    const sent = typeof input.Data === 'string' ? { ...input, Data: Buffer.from(input.Data) } : input;",
    '    await clients[client].send(new commands[command](sent));',
    '  }',
    '}',
    '',
  ].join('\n');
}

function buildAll(dir: string): BuiltBundles[] {
  const repoModules = path.resolve(__dirname, '..', 'node_modules');
  const resources = { table: 'table', streamName: 'stream', waitingRoomTable: 'waiting-room' };
  return (Object.keys(LAMBDA_ENTRIES) as FunctionName[]).map((name) => {
    const deployed = path.join(dir, name, 'index.js');
    const bytes = bundleAsDeployed(LAMBDA_ENTRIES[name], deployed, { sourceMap: true });
    const baselineEntry = path.join(dir, `${name}-baseline-entry.js`);
    fs.writeFileSync(baselineEntry, baselineSource(CLIENTS_USED[name], baselineCalls(name, resources, 'id')));
    const baseline = path.join(dir, `${name}-baseline.js`);
    const baselineBytes = bundleAsDeployed(baselineEntry, baseline, {
      sourceMap: false,
      nodePaths: [repoModules],
    });
    const sourceMapBytes = fs.statSync(`${deployed}.map`).size;
    return { function: name, deployed, bytes, sourceMapBytes, baseline, baselineBytes };
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** The event an EventBridge rule's schedule sends. */
function scheduledEvent(): Record<string, unknown> {
  return {
    version: '0',
    id: 'bench',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: {},
  };
}

/** The event of the deployed function's `run`-th cold start: a new mutation, or a record of one. */
async function eventsFor(bench: ColdStartBench, runs: number): Promise<Record<FunctionName, unknown[]>> {
  // Fresh mutations for the consumers, two sets: the stream consumer applies one, the queue consumer the other.
  for (let index = 0; index < 2 * runs; index++) {
    const answer = await postMutation(bench.wal, 'orders', { payload: { id: `bench-consumer-${index}` } });
    if (answer.status !== 200) throw new Error(`bench: POST answered ${answer.status}`);
  }
  const records = (await ordersStreamRecords(bench)).filter((record) =>
    Buffer.from(record.kinesis.data, 'base64').toString('utf8').includes('bench-consumer-'),
  );
  return {
    ingest: Array.from({ length: runs }, (_, index) => ingestEvent(`bench-ingest-${index}`)),
    streamConsumer: records.slice(0, runs).map((record) => ({ Records: [record] })),
    queueConsumer: records.slice(runs, 2 * runs).map((record) => deliverEvent(record, bench.queueArn)),
    waitingRoomPoller: Array.from({ length: runs }, () => scheduledEvent()),
  };
}

/** The cold starts of one function and its baseline, `runs` pairs: each side's timings, in run order. */
interface Samples {
  readonly deployed: number[];
  readonly baseline: number[];
  readonly load: number[];
  readonly baselineLoad: number[];
  readonly loadWithMaps: number[];
}

async function sampleColdStarts(
  bench: ColdStartBench,
  bundles: BuiltBundles,
  events: readonly unknown[],
  runs: number,
): Promise<Samples> {
  const name = bundles.function;
  const environment = bench.environment[name];
  const samples: Samples = { deployed: [], baseline: [], load: [], baselineLoad: [], loadWithMaps: [] };
  for (let index = 0; index < runs; index++) {
    const calls = baselineCalls(name, bench.resources, `bench-baseline-${name}-${index}`);
    // As deployed: the function's own variables, NODE_OPTIONS included if the stack sets it.
    const served = () => coldStart(bundles.deployed, environment, { event: events[index] });
    const answered = () => coldStart(bundles.baseline, environment, { calls }, '');
    // The side that goes first alternates: neither always runs second (after a warmer page cache, say).
    let own: Awaited<ReturnType<typeof served>>;
    let base: Awaited<ReturnType<typeof answered>>;
    if (index % 2 === 0) {
      own = await served();
      base = await answered();
    } else {
      base = await answered();
      own = await served();
    }
    assertServed(name, own.result);
    samples.deployed.push(own.firstEventMs);
    samples.baseline.push(base.firstEventMs);
    samples.load.push((await coldStart(bundles.deployed, environment, { loadOnly: true }, '')).loadMs);
    samples.baselineLoad.push(
      (await coldStart(bundles.baseline, environment, { loadOnly: true }, '')).loadMs,
    );
    samples.loadWithMaps.push(
      (await coldStart(bundles.deployed, environment, { loadOnly: true }, SOURCE_MAPS)).loadMs,
    );
  }
  return samples;
}

async function measureColdStarts(
  bench: ColdStartBench,
  built: readonly BuiltBundles[],
  runs: number,
  progress: (step: string) => void,
): Promise<BundleFigures[]> {
  progress('posting the mutations the consumers will apply');
  const events = await eventsFor(bench, runs);
  const figures: BundleFigures[] = [];
  for (const bundles of built) {
    progress(`${runs} cold starts of ${bundles.function} and of its baseline`);
    const samples = await sampleColdStarts(bench, bundles, events[bundles.function], runs);
    figures.push({
      function: bundles.function,
      bytes: bundles.bytes,
      baselineBytes: bundles.baselineBytes,
      sourceMapBytes: bundles.sourceMapBytes,
      coldStartMs: median(samples.deployed),
      baselineColdStartMs: median(samples.baseline),
      pairedColdStartRatio: median(
        samples.deployed.map((ms, index) => ratio(ms, samples.baseline[index] ?? Number.NaN)),
      ),
      loadMs: median(samples.load),
      baselineLoadMs: median(samples.baselineLoad),
      loadMsWithSourceMaps: median(samples.loadWithMaps),
    });
  }
  return figures;
}

function table(figures: readonly BundleFigures[]): string[] {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
  const ms = (value: number) => value.toFixed(0);
  const header =
    'function            bundle   baseline  ratio  cold ms  baseline  ratio  paired  load ms  baseline  w/ maps      map';
  const rows = figures.map((figure) =>
    [
      figure.function.padEnd(18),
      kb(figure.bytes).padStart(8),
      kb(figure.baselineBytes).padStart(9),
      `${ratio(figure.bytes, figure.baselineBytes).toFixed(2)}x`.padStart(6),
      ms(figure.coldStartMs).padStart(8),
      ms(figure.baselineColdStartMs).padStart(9),
      `${ratio(figure.coldStartMs, figure.baselineColdStartMs).toFixed(2)}x`.padStart(6),
      `${figure.pairedColdStartRatio.toFixed(2)}x`.padStart(7),
      ms(figure.loadMs).padStart(8),
      ms(figure.baselineLoadMs).padStart(9),
      ms(figure.loadMsWithSourceMaps).padStart(8),
      kb(figure.sourceMapBytes).padStart(8),
    ].join(' '),
  );
  return [
    header,
    ...rows,
    `(cold = require + first event against the emulators, as deployed; paired = the median of each run's cold ratio, deployed and baseline back to back; load = require only (deployed, baseline, deployed with NODE_OPTIONS=${SOURCE_MAPS}); map = the source map beside the bundle)`,
  ];
}

/** Bundle size and cold start of each function against its SDK-clients-only baseline. */
export const bundleSection: BenchSection = {
  name: 'bundles',
  run: async ({ runs, progress }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wal-bench-bundles-'));
    try {
      progress('bundling each function and its baseline');
      const built = buildAll(dir);
      progress('starting the emulators and the local WAL');
      const bench = await startColdStartBench();
      const figures = await measureColdStarts(bench, built, runs, progress).finally(() => bench.stop());
      return {
        table: table(figures),
        json: {
          bundle: {
            maxRatio: Math.max(...figures.map((figure) => ratio(figure.bytes, figure.baselineBytes))),
            byFunction: figures,
          },
          coldStart: {
            maxRatio: Math.max(
              ...figures.map((figure) => ratio(figure.coldStartMs, figure.baselineColdStartMs)),
            ),
            maxPairedRatio: Math.max(...figures.map((figure) => figure.pairedColdStartRatio)),
          },
        },
      };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

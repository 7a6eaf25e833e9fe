import { type CountedWal, startCountedWal } from './counted-wal';
import { type DelayFigures, delayThroughWaitingRoom } from './delay-scenario';
import type { RequestCounts } from './request-counter';
import { consume, ingestBatch, ingestSingle, type Phase } from './request-scenarios';
import { type BenchSection, ratio } from './section';

/**
 * AWS requests per mutation on the happy path, counted by an SDK middleware on the clients the handlers' real
 * logic uses (bench/request-counter.ts), next to the issue's targets: single POST <= 2 on ingest, batch POST
 * <= 1.1 in total on ingest, consumer <= 1 target write + 0.02 ledger reads + 0.01 invocations.
 */

const REQUEST_TARGETS = { single: 2, batch: 1.1, consume: 1.03 } as const;
const SINGLE_MUTATIONS = 300;
const BATCHES = 3;
/** Delayed mutations per delay: 25 per shard of the due minute, so a page holds several. */
const DELAYED_MUTATIONS = 100;
export const DELAYS = { oneHour: 3_600, oneDay: 86_400 } as const;

export interface RequestFigures {
  readonly single: Phase;
  /** Undefined while the batch endpoint is not there (404). */
  readonly batch: Phase | undefined;
  readonly consume: Phase;
  /** Long delays through the waiting room, by name. */
  readonly delays: Readonly<Record<keyof typeof DELAYS, DelayFigures>>;
  /** GetParameter calls a cold container makes for the namespace before its cache serves it. */
  readonly coldConfigReads: number;
  readonly configMaxAgeSeconds: number;
  readonly ledgerTable: string;
  readonly waitingRoomTable: string;
}

let measured: Promise<RequestFigures> | undefined;

/** The scenarios, run once per bench run (the cost section prices the same figures). */
export function measureRequests(progress: (step: string) => void): Promise<RequestFigures> {
  measured ??= runScenarios(progress);
  return measured;
}

async function runScenarios(progress: (step: string) => void): Promise<RequestFigures> {
  progress('requests: starting the WAL on the emulators (stage bench)');
  const counted = await startCountedWal();
  try {
    const coldConfigReads = await countColdConfigReads(counted);
    progress(`requests: ${SINGLE_MUTATIONS} single POSTs of 1 KB`);
    const single = await ingestSingle(counted, SINGLE_MUTATIONS);
    progress(`requests: ${BATCHES} batch POSTs of 100`);
    const batch = await ingestBatch(counted, BATCHES);
    progress('requests: the stream consumer on every record, in batches of 100');
    const consumed = await consume(counted);
    progress(`requests: ${DELAYED_MUTATIONS} mutations delayed 1 hour through the waiting room`);
    const oneHour = await delayThroughWaitingRoom(counted, DELAYED_MUTATIONS, DELAYS.oneHour);
    progress(`requests: ${DELAYED_MUTATIONS} mutations delayed 1 day through the waiting room`);
    const oneDay = await delayThroughWaitingRoom(counted, DELAYED_MUTATIONS, DELAYS.oneDay);
    return {
      single,
      batch,
      consume: consumed,
      delays: { oneHour, oneDay },
      coldConfigReads,
      configMaxAgeSeconds: Number(counted.ingest.fn.environment.CONFIG_MAX_AGE_SECONDS ?? 60),
      ledgerTable: counted.ledgerTable,
      waitingRoomTable: counted.delivery.deps.waitingRoom.tableName,
    };
  } finally {
    await counted.stop();
  }
}

async function countColdConfigReads(counted: CountedWal): Promise<number> {
  counted.counter.reset();
  await counted.ingest.deps.namespaces.get('bench');
  return counted.counter.snapshot().requests['SSM.GetParameter'] ?? 0;
}

/** Requests by `Service.Operation`, per mutation. */
function perMutation(phase: Phase): Record<string, number> {
  return Object.fromEntries(
    Object.entries(phase.counts.requests).map(([key, count]) => [key, round(count / phase.mutations)]),
  );
}

function sdkRequests(counts: RequestCounts): number {
  return Object.values(counts.requests).reduce((sum, count) => sum + count, 0);
}

/** Ingest: the handler's SDK requests per mutation, and in total with the API request and the invocation. */
function ingestFigures(phase: Phase) {
  const sdk = sdkRequests(phase.counts) / phase.mutations;
  const edge = (phase.apiRequests + phase.invocations) / phase.mutations;
  return {
    sdkPerMutation: round(sdk),
    totalPerMutation: round(sdk + edge),
    byOperation: perMutation(phase),
    apiGatewayPerMutation: round(phase.apiRequests / phase.mutations),
    invocationsPerMutation: round(phase.invocations / phase.mutations),
    logBytesPerMutation: round(phase.logBytes / phase.mutations),
  };
}

/** Consume: target writes, ledger reads and invocations per mutation (and anything else, which should be 0). */
function consumeFigures(phase: Phase, ledgerTable: string) {
  let targetWrites = 0;
  let ledgerReads = 0;
  let other = 0;
  for (const [key, count] of Object.entries(phase.counts.byResource)) {
    const [operation = '', resource = ''] = key.split(':');
    if (resource.split(',').includes(ledgerTable)) ledgerReads += count;
    else if (operation.startsWith('DynamoDB.')) targetWrites += count;
    else other += count;
  }
  const unresourced =
    sdkRequests(phase.counts) - Object.values(phase.counts.byResource).reduce((a, b) => a + b, 0);
  const invocations = phase.invocations / phase.mutations;
  const perMutationOf = (count: number) => round(count / phase.mutations);
  return {
    total: round((targetWrites + ledgerReads + other + unresourced) / phase.mutations + invocations),
    targetWrites: perMutationOf(targetWrites),
    ledgerReads: perMutationOf(ledgerReads),
    invocations: round(invocations),
    other: perMutationOf(other + unresourced),
    byOperation: perMutation(phase),
    logBytesPerMutation: round(phase.logBytes / phase.mutations),
  };
}

/** A delay's requests: per delayed mutation in each step, and per poller run over a minute with nothing due. */
function delayRequestFigures(delay: DelayFigures) {
  const step = (phase: Phase) => ({
    byOperation: perMutation(phase),
    invocations: round(phase.invocations / phase.mutations),
  });
  return {
    delaySeconds: delay.delaySeconds,
    delayedMutations: delay.park.mutations,
    parkByStreamConsumer: step(delay.park),
    pollerRunThatSentThem: step(delay.pollSend),
    pollerRunPerMinute: { byOperation: delay.pollEmpty.counts.requests, invocations: 1 },
    deliveryByQueueConsumer: step(delay.deliver),
    itemStorageBytes: Math.round(delay.itemStorageBytes),
  };
}

function delayRows(name: string, delay: DelayFigures): string[] {
  const figures = delayRequestFigures(delay);
  const operations = (label: string, byOperation: Record<string, number>) =>
    Object.entries(byOperation).map(([key, value]) => row(`    ${label} ${key}`, value, '', ''));
  return [
    row(`delay ${name}: per delayed mutation`, '', '', ''),
    ...operations('park:', figures.parkByStreamConsumer.byOperation),
    ...operations('poll:', figures.pollerRunThatSentThem.byOperation),
    row('    poll: invocations', figures.pollerRunThatSentThem.invocations, '', ''),
    ...operations('deliver:', figures.deliveryByQueueConsumer.byOperation),
    row('    deliver: invocations', figures.deliveryByQueueConsumer.invocations, '', ''),
    row(`delay ${name}: per poller run, nothing due`, '', '', ''),
    ...operations('', figures.pollerRunPerMinute.byOperation),
  ];
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

function row(label: string, value: number | string, target: number | string, ratioText: string): string {
  return [
    label.padEnd(44),
    String(value).padStart(10),
    String(target).padStart(8),
    ratioText.padStart(7),
  ].join(' ');
}

function table(figures: RequestFigures): string[] {
  const single = ingestFigures(figures.single);
  const batch = figures.batch && ingestFigures(figures.batch);
  const consumed = consumeFigures(figures.consume, figures.ledgerTable);
  const lines = [row('requests per mutation', 'measured', 'target', 'ratio')];
  lines.push(
    row('ingest single: SDK requests', single.sdkPerMutation, 2, `${ratio(single.sdkPerMutation, 2)}x`),
  );
  for (const [key, value] of Object.entries(single.byOperation)) lines.push(row(`  ${key}`, value, '', ''));
  lines.push(
    batch
      ? row(
          'ingest batch: total (API + invoke + SDK)',
          batch.totalPerMutation,
          1.1,
          `${ratio(batch.totalPerMutation, 1.1)}x`,
        )
      : row('ingest batch: total', 'n/a', 1.1, '-'),
  );
  if (batch)
    for (const [key, value] of Object.entries(batch.byOperation)) lines.push(row(`  ${key}`, value, '', ''));
  lines.push(row('consume: total', consumed.total, 1.03, `${ratio(consumed.total, 1.03)}x`));
  lines.push(row('  target writes', consumed.targetWrites, 1, `${ratio(consumed.targetWrites, 1)}x`));
  lines.push(row('  ledger reads', consumed.ledgerReads, 0.02, `${ratio(consumed.ledgerReads, 0.02)}x`));
  lines.push(row('  invocations', consumed.invocations, 0.01, `${ratio(consumed.invocations, 0.01)}x`));
  lines.push(row('log bytes per mutation: ingest single', single.logBytesPerMutation, '', ''));
  if (batch) lines.push(row('log bytes per mutation: ingest batch', batch.logBytesPerMutation, '', ''));
  lines.push(row('log bytes per mutation: consume', consumed.logBytesPerMutation, '', ''));
  lines.push(...delayRows('1 hour', figures.delays.oneHour), ...delayRows('1 day', figures.delays.oneDay));
  lines.push(
    `config: a cold container reads SSM ${figures.coldConfigReads}x per namespace, then every ` +
      `${figures.configMaxAgeSeconds} s: per mutation ${figures.coldConfigReads}/(${figures.configMaxAgeSeconds} s x mutations/s per container)`,
  );
  return lines;
}

export const requestSection: BenchSection = {
  name: 'requests',
  run: async ({ progress }) => {
    const figures = await measureRequests(progress);
    const single = ingestFigures(figures.single);
    const batch = figures.batch && ingestFigures(figures.batch);
    const consumed = consumeFigures(figures.consume, figures.ledgerTable);
    const target = (value: number | null, baseline: number) => ({
      value,
      baseline,
      ratio: value === null ? null : ratio(value, baseline),
    });
    return {
      table: table(figures),
      json: {
        ingest: {
          requestsPerMutation: {
            single: target(single.sdkPerMutation, REQUEST_TARGETS.single),
            batch: target(batch ? batch.totalPerMutation : null, REQUEST_TARGETS.batch),
            breakdown: { single, batch: batch ?? 'not available: the batch endpoint answered 404' },
          },
          coldConfigReads: figures.coldConfigReads,
          configMaxAgeSeconds: figures.configMaxAgeSeconds,
        },
        consume: {
          requestsPerMutation: { ...target(consumed.total, REQUEST_TARGETS.consume), breakdown: consumed },
        },
        delay: {
          oneHour: delayRequestFigures(figures.delays.oneHour),
          oneDay: delayRequestFigures(figures.delays.oneDay),
        },
      },
    };
  },
};

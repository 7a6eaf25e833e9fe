import {
  WAITING_ROOM_POLL_MINUTES,
  WAITING_ROOM_RETENTION_AFTER_DUE_DAYS,
} from '#lambdas/shared/waiting-room-schema';
import {
  byService,
  type CostLine,
  costPerMillion,
  costPerMonth,
  delayUsage,
  gbMonthsPerDay,
  gbSeconds,
  HOURS_PER_MONTH,
  loadPrices,
  MINUTES_PER_MONTH,
  type PriceList,
  total,
  type UsageLine,
  type WaitingRoomDelay,
} from './cost-model';
import type { DelayFigures } from './delay-scenario';
import { mutationOf1Kb, type Phase } from './request-scenarios';
import { measureRequests, type RequestFigures } from './requests';
import { type BenchSection, ratio } from './section';
import { type StackFacts, stackFacts } from './stack-facts';

/**
 * The modeled AWS cost per million 1 KB mutations (docs/performance.md, "Cost model"): the requests, units and
 * log bytes the requests section counted, times the dated prices, plus Lambda duration from the prod template's
 * memory and the handlers' measured time; the WAL's overhead is everything but the target write.
 */

const COST_TARGETS = { single: 2, batch: 1, oneDay: 2 } as const;
const PRICED_STAGE = 'prod';
const GB = 1024 ** 3;
/** CloudWatch Logs counts 26 bytes of metadata with each log event. */
const LOG_EVENT_OVERHEAD_BYTES = 26;
/** Lambda's own START, END and REPORT lines per invocation (text log format), with a sample request id. */
const PLATFORM_LOG_LINES = [
  'START RequestId: 8f507cfc-1f2e-4697-b07a-ac58fc914c95 Version: $LATEST\n',
  'END RequestId: 8f507cfc-1f2e-4697-b07a-ac58fc914c95\n',
  'REPORT RequestId: 8f507cfc-1f2e-4697-b07a-ac58fc914c95\tDuration: 12.44 ms\tBilled Duration: 13 ms\tMemory Size: 512 MB\tMax Memory Used: 96 MB\t\n',
];
const PLATFORM_LOG_BYTES = PLATFORM_LOG_LINES.reduce(
  (sum, line) => sum + Buffer.byteLength(line) + LOG_EVENT_OVERHEAD_BYTES,
  0,
);
/** Lambda's SQS pollers long-poll (20 s) an idle queue; 5 pollers per mapping is AWS's documented start. */
const IDLE_SQS_POLLERS_PER_MAPPING = 5;
const IDLE_RECEIVES_PER_POLLER_MINUTE = 3;
/**
 * The stated load the waiting room poller's fixed per-run requests are shared over: a million delayed mutations a
 * day (694 per one-minute run). At a lower load each delayed mutation carries more of the run; the idle lines carry
 * the whole of it.
 */
const DELAYED_MUTATIONS_PER_DAY = 1_000_000;
const POLLER_RUNS_PER_DAY = (24 * 60) / WAITING_ROOM_POLL_MINUTES;
const POLLER_SERVICE = 'wal-waiting-room-poller';

function unit(phase: Phase, name: string): number {
  return (phase.counts.units[name] ?? 0) / phase.mutations;
}

/** Units of a table (and its indexes) per mutation of a phase. */
function unitsMatching(phase: Phase, prefix: string, filter: (table: string) => boolean): number {
  return Object.entries(phase.counts.units)
    .filter(([name]) => name.startsWith(prefix) && filter(name.slice(prefix.length).replace(/#indexes$/, '')))
    .reduce((sum, [, value]) => sum + value / phase.mutations, 0);
}

/** Lambda requests, duration and logs of one function over a phase, per mutation. */
function lambdaLines(phase: Phase, memoryMb: number, role: string, extraLogBytes = 0): UsageLine[] {
  const invocations = phase.invocations / phase.mutations;
  const logBytes =
    (phase.logBytes + phase.logLines * LOG_EVENT_OVERHEAD_BYTES) / phase.mutations +
    invocations * PLATFORM_LOG_BYTES +
    extraLogBytes;
  return [
    {
      service: 'Lambda',
      item: `${role} invocations`,
      quantity: invocations,
      price: 'lambdaRequest',
      overhead: true,
    },
    {
      service: 'Lambda',
      item: `${role} GB-seconds (${memoryMb} MB x ${phase.medianInvocationMs.toFixed(1)} ms measured)`,
      quantity: invocations * gbSeconds(memoryMb, phase.medianInvocationMs),
      price: 'lambdaArmGbSecond',
      overhead: true,
    },
    {
      service: 'CloudWatch Logs',
      item: `${role} logs`,
      quantity: logBytes / GB,
      price: 'cloudwatchLogsIngestGb',
      overhead: true,
    },
  ];
}

function ingestLines(phase: Phase, facts: StackFacts, ledgerTable: string): UsageLine[] {
  const memory = facts.functions['wal-ingest']?.memoryMb ?? 512;
  const apiRequests = phase.apiRequests / phase.mutations;
  const onDemand = facts.stream.mode === 'ON_DEMAND';
  return [
    {
      service: 'API Gateway',
      item: 'HTTP API requests (512 KB units)',
      quantity: apiRequests,
      price: 'apiGatewayHttpRequest',
      overhead: true,
    },
    ...lambdaLines(
      phase,
      memory,
      'ingest',
      apiRequests * (facts.accessLogLineBytes + LOG_EVENT_OVERHEAD_BYTES),
    ),
    onDemand
      ? {
          service: 'Kinesis',
          item: 'data in (records rounded to 1 KB)',
          quantity: unit(phase, 'Kinesis.DataInKB') / (1024 * 1024),
          price: 'kinesisOnDemandGbIn',
          overhead: true,
        }
      : {
          service: 'Kinesis',
          item: 'PUT payload units (25 KB)',
          quantity: unit(phase, 'Kinesis.PutPayloadUnits'),
          price: 'kinesisProvisionedPutPayloadUnit',
          overhead: true,
        },
    {
      service: 'DynamoDB',
      item: 'ledger write units (table + indexes)',
      quantity: unitsMatching(phase, 'DynamoDB.WriteUnits:', (table) => table === ledgerTable),
      price: 'dynamodbWriteRequestUnit',
      overhead: true,
    },
    {
      service: 'SSM',
      item: 'GetParameter (cached 60 s)',
      quantity: (phase.counts.requests['SSM.GetParameter'] ?? 0) / phase.mutations,
      price: 'ssmStandardGetParameter',
      overhead: true,
    },
  ];
}

function consumeLines(phase: Phase, facts: StackFacts, ledgerTable: string): UsageLine[] {
  const memory = facts.functions['wal-stream-consumer']?.memoryMb ?? 512;
  const lines: UsageLine[] = [
    ...lambdaLines(phase, memory, 'stream consumer'),
    {
      service: 'DynamoDB',
      item: 'ledger read units (consistent BatchGet)',
      quantity: unitsMatching(phase, 'DynamoDB.ReadUnits:', (table) =>
        table.split(',').includes(ledgerTable),
      ),
      price: 'dynamodbReadRequestUnit',
      overhead: true,
    },
    ...targetWriteLines(unitsMatching(phase, 'DynamoDB.WriteUnits:', (table) => table !== ledgerTable)),
    {
      service: 'SQS',
      item: 'requests (64 KB units)',
      quantity: unit(phase, 'SQS.Requests64KB'),
      price: 'sqsStandardRequest',
      overhead: true,
    },
  ];
  if (facts.stream.mode === 'ON_DEMAND') {
    lines.push({
      service: 'Kinesis',
      item: 'data retrieved',
      quantity: phase.retrievedBytes / phase.mutations / GB,
      price: 'kinesisOnDemandGbOut',
      overhead: true,
    });
  }
  return lines;
}

/** Write units of the bench's 1 KB payload as a bare DynamoDB item: names plus values, 1 KB per unit. */
function bareItemWriteUnits(item: Record<string, unknown>): number {
  const bytes = Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(String(value)),
    0,
  );
  return Math.max(1, Math.ceil(bytes / 1024));
}

/**
 * The target write: what the bare payload costs is the user's with or without a WAL; the write units the WAL's
 * own attributes on the item add (its order and expiry fields) are overhead.
 */
function targetWriteLines(writeUnits: number): UsageLine[] {
  const bare = Math.min(writeUnits, bareItemWriteUnits(mutationOf1Kb(0).payload));
  return [
    {
      service: 'DynamoDB',
      item: 'target write units of the bare item (not overhead)',
      quantity: bare,
      price: 'dynamodbWriteRequestUnit',
      overhead: false,
    },
    {
      service: 'DynamoDB',
      item: "target write units the WAL's item attributes add",
      quantity: writeUnits - bare,
      price: 'dynamodbWriteRequestUnit',
      overhead: true,
    },
  ];
}

/** The waiting room's read or write units per mutation of a phase. */
function roomUnits(phase: Phase, kind: 'Read' | 'Write', room: string): number {
  return unitsMatching(phase, `DynamoDB.${kind}Units:`, (table) => table === room);
}

/** One poller run over a minute with nothing due: its invocation, a checkpoint read, a Query per shard, a write. */
function pollerRunLines(run: Phase, facts: StackFacts, room: string): UsageLine[] {
  return [
    ...lambdaLines(run, facts.functions[POLLER_SERVICE]?.memoryMb ?? 512, 'poller'),
    {
      service: 'DynamoDB',
      item: 'waiting room read units (GetItem, a Query per shard)',
      quantity: roomUnits(run, 'Read', room) * run.mutations,
      price: 'dynamodbReadRequestUnit',
      overhead: true,
    },
    {
      service: 'DynamoDB',
      item: 'waiting room write units (checkpoint)',
      quantity: roomUnits(run, 'Write', room) * run.mutations,
      price: 'dynamodbWriteRequestUnit',
      overhead: true,
    },
  ];
}

/**
 * What the poller's run that sent the delayed mutations used beyond a run with nothing due, per mutation: the
 * read units of the items in its pages, the checkpoint writes after pages, its SendMessageBatch calls.
 */
function pollerItemLines(delay: DelayFigures, facts: StackFacts, room: string): UsageLine[] {
  const { pollSend: send, pollEmpty: empty } = delay;
  const beyond = (of: (phase: Phase) => number) =>
    Math.max(0, of(send) * send.mutations - of(empty) * empty.mutations) / send.mutations;
  const memory = facts.functions[POLLER_SERVICE]?.memoryMb ?? 512;
  return [
    {
      service: 'DynamoDB',
      item: 'waiting room read units (Query pages)',
      quantity: beyond((phase) => roomUnits(phase, 'Read', room)),
      price: 'dynamodbReadRequestUnit',
      overhead: true,
    },
    {
      service: 'DynamoDB',
      item: 'waiting room write units (checkpoint per page)',
      quantity: beyond((phase) => roomUnits(phase, 'Write', room)),
      price: 'dynamodbWriteRequestUnit',
      overhead: true,
    },
    {
      service: 'SQS',
      item: "the poller's SendMessageBatch (64 KB units)",
      quantity: beyond((phase) => unit(phase, 'SQS.Requests64KB')),
      price: 'sqsStandardRequest',
      overhead: true,
    },
    {
      service: 'Lambda',
      item: `poller GB-seconds (${send.medianInvocationMs.toFixed(1)} - ${empty.medianInvocationMs.toFixed(1)} ms of an empty run)`,
      quantity:
        gbSeconds(memory, Math.max(0, send.medianInvocationMs - empty.medianInvocationMs)) / send.mutations,
      price: 'lambdaArmGbSecond',
      overhead: true,
    },
  ];
}

/**
 * The queue consumer delivering a due message: the Lambda poller's receive and delete, the invocation, anything it
 * reads. The target write is not extra (an immediate mutation makes it too): left out.
 */
function deliveryLines(deliver: Phase, facts: StackFacts): UsageLine[] {
  const memory = facts.functions['wal-queue-consumer']?.memoryMb ?? 512;
  return [
    {
      service: 'SQS',
      item: 'receive and delete shares (64 KB units)',
      quantity: unit(deliver, 'SQS.Requests64KB'),
      price: 'sqsStandardRequest',
      overhead: true,
    },
    ...lambdaLines(deliver, memory, 'queue consumer'),
    {
      service: 'DynamoDB',
      item: 'read units of the delivery (beyond the target write)',
      quantity: unitsMatching(deliver, 'DynamoDB.ReadUnits:', () => true),
      price: 'dynamodbReadRequestUnit',
      overhead: true,
    },
  ];
}

/** A long delay through the waiting room, from the counted path of `delay`. */
function waitingRoomDelay(delay: DelayFigures, facts: StackFacts, room: string): WaitingRoomDelay {
  return {
    perDelayedMutation: [
      {
        service: 'DynamoDB',
        item: 'waiting room write units (the park)',
        quantity: roomUnits(delay.park, 'Write', room),
        price: 'dynamodbWriteRequestUnit',
        overhead: true,
      },
      ...pollerItemLines(delay, facts, room),
      ...deliveryLines(delay.deliver, facts),
    ],
    perPollerRun: pollerRunLines(delay.pollEmpty, facts, room),
    pollerRunsPerDay: POLLER_RUNS_PER_DAY,
    delayedMutationsPerDay: DELAYED_MUTATIONS_PER_DAY,
    perStoredDay: [
      {
        service: 'DynamoDB',
        item: `waiting room storage (${Math.round(delay.itemStorageBytes)} B an item)`,
        quantity: gbMonthsPerDay(delay.itemStorageBytes),
        price: 'dynamodbStorageGbMonth',
        overhead: true,
      },
      {
        service: 'DynamoDB',
        item: 'waiting room PITR (same bytes)',
        quantity: gbMonthsPerDay(delay.itemStorageBytes),
        price: 'dynamodbPitrGbMonth',
        overhead: true,
      },
    ],
    retentionAfterDueDays: WAITING_ROOM_RETENTION_AFTER_DUE_DAYS,
  };
}

/** The fixed monthly cost of an idle stage, line by line. */
function idleLines(facts: StackFacts, pollerRun: readonly UsageLine[]): UsageLine[] {
  const stream: UsageLine =
    facts.stream.mode === 'ON_DEMAND'
      ? {
          service: 'Kinesis',
          item: 'on-demand stream-hours',
          quantity: HOURS_PER_MONTH,
          price: 'kinesisOnDemandStreamHour',
          overhead: true,
        }
      : {
          service: 'Kinesis',
          item: `${facts.stream.shards} shard(s) x hours`,
          quantity: facts.stream.shards * HOURS_PER_MONTH,
          price: 'kinesisProvisionedShardHour',
          overhead: true,
        };
  const scheduled = facts.scheduledInvocationsPerMonth;
  return [
    stream,
    {
      service: 'KMS',
      item: `${facts.kmsKeys} customer managed key(s)`,
      quantity: facts.kmsKeys,
      price: 'kmsKeyMonth',
      overhead: true,
    },
    {
      service: 'CloudWatch',
      item: `${facts.alarms} alarms`,
      quantity: facts.alarms,
      price: 'cloudwatchAlarmMonth',
      overhead: true,
    },
    {
      service: 'CloudWatch',
      item: `${facts.dashboards} dashboards`,
      quantity: facts.dashboards,
      price: 'cloudwatchDashboardMonth',
      overhead: true,
    },
    {
      service: 'SQS',
      item: `${facts.sqsMappings} queues long-polled by ${IDLE_SQS_POLLERS_PER_MAPPING} Lambda pollers each`,
      quantity:
        facts.sqsMappings *
        IDLE_SQS_POLLERS_PER_MAPPING *
        IDLE_RECEIVES_PER_POLLER_MINUTE *
        MINUTES_PER_MONTH,
      price: 'sqsStandardRequest',
      overhead: true,
    },
    // The waiting room poller runs every minute (the template's schedule): each run's counted usage.
    ...pollerRun.map((line) => ({
      ...line,
      item: `${line.item} x ${scheduled} runs`,
      quantity: line.quantity * scheduled,
    })),
  ];
}

export interface CostFigures {
  readonly single: CostLine[];
  readonly batch: CostLine[] | undefined;
  readonly oneHour: CostLine[];
  readonly oneDay: CostLine[];
  readonly idle: CostLine[];
}

function costFigures(figures: RequestFigures, facts: StackFacts, prices: PriceList): CostFigures {
  const consumed = consumeLines(figures.consume, facts, figures.ledgerTable);
  const room = figures.waitingRoomTable;
  const oneHour = waitingRoomDelay(figures.delays.oneHour, facts, room);
  const oneDay = waitingRoomDelay(figures.delays.oneDay, facts, room);
  return {
    single: costPerMillion([...ingestLines(figures.single, facts, figures.ledgerTable), ...consumed], prices),
    batch:
      figures.batch &&
      costPerMillion([...ingestLines(figures.batch, facts, figures.ledgerTable), ...consumed], prices),
    oneHour: costPerMillion(delayUsage(oneHour, figures.delays.oneHour.delaySeconds), prices),
    oneDay: costPerMillion(delayUsage(oneDay, figures.delays.oneDay.delaySeconds), prices),
    idle: costPerMonth(idleLines(facts, oneDay.perPollerRun), prices),
  };
}

const overhead = (lines: readonly CostLine[]) => total(lines, (line) => line.overhead);
const usd = (value: number) => `$${value.toFixed(value < 10 ? 3 : 2)}`;

function row(label: string, value: string, target: string, ratioText: string): string {
  return [label.padEnd(70), value.padStart(9), target.padStart(7), ratioText.padStart(7)].join(' ');
}

function lineRows(lines: readonly CostLine[]): string[] {
  return lines
    .filter((line) => line.usd > 0 || line.quantity > 0)
    .map((line) => row(`  ${line.service}: ${line.item}`, usd(line.usd), '', ''));
}

function table(cost: CostFigures, prices: PriceList, facts: StackFacts): string[] {
  const withTarget = (label: string, value: number, target: number) =>
    row(label, usd(value), usd(target), `${ratio(value, target)}x`);
  return [
    row(
      `USD per million 1 KB mutations (${prices.region}, prices of ${prices.date}, stage ${facts.stage})`,
      'USD',
      'target',
      'ratio',
    ),
    withTarget('single POST: WAL overhead', overhead(cost.single), COST_TARGETS.single),
    ...lineRows(cost.single),
    cost.batch
      ? withTarget('batch POST: WAL overhead', overhead(cost.batch), COST_TARGETS.batch)
      : row('batch POST: WAL overhead', 'n/a', usd(COST_TARGETS.batch), '-'),
    ...(cost.batch ? lineRows(cost.batch) : []),
    row(
      `delay of 1 hour: extra (waiting room, ${DELAYED_MUTATIONS_PER_DAY.toLocaleString('en-US')} delayed a day)`,
      usd(total(cost.oneHour)),
      '-',
      '-',
    ),
    ...lineRows(cost.oneHour),
    withTarget('delay of 1 day: extra (waiting room, same load)', total(cost.oneDay), COST_TARGETS.oneDay),
    ...lineRows(cost.oneDay),
    row('idle stage, per month', usd(total(cost.idle)), '-', '-'),
    ...lineRows(cost.idle),
  ];
}

export const costSection: BenchSection = {
  name: 'cost',
  run: async ({ progress }) => {
    const figures = await measureRequests(progress);
    progress(`cost: synthesizing stage ${PRICED_STAGE} for memory sizes, stream mode and idle resources`);
    const facts = stackFacts(PRICED_STAGE);
    const prices = loadPrices();
    const cost = costFigures(figures, facts, prices);
    const target = (value: number | null, baseline: number | null) => ({
      value: value === null ? null : Math.round(value * 1000) / 1000,
      baseline,
      ratio: value === null || baseline === null ? null : ratio(value, baseline),
    });
    return {
      table: table(cost, prices, facts),
      json: {
        cost: {
          prices: { region: prices.region, date: prices.date },
          stage: facts.stage,
          overheadPerMillion: {
            single: {
              ...target(overhead(cost.single), COST_TARGETS.single),
              byService: byService(cost.single.filter((l) => l.overhead)),
              totalWithTarget: total(cost.single),
              lines: cost.single,
            },
            batch: cost.batch
              ? {
                  ...target(overhead(cost.batch), COST_TARGETS.batch),
                  byService: byService(cost.batch.filter((l) => l.overhead)),
                  lines: cost.batch,
                }
              : {
                  ...target(null, COST_TARGETS.batch),
                  note: 'not available: the batch endpoint answered 404',
                },
          },
          delayPerMillion: {
            oneHour: { ...target(total(cost.oneHour), null), lines: cost.oneHour },
            oneDay: { ...target(total(cost.oneDay), COST_TARGETS.oneDay), lines: cost.oneDay },
            mechanism: 'waiting room (DynamoDB) polled every minute, then the delay queue',
            delayedMutationsPerDay: DELAYED_MUTATIONS_PER_DAY,
          },
          idleMonthly: { ...target(total(cost.idle), null), lines: cost.idle },
        },
      },
    };
  },
};

import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The arithmetic of the cost model (docs/performance.md, "Cost model"): usage per mutation times the dated
 * us-east-1 prices in bench/prices-us-east-1.json. Pure functions, so a known usage gives a known dollar figure.
 */

export const HOURS_PER_MONTH = 730;
export const MINUTES_PER_MONTH = HOURS_PER_MONTH * 60;

/** One price: `usd` for `unitSize` units of `unit`. */
export interface Price {
  readonly usd: number;
  readonly unit: string;
  readonly unitSize: number;
  readonly source: string;
  /** False when the stored sources did not state the figure: the best known one, to check. */
  readonly verified: boolean;
  readonly note?: string;
}

export const PRICE_NAMES = [
  'apiGatewayHttpRequest',
  'lambdaRequest',
  'lambdaArmGbSecond',
  'kinesisOnDemandGbIn',
  'kinesisOnDemandGbOut',
  'kinesisOnDemandStreamHour',
  'kinesisProvisionedShardHour',
  'kinesisProvisionedPutPayloadUnit',
  'dynamodbWriteRequestUnit',
  'dynamodbReadRequestUnit',
  'dynamodbStorageGbMonth',
  'dynamodbPitrGbMonth',
  'sqsStandardRequest',
  'ssmStandardGetParameter',
  'ssmHigherThroughputRequest',
  'kmsKeyMonth',
  'kmsRequest',
  'cloudwatchLogsIngestGb',
  'cloudwatchAlarmMonth',
  'cloudwatchDashboardMonth',
  'eventbridgeSchedulerInvocation',
] as const;

export type PriceName = (typeof PRICE_NAMES)[number];

export interface PriceList {
  readonly region: string;
  readonly date: string;
  readonly prices: Readonly<Record<PriceName, Price>>;
}

/** The price list is missing a price or holds a malformed one. */
export class PriceListError extends Error {
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(
      `${file}: ${problem}; fix the price list (bench/prices-us-east-1.json) and run the bench again`,
      options,
    );
    this.name = 'PriceListError';
  }
}

const DEFAULT_PRICE_FILE = path.join(__dirname, 'prices-us-east-1.json');

export function loadPrices(file = DEFAULT_PRICE_FILE): PriceList {
  let parsed: PriceList;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as PriceList;
  } catch (error) {
    throw new PriceListError(file, 'it cannot be read as JSON', { cause: error });
  }
  for (const name of PRICE_NAMES) {
    const price = parsed.prices?.[name];
    if (!price || typeof price.usd !== 'number' || !(price.unitSize > 0) || !price.source) {
      throw new PriceListError(file, `price "${name}" is missing or has no usd, unitSize or source`);
    }
  }
  return parsed;
}

/** What a mutation uses of one priced thing, and whether it is the WAL's own (not the target write itself). */
export interface UsageLine {
  readonly service: string;
  readonly item: string;
  /** Units of `price` per mutation (or per month, for fixed lines). */
  readonly quantity: number;
  readonly price: PriceName;
  /** False only for what the user pays with or without a WAL: the target write. */
  readonly overhead: boolean;
}

export interface CostLine extends UsageLine {
  /** USD for a million mutations (or per month, for fixed lines). */
  readonly usd: number;
}

/** USD of `quantity` units of a price. */
function usdOf(quantity: number, price: Price): number {
  return (quantity * price.usd) / price.unitSize;
}

/** Each usage line priced for a million mutations. */
export function costPerMillion(usage: readonly UsageLine[], prices: PriceList): CostLine[] {
  return usage.map((line) => ({ ...line, usd: usdOf(line.quantity * 1_000_000, prices.prices[line.price]) }));
}

/** Each fixed line (quantity per month) priced per month. */
export function costPerMonth(usage: readonly UsageLine[], prices: PriceList): CostLine[] {
  return usage.map((line) => ({ ...line, usd: usdOf(line.quantity, prices.prices[line.price]) }));
}

export function total(lines: readonly CostLine[], filter: (line: CostLine) => boolean = () => true): number {
  return lines.filter(filter).reduce((sum, line) => sum + line.usd, 0);
}

/** USD by service, largest first. */
export function byService(lines: readonly CostLine[]): Record<string, number> {
  const sums = new Map<string, number>();
  for (const line of lines) sums.set(line.service, (sums.get(line.service) ?? 0) + line.usd);
  return Object.fromEntries([...sums].sort((a, b) => b[1] - a[1]));
}

/**
 * How a long delay is paid for (the waiting room, lambdas/shared/waiting-room.ts): what each delayed mutation uses
 * whatever its delay (its write to the room, its share of the poller's pages and sends, its delivery from the delay
 * queue), a share of the poller's fixed per-run usage at a stated load, and the storage of its item for the delay
 * plus the retention after it is due.
 */
export interface WaitingRoomDelay {
  readonly perDelayedMutation: readonly UsageLine[];
  /** One poller run over a minute with nothing due: paid every minute whatever the load. */
  readonly perPollerRun: readonly UsageLine[];
  readonly pollerRunsPerDay: number;
  /** The stated load the runs are shared over. */
  readonly delayedMutationsPerDay: number;
  /** Storage of one item for one day (GB-month units). */
  readonly perStoredDay: readonly UsageLine[];
  readonly retentionAfterDueDays: number;
}

/** Days an item of a delay of `delaySeconds` is stored: until due, then until TTL may delete it. */
export function storedDays(delaySeconds: number, retentionAfterDueDays: number): number {
  return delaySeconds / 86_400 + retentionAfterDueDays;
}

/** The usage a delay of `delaySeconds` adds to a mutation, on top of an immediate one. */
export function delayUsage(model: WaitingRoomDelay, delaySeconds: number): UsageLine[] {
  const runShare = model.pollerRunsPerDay / model.delayedMutationsPerDay;
  const days = storedDays(delaySeconds, model.retentionAfterDueDays);
  const scaled = (lines: readonly UsageLine[], factor: number, note: string) =>
    lines.map((line) => ({ ...line, item: `${line.item} ${note}`, quantity: line.quantity * factor }));
  return [
    ...model.perDelayedMutation,
    ...scaled(model.perPollerRun, runShare, `(x ${runShare.toFixed(5)} runs)`),
    ...scaled(model.perStoredDay, days, `(x ${days.toFixed(2)} days)`),
  ];
}

/** GB-months of `bytes` stored for one day (a month is 730 hours). */
export function gbMonthsPerDay(bytes: number): number {
  return bytes / 1024 ** 3 / (HOURS_PER_MONTH / 24);
}

/** Lambda GB-seconds of one invocation: memory (MB) x duration (ms). */
export function gbSeconds(memoryMb: number, durationMs: number): number {
  return (memoryMb / 1024) * (durationMs / 1000);
}

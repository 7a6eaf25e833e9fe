import { gbMonthsPerDay, gbSeconds, type UsageLine } from './cost-model';

/**
 * What a namespace's `status.track` costs (lambdas/shared/delivery-status.ts; README "Status of a mutation"), per
 * mutation, priced with bench/cost-model.ts. `failures` adds nothing to a mutation delivered at its first attempt;
 * `all` adds one UpdateItem per target (two for a delayed one: delayed, then applied), the status item's storage
 * and backup for the namespace's retention, and the consumer's time waiting for the write.
 */
export interface StatusTrackingLoad {
  readonly targets: number;
  /** Share of the mutations that are delayed (0 to 1): each of their targets is written once more. */
  readonly delayedShare: number;
  readonly retentionDays: number;
  /** The status item's size as DynamoDB bills it (its attributes, plus 100 bytes per item). */
  readonly itemBytes: number;
  /** How long the consumer waits for one UpdateItem (ms), at `memoryMb`. */
  readonly updateMs: number;
  readonly memoryMb: number;
}

/** The usage `status.track: all` adds to one mutation. Each write is one write unit while the item is under 1 KB. */
export function trackAllUsage(load: StatusTrackingLoad): UsageLine[] {
  const writes = load.targets * (1 + load.delayedShare);
  const storedGbMonths = gbMonthsPerDay(load.itemBytes) * load.retentionDays;
  return [
    {
      service: 'DynamoDB',
      item: 'status writes',
      quantity: writes,
      price: 'dynamodbWriteRequestUnit',
      overhead: true,
    },
    {
      service: 'DynamoDB',
      item: 'status item storage',
      quantity: storedGbMonths,
      price: 'dynamodbStorageGbMonth',
      overhead: true,
    },
    {
      service: 'DynamoDB',
      item: 'status item backup',
      quantity: storedGbMonths,
      price: 'dynamodbPitrGbMonth',
      overhead: true,
    },
    {
      service: 'Lambda',
      item: 'consumer waits for the writes',
      quantity: writes * gbSeconds(load.memoryMb, load.updateMs),
      price: 'lambdaArmGbSecond',
      overhead: true,
    },
  ];
}

/** The usage of one failed attempt's status write (every setting records it). */
export function failedAttemptUsage(load: Pick<StatusTrackingLoad, 'updateMs' | 'memoryMb'>): UsageLine[] {
  return [
    {
      service: 'DynamoDB',
      item: 'status write',
      quantity: 1,
      price: 'dynamodbWriteRequestUnit',
      overhead: true,
    },
    {
      service: 'Lambda',
      item: 'consumer waits for the write',
      quantity: gbSeconds(load.memoryMb, load.updateMs),
      price: 'lambdaArmGbSecond',
      overhead: true,
    },
  ];
}

/** What a GET .../mutations/{id} adds for the status: one strongly consistent read of an item under 4 KB. */
export function lookupUsage(): UsageLine[] {
  return [
    {
      service: 'DynamoDB',
      item: 'status item read',
      quantity: 1,
      price: 'dynamodbReadRequestUnit',
      overhead: true,
    },
  ];
}

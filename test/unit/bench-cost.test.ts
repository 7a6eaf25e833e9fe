import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import {
  byService,
  costPerMillion,
  costPerMonth,
  delayUsage,
  gbMonthsPerDay,
  gbSeconds,
  loadPrices,
  PRICE_NAMES,
  type Price,
  type PriceList,
  PriceListError,
  storedDays,
  total,
  type UsageLine,
  type WaitingRoomDelay,
} from '#bench/cost-model';
import { RequestCounter } from '#bench/request-counter';
import { invocationsPerMonth } from '#bench/stack-facts';

/** A price list where every price is $1 per million units, except the ones given. */
function prices(overrides: Partial<Record<(typeof PRICE_NAMES)[number], Partial<Price>>> = {}): PriceList {
  const base: Price = { usd: 1, unit: 'request', unitSize: 1_000_000, source: 'test', verified: true };
  return {
    region: 'us-east-1',
    date: '2026-11-26',
    prices: Object.fromEntries(
      PRICE_NAMES.map((name) => [name, { ...base, ...overrides[name] }]),
    ) as PriceList['prices'],
  };
}

/** An HTTP handler that answers each attempt with the next status and JSON body. */
function scriptedHandler(answers: { status: number; body: unknown }[]) {
  let attempt = 0;
  return {
    handle: async () => {
      const answer = answers[Math.min(attempt++, answers.length - 1)] as { status: number; body: unknown };
      return {
        response: {
          statusCode: answer.status,
          headers: { 'content-type': 'application/x-amz-json-1.0' },
          body: Readable.from([Buffer.from(JSON.stringify(answer.body))]),
        },
      };
    },
  };
}

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('cost model arithmetic', () => {
  it('prices a known request mix per million mutations', () => {
    // GIVEN one API request ($1/M), one invocation ($0.20/M), 2 ledger write units and 1 target write unit ($0.625/M)
    const list = prices({ lambdaRequest: { usd: 0.2 }, dynamodbWriteRequestUnit: { usd: 0.625 } });
    const usage: UsageLine[] = [
      {
        service: 'API Gateway',
        item: 'requests',
        quantity: 1,
        price: 'apiGatewayHttpRequest',
        overhead: true,
      },
      { service: 'Lambda', item: 'invocations', quantity: 1, price: 'lambdaRequest', overhead: true },
      { service: 'DynamoDB', item: 'ledger', quantity: 2, price: 'dynamodbWriteRequestUnit', overhead: true },
      {
        service: 'DynamoDB',
        item: 'target',
        quantity: 1,
        price: 'dynamodbWriteRequestUnit',
        overhead: false,
      },
    ];
    // WHEN it is priced
    const lines = costPerMillion(usage, list);
    // THEN the overhead is $2.45 and the total $3.075, DynamoDB first by service
    expect(total(lines, (line) => line.overhead)).toBeCloseTo(2.45, 10);
    expect(total(lines)).toBeCloseTo(3.075, 10);
    expect(Object.keys(byService(lines))).toEqual(['DynamoDB', 'API Gateway', 'Lambda']);
  });

  it('prices Lambda duration from memory and milliseconds', () => {
    // GIVEN 512 MB for 100 ms at $0.0000133334 per GB-second
    const list = prices({ lambdaArmGbSecond: { usd: 0.0000133334, unitSize: 1 } });
    const usage: UsageLine[] = [
      {
        service: 'Lambda',
        item: 'GB-s',
        quantity: gbSeconds(512, 100),
        price: 'lambdaArmGbSecond',
        overhead: true,
      },
    ];
    // WHEN/THEN a million invocations cost 50,000 GB-s = $0.66667
    expect(total(costPerMillion(usage, list))).toBeCloseTo(0.66667, 4);
  });

  it('prices a waiting-room delay: per-mutation lines, a share of the poller runs, storage by days stored', () => {
    // GIVEN $1 per unit, 1 write unit per delayed mutation, 10 read units per poller run shared by 1,440 runs over
    // 1,440,000 delayed mutations a day (0.001 run each), and 1 GB-month per stored day
    const model: WaitingRoomDelay = {
      perDelayedMutation: [
        { service: 'DynamoDB', item: 'park', quantity: 1, price: 'dynamodbWriteRequestUnit', overhead: true },
      ],
      perPollerRun: [
        { service: 'DynamoDB', item: 'run', quantity: 10, price: 'dynamodbReadRequestUnit', overhead: true },
      ],
      pollerRunsPerDay: 1_440,
      delayedMutationsPerDay: 1_440_000,
      perStoredDay: [
        { service: 'DynamoDB', item: 'stored', quantity: 1, price: 'dynamodbStorageGbMonth', overhead: true },
      ],
      retentionAfterDueDays: 7,
    };
    // WHEN a day and an hour are priced per million
    const day = costPerMillion(delayUsage(model, 86_400), prices());
    const hour = costPerMillion(delayUsage(model, 3_600), prices());
    // THEN the day is $1 + $0.01 + 8 days stored ($8), the hour stores 7 days and an hour; the delay changes only storage
    expect(total(day)).toBeCloseTo(1 + 0.01 + 8, 10);
    expect(total(hour)).toBeCloseTo(1 + 0.01 + 7 + 1 / 24, 10);
    expect(storedDays(86_400, 7)).toBe(8);
  });

  it('stores a GB for a day as a 730-hour month share', () => {
    // GIVEN/WHEN/THEN 1 GiB for a day is 24/730 GB-month; 2 KB for a day is 2048 / 1024^3 of that
    expect(gbMonthsPerDay(1024 ** 3)).toBeCloseTo(24 / 730, 12);
    expect(gbMonthsPerDay(2048)).toBeCloseTo((2048 / 1024 ** 3) * (24 / 730), 18);
  });

  it('prices fixed lines per month', () => {
    // GIVEN 730 stream-hours at $0.04 and 12 alarms at $0.10
    const list = prices({
      kinesisOnDemandStreamHour: { usd: 0.04, unitSize: 1 },
      cloudwatchAlarmMonth: { usd: 0.1, unitSize: 1 },
    });
    const usage: UsageLine[] = [
      {
        service: 'Kinesis',
        item: 'hours',
        quantity: 730,
        price: 'kinesisOnDemandStreamHour',
        overhead: true,
      },
      { service: 'CloudWatch', item: 'alarms', quantity: 12, price: 'cloudwatchAlarmMonth', overhead: true },
    ];
    // WHEN/THEN an idle month costs $29.20 + $1.20
    expect(total(costPerMonth(usage, list))).toBeCloseTo(30.4, 10);
  });

  it('counts a rate schedule per month and no other expression', () => {
    // GIVEN/WHEN/THEN rate(1 minute) is 43,800 invocations a month; a cron counts 0
    expect(invocationsPerMonth('rate(1 minute)')).toBe(43_800);
    expect(invocationsPerMonth('rate(2 hours)')).toBe(365);
    expect(invocationsPerMonth('cron(0 12 * * ? *)')).toBe(0);
  });
});

describe('price list', () => {
  it('has every price, dated, with a source', () => {
    // GIVEN/WHEN the stored price list is loaded
    const list = loadPrices();
    // THEN it is dated and each price says where it comes from
    expect(list.date).toBe('2026-11-26');
    for (const name of PRICE_NAMES) expect(list.prices[name].source).toMatch(/^https?:\/\//);
  });

  it('fails if a price is missing', () => {
    // GIVEN a list without the Lambda request price
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-prices-'));
    const file = path.join(dir, 'prices.json');
    const { lambdaRequest: _dropped, ...rest } = prices().prices;
    fs.writeFileSync(file, JSON.stringify({ region: 'us-east-1', date: '2026-11-26', prices: rest }));
    // WHEN/THEN loading it says which price is missing
    expect(() => loadPrices(file)).toThrow(PriceListError);
    expect(() => loadPrices(file)).toThrow(/lambdaRequest/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('RequestCounter', () => {
  it('counts every attempt, retries included, and the capacity the answer reports', async () => {
    // GIVEN a DynamoDB client whose first attempt gets a 500 and the second succeeds, on a table with one index
    const counter = new RequestCounter({ ledger: 1 });
    const client = counter.attach(
      new DynamoDBClient({
        region: 'us-east-1',
        credentials,
        maxAttempts: 3,
        requestHandler: scriptedHandler([
          { status: 500, body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError' } },
          { status: 200, body: { ConsumedCapacity: { TableName: 'ledger', CapacityUnits: 2 } } },
        ]),
      }),
    );
    // WHEN one PutItem is sent
    await client.send(new PutItemCommand({ TableName: 'ledger', Item: { pk: { S: 'a' } } }));
    // THEN two requests count, with 2 table write units and 1 index write unit
    const counts = counter.snapshot();
    expect(counts.requests).toEqual({ 'DynamoDB.PutItem': 2 });
    expect(counts.byResource).toEqual({ 'DynamoDB.PutItem:ledger': 2 });
    expect(counts.units).toEqual({
      'DynamoDB.WriteUnits:ledger': 2,
      'DynamoDB.WriteUnits:ledger#indexes': 1,
    });
  });

  it('rounds Kinesis records to 1 KB and 25 KB payload units', async () => {
    // GIVEN a Kinesis client that accepts every record
    const counter = new RequestCounter();
    const client = counter.attach(
      new KinesisClient({
        region: 'us-east-1',
        credentials,
        requestHandler: scriptedHandler([
          { status: 200, body: { SequenceNumber: '1', ShardId: 'shardId-0' } },
        ]),
      }),
    );
    // WHEN a record of 1,500 bytes with a 10-byte partition key is put
    await client.send(
      new PutRecordCommand({ StreamName: 'wal', PartitionKey: 'k'.repeat(10), Data: new Uint8Array(1_500) }),
    );
    // THEN it counts 1,510 bytes, 2 KB and 1 payload unit
    expect(counter.snapshot().units).toEqual({
      'Kinesis.DataInBytes': 1_510,
      'Kinesis.DataInKB': 2,
      'Kinesis.PutPayloadUnits': 1,
    });
  });
});

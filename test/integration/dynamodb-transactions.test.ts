import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchGetItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactGetItemsCommand,
  type TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { type Emulators, startEmulators } from '#src/local/emulators';
import { waitFor } from '#test/support/wait';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

function clientFor(emulators: Emulators): DynamoDBClient {
  return new DynamoDBClient({
    region: emulators.region,
    credentials,
    endpoint: emulators.endpoints.dynamodb,
  });
}

async function createTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitFor(
    async () => {
      const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
      return Table?.TableStatus === 'ACTIVE' ? true : undefined;
    },
    5000,
    { intervalMs: 25 },
  );
}

const put = (table: string, pk: string, n: number): TransactWriteItem => ({
  Put: { TableName: table, Item: { pk: { S: pk }, n: { N: String(n) } } },
});

describe('local DynamoDB transactions', () => {
  let emulators: Emulators;
  let dynamodb: DynamoDBClient;
  let next = 0;
  /** A key no other test uses. */
  const fresh = (): string => {
    next += 1;
    return `item-${next}`;
  };

  async function read(table: string, pk: string): Promise<Record<string, unknown> | undefined> {
    const { Item } = await dynamodb.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }),
    );
    return Item;
  }

  async function failure(items: TransactWriteItem[], token?: string): Promise<TransactionCanceledException> {
    return dynamodb
      .send(new TransactWriteItemsCommand({ TransactItems: items, ClientRequestToken: token }))
      .then(
        () => {
          throw new Error('the transaction was applied');
        },
        (err: TransactionCanceledException) => err,
      );
  }

  beforeAll(async () => {
    emulators = await startEmulators();
    dynamodb = clientFor(emulators);
    await createTable(dynamodb, 'orders');
    await createTable(dynamodb, 'stock');
  });

  afterAll(async () => {
    dynamodb.destroy();
    await emulators.stop();
  });

  it('applies puts on two tables together', async () => {
    // GIVEN two new keys
    const [a, b] = [fresh(), fresh()];
    // WHEN one transaction puts one item in each table
    await dynamodb.send(
      new TransactWriteItemsCommand({ TransactItems: [put('orders', a, 1), put('stock', b, 2)] }),
    );
    // THEN both items are there
    expect(await read('orders', a)).toEqual({ pk: { S: a }, n: { N: '1' } });
    expect(await read('stock', b)).toEqual({ pk: { S: b }, n: { N: '2' } });
  });

  it('fails if a condition fails, writes nothing and names the failing action', async () => {
    // GIVEN an existing stock item
    const [a, b] = [fresh(), fresh()];
    await dynamodb.send(new PutItemCommand({ TableName: 'stock', Item: { pk: { S: b }, n: { N: '5' } } }));
    // WHEN a transaction puts a new order and requires the stock item to be absent
    const err = await failure([
      put('orders', a, 1),
      {
        Put: {
          ...put('stock', b, 6).Put,
          TableName: 'stock',
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': 'pk' },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      } as TransactWriteItem,
    ]);
    // THEN the SDK raises TransactionCanceledException with a reason per action, and nothing was written
    expect(err.name).toBe('TransactionCanceledException');
    expect(err.message).toBe(
      'Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]',
    );
    expect(err.CancellationReasons).toEqual([
      { Code: 'None' },
      {
        Code: 'ConditionalCheckFailed',
        Message: 'The conditional request failed',
        Item: { pk: { S: b }, n: { N: '5' } },
      },
    ]);
    expect(await read('orders', a)).toBeUndefined();
    expect(await read('stock', b)).toEqual({ pk: { S: b }, n: { N: '5' } });
  });

  it('applies Update, Delete and ConditionCheck actions', async () => {
    // GIVEN a stock item with 5 units, an order to delete and an account to check
    const [stock, order, account] = [fresh(), fresh(), fresh()];
    await dynamodb.send(
      new PutItemCommand({ TableName: 'stock', Item: { pk: { S: stock }, n: { N: '5' } } }),
    );
    await dynamodb.send(
      new PutItemCommand({ TableName: 'orders', Item: { pk: { S: order }, n: { N: '1' } } }),
    );
    await dynamodb.send(
      new PutItemCommand({ TableName: 'orders', Item: { pk: { S: account }, n: { N: '9' } } }),
    );
    // WHEN one transaction takes 2 units if at least 2 are left, deletes the order, and checks the account
    await dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Update: {
              TableName: 'stock',
              Key: { pk: { S: stock } },
              UpdateExpression: 'SET #n = #n - :take',
              ConditionExpression: '#n >= :take',
              ExpressionAttributeNames: { '#n': 'n' },
              ExpressionAttributeValues: { ':take': { N: '2' } },
            },
          },
          {
            Delete: {
              TableName: 'orders',
              Key: { pk: { S: order } },
              ConditionExpression: 'attribute_exists(pk)',
            },
          },
          {
            ConditionCheck: {
              TableName: 'orders',
              Key: { pk: { S: account } },
              ConditionExpression: 'n > :zero',
              ExpressionAttributeValues: { ':zero': { N: '0' } },
            },
          },
        ],
      }),
    );
    // THEN the update and the delete are applied, the checked item is unchanged
    expect(await read('stock', stock)).toEqual({ pk: { S: stock }, n: { N: '3' } });
    expect(await read('orders', order)).toBeUndefined();
    expect(await read('orders', account)).toEqual({ pk: { S: account }, n: { N: '9' } });
  });

  it('fails if a ConditionCheck fails, reporting every failing condition', async () => {
    // GIVEN an absent account and an absent stock item
    const [account, stock, order] = [fresh(), fresh(), fresh()];
    // WHEN a transaction checks that both exist and puts an order
    const err = await failure([
      {
        ConditionCheck: {
          TableName: 'orders',
          Key: { pk: { S: account } },
          ConditionExpression: 'attribute_exists(pk)',
        },
      },
      put('orders', order, 1),
      {
        ConditionCheck: {
          TableName: 'stock',
          Key: { pk: { S: stock } },
          ConditionExpression: 'attribute_exists(pk)',
        },
      },
    ]);
    // THEN both checks are reported (without Item: there is none), and the order is not written
    expect(err.CancellationReasons?.map((reason) => reason.Code)).toEqual([
      'ConditionalCheckFailed',
      'None',
      'ConditionalCheckFailed',
    ]);
    expect(err.CancellationReasons?.[0]?.Item).toBeUndefined();
    expect(await read('orders', order)).toBeUndefined();
  });

  it('fails if an Update action is invalid, cancelled with a ValidationError reason, and rolls back the actions applied before it', async () => {
    // GIVEN an order item and a stock item with a string attribute
    const [order, stock] = [fresh(), fresh()];
    await dynamodb.send(
      new PutItemCommand({ TableName: 'orders', Item: { pk: { S: order }, n: { N: '1' } } }),
    );
    await dynamodb.send(
      new PutItemCommand({ TableName: 'stock', Item: { pk: { S: stock }, s: { S: 'text' } } }),
    );
    // WHEN a transaction overwrites the order, then adds a number to the string (an error only applying finds)
    const err = await failure([
      put('orders', order, 3),
      {
        Update: {
          TableName: 'stock',
          Key: { pk: { S: stock } },
          UpdateExpression: 'ADD s :one',
          ExpressionAttributeValues: { ':one': { N: '1' } },
        },
      },
    ]);
    // THEN the transaction is cancelled with a ValidationError at the update (as DynamoDB answers), and the order
    // is as before the transaction
    expect(err.name).toBe('TransactionCanceledException');
    expect(err.CancellationReasons).toEqual([
      { Code: 'None' },
      { Code: 'ValidationError', Message: expect.stringMatching(/.+/) },
    ]);
    expect(await read('orders', order)).toEqual({ pk: { S: order }, n: { N: '1' } });
    expect(await read('stock', stock)).toEqual({ pk: { S: stock }, s: { S: 'text' } });
  });

  it('fails if two actions touch one item', async () => {
    // GIVEN a key
    const a = fresh();
    // WHEN a transaction puts it and deletes it
    const err = await failure([
      put('orders', a, 1),
      { Delete: { TableName: 'orders', Key: { pk: { S: a } } } },
    ]);
    // THEN the SDK raises ValidationException and nothing is written
    expect(err).toMatchObject({
      name: 'ValidationException',
      message: 'Transaction request cannot include multiple operations on one item',
    });
    expect(await read('orders', a)).toBeUndefined();
  });

  it('fails if a transaction has more than 100 actions', async () => {
    // GIVEN 101 puts
    const items = Array.from({ length: 101 }, () => put('orders', fresh(), 1));
    // WHEN they are sent as one transaction
    const err = await failure(items);
    // THEN the SDK raises ValidationException and nothing is written
    expect(err.name).toBe('ValidationException');
    expect(err.message).toMatch(/less than or equal to 100/);
    expect(await read('orders', items[0]?.Put?.Item?.pk?.S ?? '')).toBeUndefined();
  });

  it('fails if the items of a transaction exceed 4 MB together', async () => {
    // GIVEN 11 items of about 390 KB each (each under the 400 KB item limit)
    const big = 'x'.repeat(390 * 1024);
    const items: TransactWriteItem[] = Array.from({ length: 11 }, () => ({
      Put: { TableName: 'orders', Item: { pk: { S: fresh() }, big: { S: big } } },
    }));
    // WHEN they are sent as one transaction
    const err = await failure(items);
    // THEN the SDK raises ValidationException and nothing is written
    expect(err.name).toBe('ValidationException');
    expect(err.message).toMatch(/4 MB/);
    expect(await read('orders', items[0]?.Put?.Item?.pk?.S ?? '')).toBeUndefined();
  });

  it('applies a repeated ClientRequestToken once', async () => {
    // GIVEN a transaction that adds 1 to a counter, with a client token
    const a = fresh();
    const add = new TransactWriteItemsCommand({
      ClientRequestToken: `token-${a}`,
      TransactItems: [
        {
          Update: {
            TableName: 'orders',
            Key: { pk: { S: a } },
            UpdateExpression: 'ADD n :one',
            ExpressionAttributeValues: { ':one': { N: '1' } },
          },
        },
      ],
    });
    // WHEN it is sent twice
    await dynamodb.send(add);
    await dynamodb.send(add);
    // THEN the counter is 1
    expect(await read('orders', a)).toEqual({ pk: { S: a }, n: { N: '1' } });
  });

  it('fails if a ClientRequestToken is reused for another request', async () => {
    // GIVEN a transaction applied with a token
    const [a, b] = [fresh(), fresh()];
    await dynamodb.send(
      new TransactWriteItemsCommand({
        ClientRequestToken: `token-${a}`,
        TransactItems: [put('orders', a, 1)],
      }),
    );
    // WHEN another transaction uses the same token
    const err = await failure([put('orders', b, 1)], `token-${a}`);
    // THEN the SDK raises IdempotentParameterMismatchException and the second is not applied
    expect(err.name).toBe('IdempotentParameterMismatchException');
    expect(await read('orders', b)).toBeUndefined();
  });

  it('applies the TransactWriteCommand of lib-dynamodb and answers TransactGetItems', async () => {
    // GIVEN the document client
    const documents = DynamoDBDocumentClient.from(dynamodb);
    const [a, b] = [fresh(), fresh()];
    // WHEN it writes two items in one transaction, and they are read in one
    await documents.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: 'orders', Item: { pk: a, tags: new Set(['x']) } } },
          { Put: { TableName: 'stock', Item: { pk: b, bytes: new Uint8Array([1, 2]) } } },
        ],
      }),
    );
    const { Responses } = await dynamodb.send(
      new TransactGetItemsCommand({
        TransactItems: [
          { Get: { TableName: 'orders', Key: { pk: { S: a } } } },
          { Get: { TableName: 'stock', Key: { pk: { S: b } } } },
          { Get: { TableName: 'stock', Key: { pk: { S: fresh() } } } },
        ],
      }),
    );
    // THEN both are there, with their types, and the absent one has no Item
    expect(Responses?.map((response) => response.Item)).toEqual([
      { pk: { S: a }, tags: { SS: ['x'] } },
      { pk: { S: b }, bytes: { B: new Uint8Array([1, 2]) } },
      undefined,
    ]);
  });

  it('keeps serving after a client closes its socket in the middle of a TransactWriteItems body', async () => {
    // GIVEN a watch for unhandled rejections (they would stop the whole local WAL)
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const pk = fresh();
    await dynamodb.send(new PutItemCommand({ TableName: 'orders', Item: { pk: { S: pk }, n: { N: '7' } } }));
    try {
      // WHEN a raw client sends half of a TransactWriteItems body and closes the socket
      const { hostname, port } = new URL(emulators.endpoints.dynamodb);
      const socket = connect(Number(port), hostname);
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write(
        'POST / HTTP/1.1\r\nHost: local\r\nX-Amz-Target: DynamoDB_20120810.TransactWriteItems\r\n' +
          'Content-Type: application/x-amz-json-1.0\r\nContent-Length: 1000\r\n\r\n{"TransactItems": [',
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 200));
      // THEN nothing was left unhandled, and a GetItem afterwards still answers
      expect(unhandled).toEqual([]);
      expect(await read('orders', pk)).toEqual({ pk: { S: pk }, n: { N: '7' } });
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('never lets a reader see half a transaction', async () => {
    // GIVEN two items (in two tables) that every transaction sets to the same value
    const [a, b] = [fresh(), fresh()];
    await dynamodb.send(
      new TransactWriteItemsCommand({ TransactItems: [put('orders', a, 0), put('stock', b, 0)] }),
    );
    // WHEN 30 transactions run while a reader reads both items in one request (BatchGetItem), over and over
    const seen: [string | undefined, string | undefined][] = [];
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const { Responses } = await dynamodb.send(
          new BatchGetItemCommand({
            RequestItems: {
              orders: { Keys: [{ pk: { S: a } }], ConsistentRead: true },
              stock: { Keys: [{ pk: { S: b } }], ConsistentRead: true },
            },
          }),
        );
        seen.push([Responses?.orders?.[0]?.n?.N, Responses?.stock?.[0]?.n?.N]);
      }
    })();
    for (let n = 1; n <= 30; n += 1) {
      await dynamodb.send(
        new TransactWriteItemsCommand({ TransactItems: [put('orders', a, n), put('stock', b, n)] }),
      );
    }
    writing = false;
    await reader;
    // THEN every read saw both items from the same transaction
    expect(seen.length).toBeGreaterThan(5);
    expect(seen.filter(([x, y]) => x !== y)).toEqual([]);
  });
});

describe('local DynamoDB transactions with a data dir', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'wal-transactions-'));
  });

  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('rolls back, on start, a transaction a crash left half applied', async () => {
    // GIVEN a data dir where a transaction had changed one item and created another when the process died
    const first = await startEmulators({ dataDir });
    const before = clientFor(first);
    await createTable(before, 'orders');
    await before.send(
      new PutItemCommand({ TableName: 'orders', Item: { pk: { S: 'kept' }, n: { N: '1' } } }),
    );
    await before.send(
      new PutItemCommand({ TableName: 'orders', Item: { pk: { S: 'kept' }, n: { N: '2' } } }),
    );
    await before.send(new PutItemCommand({ TableName: 'orders', Item: { pk: { S: 'new' }, n: { N: '2' } } }));
    before.destroy();
    await first.stop();
    const undo = [
      { table: 'orders', key: { pk: { S: 'kept' } }, item: { pk: { S: 'kept' }, n: { N: '1' } } },
      { table: 'orders', key: { pk: { S: 'new' } } },
    ];
    writeFileSync(join(dataDir, 'dynamodb-transaction.undo.json'), JSON.stringify(undo));
    // WHEN the emulators start again on it
    const second = await startEmulators({ dataDir });
    const after = clientFor(second);
    try {
      const read = (pk: string) =>
        after.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: pk } }, ConsistentRead: true }));
      // THEN the items are as before the transaction, and the journal is gone
      expect((await read('kept')).Item).toEqual({ pk: { S: 'kept' }, n: { N: '1' } });
      expect((await read('new')).Item).toBeUndefined();
      expect(existsSync(join(dataDir, 'dynamodb-transaction.undo.json'))).toBe(false);
    } finally {
      after.destroy();
      await second.stop();
    }
  });

  it('leaves no journal after transactions that succeed or fail', async () => {
    // GIVEN emulators on a data dir
    const emulators = await startEmulators({ dataDir });
    const dynamodb = clientFor(emulators);
    try {
      await createTable(dynamodb, 'orders');
      // WHEN one transaction succeeds and one is cancelled
      await dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [put('orders', 'a', 1)] }));
      const err: unknown = await dynamodb
        .send(
          new TransactWriteItemsCommand({
            TransactItems: [
              {
                Put: {
                  ...put('orders', 'a', 2).Put,
                  TableName: 'orders',
                  ConditionExpression: 'n = :x',
                  ExpressionAttributeValues: { ':x': { N: '9' } },
                },
              } as TransactWriteItem,
            ],
          }),
        )
        .catch((e: unknown) => e);
      // THEN the first is applied, the second is not, and no journal is left
      expect(err).toMatchObject({ name: 'TransactionCanceledException' });
      const { Item } = await dynamodb.send(
        new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'a' } } }),
      );
      expect(Item).toEqual({ pk: { S: 'a' }, n: { N: '1' } });
      expect(existsSync(join(dataDir, 'dynamodb-transaction.undo.json'))).toBe(false);
    } finally {
      dynamodb.destroy();
      await emulators.stop();
    }
  });
});

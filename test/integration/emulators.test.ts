import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import {
  GetParameterCommand,
  GetParametersByPathCommand,
  ParameterAlreadyExists,
  ParameterNotFound,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { DataDirInUseError, EmulatorStartError, type Emulators, startEmulators } from '#src/local/emulators';
import { waitFor } from '#test/support/wait';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

interface Clients {
  dynamodb: DynamoDBClient;
  kinesis: KinesisClient;
  sqs: SQSClient;
  ssm: SSMClient;
  destroy(): void;
}

function clientsFor(emulators: Emulators): Clients {
  const { endpoints, region } = emulators;
  const clients = {
    dynamodb: new DynamoDBClient({ region, credentials, endpoint: endpoints.dynamodb }),
    // kinesalite speaks HTTP/1.1 only: the default HTTP/2 handler fails with "Protocol error".
    kinesis: new KinesisClient({
      region,
      credentials,
      endpoint: endpoints.kinesis,
      requestHandler: new NodeHttpHandler(),
    }),
    sqs: new SQSClient({ region, credentials, endpoint: endpoints.sqs }),
    ssm: new SSMClient({ region, credentials, endpoint: endpoints.ssm }),
  };
  return {
    ...clients,
    destroy: () => {
      for (const client of Object.values(clients)) client.destroy();
    },
  };
}

/** Polls until probe returns a value (emulators finish some work on a timer). */
function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  return waitFor(probe, timeoutMs, { intervalMs: 25 });
}

async function createTable(dynamodb: DynamoDBClient, tableName: string): Promise<string | undefined> {
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return eventually(async () => {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    return Table?.TableStatus === 'ACTIVE' ? Table.TableArn : undefined;
  });
}

async function createStream(kinesis: KinesisClient, streamName: string): Promise<string> {
  await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 1 }));
  return eventually(async () => {
    const { StreamDescriptionSummary } = await kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: streamName }),
    );
    return StreamDescriptionSummary?.StreamStatus === 'ACTIVE'
      ? StreamDescriptionSummary.StreamARN
      : undefined;
  });
}

async function readStream(kinesis: KinesisClient, streamName: string): Promise<string[]> {
  const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  const { ShardIterator } = await kinesis.send(
    new GetShardIteratorCommand({
      StreamName: streamName,
      ShardId: Shards?.[0]?.ShardId,
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  const { Records } = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
  return (Records ?? []).map((record) => Buffer.from(record.Data ?? new Uint8Array()).toString('utf8'));
}

async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages);
}

describe('local emulators', () => {
  let emulators: Emulators;
  let clients: Clients;

  beforeAll(async () => {
    emulators = await startEmulators();
    clients = clientsFor(emulators);
  });

  afterAll(async () => {
    clients.destroy();
    await emulators.stop();
  });

  it('exposes loopback endpoints and the variables that point the SDK at them', () => {
    // Assess
    expect(emulators.env()).toEqual({
      AWS_ENDPOINT_URL_DYNAMODB: emulators.endpoints.dynamodb,
      AWS_ENDPOINT_URL_KINESIS: emulators.endpoints.kinesis,
      AWS_ENDPOINT_URL_SQS: emulators.endpoints.sqs,
      AWS_ENDPOINT_URL_SSM: emulators.endpoints.ssm,
      AWS_ENDPOINT_URL_SNS: emulators.endpoints.sinks,
      AWS_ENDPOINT_URL_EVENTBRIDGE: emulators.endpoints.sinks,
      AWS_ENDPOINT_URL_LAMBDA: emulators.endpoints.sinks,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    for (const endpoint of Object.values(emulators.endpoints)) {
      expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
  });

  describe('DynamoDB (dynalite)', () => {
    it('creates a table and reads back an item', async () => {
      // Prepare
      const tableArn = await createTable(clients.dynamodb, 'ledger');

      // Act
      await clients.dynamodb.send(
        new PutItemCommand({ TableName: 'ledger', Item: { pk: { S: 'ns#key' }, state: { S: 'COMMITTED' } } }),
      );
      const { Item } = await clients.dynamodb.send(
        new GetItemCommand({ TableName: 'ledger', Key: { pk: { S: 'ns#key' } }, ConsistentRead: true }),
      );

      // Assess
      expect(Item).toEqual({ pk: { S: 'ns#key' }, state: { S: 'COMMITTED' } });
      expect(tableArn).toBe('arn:aws:dynamodb:us-east-1:000000000000:table/ledger');
    });
  });

  describe('Kinesis (kinesalite)', () => {
    it('creates a stream and reads back a record', async () => {
      // Prepare
      const streamArn = await createStream(clients.kinesis, 'wal');

      // Act
      const put = await clients.kinesis.send(
        new PutRecordCommand({ StreamName: 'wal', PartitionKey: 'ns#key', Data: Buffer.from('{"id":1}') }),
      );
      const records = await readStream(clients.kinesis, 'wal');

      // Assess
      expect(put.SequenceNumber).toEqual(expect.any(String));
      expect(records).toEqual(['{"id":1}']);
      expect(streamArn).toBe('arn:aws:kinesis:us-east-1:000000000000:stream/wal');
    });
  });

  describe('SQS (local-aws-sqs)', () => {
    it('sends and receives a message through a queue URL on the bound port', async () => {
      // Prepare
      const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: 'plain' }));

      // Act
      await clients.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
      const { Messages } = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1, AttributeNames: ['All'] }),
      );

      // Assess
      expect(QueueUrl).toBe(`${emulators.endpoints.sqs}/000000000000/plain`);
      expect(Messages?.map((message) => message.Body)).toEqual(['hello']);
      // The quirk: system attributes come back only when asked for with the legacy AttributeNames.
      expect(Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe('1');
    });

    it('dead-letters a message after maxReceiveCount and redrives it back with StartMessageMoveTask', async () => {
      // Prepare
      const arn = (name: string): string => `arn:aws:sqs:us-east-1:000000000000:${name}`;
      const dlq = await clients.sqs.send(
        new CreateQueueCommand({
          QueueName: 'work-dlq',
          Attributes: {
            RedriveAllowPolicy: JSON.stringify({
              redrivePermission: 'byQueue',
              sourceQueueArns: [arn('work')],
            }),
          },
        }),
      );
      const source = await clients.sqs.send(
        new CreateQueueCommand({
          QueueName: 'work',
          Attributes: {
            RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn('work-dlq'), maxReceiveCount: 1 }),
          },
        }),
      );
      await clients.sqs.send(new SendMessageCommand({ QueueUrl: source.QueueUrl, MessageBody: 'poison' }));
      // One receive whose visibility lapses at once uses up maxReceiveCount 1.
      await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: source.QueueUrl, VisibilityTimeout: 0 }));
      const dlqUrl = dlq.QueueUrl ?? '';
      await eventually(async () => ((await queueDepth(clients.sqs, dlqUrl)) === 1 ? true : undefined));

      // Act
      await clients.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: arn('work-dlq') }));
      const redriven = await eventually(async () => {
        const { Messages } = await clients.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: source.QueueUrl, WaitTimeSeconds: 1 }),
        );
        return Messages?.[0];
      });

      // Assess
      expect(redriven.Body).toBe('poison');
      expect(await queueDepth(clients.sqs, dlqUrl)).toBe(0);
    });
  });

  describe('SSM Parameter Store (own endpoint)', () => {
    it('puts, gets and overwrites a parameter, bumping its version', async () => {
      // Prepare
      await clients.ssm.send(new PutParameterCommand({ Name: '/wal/dev/ns/a', Value: 'v1', Type: 'String' }));

      // Act
      const overwrite = await clients.ssm.send(
        new PutParameterCommand({ Name: '/wal/dev/ns/a', Value: 'v2', Type: 'String', Overwrite: true }),
      );
      const { Parameter } = await clients.ssm.send(new GetParameterCommand({ Name: '/wal/dev/ns/a' }));

      // Assess
      expect(overwrite.Version).toBe(2);
      expect(Parameter).toEqual({
        Name: '/wal/dev/ns/a',
        Type: 'String',
        Value: 'v2',
        Version: 2,
        LastModifiedDate: expect.any(Date),
        ARN: 'arn:aws:ssm:us-east-1:000000000000:parameter/wal/dev/ns/a',
        DataType: 'text',
      });
    });

    it('returns SecureString values decrypted only WithDecryption', async () => {
      // Prepare
      await clients.ssm.send(
        new PutParameterCommand({ Name: '/secret/token', Value: 's3cr3t', Type: 'SecureString' }),
      );

      // Act
      const plain = await clients.ssm.send(
        new GetParameterCommand({ Name: '/secret/token', WithDecryption: true }),
      );
      const sealed = await clients.ssm.send(new GetParameterCommand({ Name: '/secret/token' }));

      // Assess
      expect(plain.Parameter?.Value).toBe('s3cr3t');
      expect(sealed.Parameter?.Value).not.toBe('s3cr3t');
    });

    it('fails if a parameter is missing, with the SDK ParameterNotFound exception', async () => {
      // Act
      const error: unknown = await clients.ssm
        .send(new GetParameterCommand({ Name: '/missing' }))
        .catch((e) => e);

      // Assess
      expect(error).toBeInstanceOf(ParameterNotFound);
      expect(error).toMatchObject({ name: 'ParameterNotFound', $metadata: { httpStatusCode: 400 } });
    });

    it('fails if PutParameter targets an existing name without Overwrite', async () => {
      // Prepare
      await clients.ssm.send(new PutParameterCommand({ Name: '/taken', Value: 'first', Type: 'String' }));

      // Act
      const error: unknown = await clients.ssm
        .send(new PutParameterCommand({ Name: '/taken', Value: 'second', Type: 'String' }))
        .catch((e) => e);
      const { Parameter } = await clients.ssm.send(new GetParameterCommand({ Name: '/taken' }));

      // Assess
      expect(error).toBeInstanceOf(ParameterAlreadyExists);
      expect(error).toMatchObject({ name: 'ParameterAlreadyExists' });
      expect(Parameter).toMatchObject({ Value: 'first', Version: 1 });
    });

    it('lists the parameters right under a path, a page of MaxResults at a time', async () => {
      // Arrange: three parameters under /listed/ns, one deeper, one beside the path
      for (const name of [
        '/listed/ns/c',
        '/listed/ns/a',
        '/listed/ns/b',
        '/listed/ns/deep/x',
        '/listed/nsx',
      ]) {
        await clients.ssm.send(new PutParameterCommand({ Name: name, Value: name, Type: 'String' }));
      }

      // Act: pages of two, following NextToken
      const pages: string[][] = [];
      let nextToken: string | undefined;
      do {
        const answer = await clients.ssm.send(
          new GetParametersByPathCommand({ Path: '/listed/ns/', MaxResults: 2, NextToken: nextToken }),
        );
        pages.push((answer.Parameters ?? []).map((parameter) => parameter.Name ?? ''));
        nextToken = answer.NextToken;
      } while (nextToken);

      // Assess: by name, not the deeper one nor the neighbour
      expect(pages).toEqual([['/listed/ns/a', '/listed/ns/b'], ['/listed/ns/c']]);
    });

    it('fails if the parameter name is invalid, with ValidationException', async () => {
      // Act
      const error: unknown = await clients.ssm
        .send(new PutParameterCommand({ Name: 'no/leading/slash', Value: 'x', Type: 'String' }))
        .catch((e) => e);

      // Assess
      expect(error).toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    });

    it('fails if the operation is unknown, with UnknownOperationException', async () => {
      // Act
      const response = await fetch(emulators.endpoints.ssm, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'AmazonSSM.SendCommand' },
        body: '{}',
      });

      // Assess
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ __type: 'UnknownOperationException' });
    });
  });
});

describe('local emulators with a data directory', () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'wal-emulators-'));
  });

  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps DynamoDB items, Kinesis records and SSM parameters across a restart', async () => {
    // Prepare
    const first = await startEmulators({ dataDir });
    const before = clientsFor(first);
    await createTable(before.dynamodb, 'ledger');
    await before.dynamodb.send(new PutItemCommand({ TableName: 'ledger', Item: { pk: { S: 'kept' } } }));
    await createStream(before.kinesis, 'wal');
    await before.kinesis.send(
      new PutRecordCommand({ StreamName: 'wal', PartitionKey: 'p', Data: Buffer.from('r1') }),
    );
    await before.ssm.send(new PutParameterCommand({ Name: '/kept', Value: 'yes', Type: 'String' }));
    before.destroy();
    await first.stop();

    // Act
    const second = await startEmulators({ dataDir });
    const after = clientsFor(second);
    try {
      const { Item } = await after.dynamodb.send(
        new GetItemCommand({ TableName: 'ledger', Key: { pk: { S: 'kept' } }, ConsistentRead: true }),
      );
      const records = await readStream(after.kinesis, 'wal');
      const { Parameter } = await after.ssm.send(new GetParameterCommand({ Name: '/kept' }));

      // Assess
      expect(Item).toEqual({ pk: { S: 'kept' } });
      expect(records).toEqual(['r1']);
      expect(Parameter).toMatchObject({ Value: 'yes', Version: 1 });
    } finally {
      after.destroy();
      await second.stop();
    }
  });

  it('fails if a port is already taken, and releases what it had started', async () => {
    // Prepare
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const takenPort = typeof address === 'object' && address ? address.port : 0;

    try {
      // Act
      const error: unknown = await startEmulators({ dataDir, ports: { dynamodb: takenPort } }).catch(
        (e) => e,
      );

      // Assess
      expect(error).toBeInstanceOf(EmulatorStartError);
      expect(error).toMatchObject({ name: 'EmulatorStartError', emulator: 'dynamodb', port: takenPort });
      expect((error as Error).message).toContain(`127.0.0.1:${takenPort}`);
      expect((error as Error).message).toContain('pass another port');
      expect((error as Error).cause).toMatchObject({ code: 'EADDRINUSE' });
      // The LevelDB stores were closed: the same data directory opens and serves again.
      const again = await startEmulators({ dataDir });
      const againClients = clientsFor(again);
      const tables = await againClients.dynamodb.send(new ListTablesCommand({})).finally(async () => {
        againClients.destroy();
        await again.stop();
      });
      expect(tables.TableNames).toEqual(expect.any(Array));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('fails if the data directory is in use by emulators that are still running', async () => {
    // Prepare
    const running = await startEmulators({ dataDir });

    try {
      // Act
      const error: unknown = await startEmulators({ dataDir }).catch((e) => e);

      // Assess
      expect(error).toBeInstanceOf(DataDirInUseError);
      expect(error).toMatchObject({ name: 'DataDirInUseError', dataDir, pid: process.pid });
    } finally {
      await running.stop();
    }
  });
});

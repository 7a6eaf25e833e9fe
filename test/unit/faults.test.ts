import { Readable } from 'node:stream';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import {
  activeFaultConfig,
  activeOutage,
  InvalidFaultConfigError,
  parseFaultConfig,
  resourcesOf,
  withFaults,
} from '#lambdas/shared/faults';

const put = new PutRecordCommand({ StreamName: 's', PartitionKey: 'k', Data: Buffer.from('x') });

/** A client whose HTTP layer answers PutRecord and counts the requests that reached it. */
function fakeKinesis() {
  const reached: unknown[] = [];
  const client = new KinesisClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    requestHandler: {
      async handle(request: unknown) {
        reached.push(request);
        const body = Readable.from([Buffer.from('{"SequenceNumber":"1","ShardId":"shardId-0"}')]);
        return {
          response: { statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body },
        };
      },
    },
  });
  return { client, reached };
}

describe('fault injector', () => {
  it('is off without WAL_FAULTS', () => {
    // WHEN/THEN the environment has no WAL_FAULTS
    expect(activeFaultConfig({})).toBeUndefined();
  });

  it('fails if WAL_FAULTS is not a valid config', () => {
    // WHEN/THEN a rate above 1, or no JSON at all, is parsed
    expect(() => parseFaultConfig('{"rate": 2}')).toThrow(InvalidFaultConfigError);
    expect(() => parseFaultConfig('nope')).toThrow(InvalidFaultConfigError);
  });

  it('applies only to the functions it names', () => {
    // GIVEN faults for the Ingest function only
    const env = { WAL_FAULTS: '{"rate":1,"functions":["Ingest"]}' };
    // WHEN/THEN they are active in the ingest function, not in a consumer
    expect(
      activeFaultConfig({ ...env, AWS_LAMBDA_FUNCTION_NAME: 'stack-IngestApiIngestFunction' }),
    ).toBeDefined();
    expect(activeFaultConfig({ ...env, AWS_LAMBDA_FUNCTION_NAME: 'stack-ConsumersStream' })).toBeUndefined();
  });

  it('throttles a call before it reaches the service', async () => {
    // GIVEN a client whose every call is throttled
    const { client, reached } = fakeKinesis();
    withFaults(client, 'Kinesis', parseFaultConfig('{"rate":1,"kinds":["throttle"]}'));
    // WHEN/THEN a call fails with a throttling error, and the service saw nothing
    await expect(client.send(put)).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
    expect(reached).toHaveLength(0);
  });

  it('loses the answer of a call that reached the service (timeout-after)', async () => {
    // GIVEN a client whose every answer is lost
    const { client, reached } = fakeKinesis();
    withFaults(client, 'Kinesis', parseFaultConfig('{"rate":1,"kinds":["timeout-after"]}'));
    // WHEN/THEN a call times out, but the service got it
    await expect(client.send(put)).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(reached).toHaveLength(1);
  });

  it('leaves other operations alone', async () => {
    // GIVEN faults on GetRecords only
    const { client, reached } = fakeKinesis();
    withFaults(client, 'Kinesis', parseFaultConfig('{"rate":1,"operations":["GetRecords"]}'));
    // WHEN/THEN a PutRecord goes through
    await expect(client.send(put)).resolves.toMatchObject({ SequenceNumber: '1' });
    expect(reached).toHaveLength(1);
  });

  describe('outages', () => {
    const outage = { resource: 'Ledger', from: 1_000, to: 31_000 };

    it('fails every call to the resource during the window, and none before or after', () => {
      // GIVEN a ledger outage from 1 s to 31 s
      const ledgerPut = { TableName: 'stack-StorageLedger5E7CB2E3', Item: {} };
      // THEN it covers [from, to) and nothing else
      expect(activeOutage([outage], ledgerPut, 999)).toBeUndefined();
      expect(activeOutage([outage], ledgerPut, 1_000)).toBe(outage);
      expect(activeOutage([outage], ledgerPut, 30_999)).toBe(outage);
      expect(activeOutage([outage], ledgerPut, 31_000)).toBeUndefined();
    });

    it('leaves other resources alone during the window', () => {
      // WHEN/THEN other tables and queues are called during the ledger's outage
      expect(activeOutage([outage], { TableName: 'stack-TargetTable' }, 5_000)).toBeUndefined();
      expect(activeOutage([outage], { QueueUrl: 'http://q/000/stack-retry' }, 5_000)).toBeUndefined();
    });

    it('finds the tables of batches and transactions, queues and streams', () => {
      // GIVEN inputs of each shape the WAL sends
      const batchGet = { RequestItems: { 'stack-StorageLedger': { Keys: [] } } };
      const transaction = {
        TransactItems: [{ Put: { TableName: 'a', Item: {} } }, { ConditionCheck: { TableName: 'b' } }],
      };
      // THEN each resource is named
      expect(resourcesOf(batchGet)).toEqual(['stack-StorageLedger']);
      expect(resourcesOf(transaction)).toEqual(['a', 'b']);
      expect(resourcesOf({ QueueUrl: 'http://q/retry' })).toEqual(['http://q/retry']);
      expect(resourcesOf({ StreamARN: 'arn:stream/s' })).toEqual(['arn:stream/s']);
      expect(resourcesOf(undefined)).toEqual([]);
      expect(activeOutage([outage], batchGet, 5_000)).toBe(outage);
    });

    it('fails if an outage ends before it starts', () => {
      // WHEN/THEN an outage from 2 to 1 is parsed
      expect(() => parseFaultConfig('{"outages":[{"resource":"x","from":2,"to":1}]}')).toThrow(
        InvalidFaultConfigError,
      );
    });

    it('makes SDK calls to the resource fail during the outage, even at rate 0, before they reach the service', async () => {
      // GIVEN an outage of stream "s" that is on now, and no random faults
      const { client, reached } = fakeKinesis();
      const now = Date.now();
      const config = parseFaultConfig(
        JSON.stringify({ rate: 0, outages: [{ resource: 's', from: now - 1_000, to: now + 60_000 }] }),
      );
      withFaults(client, 'Kinesis', config);
      // WHEN a PutRecord to it is sent
      // THEN it fails as an unavailable service would, and nothing reached the stream
      await expect(client.send(put)).rejects.toMatchObject({ name: 'ServiceUnavailable', $fault: 'server' });
      expect(reached).toHaveLength(0);
    });

    it('lets calls through after the outage', async () => {
      // GIVEN an outage that ended a second ago
      const { client, reached } = fakeKinesis();
      const now = Date.now();
      const config = parseFaultConfig(
        JSON.stringify({ outages: [{ resource: 's', from: now - 60_000, to: now - 1_000 }] }),
      );
      withFaults(client, 'Kinesis', config);
      // WHEN/THEN a call to the resource goes through
      await expect(client.send(put)).resolves.toMatchObject({ SequenceNumber: '1' });
      expect(reached).toHaveLength(1);
    });
  });
});

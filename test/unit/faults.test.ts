import { Readable } from 'node:stream';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import {
  activeFaultConfig,
  InvalidFaultConfigError,
  parseFaultConfig,
  withFaults,
} from '../../lambdas/shared/faults';

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
    expect(activeFaultConfig({})).toBeUndefined();
  });

  it('fails if WAL_FAULTS is not a valid config', () => {
    expect(() => parseFaultConfig('{"rate": 2}')).toThrow(InvalidFaultConfigError);
    expect(() => parseFaultConfig('nope')).toThrow(InvalidFaultConfigError);
  });

  it('applies only to the functions it names', () => {
    const env = { WAL_FAULTS: '{"rate":1,"functions":["Ingest"]}' };
    expect(
      activeFaultConfig({ ...env, AWS_LAMBDA_FUNCTION_NAME: 'stack-IngestApiIngestFunction' }),
    ).toBeDefined();
    expect(activeFaultConfig({ ...env, AWS_LAMBDA_FUNCTION_NAME: 'stack-ConsumersStream' })).toBeUndefined();
  });

  it('throttles a call before it reaches the service', async () => {
    const { client, reached } = fakeKinesis();
    withFaults(client, 'Kinesis', parseFaultConfig('{"rate":1,"kinds":["throttle"]}'));
    await expect(client.send(put)).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
    expect(reached).toHaveLength(0);
  });

  it('loses the answer of a call that reached the service (timeout-after)', async () => {
    const { client, reached } = fakeKinesis();
    withFaults(client, 'Kinesis', parseFaultConfig('{"rate":1,"kinds":["timeout-after"]}'));
    await expect(client.send(put)).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(reached).toHaveLength(1);
  });

  it('leaves other operations alone', async () => {
    const { client, reached } = fakeKinesis();
    withFaults(client, 'Kinesis', parseFaultConfig('{"rate":1,"operations":["GetRecords"]}'));
    await expect(client.send(put)).resolves.toMatchObject({ SequenceNumber: '1' });
    expect(reached).toHaveLength(1);
  });
});

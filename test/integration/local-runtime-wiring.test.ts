import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { LocalWal } from '#src/local/runtime/local-wal';
import { startLocalWal } from '#src/local/runtime/local-wal';
import { synthesizeStack } from '#src/local/runtime/synthesize';
import {
  drain,
  FIXTURE_CONFIG_DIR,
  ledgerTableName,
  postMutation,
  REPO_ROOT,
  scanTable,
  streamRecords,
  targetTableName,
  type WalQueue,
  queueUrl as walQueueUrl,
} from '#test/support/local-wal-harness';

/** The local runtime follows the stack: change a setting there, and local mode behaves accordingly. */
describe('local runtime wiring follows the stack', () => {
  let wal: LocalWal;
  const queueUrl = (queue: WalQueue) => walQueueUrl(wal, queue);

  beforeAll(async () => {
    // GIVEN the stack with a non-default redrive count and stream batch size
    const { stackName, template } = synthesizeStack('it', {
      configDir: FIXTURE_CONFIG_DIR,
      settings: { queueMaxReceiveCount: 2, streamBatchSize: 7 },
    });
    wal = await startLocalWal({
      stackName,
      template,
      repoRoot: REPO_ROOT,
      autoPoll: false,
      overrideEnv: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
    });
  });

  afterAll(async () => {
    await wal?.stop();
  });

  it("resolves the stack's outputs to the local resources", async () => {
    // GIVEN the running stack / WHEN its outputs are read
    const { outputs } = wal;
    // THEN they name what the runtime provisioned, and the API the local one
    expect(outputs.ApiUrl).toBe(`${wal.apiUrl}/`);
    expect(wal.provisioned.tables).toContain(outputs.LedgerTableName);
    expect(wal.provisioned.streams).toContain(outputs.StreamName);
    const queueUrls = [...wal.provisioned.queues.values()].map((queue) => queue.url);
    for (const url of [outputs.DelayQueueUrl, outputs.RetryQueueUrl, outputs.DeadLetterQueueUrl]) {
      expect(queueUrls).toContain(url);
    }
    expect(outputs.StreamFailureQueueUrl).not.toBe(outputs.DeadLetterQueueUrl);
    expect(outputs.RetryQueueArn).toMatch(/^arn:aws:sqs:.*:000000000000:/);
    expect(outputs.AlarmTopicArn).toMatch(/^arn:aws:sns:/);
  });

  it("gives the retry queue the stack's redrive policy and visibility timeout", async () => {
    // WHEN the retry queue's attributes are read
    const attributes = await wal.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl('RetryQueue'), AttributeNames: ['All'] }),
    );
    // THEN they are the ones the stack's template sets
    expect(JSON.parse(attributes.Attributes?.RedrivePolicy ?? '{}')).toMatchObject({ maxReceiveCount: 2 });
    expect(attributes.Attributes?.VisibilityTimeout).toBe('360');
  });

  it("moves a message to the DLQ after the stack's maxReceiveCount receives", async () => {
    // GIVEN a message on the retry queue that nobody deletes
    await wal.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl('RetryQueue'), MessageBody: '{"probe":1}' }),
    );
    // WHEN it is received twice without being deleted
    for (let receive = 0; receive < 2; receive++) {
      const answer = await wal.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl('RetryQueue'),
          VisibilityTimeout: 0,
          WaitTimeSeconds: 1,
        }),
      );
      expect(answer.Messages).toHaveLength(1);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // THEN the native redrive policy has moved it to the DLQ
    const moved = await wal.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl('DeadLetterQueue'),
        WaitTimeSeconds: 2,
        MaxNumberOfMessages: 10,
      }),
    );
    expect(moved.Messages?.map((message) => message.Body)).toContain('{"probe":1}');
  });

  it("hands the stream consumer batches of at most the stack's batch size", async () => {
    // GIVEN 20 mutations on one key (one shard)
    for (let n = 0; n < 20; n++) await postMutation(wal, 'orders', { payload: { id: 'batch-key', n } });
    const [source] = wal.kinesisSources;
    if (!source) throw new Error('no Kinesis event source');
    expect(source.settings.batchSize).toBe(7);
    // WHEN the event source polls
    const counts: number[] = [];
    for (let count = await source.pollOnce(); count > 0; count = await source.pollOnce()) counts.push(count);
    // THEN 20 records arrive in batches of 7, 7 and 6
    expect(counts).toEqual([7, 7, 6]);
  });
});

describe('--data-dir', () => {
  it('keeps DynamoDB, Kinesis, SSM and stream checkpoints across a restart', async () => {
    // GIVEN a runtime with a data dir that applied one mutation
    const dataDir = mkdtempSync(join(tmpdir(), 'wal-data-'));
    const { stackName, template } = synthesizeStack('it', { configDir: FIXTURE_CONFIG_DIR });
    const start = () =>
      startLocalWal({
        stackName,
        template,
        repoRoot: REPO_ROOT,
        dataDir,
        autoPoll: false,
        overrideEnv: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
      });
    let wal = await start();
    try {
      const answer = await postMutation(wal, 'orders', { payload: { id: 'kept-1', n: 1 } });
      expect(answer.status).toBe(200);
      await drain(wal);
      await wal.stop();

      // WHEN it starts again on the same data dir
      wal = await start();

      // THEN the item and the ledger entry are still there, and the stream is not replayed
      const table = await targetTableName(wal, 'it', 'orders', 'main');
      expect((await scanTable(wal, table)).map((item) => item.id)).toEqual(['kept-1']);
      expect((await scanTable(wal, ledgerTableName(wal))).map((entry) => entry.id)).toEqual([answer.body.id]);
      expect(await wal.kinesisSources[0]?.pollOnce()).toBe(0);
      expect((await streamRecords(wal)).length).toBe(1);
      // and the stack's outputs are in the data dir, as `cdk deploy --outputs-file` writes them, with the
      // local Parameter Store's endpoint (for `wal ns`) and its Kinesis and DynamoDB (for `wal replay`)
      const file = JSON.parse(readFileSync(join(dataDir, 'outputs.json'), 'utf8'));
      expect(file).toEqual({
        [stackName]: {
          ...wal.outputs,
          LocalSsmEndpoint: wal.emulators.endpoints.ssm,
          LocalKinesisEndpoint: wal.emulators.endpoints.kinesis,
          LocalDynamoDbEndpoint: wal.emulators.endpoints.dynamodb,
        },
      });
    } finally {
      await wal.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

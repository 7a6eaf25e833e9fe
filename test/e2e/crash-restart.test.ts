import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { WAL_OUTPUTS, type WalOutputName } from '#lib/wal-outputs';
import { OUTPUTS_FILE_NAME, readStackOutputs, type StackOutputs } from '#src/outputs/outputs-file';
import {
  isGroupAlive,
  killGroup,
  type LocalProcess,
  spawnWalLocal,
  waitForLine,
} from '#test/support/local-process';
import { waitFor } from '#test/support/wait';

// Stage "crash" (test/fixtures/config/crash): "later" for a delayed mutation, "flaky" whose table
// the test deletes (so its mutation waits on the retry queue until a restart provisions the table
// again), "doomed" whose table never exists and that allows one attempt (so it dead-letters at once).

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const region = 'us-east-1';

interface Running {
  readonly process: LocalProcess;
  readonly api: string;
  readonly sqs: SQSClient;
  readonly documents: DynamoDBDocumentClient;
  readonly tables: { later: string; flaky: string };
  /** The stack's outputs, as the runtime wrote them into the data dir. */
  readonly outputs: StackOutputs;
}

async function start(dataDir: string): Promise<Running> {
  const process = spawnWalLocal([
    '--stage',
    'crash',
    '--config-dir',
    'test/fixtures/config',
    '--data-dir',
    dataDir,
  ]);
  const line = (pattern: RegExp) => waitForLine(process, pattern, 90_000).then((match) => match[1] as string);
  const api = await line(/^\s+API\s+(http:\/\/\S+)/);
  const dynamodb = await line(/^\s+DynamoDB\s+(http:\/\/\S+)/);
  const sqsEndpoint = await line(/^\s+SQS\s+(http:\/\/\S+)/);
  const tables = {
    later: await line(/later -> main \(dynamodb (\S+)\)/),
    flaky: await line(/flaky -> main \(dynamodb (\S+)\)/),
  };
  return {
    process,
    api,
    sqs: new SQSClient({ region, credentials, endpoint: sqsEndpoint }),
    documents: DynamoDBDocumentClient.from(new DynamoDBClient({ region, credentials, endpoint: dynamodb })),
    tables,
    outputs: readStackOutputs(join(dataDir, OUTPUTS_FILE_NAME), 'ServerlessWal-crash'),
  };
}

async function post(api: string, namespace: string, body: unknown): Promise<string> {
  const response = await fetch(`${api}/v1/namespaces/${namespace}/mutations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as { id: string; durable: string };
  expect(answer.durable).toBe('SUCCESS');
  return answer.id;
}

/** Messages on the queue a stack output names: visible, in flight or delayed. */
async function queued(running: Running, output: WalOutputName): Promise<number> {
  const url = running.outputs.get(output);
  const { Attributes: attributes = {} } = await running.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
  );
  return (
    Number(attributes.ApproximateNumberOfMessages) +
    Number(attributes.ApproximateNumberOfMessagesNotVisible) +
    Number(attributes.ApproximateNumberOfMessagesDelayed)
  );
}

async function item(
  running: Running,
  table: string,
  id: string,
): Promise<Record<string, unknown> | undefined> {
  return (
    await running.documents.send(new GetCommand({ TableName: table, Key: { id }, ConsistentRead: true }))
  ).Item;
}

/** The mutation ids of the messages waiting in the waiting room table. */
async function waitingIds(running: Running): Promise<string[]> {
  const answer = await running.documents.send(
    new ScanCommand({
      TableName: running.outputs.get(WAL_OUTPUTS.waitingRoomTableName),
      ConsistentRead: true,
    }),
  );
  return (answer.Items ?? [])
    .filter((entry) => entry.pk !== 'checkpoint')
    .map(
      (entry) =>
        (JSON.parse(String(entry.body)) as { mutation: { envelope: { id: string } } }).mutation.envelope.id,
    );
}

function close(running: Running | undefined): void {
  running?.sqs.destroy();
  running?.documents.destroy();
}

describe('local mode across a crash (kill -9) and a restart on the same data dir', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'wal-crash-'));
  let first: Running | undefined;
  let second: Running | undefined;

  afterAll(async () => {
    close(first);
    close(second);
    for (const running of [first, second]) if (running) await killGroup(running.process);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('applies the delayed and the retrying mutations after the restart, and keeps the dead letter', async () => {
    // GIVEN the local WAL on a data dir, with a delayed mutation, one on the retry queue and one dead-lettered
    first = await start(dataDir);
    await first.documents.send(new DeleteTableCommand({ TableName: first.tables.flaky }));
    const postedAt = Date.now();
    const delayed = await post(first.api, 'later', {
      payload: { id: 'late-1', n: 1 },
      lifecycle: { delaySeconds: 15 },
    });
    // Due in an hour: it waits in the waiting room table (a delay past SQS's 900 s).
    const waiting = await post(first.api, 'later', {
      payload: { id: 'late-2', n: 4 },
      lifecycle: { delaySeconds: 3_600 },
    });
    const retrying = await post(first.api, 'flaky', { payload: { id: 'flaky-1', n: 2 } });
    const dead = await post(first.api, 'doomed', { payload: { id: 'doomed-1', n: 3 } });
    const running = first;
    await waitFor(
      async () =>
        (await queued(running, WAL_OUTPUTS.delayQueueUrl)) >= 1 &&
        (await queued(running, WAL_OUTPUTS.retryQueueUrl)) >= 1 &&
        (await queued(running, WAL_OUTPUTS.deadLetterQueueUrl)) >= 1 &&
        (await waitingIds(running)).includes(waiting)
          ? true
          : undefined,
      20_000,
    );

    // WHEN the whole process group is killed (no shutdown runs) and the WAL starts again on the data dir
    await killGroup(first.process);
    expect(isGroupAlive(first.process.group)).toBe(false);
    second = await start(dataDir);

    // THEN the retrying mutation is applied once its table is back
    const after = second;
    const flakyItem = await waitFor(() => item(after, after.tables.flaky, 'flaky-1'), 30_000);
    expect(flakyItem).toMatchObject({ id: 'flaky-1', n: 2, _walId: retrying });
    // the delayed one is applied, not before its due time
    const lateItem = await waitFor(() => item(after, after.tables.later, 'late-1'), 30_000);
    expect(lateItem).toMatchObject({ id: 'late-1', n: 1, _walId: delayed });
    expect(Date.now() - postedAt).toBeGreaterThanOrEqual(15_000);
    // the one due in an hour still waits in the waiting room, for the poller to send when due
    expect(await waitingIds(after)).toContain(waiting);
    // and the DLQ still holds the dead letter, with its reason
    const dlqUrl = after.outputs.get(WAL_OUTPUTS.deadLetterQueueUrl);
    const { Messages: letters = [] } = await after.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10 }),
    );
    expect(letters.map((letter) => JSON.parse(letter.Body ?? '{}'))).toEqual([
      expect.objectContaining({
        kind: 'retry',
        mutation: expect.objectContaining({ envelope: expect.objectContaining({ id: dead }) }),
        reason: 'failed 1 of 1 attempts',
      }),
    ]);
  }, 180_000);
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import {
  CancelMessageMoveTaskCommand,
  DeleteMessageBatchCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import {
  type DeadLetterQueues,
  listDeadLetters,
  peekDeadLetters,
  queueDepth,
  queueRef,
  RedriveAlreadyRunningError,
  type RedriveProgress,
  redriveDeadLetters,
  runDlqCommand,
  UNRECOGNIZED_REASON,
} from '#src/cli/commands/dlq';
import type { LocalWal } from '#src/local/runtime/local-wal';
import { OutputsFileError, writeStackOutputs } from '#src/outputs/outputs-file';
import {
  drain,
  postMutation,
  scanTable,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';
import { waitFor } from '#test/support/wait';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * The DLQ tooling against the local WAL (stage `it`: namespace `orders`, 3 attempts, backoff 1 s x2 up
 * to 4 s with full jitter): inspect, redrive with the emulator's real StartMessageMoveTask, re-apply.
 */
describe('wal dlq (emulators)', () => {
  let wal: LocalWal;
  let queues: DeadLetterQueues;
  let endpoint: string;
  let outputsFile: string;
  // The outputs files of these tests; removed after them.
  const scratch = mkdtempSync(join(tmpdir(), 'wal-outputs-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  withTestWal(async (started) => {
    wal = started;
    endpoint = wal.emulators.endpoints.sqs;
    queues = {
      deadLetter: await queueRef(wal.clients.sqs, wal.outputs.DeadLetterQueueUrl),
      retry: await queueRef(wal.clients.sqs, wal.outputs.RetryQueueUrl),
    };
    // What the local runtime writes into its data dir; this WAL keeps its state in memory.
    outputsFile = join(mkdtempSync(join(scratch, 'outputs-')), 'outputs.json');
    writeStackOutputs(outputsFile, 'ServerlessWal-it', wal.outputs);
  });

  /** Drives every event source (retries wait 0-4 s) until `done` holds. */
  async function driveUntil(done: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () => {
        if (await done()) return true;
        await wal.pollOnce();
        return undefined;
      },
      timeoutMs,
      { intervalMs: 100, what },
    );
  }

  async function emptyQueue(queueUrl: string): Promise<void> {
    for (;;) {
      const answer = await wal.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }),
      );
      const messages = answer.Messages ?? [];
      if (messages.length === 0) return;
      await wal.clients.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle,
          })),
        }),
      );
    }
  }

  const sendToDlq = (body: string) =>
    wal.clients.sqs.send(new SendMessageCommand({ QueueUrl: queues.deadLetter.url, MessageBody: body }));

  it("reads the stage's queues from the stack outputs file", async () => {
    // GIVEN the outputs file of the running WAL and a message on its DLQ
    await emptyQueue(queues.deadLetter.url);
    await sendToDlq('{"probe":"outputs"}');
    // WHEN "wal dlq list --json" runs with only the stage and the file
    const printed: string[] = [];
    const code = await runDlqCommand(
      'list',
      { stage: 'it', outputsFile, json: true },
      { print: (line) => printed.push(line), progress: { write: () => true }, now: () => Date.now() },
    );
    // THEN it lists the DLQ the DeadLetterQueueUrl output names
    expect(code).toBe(0);
    expect(JSON.parse(printed.join('\n'))).toMatchObject({ count: 1 });
    await emptyQueue(queues.deadLetter.url);
  });

  it('peeks without consuming: the messages stay on the DLQ, visible again', async () => {
    // GIVEN a DLQ with a non-WAL message, a poison record and a stream batch whose re-read kept failing
    await sendToDlq('{"probe":"not a WAL message"}');
    await sendToDlq(
      JSON.stringify({
        KinesisBatchInfo: {
          shardId: 'shardId-000000000001',
          startSequenceNumber: '100',
          endSequenceNumber: '200',
          streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
        },
      }),
    );
    await sendToDlq(
      JSON.stringify({
        kind: 'poison',
        reason: 'the data is not JSON',
        data: Buffer.from('{broken').toString('base64'),
        source: 'stream shardId-000000000000',
      }),
    );
    const before = await listDeadLetters(wal.clients.sqs, queues.deadLetter.url);
    // WHEN an operator peeks, through the CLI command
    const printed: string[] = [];
    const code = await runDlqCommand(
      'peek',
      { stage: 'it', outputsFile, sqsEndpoint: endpoint, count: '10' },
      { print: (line) => printed.push(line), progress: { write: () => true }, now: () => Date.now() },
    );
    // THEN each is shown for what it is, and all are still there and visible
    expect(code).toBe(0);
    const text = printed.join('\n');
    expect(text).toContain('unrecognized message');
    expect(text).toContain('{"probe":"not a WAL message"}');
    expect(text).toContain('the data is not JSON');
    expect(text).toContain('{broken');
    expect(text).toContain('stream-failure message');
    expect(text).toContain('stream batch shardId-000000000001 100..200');
    // with the one command that re-delivers the batch's range
    expect(text).toContain(
      're-deliver its range with: wal replay --all-namespaces --shard shardId-000000000001 --from-sequence 100 --to-sequence 200',
    );
    expect(before).toMatchObject({ count: 3, sampled: 3, partial: false });
    expect(before.reasons).toEqual(
      expect.arrayContaining([
        { reason: UNRECOGNIZED_REASON, count: 1 },
        { reason: 'the data is not JSON', count: 1 },
        { reason: expect.stringMatching(/^no reason: moved by .* redrive policy/), count: 1 },
      ]),
    );
    expect(await queueDepth(wal.clients.sqs, queues.deadLetter.url)).toEqual({ visible: 3, inFlight: 0 });
    expect((await listDeadLetters(wal.clients.sqs, queues.deadLetter.url)).count).toBe(before.count);
    await emptyQueue(queues.deadLetter.url);
  });

  it('fails if a redrive is already running, and says how to cancel it', async () => {
    // GIVEN a move task that is still running (one message per second)
    for (let n = 0; n < 3; n++) await sendToDlq(`{"probe":${n}}`);
    const running = await wal.clients.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: queues.deadLetter.arn,
        DestinationArn: queues.retry.arn,
        MaxNumberOfMessagesPerSecond: 1,
      }),
    );
    try {
      // WHEN another redrive starts
      const attempt = redriveDeadLetters(wal.clients.sqs, queues);
      // THEN it is refused with the running task's handle and the way to cancel it
      await expect(attempt).rejects.toThrow(RedriveAlreadyRunningError);
      await expect(attempt).rejects.toThrow(`cancel-message-move-task --task-handle ${running.TaskHandle}`);
    } finally {
      await wal.clients.sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle: running.TaskHandle }));
      const tasks = () =>
        wal.clients.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: queues.deadLetter.arn }));
      for (let n = 0; n < 30 && (await tasks()).Results?.[0]?.Status !== 'CANCELLED'; n++) await sleep(100);
      await emptyQueue(queues.deadLetter.url);
      await emptyQueue(queues.retry.url);
    }
  });

  it('forces N mutations into the DLQ (target down), brings the target back, redrives, and finds all N applied exactly once', async () => {
    const N = 5;
    const sqs = wal.clients.sqs;
    // GIVEN the orders target is down: its table is gone
    const table = await targetTableName(wal, 'it', 'orders', 'main');
    const described = (await wal.clients.dynamodb.send(new DescribeTableCommand({ TableName: table }))).Table;
    const keySchema: KeySchemaElement[] = described?.KeySchema ?? [];
    const attributeDefinitions = described?.AttributeDefinitions ?? [];
    await wal.clients.dynamodb.send(new DeleteTableCommand({ TableName: table }));
    // AND N acknowledged mutations, each to its own key
    const ids = new Map<string, string>();
    for (let n = 0; n < N; n++) {
      const answer = await postMutation(wal, 'orders', { payload: { id: `dlq-${n}`, n } });
      expect(answer).toMatchObject({ status: 200, body: { durable: 'SUCCESS' } });
      ids.set(`dlq-${n}`, String(answer.body.id));
    }

    // WHEN every attempt fails (1 + 2 retries) and the consumer gives up
    await driveUntil(
      async () => (await queueDepth(sqs, queues.deadLetter.url)).visible >= N,
      `${N} messages on the DLQ`,
    );
    // THEN list and peek say what failed, where and how often
    const summary = await listDeadLetters(sqs, queues.deadLetter.url);
    expect(summary).toMatchObject({
      count: N,
      sampled: N,
      partial: false,
      reasons: [{ reason: 'failed 3 of 3 attempts', count: N }],
    });
    expect(summary.oldestSentAt).toBeLessThanOrEqual(Date.now());
    const peek = await peekDeadLetters(sqs, queues.deadLetter.url, 10);
    expect(peek.messages.map((letter) => letter.id).sort()).toEqual([...ids.values()].sort());
    for (const letter of peek.messages) {
      expect(letter).toMatchObject({
        kind: 'retry',
        namespace: 'orders',
        target: 'main',
        attempts: 3,
        reason: 'failed 3 of 3 attempts',
        lastError: expect.stringMatching(/ResourceNotFoundException/),
      });
    }
    expect(await queueDepth(sqs, queues.deadLetter.url)).toEqual({ visible: N, inFlight: 0 });

    // WHEN the target is back and the DLQ is redriven to the retry queue
    await wal.clients.dynamodb.send(
      new CreateTableCommand({
        TableName: table,
        KeySchema: keySchema,
        AttributeDefinitions: attributeDefinitions,
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const progress: RedriveProgress[] = [];
    const result = await redriveDeadLetters(sqs, queues, {
      pollIntervalMs: 250,
      onProgress: (update) => progress.push(update),
    });
    await driveUntil(async () => (await scanTable(wal, table)).length >= N, `${N} items in the table`);
    await drain(wal);

    // THEN the task moved all N, each mutation is applied once, and the DLQ is empty
    expect(result).toMatchObject({ status: 'COMPLETED', moved: N, toMove: N });
    expect(progress.at(-1)).toEqual({ status: 'COMPLETED', moved: N, toMove: N });
    const items = await scanTable(wal, table);
    expect(items).toHaveLength(N);
    for (const [key, id] of ids) {
      expect(items.find((item) => item.id === key)).toMatchObject({ id: key, _walId: id });
    }
    expect(await queueDepth(sqs, queues.deadLetter.url)).toEqual({ visible: 0, inFlight: 0 });
    expect(await queueDepth(sqs, queues.retry.url)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('fails if the outputs file has no stack for the stage, saying which stacks it has', async () => {
    // GIVEN an outputs file with the stack of stage "it" and another one
    const twoStacks = join(mkdtempSync(join(scratch, 'outputs-')), 'outputs.json');
    writeStackOutputs(twoStacks, 'ServerlessWal-it', wal.outputs);
    writeStackOutputs(twoStacks, 'ServerlessWal-other', wal.outputs);
    // WHEN "wal dlq list" runs for stage "nope"
    const attempt = runDlqCommand(
      'list',
      { stage: 'nope', outputsFile: twoStacks },
      { print: () => undefined, progress: { write: () => true }, now: () => Date.now() },
    );
    // THEN it fails naming the stack it looked for and the ones there are
    await expect(attempt).rejects.toThrow(OutputsFileError);
    await expect(attempt).rejects.toThrow(
      /no stack ServerlessWal-nope \(stacks: ServerlessWal-it, ServerlessWal-other\)/,
    );
  });

  it('fails if there is no outputs file, saying where it comes from', async () => {
    // GIVEN no outputs file (no local WAL ever ran with this data dir)
    const missing = join(tmpdir(), 'wal-no-such-dir', 'outputs.json');
    // WHEN "wal dlq list" runs
    const attempt = runDlqCommand(
      'list',
      { stage: 'it', outputsFile: missing },
      { print: () => undefined, progress: { write: () => true }, now: () => Date.now() },
    );
    // THEN it fails pointing at "npm start", cdk's --outputs-file and the URL flags
    await expect(attempt).rejects.toThrow(/cannot be read.*npm start.*--outputs-file.*--dlq-url/);
  });
});

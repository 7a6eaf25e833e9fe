import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { bucketOf, type WaitingItem, waitingItem } from '#lambdas/shared/waiting-room';
import {
  type PollLimits,
  pollWaitingRoom,
  WaitingRoomSendError,
} from '#lambdas/waiting-room-poller/poll-waiting-room';
import { loggedMutation, silentLogger } from '#test/support/fixtures';

const documentMock = mockClient(DynamoDBDocumentClient);
const sqsMock = mockClient(SQSClient);
/** A minute boundary, so bucket arithmetic in the tests is plain. */
const START = 28_333_333 * 60_000;
const LIMITS: PollLimits = { budgetMs: 30_000, maxBuckets: 30 };

type Row = Record<string, unknown>;

/** An in-memory waiting room table behind the document client mock: Get, conditional Put, paged Query, Scan. */
class FakeTable {
  readonly rows = new Map<string, Row>();

  constructor() {
    documentMock.on(GetCommand).callsFake((input) => ({ Item: this.rows.get(rowKey(input.Key)) }));
    documentMock.on(PutCommand).callsFake((input) => {
      const existing = this.rows.get(rowKey(input.Item));
      const values = input.ExpressionAttributeValues ?? {};
      const expected = input.ConditionExpression?.startsWith('version')
        ? existing?.version === values[':version']
        : input.ConditionExpression === undefined || existing === undefined;
      if (!expected) throw new ConditionalCheckFailedException({ message: 'condition', $metadata: {} });
      this.rows.set(rowKey(input.Item), input.Item);
      return {};
    });
    documentMock.on(QueryCommand).callsFake((input) => {
      const pk = input.ExpressionAttributeValues?.[':pk'];
      const after = input.ExclusiveStartKey?.sk as string | undefined;
      const matching = [...this.rows.values()]
        .filter((row) => row.pk === pk && (after === undefined || String(row.sk) > after))
        .sort((a, b) => String(a.sk).localeCompare(String(b.sk)));
      const page = matching.slice(0, input.Limit ?? matching.length);
      const last = page.at(-1);
      // As DynamoDB: a page cut by Limit has a LastEvaluatedKey.
      const more = page.length === input.Limit && last !== undefined;
      return { Items: page, ...(more ? { LastEvaluatedKey: { pk, sk: last.sk } } : {}) };
    });
    documentMock
      .on(ScanCommand)
      .callsFake(() => ({ Items: [...this.rows.values()].map((row) => ({ pk: row.pk })) }));
  }

  add(item: WaitingItem): void {
    this.rows.set(rowKey(item), { ...item });
  }

  checkpoint(): Row | undefined {
    return this.rows.get(rowKey({ pk: 'checkpoint', sk: 'checkpoint' }));
  }
}

function rowKey(key: { readonly pk?: unknown; readonly sk?: unknown } | undefined): string {
  return `${String(key?.pk)}|${String(key?.sk)}`;
}

/** What the poller sent, with when it sent it (the injected clock). */
interface Sent {
  readonly queueUrl: string | undefined;
  readonly body: string | undefined;
  readonly delaySeconds: number;
  readonly at: number;
}

function recordSends(clock: { now: number }): Sent[] {
  const sent: Sent[] = [];
  sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => {
    for (const entry of input.Entries ?? []) {
      sent.push({
        queueUrl: input.QueueUrl,
        body: entry.MessageBody,
        delaySeconds: entry.DelaySeconds ?? 0,
        at: clock.now,
      });
    }
    return { Successful: [], Failed: [] };
  });
  return sent;
}

function poller(clock: { now: number }) {
  return {
    waitingRoom: {
      documentClient: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
      tableName: 'waiting-room',
    },
    sqs: new SQSClient({ region: 'us-east-1' }),
    fallbackQueueUrl: 'delay-url',
    deadLetterQueueUrl: 'dlq-url',
    logger: silentLogger,
    now: () => clock.now,
  };
}

/** A deterministic pseudo-random sequence in [0, 1). */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

beforeEach(() => {
  documentMock.reset();
  sqsMock.reset();
});

describe('pollWaitingRoom', () => {
  it('sends what is due within 10 minutes with the rest of its wait as its delay, and nothing later', async () => {
    // GIVEN items due in 30 s, 5 min and 12 min, and a checkpoint at the current minute
    const table = new FakeTable();
    table.add(waitingItem('delay-url', 'in-30s', START + 30_000));
    table.add(waitingItem('delay-url', 'in-5min', START + 300_000));
    table.add(waitingItem('delay-url', 'in-12min', START + 720_000));
    table.rows.set('checkpoint|checkpoint', {
      pk: 'checkpoint',
      sk: 'checkpoint',
      bucket: bucketOf(START),
      shard: 0,
      version: 1,
    });
    const clock = { now: START };
    const sent = recordSends(clock);
    // WHEN the poller runs
    const result = await pollWaitingRoom(poller(clock), LIMITS);
    // THEN the first two go to their queue, delayed by what is left of their wait; the checkpoint stops at +10 min
    expect(sent.map(({ body, delaySeconds }) => ({ body, delaySeconds }))).toEqual([
      { body: 'in-30s', delaySeconds: 30 },
      { body: 'in-5min', delaySeconds: 300 },
    ]);
    expect(result).toMatchObject({
      sent: 2,
      behind: false,
      position: { bucket: bucketOf(START) + 10, shard: 0 },
    });
    expect(table.checkpoint()).toMatchObject({ bucket: bucketOf(START) + 10 });
  });

  it('sends each item once over many runs, each one whose minute is due within the lookahead', async () => {
    // GIVEN 40 items due over the next 2 hours, and no checkpoint (a new table)
    const table = new FakeTable();
    const random = seeded(7);
    for (let index = 0; index < 40; index++) {
      table.add(waitingItem('delay-url', `m${index}`, START + 900_001 + Math.floor(random() * 6_300_000)));
    }
    const clock = { now: START };
    const sent = recordSends(clock);
    // WHEN the poller runs every minute for 2 hours
    for (let run = 0; run <= 120; run++) {
      clock.now = START + run * 60_000;
      await pollWaitingRoom(poller(clock), LIMITS);
    }
    // THEN every item was sent exactly once
    expect(sent.map((message) => message.body).sort()).toEqual(
      Array.from({ length: 40 }, (_, index) => `m${index}`).sort(),
    );
  });

  it('delivers every item within 1 s after it is due when it runs every minute, each run up to 59 s late', async () => {
    // GIVEN 300 items due at random times over 3 hours
    const table = new FakeTable();
    const random = seeded(42);
    const due = new Map<string, number>();
    for (let index = 0; index < 300; index++) {
      const dueAt = START + 900_001 + Math.floor(random() * 10_800_000);
      due.set(`m${index}`, dueAt);
      table.add(waitingItem('delay-url', `m${index}`, dueAt));
    }
    const clock = { now: START };
    const sent = recordSends(clock);
    // WHEN EventBridge runs the poller once a minute, each run late by up to 59 s
    for (let minute = 0; minute <= 200; minute++) {
      clock.now = START + minute * 60_000 + Math.floor(random() * 59_000);
      await pollWaitingRoom(poller(clock), LIMITS);
    }
    // THEN each message becomes visible on SQS at most 1 s (whole-second delays) after it is due, never before,
    // and no delay exceeds the lookahead (well under SQS's 900 s)
    const lateness = sent.map(
      ({ body, at, delaySeconds }) => at + delaySeconds * 1000 - (due.get(String(body)) ?? 0),
    );
    expect(sent).toHaveLength(300);
    expect(Math.min(...lateness)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...lateness)).toBeLessThan(1_000);
    expect(Math.max(...sent.map((message) => message.delaySeconds))).toBeLessThanOrEqual(600);
  });

  it('catches up after 90 minutes down in steps of at most 30 minutes of buckets per run', async () => {
    // GIVEN one item due each minute of the last 90 minutes, and a checkpoint 90 minutes old
    const table = new FakeTable();
    for (let minute = 1; minute <= 90; minute++)
      table.add(waitingItem('delay-url', `m${minute}`, START - minute * 60_000));
    table.rows.set('checkpoint|checkpoint', {
      pk: 'checkpoint',
      sk: 'checkpoint',
      bucket: bucketOf(START) - 90,
      shard: 0,
      version: 5,
    });
    const clock = { now: START };
    const sent = recordSends(clock);
    // WHEN the poller comes back and runs four times (100 buckets: 90 overdue, 10 of lookahead)
    const first = await pollWaitingRoom(poller(clock), LIMITS);
    const sentByFirst = sent.length;
    await pollWaitingRoom(poller(clock), LIMITS);
    await pollWaitingRoom(poller(clock), LIMITS);
    const fourth = await pollWaitingRoom(poller(clock), LIMITS);
    // THEN the first run sends only the oldest 30 minutes (overdue: no delay) and says it is behind; the fourth is
    // caught up, with every item sent once
    expect(first).toMatchObject({ sent: 30, behind: true });
    expect(sentByFirst).toBe(30);
    expect(sent.slice(0, 30).every((message) => message.delaySeconds === 0)).toBe(true);
    expect(fourth.behind).toBe(false);
    expect(sent).toHaveLength(90);
    expect(new Set(sent.map((message) => message.body)).size).toBe(90);
  });

  it('still finds an item whose write landed 4 minutes after the consumer decided to wait (within the slack)', async () => {
    // GIVEN a poller that runs every minute, and a consumer that decides at START to wait 900.001 s
    const table = new FakeTable();
    const clock = { now: START };
    const sent = recordSends(clock);
    const dueAt = START + 900_001;
    for (let minute = 0; minute <= 4; minute++) {
      clock.now = START + minute * 60_000 + 59_000;
      await pollWaitingRoom(poller(clock), LIMITS);
    }
    // WHEN its PutItem lands only now, and the poller goes on running
    table.add(waitingItem('delay-url', 'slow-write', dueAt));
    for (let minute = 5; minute <= 16; minute++) {
      clock.now = START + minute * 60_000;
      await pollWaitingRoom(poller(clock), LIMITS);
    }
    // THEN the item is sent, on time
    expect(sent).toEqual([expect.objectContaining({ body: 'slow-write' })]);
    const [message] = sent;
    expect((message?.at ?? 0) + (message?.delaySeconds ?? 0) * 1000).toBeGreaterThanOrEqual(dueAt);
  });

  it('fails if SQS keeps failing a message for now: the checkpoint stays, and the next run sends it again', async () => {
    // GIVEN an item due in a minute, and SQS failing one entry of the batch for now (not the sender's fault)
    const table = new FakeTable();
    table.add(waitingItem('delay-url', 'due', START + 60_000));
    table.rows.set('checkpoint|checkpoint', {
      pk: 'checkpoint',
      sk: 'checkpoint',
      bucket: bucketOf(START),
      shard: 0,
      version: 1,
    });
    sqsMock
      .on(SendMessageBatchCommand)
      .resolves({ Successful: [], Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }] });
    const clock = { now: START };
    // WHEN the poller runs
    const run = pollWaitingRoom(poller(clock), LIMITS);
    // THEN it fails after a few tries within the run, nothing went to the DLQ, and the checkpoint has not moved
    await expect(run).rejects.toThrow(WaitingRoomSendError);
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(4);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(table.checkpoint()).toMatchObject({ bucket: bucketOf(START), version: 1 });
    // WHEN SQS is back and the poller runs again
    const sent = recordSends(clock);
    await pollWaitingRoom(poller(clock), LIMITS);
    // THEN the item is sent
    expect(sent.map((message) => message.body)).toEqual(['due']);
  });

  it('stops without moving the checkpoint back when another run moved it first', async () => {
    // GIVEN an item due soon and a checkpoint another run updates while this one sends
    const table = new FakeTable();
    table.add(waitingItem('delay-url', 'due', START + 60_000));
    table.rows.set('checkpoint|checkpoint', {
      pk: 'checkpoint',
      sk: 'checkpoint',
      bucket: bucketOf(START),
      shard: 0,
      version: 1,
    });
    sqsMock.on(SendMessageBatchCommand).callsFake(() => {
      table.rows.set('checkpoint|checkpoint', {
        pk: 'checkpoint',
        sk: 'checkpoint',
        bucket: bucketOf(START) + 10,
        shard: 0,
        version: 2,
      });
      return { Successful: [], Failed: [] };
    });
    // WHEN this run tries to save its progress
    const result = await pollWaitingRoom(poller({ now: START }), LIMITS);
    // THEN it stops, and the other run's checkpoint stands
    expect(result.behind).toBe(true);
    expect(table.checkpoint()).toMatchObject({ bucket: bucketOf(START) + 10, version: 2 });
  });

  it('starts from the earliest bucket that holds an item when there is no checkpoint', async () => {
    // GIVEN an item due an hour ago (written before the poller ever ran) and no checkpoint
    const table = new FakeTable();
    table.add(waitingItem('delay-url', 'old', START - 3_600_000));
    const clock = { now: START };
    const sent = recordSends(clock);
    // WHEN the poller runs for the first time
    await pollWaitingRoom(poller(clock), { budgetMs: 30_000, maxBuckets: 100 });
    // THEN the old item is sent at once
    expect(sent).toEqual([expect.objectContaining({ body: 'old', delaySeconds: 0 })]);
  });

  it('sends ten messages per call, and at most 1 MiB of them', async () => {
    // GIVEN 25 small and 5 large (300 KB) items due in the same minute
    const table = new FakeTable();
    for (let index = 0; index < 25; index++)
      table.add(waitingItem('small-url', `s${index}`, START + 60_000 + index));
    for (let index = 0; index < 5; index++) {
      table.add(waitingItem('large-url', `${index}${'x'.repeat(300_000)}`, START + 60_000 + index));
    }
    table.rows.set('checkpoint|checkpoint', {
      pk: 'checkpoint',
      sk: 'checkpoint',
      bucket: bucketOf(START),
      shard: 0,
      version: 1,
    });
    recordSends({ now: START });
    // WHEN the poller runs
    await pollWaitingRoom(poller({ now: START }), LIMITS);
    // THEN no call has more than 10 entries or more than 1 MiB of bodies, and all 30 are sent
    const calls = sqsMock
      .commandCalls(SendMessageBatchCommand)
      .map((call) => call.args[0].input.Entries ?? []);
    expect(calls.flat()).toHaveLength(30);
    for (const entries of calls) {
      expect(entries.length).toBeLessThanOrEqual(10);
      expect(
        entries.reduce((sum, entry) => sum + Buffer.byteLength(entry.MessageBody ?? ''), 0),
      ).toBeLessThanOrEqual(1_048_576);
    }
  });

  it('sends to the shared delay queue when an isolated queue no longer exists', async () => {
    // GIVEN an item bound for a queue that was deleted
    const table = new FakeTable();
    table.add(waitingItem('gone-url', 'orphan', START + 60_000));
    table.rows.set('checkpoint|checkpoint', {
      pk: 'checkpoint',
      sk: 'checkpoint',
      bucket: bucketOf(START),
      shard: 0,
      version: 1,
    });
    const clock = { now: START };
    const sent = recordSends(clock);
    sqsMock
      .on(SendMessageBatchCommand, { QueueUrl: 'gone-url' })
      .rejects(
        Object.assign(new Error('The specified queue does not exist.'), { name: 'QueueDoesNotExist' }),
      );
    // WHEN the poller runs
    await pollWaitingRoom(poller(clock), LIMITS);
    // THEN the message goes to the shared delay queue, whose consumer delivers any namespace's messages
    expect(sent).toEqual([expect.objectContaining({ queueUrl: 'delay-url', body: 'orphan' })]);
  });

  it('sends again within the run only the entries SQS failed for now, and goes on', async () => {
    // GIVEN three items due in a minute, and SQS failing the second for now, once
    const table = new FakeTable();
    for (const body of ['a', 'b', 'c']) table.add(waitingItem('delay-url', body, START + 60_000));
    table.rows.set('checkpoint|checkpoint', { ...CHECKPOINT, version: 1 });
    const calls: string[][] = [];
    let failedOnce = false;
    sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => {
      const entries = input.Entries ?? [];
      calls.push(entries.map((entry) => String(entry.MessageBody)));
      const failing = failedOnce ? [] : entries.filter((entry) => entry.MessageBody === 'b');
      failedOnce ||= failing.length > 0;
      return {
        Successful: [],
        Failed: failing.map((entry) => ({ Id: entry.Id, Code: 'ServiceUnavailable', SenderFault: false })),
      };
    });
    // WHEN the poller runs
    const result = await pollWaitingRoom(poller({ now: START }), LIMITS);
    // THEN only the failed entry is sent again (the items may sit in different shards, hence calls), and the
    // checkpoint moves on
    expect(calls.flat().sort()).toEqual(['a', 'b', 'b', 'c']);
    expect(calls.filter((bodies) => bodies.includes('b')).at(-1)).toEqual(['b']);
    expect(result.sent).toBe(3);
    expect(table.checkpoint()).toMatchObject({ bucket: bucketOf(START) + 10 });
  });

  it('dead-letters an entry SQS refuses for good, says why, and moves the checkpoint on', async () => {
    // GIVEN two deliveries due in a minute on an isolated queue, the first one's body holding U+FFFF, and SQS
    // refusing that entry as the sender's fault
    const table = new FakeTable();
    const good = deliverBody('good');
    const bad = deliverBody('bad \uFFFF');
    table.add(waitingItem('isolated-url', good, START + 60_000));
    table.add(waitingItem('isolated-url', bad, START + 60_000));
    table.rows.set('checkpoint|checkpoint', { ...CHECKPOINT, version: 1 });
    sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
      Successful: [],
      Failed: (input.Entries ?? [])
        .filter((entry) => entry.MessageBody === bad)
        .map((entry) => ({
          Id: entry.Id,
          Code: 'InvalidMessageContents',
          Message: 'Invalid characters found',
          SenderFault: true,
        })),
    }));
    const deadLettered = recordDeadLetters();
    // WHEN the poller runs
    const result = await pollWaitingRoom(poller({ now: START }), LIMITS);
    // THEN the refused one is on the DLQ whole (base64: SQS would refuse its text again), with what SQS said
    // and which queue; it was not sent again; the checkpoint moved on
    expect(deadLettered).toEqual([
      {
        kind: 'poison',
        reason: expect.stringMatching(/isolated-url.*InvalidMessageContents: Invalid characters found/),
        data: Buffer.from(bad).toString('base64'),
        source: expect.stringContaining('waiting room item'),
        namespace: 'orders',
        id: '01JTESTMUTATION0000000000A',
      },
    ]);
    const sentBodies = sqsMock
      .commandCalls(SendMessageBatchCommand)
      .flatMap((call) => (call.args[0].input.Entries ?? []).map((entry) => entry.MessageBody));
    expect(sentBodies.sort()).toEqual([bad, good].sort());
    expect(result.sent).toBe(2);
    expect(table.checkpoint()).toMatchObject({ bucket: bucketOf(START) + 10 });
  });

  it("dead-letters the batch of a queue whose KMS key is disabled as retries a redrive delivers, and sends the others'", async () => {
    // GIVEN a delivery due on an isolated queue whose key is disabled, and one due on the shared delay queue
    const table = new FakeTable();
    const isolated = deliverBody('isolated');
    table.add(waitingItem('isolated-url', isolated, START + 60_000));
    table.add(waitingItem('delay-url', 'shared', START + 60_000));
    table.rows.set('checkpoint|checkpoint', { ...CHECKPOINT, version: 1 });
    const sent = recordSends({ now: START });
    sqsMock
      .on(SendMessageBatchCommand, { QueueUrl: 'isolated-url' })
      .rejects(Object.assign(new Error('The key is disabled.'), { name: 'KmsDisabled' }));
    const deadLettered = recordDeadLetters();
    // WHEN the poller runs
    await pollWaitingRoom(poller({ now: START }), LIMITS);
    // THEN the isolated one is on the DLQ as a retry of its target (a redrive delivers it once the key is back),
    // the shared one is sent, and the checkpoint moved on
    expect(deadLettered).toEqual([
      expect.objectContaining({
        kind: 'retry',
        target: 'main',
        attempt: 1,
        notBefore: START + 60_000,
        reason: expect.stringMatching(/isolated-url.*KmsDisabled: The key is disabled/),
      }),
    ]);
    expect(sent.map((message) => message.body)).toEqual(['shared']);
    expect(table.checkpoint()).toMatchObject({ bucket: bucketOf(START) + 10 });
  });

  it('finds the one body SQS refuses when it fails the whole call, and sends the rest', async () => {
    // GIVEN three items, and SQS refusing any call that carries the U+FFFF one (as a call-level error)
    const table = new FakeTable();
    for (const body of ['a', 'b \uFFFF', 'c']) table.add(waitingItem('delay-url', body, START + 60_000));
    table.rows.set('checkpoint|checkpoint', { ...CHECKPOINT, version: 1 });
    const sent: string[] = [];
    sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => {
      const bodies = (input.Entries ?? []).map((entry) => String(entry.MessageBody));
      if (bodies.some((body) => body.includes('\uFFFF'))) {
        throw Object.assign(new Error('Invalid characters found'), { name: 'InvalidMessageContents' });
      }
      sent.push(...bodies);
      return { Successful: [], Failed: [] };
    });
    const deadLettered = recordDeadLetters();
    // WHEN the poller runs
    await pollWaitingRoom(poller({ now: START }), LIMITS);
    // THEN the two others are sent, the refused one is on the DLQ, and the checkpoint moved on
    expect(sent.sort()).toEqual(['a', 'c']);
    expect(deadLettered).toEqual([
      expect.objectContaining({ kind: 'poison', data: Buffer.from('b \uFFFF').toString('base64') }),
    ]);
    expect(table.checkpoint()).toMatchObject({ bucket: bucketOf(START) + 10 });
  });

  it('fails if the DLQ cannot take a refused entry: the checkpoint stays', async () => {
    // GIVEN an entry SQS refuses for good, and a DLQ that cannot be reached
    const table = new FakeTable();
    table.add(waitingItem('delay-url', 'refused', START + 60_000));
    table.rows.set('checkpoint|checkpoint', { ...CHECKPOINT, version: 1 });
    sqsMock.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: '0', Code: 'InvalidParameterValue', SenderFault: true }],
    });
    sqsMock.on(SendMessageCommand).rejects(new Error('DLQ unreachable'));
    // WHEN the poller runs
    const run = pollWaitingRoom(poller({ now: START }), LIMITS);
    // THEN it fails, and the checkpoint has not moved: the item is not dropped
    await expect(run).rejects.toThrow('DLQ unreachable');
    expect(table.checkpoint()).toMatchObject({ bucket: bucketOf(START), version: 1 });
  });
});

const CHECKPOINT = { pk: 'checkpoint', sk: 'checkpoint', bucket: bucketOf(START), shard: 0 };

/** A delay queue message for target `main`, as the consumers write it, with `text` in its payload. */
function deliverBody(text: string): string {
  return JSON.stringify({
    kind: 'deliver',
    mutation: loggedMutation({ payload: { id: 'a1', text } }),
    target: 'main',
    notBefore: START + 60_000,
  });
}

/** The messages put on the DLQ ('dlq-url'), parsed. */
function recordDeadLetters(): unknown[] {
  const messages: unknown[] = [];
  sqsMock.on(SendMessageCommand, { QueueUrl: 'dlq-url' }).callsFake((input) => {
    messages.push(JSON.parse(String(input.MessageBody)));
    return {};
  });
  return messages;
}

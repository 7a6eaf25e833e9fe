import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  InvalidArgumentException,
  KinesisClient,
  ProvisionedThroughputExceededException,
  ResourceNotFoundException,
} from '@aws-sdk/client-kinesis';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { Envelope, LoggedMutation } from '#lambdas/shared/envelope';
import { type NamespaceConfig, parseNamespaceConfig } from '#lambdas/shared/namespace-config';
import { UnknownNamespaceError } from '#lambdas/shared/namespace-store';
import {
  defaultCheckpointFile,
  deliverMessagesOf,
  identityOf,
  parseReplayArgs,
  partialItemsWarning,
  ReplayCheckpointMismatchError,
  ReplayCheckpointUnreadableError,
  ReplayInvalidStartError,
  ReplaySendError,
  ReplayShardNotFoundError,
  readCheckpoint,
  replayWindow,
  selectPage,
  writeCheckpoint,
} from '#src/cli/commands/replay';
import { PAGE_LIMIT, readShard } from '#src/cli/commands/replay/read-stream';
import { Pacer, sendGroup, sendGroups } from '#src/cli/commands/replay/send';
import { UsageError } from '#src/cli/usage-error';

const NOW = Date.parse('2026-11-27T02:00:00Z');
const [ID_1, ID_2, ID_3] = [
  '01KB0000000000000000000001',
  '01KB0000000000000000000002',
  '01KB0000000000000000000003',
];
const WINDOW = ['--from', '2026-11-27T01:00:00Z', '--to', '2026-11-27T01:30:00Z'];

function parse(...args: string[]) {
  return parseReplayArgs(args, NOW);
}

describe('wal replay arguments', () => {
  it('parses a time window with skips, a target, a rate and where the stack is', () => {
    // WHEN a full command line is parsed
    const options = parse(
      'orders',
      ...WINDOW,
      '--skip',
      `${ID_1},${ID_2.toLowerCase()}`,
      '--skip',
      ID_3,
      '--target',
      'main',
      '--rate',
      '50',
      '--stage',
      'prod',
      '--outputs-file',
      'out.json',
    );
    // THEN each flag lands in the plan or the options
    expect(options).toEqual({
      plan: {
        namespace: 'orders',
        window: {
          kind: 'time',
          from: Date.parse('2026-11-27T01:00:00Z'),
          to: Date.parse('2026-11-27T01:30:00Z'),
        },
        skip: new Set([ID_1, ID_2, ID_3]),
        target: 'main',
        dryRun: false,
        rate: 50,
      },
      stage: 'prod',
      outputsFile: 'out.json',
    });
  });

  it('parses a shard range for every namespace, and epoch milliseconds as times', () => {
    // WHEN a stream-failure DLQ message's command and an epoch-ms window are parsed
    const shard = parse(
      '--all-namespaces',
      '--shard',
      'shardId-000000000001',
      '--from-sequence',
      '1',
      '--to-sequence',
      '9',
    );
    const epoch = parse('orders', '--from', String(NOW - 60_000), '--to', String(NOW), '--dry-run');
    // THEN the first is a shard window without namespace, the second a time window
    expect(shard.plan).toMatchObject({
      window: { kind: 'shard', shardId: 'shardId-000000000001', fromSequence: '1', toSequence: '9' },
    });
    expect(shard.plan.namespace).toBeUndefined();
    expect(epoch.plan).toMatchObject({ window: { kind: 'time', from: NOW - 60_000, to: NOW }, dryRun: true });
  });

  it.each([
    ['no namespace', [...WINDOW], /usage: wal replay/],
    ['both a namespace and --all-namespaces', ['orders', '--all-namespaces', ...WINDOW], /not both/],
    ['two namespaces', ['orders', 'carts', ...WINDOW], /one namespace/],
    ['no window', ['orders'], /needs its window/],
    ['--to is missing', ['orders', '--from', '2026-11-27T01:00:00Z'], /needs its window/],
    [
      'a time has no zone',
      ['orders', '--from', '2026-11-27T01:00:00', '--to', '2026-11-27T01:30:00Z'],
      /zone/,
    ],
    ['a time is not a time', ['orders', '--from', 'yesterday', '--to', '2026-11-27T01:30:00Z'], /ISO 8601/],
    [
      '--from is not before --to',
      ['orders', '--from', '2026-11-27T01:30:00Z', '--to', '2026-11-27T01:00:00Z'],
      /before/,
    ],
    [
      '--from is in the future',
      ['orders', '--from', '2026-11-27T03:00:00Z', '--to', '2026-11-27T04:00:00Z'],
      /future/,
    ],
    [
      'both windows',
      ['orders', ...WINDOW, '--shard', 's', '--from-sequence', '1', '--to-sequence', '2'],
      /not both/,
    ],
    ['a shard range is partial', ['orders', '--shard', 's', '--from-sequence', '1'], /all three/],
    [
      'a sequence is not digits',
      ['orders', '--shard', 's', '--from-sequence', 'x', '--to-sequence', '2'],
      /decimal/,
    ],
    [
      'the sequences are reversed',
      ['orders', '--shard', 's', '--from-sequence', '9', '--to-sequence', '2'],
      /greater/,
    ],
    [
      'a --skip id is not a mutation id',
      ['orders', ...WINDOW, '--skip', `${ID_1},01KB00000000`],
      /"01KB00000000"/,
    ],
    ['--rate is not a whole number', ['orders', ...WINDOW, '--rate', '0.5'], /--rate/],
    ['--rate is 0', ['orders', ...WINDOW, '--rate', '0'], /--rate/],
    ['--skip has an empty id', ['orders', ...WINDOW, '--skip', 'a,,b'], /--skip/],
    ['--target comes without a namespace', ['--all-namespaces', ...WINDOW, '--target', 'main'], /--target/],
    [
      '--dry-run comes with --checkpoint',
      ['orders', ...WINDOW, '--dry-run', '--checkpoint', 'f'],
      /checkpoint/,
    ],
    [
      '--outputs-file comes with --data-dir',
      ['orders', ...WINDOW, '--outputs-file', 'f', '--data-dir', 'd'],
      /one/,
    ],
  ])('fails if %s', (_case, args, message) => {
    // GIVEN arguments with that mistake
    // WHEN they are parsed
    const parsing = () => parse(...args);
    // THEN a usage error says what is wrong
    expect(parsing).toThrow(UsageError);
    expect(parsing).toThrow(message);
  });
});

const CONFIG: NamespaceConfig = parseNamespaceConfig(
  {
    name: 'orders',
    targets: [
      { name: 'main', type: 'dynamodb', tableName: 'orders-main', key: { partitionKey: 'id' } },
      { name: 'copy', type: 'dynamodb', tableName: 'orders-copy', key: { partitionKey: 'id' } },
    ],
  },
  'test',
);

function mutation(changes: Partial<Envelope> = {}): LoggedMutation {
  return {
    sequence: '100',
    envelope: {
      v: 1,
      id: 'id-1',
      namespace: 'orders',
      idempotencyKey: 'key-1',
      partitionKey: 'a',
      op: 'put',
      payload: { id: 'a' },
      loggedAt: NOW - 1_000,
      ...changes,
    },
  };
}

describe('the deliver messages of a replayed mutation', () => {
  it('are one per target of the namespace, or of the envelope, and --target keeps one', () => {
    // GIVEN a mutation for every target, and one for "copy" only
    // WHEN their messages are built, with and without --target
    const every = deliverMessagesOf(mutation(), CONFIG, { now: NOW });
    const own = deliverMessagesOf(mutation({ targets: ['copy'] }), CONFIG, { now: NOW });
    const one = deliverMessagesOf(mutation(), CONFIG, { now: NOW, target: 'main' });
    const none = deliverMessagesOf(mutation({ targets: ['copy'] }), CONFIG, { now: NOW, target: 'main' });
    // THEN each target gets one deliver message, due now
    expect(every.map((message) => [message.target, message.notBefore])).toEqual([
      ['main', NOW],
      ['copy', NOW],
    ]);
    expect(own.map((message) => message.target)).toEqual(['copy']);
    expect(one.map((message) => message.target)).toEqual(['main']);
    expect(none).toEqual([]);
  });

  it('wait for a delayed mutation that is not due yet', () => {
    // GIVEN a mutation due in an hour
    const later = mutation({ deliverAt: NOW + 3_600_000 });
    // WHEN its messages are built
    const [message] = deliverMessagesOf(later, CONFIG, { now: NOW });
    // THEN they are not before its effective time
    expect(message?.notBefore).toBe(NOW + 3_600_000);
  });

  it('are one message for a multi-item mutation, --target marking the other targets items done', () => {
    // GIVEN a mutation with items for both targets
    const items = mutation({
      payload: undefined,
      items: [
        { target: 'main', op: 'put', payload: { id: 'a' } },
        { target: 'copy', op: 'put', payload: { id: 'a' } },
        { target: 'main', op: 'delete', payload: { id: 'b' } },
      ],
    });
    // WHEN its messages are built for every target, for "copy", and for a target it has no item for
    const every = deliverMessagesOf(items, CONFIG, { now: NOW });
    const copy = deliverMessagesOf(items, CONFIG, { now: NOW, target: 'copy' });
    const other = deliverMessagesOf(items, CONFIG, { now: NOW, target: 'audit' });
    // THEN one "*items" delivery each; with a target, the other items are marked done
    expect(every).toEqual([{ kind: 'deliver', mutation: items, target: '*items', notBefore: NOW }]);
    expect(copy).toEqual([
      { kind: 'deliver', mutation: items, target: '*items', notBefore: NOW, itemsDone: [0, 2] },
    ]);
    expect(other).toEqual([]);
  });
});

describe('the replay checkpoint', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'replay-checkpoint-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const plan = parse('orders', ...WINDOW, '--skip', `${ID_2},${ID_1}`).plan;
  const identity = identityOf(plan, 'stream');

  it('is named from the namespace and the window, and read back for the same replay', () => {
    // GIVEN a checkpoint written for a replay
    const file = join(dir, defaultCheckpointFile(identity));
    writeCheckpoint(file, {
      v: 1,
      replay: identity,
      shards: { s0: { after: '5' } },
      delivered: 3,
      updatedAt: 'x',
    });
    // WHEN it is read for the same replay (skips in another order)
    const again = identityOf(parse('orders', ...WINDOW, '--skip', ID_1, '--skip', ID_2).plan, 'stream');
    // THEN its shards and count come back
    expect(defaultCheckpointFile(identity)).toMatch(
      /^wal-replay-orders-20261127T010000Z-20261127T013000Z-[0-9a-f]{10}\.json$/,
    );
    expect(readCheckpoint(file, again)).toMatchObject({ shards: { s0: { after: '5' } }, delivered: 3 });
    expect(readCheckpoint(join(dir, 'none.json'), identity)).toBeUndefined();
  });

  it('fails if the checkpoint belongs to another replay, or is not one', () => {
    // GIVEN a checkpoint of this replay and a file that is no checkpoint
    const file = join(dir, 'c.json');
    writeCheckpoint(file, { v: 1, replay: identity, shards: {}, delivered: 0, updatedAt: 'x' });
    const junk = join(dir, 'junk.json');
    writeFileSync(junk, 'not json');
    // WHEN they are read for a replay with another target, and as checkpoints
    const other = identityOf(
      parse('orders', ...WINDOW, '--skip', `${ID_1},${ID_2}`, '--target', 'main').plan,
      'stream',
    );
    // THEN the mismatch names the field; the junk says it is unusable
    expect(() => readCheckpoint(file, other)).toThrow(ReplayCheckpointMismatchError);
    expect(() => readCheckpoint(file, other)).toThrow(/its target is null, this replay's "main"/);
    expect(() => readCheckpoint(junk, identity)).toThrow(ReplayCheckpointUnreadableError);
  });
});

describe('sending replayed mutations', () => {
  const sqs = mockClient(SQSClient);
  afterEach(() => sqs.reset());
  const replayed = (id: string, targets: string[], queueUrl = 'q1') => ({
    mutation: mutation({ id }),
    messages: deliverMessagesOf(mutation({ id, targets }), CONFIG, { now: NOW }),
    queueUrl,
  });

  it('groups whole mutations per queue within the message count', () => {
    // GIVEN mutations with 2, 2, 1 messages, the last for another queue
    const mutations = [
      replayed('1', ['main', 'copy']),
      replayed('2', ['main', 'copy']),
      replayed('3', ['main'], 'q2'),
    ];
    // WHEN they are grouped by at most 3 and 10 messages
    const byThree = sendGroups(mutations, 3).map((group) => group.map((entry) => entry.mutation.envelope.id));
    const byTen = sendGroups(mutations, 10).map((group) => group.map((entry) => entry.mutation.envelope.id));
    // THEN a group never splits a mutation nor mixes queues
    expect(byThree).toEqual([['1'], ['2'], ['3']]);
    expect(byTen).toEqual([['1', '2'], ['3']]);
  });

  it('fails if SQS keeps refusing a message, naming the queue and the resume', async () => {
    // GIVEN an SQS that refuses every entry for now
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false, Message: 'try later' }],
    });
    const sleeps: number[] = [];
    const sender = {
      sqs: new SQSClient({}),
      now: () => NOW,
      sleep: async (ms: number) => void sleeps.push(ms),
    };
    // WHEN a group is sent
    const sending = sendGroup(sender, [replayed('1', ['main'])]);
    // THEN it retried with waits, then failed saying what to do
    await expect(sending).rejects.toThrow(ReplaySendError);
    await expect(sendGroup(sender, [replayed('1', ['main'])])).rejects.toThrow(/run the same command again/);
    expect(sleeps.slice(0, 3)).toEqual([200, 1_000, 3_000]);
  });

  it('paces at the rate: each take waits for its mutations turn', async () => {
    // GIVEN a pacer at 4 mutations per second on a fake clock
    let now = 0;
    const waits: number[] = [];
    const pacer = new Pacer(
      4,
      () => now,
      async (ms) => {
        waits.push(ms);
        now += ms;
      },
    );
    // WHEN 2, 2 and 1 mutations are taken
    await pacer.take(2);
    await pacer.take(2);
    await pacer.take(1);
    // THEN the second waits half a second, the third another half
    expect(waits).toEqual([500, 500]);
  });
});

describe('reading a shard for a replay', () => {
  const kinesis = mockClient(KinesisClient);
  afterEach(() => kinesis.reset());
  const reader = (findsTimestamps: boolean) => ({
    kinesis: new KinesisClient({}),
    streamName: 'wal',
    now: () => NOW,
    sleep: async () => {},
    minReadIntervalMs: 0,
    findsTimestamps,
  });
  const record = (sequence: string, arrival = NOW - 60_000) => ({
    SequenceNumber: sequence,
    Data: new Uint8Array(),
    PartitionKey: 'k',
    ApproximateArrivalTimestamp: new Date(arrival),
  });
  const timeWindow = { kind: 'time', from: NOW - 120_000, to: NOW - 30_000 } as const;

  async function pages(generator: AsyncGenerator<{ records: readonly { SequenceNumber?: string }[] }>) {
    const read: string[][] = [];
    for await (const page of generator) read.push(page.records.map((entry) => entry.SequenceNumber ?? ''));
    return read;
  }

  it('starts AT_TIMESTAMP on Kinesis, renews an expired iterator after the last record, stops past the window', async () => {
    // GIVEN a shard whose second read finds the iterator expired, and whose last record is past the window
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it' });
    kinesis
      .on(GetRecordsCommand)
      .resolvesOnce({ Records: [record('1')], NextShardIterator: 'next', MillisBehindLatest: 5_000 })
      .rejectsOnce(new ExpiredIteratorException({ message: 'expired', $metadata: {} }))
      .resolvesOnce({
        Records: [record('2'), record('3', timeWindow.to + 61_000)],
        NextShardIterator: 'next',
        MillisBehindLatest: 0,
      });
    // WHEN it is read
    const read = await pages(readShard(reader(true), timeWindow, { shardId: 's0' }));
    // THEN the pages hold the window's records, and the iterators were at the time, then after record 1
    expect(read).toEqual([['1'], ['2']]);
    const iterators = kinesis.commandCalls(GetShardIteratorCommand).map((call) => call.args[0].input);
    expect(iterators).toEqual([
      {
        StreamName: 'wal',
        ShardId: 's0',
        ShardIteratorType: 'AT_TIMESTAMP',
        Timestamp: new Date(timeWindow.from),
      },
      {
        StreamName: 'wal',
        ShardId: 's0',
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        StartingSequenceNumber: '1',
      },
    ]);
  });

  it('reads what is left of a range whose start is trimmed, and says so', async () => {
    // GIVEN a shard that no longer holds the range's start
    kinesis
      .on(GetShardIteratorCommand, { ShardIteratorType: 'AT_SEQUENCE_NUMBER' })
      .rejects(
        new InvalidArgumentException({
          message: 'StartingSequenceNumber 1 is older than the trim horizon of shard s0',
          $metadata: {},
        }),
      )
      .on(GetShardIteratorCommand, { ShardIteratorType: 'TRIM_HORIZON' })
      .resolves({ ShardIterator: 'oldest' });
    kinesis
      .on(GetRecordsCommand)
      .resolves({ Records: [record('2'), record('5'), record('12')], NextShardIterator: 'n' });
    const notices: string[] = [];
    // WHEN the range 3..10 is read
    const window = { kind: 'shard', shardId: 's0', fromSequence: '3', toSequence: '10' } as const;
    const read = await pages(
      readShard(reader(false), window, { shardId: 's0', onTrimmedStart: () => notices.push('trimmed') }),
    );
    // THEN it reads from the oldest record to the range's end, without what lies before the range, and said the
    // start was trimmed
    expect(read).toEqual([['5']]);
    expect(notices).toEqual(['trimmed']);
  });

  it('paces reads by the bytes read (half a MiB per second), in pages of 500, and backs off when throttled', async () => {
    // GIVEN a shard whose first page holds 1 MiB, whose second read is throttled, and which then is at its tip
    const big = (sequence: string) => ({
      ...record(sequence),
      Data: new Uint8Array(512 * 1024),
      PartitionKey: '',
    });
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it' });
    kinesis
      .on(GetRecordsCommand)
      .resolvesOnce({ Records: [big('1'), big('2')], NextShardIterator: 'next', MillisBehindLatest: 1_000 })
      .rejectsOnce(new ProvisionedThroughputExceededException({ message: 'Rate exceeded', $metadata: {} }))
      .resolvesOnce({ Records: [], NextShardIterator: 'next', MillisBehindLatest: 0 });
    let now = NOW;
    const waits: number[] = [];
    const pacedReader = {
      ...reader(true),
      now: () => now,
      sleep: async (ms: number) => {
        waits.push(ms);
        now += ms;
      },
      minReadIntervalMs: 500,
    };
    // WHEN it is read
    const read = await pages(readShard(pacedReader, timeWindow, { shardId: 's0' }));
    // THEN the page of 1 MiB held the next read 2 s, the throttled read backed off 1 s and was read again
    expect(read).toEqual([['1', '2'], []]);
    expect(waits).toEqual([2_000, 1_000]);
    expect(PAGE_LIMIT).toBe(500);
    expect(kinesis.commandCalls(GetRecordsCommand).map((call) => call.args[0].input.Limit)).toEqual([
      500, 500, 500,
    ]);
  });

  it('fails if the start sequence is refused for another reason than a trimmed start, naming it', async () => {
    // GIVEN a sequence of another shard (a typo)
    kinesis.on(GetShardIteratorCommand).rejects(
      new InvalidArgumentException({
        message:
          'Invalid StartingSequenceNumber. It encodes shardId-000000000007, while it was used in a call to s0',
        $metadata: {},
      }),
    );
    // WHEN the range is read
    const window = { kind: 'shard', shardId: 's0', fromSequence: '3', toSequence: '10' } as const;
    const read = pages(readShard(reader(false), window, { shardId: 's0' }));
    // THEN it stops with the error instead of reading the whole shard from its oldest record
    await expect(read).rejects.toThrow(ReplayInvalidStartError);
    await expect(read).rejects.toThrow(/refused sequence 3 as a start on s0/);
    expect(kinesis.commandCalls(GetShardIteratorCommand)).toHaveLength(1);
  });

  it('fails if the shard does not exist, naming it', async () => {
    // GIVEN a stream without the shard
    kinesis
      .on(GetShardIteratorCommand)
      .rejects(new ResourceNotFoundException({ message: 'no shard', $metadata: {} }));
    // WHEN it is read
    const window = { kind: 'shard', shardId: 'shardId-9', fromSequence: '1', toSequence: '10' } as const;
    const reading = pages(readShard(reader(true), window, { shardId: 'shardId-9' }));
    // THEN the error names the shard and where to check it
    await expect(reading).rejects.toThrow(ReplayShardNotFoundError);
    await expect(pages(readShard(reader(true), window, { shardId: 'shardId-9' }))).rejects.toThrow(
      /shardId-9/,
    );
  });
});

describe('selecting the records of a replay', () => {
  const documents = mockClient(DynamoDBDocumentClient);
  afterEach(() => documents.reset());

  function streamRecord(sequence: string, changes: Partial<Envelope>) {
    const envelope = mutation(changes).envelope;
    return { SequenceNumber: sequence, Data: Buffer.from(JSON.stringify(envelope)), PartitionKey: 'a' };
  }

  it('keeps what the ledger shows committed at that sequence, and says why it leaves out the rest', async () => {
    // GIVEN records: committed, committed at another sequence (a duplicate), skipped, of a deleted namespace,
    // of a namespace outside the plan, and not an envelope
    documents.on(BatchGetCommand).resolves({
      Responses: {
        ledger: [
          { pk: 'orders#k1', id: 'id-1', state: 'COMMITTED', sequence: '1' },
          { pk: 'orders#k2', id: 'id-2', state: 'COMMITTED', sequence: '99' },
          { pk: 'gone#k4', id: 'id-4', state: 'COMMITTED', sequence: '4' },
        ],
      },
    });
    const records = [
      streamRecord('1', { id: 'id-1', idempotencyKey: 'k1' }),
      streamRecord('2', { id: 'id-2', idempotencyKey: 'k2' }),
      streamRecord('3', { id: 'id-3', idempotencyKey: 'k3' }),
      streamRecord('4', { id: 'id-4', idempotencyKey: 'k4', namespace: 'gone' }),
      { SequenceNumber: '5', Data: Buffer.from('not json') },
    ];
    const deps = {
      ledger: { documentClient: DynamoDBDocumentClient.from(new DynamoDBClient({})), tableName: 'ledger' },
      namespaceConfig: async (namespace: string) => {
        if (namespace === 'gone') throw new UnknownNamespaceError(namespace);
        return CONFIG;
      },
      sharedRetryQueueUrl: 'retry',
      now: () => NOW,
    };
    const window = { kind: 'shard', shardId: 's0', fromSequence: '1', toSequence: '5' } as const;
    // WHEN every namespace's records are selected, skipping id-3, then only namespace "other"'s
    const all = await selectPage(deps, { window, skip: new Set(['id-3']), dryRun: false }, records);
    const other = await selectPage(
      deps,
      { namespace: 'other', window, skip: new Set(), dryRun: false },
      records,
    );
    // THEN one is replayed, to both targets on the shared retry queue, and each other one says why not
    expect(all.map((decision) => decision.leftOut ?? decision.replay?.messages.length)).toEqual([
      2,
      'notCommitted',
      'skipped',
      'unknownNamespace',
      'unreadable',
    ]);
    expect(all[0]?.replay?.queueUrl).toBe('retry');
    expect(other.map((decision) => decision.leftOut ?? decision.replay)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      'unreadable',
    ]);
  });

  it('counts the multi-item mutations --target replays in part, and warns of their other items', async () => {
    // GIVEN a committed multi-item mutation with items on "main" and "copy", and a single-target one
    documents.on(BatchGetCommand).resolves({
      Responses: {
        ledger: [
          { pk: 'orders#k1', id: 'id-1', state: 'COMMITTED', sequence: '1' },
          { pk: 'orders#k2', id: 'id-2', state: 'COMMITTED', sequence: '2' },
        ],
      },
    });
    const items = [
      { target: 'main', op: 'put', payload: { id: 'a' } },
      { target: 'copy', op: 'put', payload: { id: 'a' } },
    ] as const;
    const records = [
      streamRecord('1', { id: 'id-1', idempotencyKey: 'k1', payload: undefined, items: [...items] }),
      streamRecord('2', { id: 'id-2', idempotencyKey: 'k2' }),
    ];
    const kinesis = {
      send: async (command: object) =>
        command instanceof GetShardIteratorCommand ? { ShardIterator: 'it' } : { Records: records },
    } as unknown as KinesisClient;
    const deps = {
      ledger: { documentClient: DynamoDBDocumentClient.from(new DynamoDBClient({})), tableName: 'ledger' },
      namespaceConfig: async () => CONFIG,
      sharedRetryQueueUrl: 'retry',
      now: () => NOW,
      kinesis,
      streamName: 'wal',
      sleep: async () => {},
      minReadIntervalMs: 0,
      findsTimestamps: true,
      sqs: new SQSClient({}),
    };
    const window = { kind: 'shard', shardId: 's0', fromSequence: '1', toSequence: '2' } as const;
    const plan = (target?: string) => ({
      namespace: 'orders',
      window,
      skip: new Set<string>(),
      dryRun: true,
      ...(target ? { target } : {}),
    });
    // WHEN the window is replayed (dry run) to "main" only, and to every target
    const main = await replayWindow(deps, plan('main'), undefined);
    const every = await replayWindow(deps, plan(), undefined);
    // THEN the multi-item one counts, once, for --target only, and the summary warns of it
    expect([main.delivered, main.partialItems]).toEqual([2, 1]);
    expect(every.partialItems).toBe(0);
    expect(partialItemsWarning(main)).toContain(
      '1 multi-item mutations were replayed to --target only; their other items are not replayed',
    );
    expect(partialItemsWarning(every)).toBeUndefined();
  });
});

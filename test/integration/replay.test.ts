import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '#lambdas/shared/clients';
import { WAL_OUTPUTS } from '#lib/wal-outputs';
import {
  REPLAY_INTERRUPTED_EXIT_CODE,
  ReplayBeyondRetentionError,
  type ReplayDependencies,
  type ReplayPlan,
  replayWindow,
  runReplayCommand,
} from '#src/cli/commands/replay';
import type { LocalWal } from '#src/local/runtime/local-wal';
import { LOCAL_OUTPUTS, walStackName, writeStackOutputs } from '#src/outputs/outputs-file';
import {
  deliveryDependenciesOf,
  drain,
  ledgerTableName,
  postMutation,
  queueUrl,
  scanTable,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';

const NAMESPACE = 'replay';
let wal: LocalWal;
let workDir: string;

withTestWal(async (started) => {
  wal = started;
});

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'wal-replay-'));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

/** The replay's dependencies on the test WAL; no pauses (the pacing's sleeps return at once). */
function replayDependencies(): ReplayDependencies {
  const delivery = deliveryDependenciesOf(wal);
  return {
    kinesis: wal.clients.kinesis,
    sqs: wal.clients.sqs,
    streamName: wal.outputs[WAL_OUTPUTS.streamName],
    ledger: delivery.ledger,
    namespaceConfig: (namespace) => delivery.namespaces.get(namespace),
    sharedRetryQueueUrl: queueUrl(wal, 'RetryQueue'),
    now: Date.now,
    sleep: async () => {},
    minReadIntervalMs: 0,
    // kinesalite never answers AT_TIMESTAMP on a shard with no record after the time (read-stream.ts).
    findsTimestamps: false,
  };
}

function plan(from: number, changes: Partial<ReplayPlan> = {}): ReplayPlan {
  return {
    namespace: NAMESPACE,
    window: { kind: 'time', from, to: Date.now() + 1_000 },
    skip: new Set(),
    dryRun: false,
    ...changes,
  };
}

/** The live items of a test (id prefix), user attributes only: what a client of the table sees. */
async function userItems(target: string, prefix: string): Promise<Record<string, unknown>[]> {
  const table = await targetTableName(wal, 'it', NAMESPACE, target);
  return (await scanTable(wal, table))
    .filter((item) => String(item.id).startsWith(prefix) && item._walDeleted === undefined)
    .map((item) => Object.fromEntries(Object.entries(item).filter(([name]) => !name.startsWith('_wal'))))
    .sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

/** Deletes every item of a test (tombstones included): the table as if restored to before the window. */
async function emptyTable(target: string, prefix: string): Promise<void> {
  const table = await targetTableName(wal, 'it', NAMESPACE, target);
  const documents = createDocumentClient(wal.clients.dynamodb);
  for (const item of await scanTable(wal, table)) {
    if (!String(item.id).startsWith(prefix)) continue;
    await documents.send(new DeleteCommand({ TableName: table, Key: { id: item.id } }));
  }
}

async function post(body: Record<string, unknown>): Promise<string> {
  const answer = await postMutation(wal, NAMESPACE, body);
  expect(answer.status).toBe(200);
  return String(answer.body.id);
}

/** Puts, an update, a counter, a delete and an overwrite: the history a replay must rebuild. */
async function postHistory(prefix: string): Promise<void> {
  await post({ payload: { id: `${prefix}-a`, name: 'first', n: 0 } });
  await post({ payload: { id: `${prefix}-b`, name: 'second' } });
  await post({ op: 'update', payload: { id: `${prefix}-a` }, set: { name: 'first, renamed' } });
  await post({ op: 'update', payload: { id: `${prefix}-a` }, add: { n: 1 } });
  await post({ op: 'update', payload: { id: `${prefix}-a` }, add: { n: 1 } });
  await post({ payload: { id: `${prefix}-c`, name: 'gone soon' } });
  await post({ op: 'delete', payload: { id: `${prefix}-c` } });
  await post({ payload: { id: `${prefix}-b`, name: 'second, overwritten' } });
}

async function visibleMessages(): Promise<number> {
  const answer = await wal.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl(wal, 'RetryQueue'),
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  return (
    Number(answer.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(answer.Attributes?.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}

/** A mutation id no test logs: a --skip of it is never met. */
const NEVER_LOGGED = '01KB0000000000000000000000';

describe('wal replay (test/fixtures/config/it/replay.json)', () => {
  it('rebuilds an emptied target table to the same content from the window', async () => {
    // GIVEN a history of puts, updates, counter adds, a delete and an overwrite, delivered
    const from = Date.now() - 1;
    await postHistory('rebuild');
    await drain(wal);
    const before = await userItems('main', 'rebuild');
    expect(before).toEqual([
      { id: 'rebuild-a', name: 'first, renamed', n: 2 },
      { id: 'rebuild-b', name: 'second, overwritten' },
    ]);
    // and both tables emptied
    await emptyTable('main', 'rebuild');
    await emptyTable('copy', 'rebuild');

    // WHEN the window is replayed
    const result = await replayWindow(replayDependencies(), plan(from), join(workDir, 'rebuild.json'));
    await drain(wal);

    // THEN both tables hold what they held, and each mutation went once to each target
    expect(result).toMatchObject({ status: 'complete', delivered: 8, messages: 16, resumed: false });
    expect(await userItems('main', 'rebuild')).toEqual(before);
    expect(await userItems('copy', 'rebuild')).toEqual(before);
  });

  it('leaves out the --skip ids: the table is rebuilt without the bad write', async () => {
    // GIVEN a good put, another key, and a bad overwrite of the first
    const from = Date.now() - 1;
    await post({ payload: { id: 'skip-a', total: 10 } });
    await post({ payload: { id: 'skip-b', total: 20 } });
    const bad = await post({ payload: { id: 'skip-a', total: -999 } });
    await drain(wal);
    expect(await userItems('main', 'skip')).toContainEqual({ id: 'skip-a', total: -999 });
    await emptyTable('main', 'skip');

    // WHEN the window is replayed to that target, skipping the bad write
    const result = await replayWindow(
      replayDependencies(),
      plan(from, { skip: new Set([bad, NEVER_LOGGED]), target: 'main' }),
      join(workDir, 'skip.json'),
    );
    await drain(wal);

    // THEN the table holds the state before the bad write, and the id never met is reported
    expect(result).toMatchObject({
      delivered: 2,
      messages: 2,
      leftOut: expect.objectContaining({ skipped: 1 }),
      skipsNotMet: [NEVER_LOGGED],
    });
    expect(await userItems('main', 'skip')).toEqual([
      { id: 'skip-a', total: 10 },
      { id: 'skip-b', total: 20 },
    ]);
  });

  it('resumes an interrupted replay from its checkpoint: each mutation applied once in effect', async () => {
    // GIVEN a history with counter adds (a second apply of an add would count twice), delivered, then emptied
    const from = Date.now() - 1;
    await postHistory('resume');
    await drain(wal);
    const before = await userItems('main', 'resume');
    await emptyTable('main', 'resume');
    const checkpoint = join(workDir, 'resume.json');

    // WHEN a replay is stopped after 3 mutations, then run again with the same arguments
    const controller = new AbortController();
    const resumable = plan(from, { target: 'main', rate: 1 });
    const first = await replayWindow(replayDependencies(), resumable, checkpoint, {
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.delivered >= 3) controller.abort();
      },
    });
    await drain(wal);
    const second = await replayWindow(replayDependencies(), resumable, checkpoint);
    await drain(wal);

    // THEN the first run stopped part way, the second delivered only the rest, and the table is as before
    expect(first).toMatchObject({ status: 'interrupted', delivered: 3 });
    expect(second).toMatchObject({ status: 'complete', resumed: true, delivered: 8, deliveredNow: 5 });
    expect(await userItems('main', 'resume')).toEqual(before);
  });

  it('re-delivers a shard range of every namespace, as a stream-failure DLQ message names it', async () => {
    // GIVEN two writes of one key (one shard), delivered, and the table emptied
    const first = await post({ payload: { id: 'range-a', v: 1 } });
    const last = await post({ payload: { id: 'range-a', v: 2 } });
    await drain(wal);
    const ledger = await scanTable(wal, ledgerTableName(wal));
    const [start, end] = [first, last].map((id) => ledger.find((entry) => entry.id === id));
    expect(start?.shardId).toBe(end?.shardId);
    await emptyTable('main', 'range');

    // WHEN the range from the first to the last is replayed for every namespace
    const result = await replayWindow(
      replayDependencies(),
      {
        window: {
          kind: 'shard',
          shardId: String(start?.shardId),
          fromSequence: String(start?.sequence),
          toSequence: String(end?.sequence),
        },
        skip: new Set(),
        dryRun: false,
      },
      join(workDir, 'range.json'),
    );
    await drain(wal);

    // THEN both were delivered (to both targets) and the table holds the last
    expect(result).toMatchObject({ status: 'complete', delivered: 2, messages: 4, shards: 1 });
    expect(await userItems('main', 'range')).toEqual([{ id: 'range-a', v: 2 }]);
  });

  it('sends nothing and writes no checkpoint with --dry-run', async () => {
    // GIVEN two mutations, delivered, and an empty retry queue
    const from = Date.now() - 1;
    const ids = [await post({ payload: { id: 'dry-a' } }), await post({ payload: { id: 'dry-b' } })];
    await drain(wal);
    expect(await visibleMessages()).toBe(0);

    // WHEN the window is dry-run
    const listed: string[] = [];
    const checkpoint = join(workDir, 'dry.json');
    const result = await replayWindow(replayDependencies(), plan(from, { dryRun: true }), checkpoint, {
      onDryRun: (mutation) => listed.push(mutation.mutation.envelope.id),
    });

    // THEN it lists them and sends nothing
    expect(listed).toEqual(ids);
    expect(result).toMatchObject({ status: 'complete', delivered: 2, messages: 4 });
    expect(await visibleMessages()).toBe(0);
    expect(existsSync(checkpoint)).toBe(false);
  });

  it('fails if --from is older than the stream retention, with what to do instead', async () => {
    // GIVEN a window that starts 25 hours ago (the local stream keeps 24)
    const from = Date.now() - 25 * 3_600_000;

    // WHEN it is replayed
    const replay = replayWindow(replayDependencies(), plan(from), join(workDir, 'old.json'));

    // THEN it fails before sending anything, saying why and what to do
    await expect(replay).rejects.toThrow(ReplayBeyondRetentionError);
    await expect(replay).rejects.toThrow(/older than the WAL stream's retention \(24 h\).*PITR/);
  });

  it('runs from the command line on the stack outputs file of the local WAL', async () => {
    // GIVEN a mutation, and the outputs file the local runtime writes
    const from = new Date(Date.now() - 1).toISOString();
    const id = await post({ payload: { id: 'cli-a', v: 1 } });
    await drain(wal);
    await emptyTable('copy', 'cli');
    const outputsFile = join(workDir, 'outputs.json');
    writeStackOutputs(outputsFile, walStackName('it'), {
      ...wal.outputs,
      [LOCAL_OUTPUTS.ssmEndpoint]: wal.emulators.endpoints.ssm,
      [LOCAL_OUTPUTS.kinesisEndpoint]: wal.emulators.endpoints.kinesis,
      [LOCAL_OUTPUTS.dynamodbEndpoint]: wal.emulators.endpoints.dynamodb,
    });
    const lines: string[] = [];
    const bar: string[] = [];
    const io = {
      print: (line: string) => lines.push(line),
      progress: { write: (text: string) => bar.push(text) },
      now: Date.now,
    };
    const args = [NAMESPACE, '--from', from, '--to', new Date(Date.now() + 1_000).toISOString()];
    const where = ['--stage', 'it', '--outputs-file', outputsFile];

    // WHEN "wal replay --dry-run", then "wal replay --target copy" run
    const dryRun = await runReplayCommand([...args, '--dry-run', ...where], io);
    const checkpoint = join(workDir, 'cli.json');
    const code = await runReplayCommand(
      [...args, '--target', 'copy', '--checkpoint', checkpoint, ...where],
      io,
    );
    await drain(wal);
    const doneLine = lines[lines.length - 1];

    // AND a dry run skipping an id never logged, and a run already interrupted, run too
    const neverMet = await runReplayCommand([...args, '--dry-run', '--skip', NEVER_LOGGED, ...where], io);
    const neverMetLine = lines[lines.length - 1];
    const interrupted = await runReplayCommand(
      [...args, '--checkpoint', join(workDir, 'cli-stopped.json'), ...where],
      { ...io, signal: AbortSignal.abort() },
    );

    // THEN the dry run lists the mutation, the replay restores the target and shows its progress
    expect([dryRun, code]).toEqual([0, 0]);
    // AND the skip never met exits 1 naming it, the interrupted run exits 130
    expect([neverMet, interrupted]).toEqual([1, REPLAY_INTERRUPTED_EXIT_CODE]);
    expect(REPLAY_INTERRUPTED_EXIT_CODE).toBe(130);
    expect(neverMetLine).toContain(`never met in the window: ${NEVER_LOGGED}`);
    expect(lines.find((line) => line.startsWith(`would deliver ${id}`))).toContain('-> main, copy');
    expect(doneLine).toMatch(/^Done: 1 mutation\(s\) delivered/);
    expect(bar.join('')).toContain('100% read, 1 delivered');
    expect(await userItems('copy', 'cli')).toEqual([{ id: 'cli-a', v: 1 }]);
  });
});

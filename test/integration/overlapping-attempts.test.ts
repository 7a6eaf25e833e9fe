import type { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  type IngestDependencies,
  ingestMutation,
  type MutationAnswer,
} from '#lambdas/ingest/ingest-mutation';
import { ProblemError } from '#lambdas/shared/http/problem';
import type { LocalWal } from '#src/local/runtime/local-wal';
import {
  drain,
  ingestDependenciesOf,
  ledgerTableName,
  scanTable,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';

/**
 * A client whose timeout is shorter than the WAL's retries while its first attempt still runs: the
 * second attempt's FAIL must stay true when the first attempt's commit lands afterwards.
 * The ingest logic runs against the emulators with the real SDK clients; only the timing of calls is
 * steered (a commit held back, a prepare that fails).
 */
describe('overlapping attempts of one key (emulators)', () => {
  let wal: LocalWal;
  let table: string;

  withTestWal(async (started) => {
    wal = started;
    table = await targetTableName(wal, 'it', 'orders', 'main');
  });

  function dependencies(overrides: Partial<IngestDependencies> = {}): IngestDependencies {
    return { ...ingestDependenciesOf(wal), ...overrides };
  }

  async function outcome(attempt: Promise<MutationAnswer>): Promise<string> {
    try {
      return (await attempt).durable;
    } catch (error) {
      if (error instanceof ProblemError) return `${error.status} ${String(error.extensions.durable ?? '')}`;
      throw error;
    }
  }

  it('never applies an earlier attempt once a later one answered FAIL', async () => {
    // GIVEN attempt A, whose ledger commit is held back until we release it
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const real = ingestDependenciesOf(wal).ledger.documentClient;
    const slowLedger = {
      send: async (command: unknown) => {
        if (command instanceof PutCommand) await held;
        return real.send(command as PutCommand);
      },
    } as unknown as DynamoDBDocumentClient;
    const body = { payload: { id: 'overlap-1', from: 'A or B' } };
    const attemptA = outcome(
      ingestMutation(
        dependencies({ ledger: { documentClient: slowLedger, tableName: ledgerTableName(wal) } }),
        'orders',
        body,
        'overlap-key',
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));

    // WHEN the client, timed out, retries as B, whose prepare fails
    const failingStream = {
      send: async () => {
        throw Object.assign(new Error('stream unavailable'), { name: 'ServiceUnavailable' });
      },
    } as unknown as KinesisClient;
    const attemptB = await outcome(
      ingestMutation(dependencies({ kinesis: failingStream }), 'orders', body, 'overlap-key'),
    );
    // AND A's commit lands afterwards
    release();

    // THEN B said FAIL, A cannot commit any more, and nothing is applied
    expect(attemptB).toBe('503 FAIL');
    expect(await attemptA).toBe('409 FAIL');
    await drain(wal);
    expect((await scanTable(wal, table)).find((item) => item.id === 'overlap-1')).toBeUndefined();

    // AND a new attempt once the fence has run out (2 s here; 46 s deployed) commits and is applied once
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const attemptC = await ingestMutation(dependencies(), 'orders', body, 'overlap-key');
    expect(attemptC.durable).toBe('SUCCESS');
    await drain(wal);
    expect((await scanTable(wal, table)).find((item) => item.id === 'overlap-1')).toMatchObject({
      _walId: attemptC.id,
    });
  });

  it('never applies an earlier attempt whose handler starts only after the FAIL (a cold start)', async () => {
    // GIVEN the client sent A, then timed out and sent B, whose prepare fails: FAIL
    const failingStream = {
      send: async () => {
        throw Object.assign(new Error('stream unavailable'), { name: 'ServiceUnavailable' });
      },
    } as unknown as KinesisClient;
    const body = { payload: { id: 'overlap-2', from: 'A' } };
    const attemptB = await outcome(
      ingestMutation(dependencies({ kinesis: failingStream }), 'orders', body, 'late-start-key'),
    );
    expect(attemptB).toBe('503 FAIL');
    // WHEN A's handler only starts now, a second later (it waited for a cold start), and runs to its commit
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const attemptA = await outcome(ingestMutation(dependencies(), 'orders', body, 'late-start-key'));
    // THEN A is refused, and nothing is applied
    expect(attemptA).toBe('409 FAIL');
    await drain(wal);
    expect((await scanTable(wal, table)).find((item) => item.id === 'overlap-2')).toBeUndefined();
  });

  it('never applies an attempt that commits after a 409 FAIL, even once the first fence ran out', async () => {
    // GIVEN B's prepare failed: FAIL, the key fenced for 4 s
    const fence = { failFenceMs: 4_000 };
    const failingStream = {
      send: async () => {
        throw Object.assign(new Error('stream unavailable'), { name: 'ServiceUnavailable' });
      },
    } as unknown as KinesisClient;
    const body = { payload: { id: 'overlap-3', from: 'C or D' } };
    const start = Date.now();
    const sleepUntil = (ms: number) => new Promise((resolve) => setTimeout(resolve, start + ms - Date.now()));
    expect(
      await outcome(ingestMutation(dependencies({ kinesis: failingStream, ...fence }), 'orders', body, 'k3')),
    ).toBe('503 FAIL');
    // AND the client, still retrying, sent C (its prepare is slow) and then D
    await sleepUntil(2_000);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowStream = {
      send: async (command: PutRecordCommand) => {
        await held;
        return wal.clients.kinesis.send(command);
      },
    } as unknown as KinesisClient;
    const attemptC = outcome(
      ingestMutation(dependencies({ kinesis: slowStream, ...fence }), 'orders', body, 'k3'),
    );
    await sleepUntil(2_500);
    // WHEN D meets the fence: 409 FAIL, and the client stops
    expect(await outcome(ingestMutation(dependencies(fence), 'orders', body, 'k3'))).toBe('409 FAIL');
    // AND C's prepare returns, and it commits, after B's fence ran out
    await sleepUntil(4_500);
    release();
    // THEN C cannot commit either (D's FAIL extended the fence), and nothing is applied
    expect(await attemptC).toBe('409 FAIL');
    await drain(wal);
    expect((await scanTable(wal, table)).find((item) => item.id === 'overlap-3')).toBeUndefined();
  });
});

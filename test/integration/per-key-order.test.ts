import type { LocalWal } from '#src/local/runtime/local-wal';
import {
  drain,
  driveUntilQueueEmpty,
  type HttpAnswer,
  postMutation,
  scanTable,
  takeTableDown,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';

/**
 * Per key, every acknowledged mutation takes effect in the WAL's order, whatever its op — also when an
 * earlier one needed a retry and a later one was applied first (namespace "ordered": retry after 3 s).
 */
describe('per-key order through retries (emulators)', () => {
  let wal: LocalWal;
  let table: string;

  withTestWal(async (started) => {
    wal = started;
    table = await targetTableName(wal, 'it', 'ordered', 'main');
  });

  /** Sends `first` while the target table is down (it goes to the retry queue), then `second` once it is back. */
  async function firstRetriedAfterSecond(first: unknown, second: unknown): Promise<HttpAnswer[]> {
    const bringBack = await takeTableDown(wal, table);
    const firstAnswer = await postMutation(wal, 'ordered', first);
    await drain(wal);
    await bringBack();
    const secondAnswer = await postMutation(wal, 'ordered', second);
    await drain(wal);
    await driveUntilQueueEmpty(wal, 'RetryQueue', 20_000);
    expect([firstAnswer.body.durable, secondAnswer.body.durable]).toEqual(['SUCCESS', 'SUCCESS']);
    return [firstAnswer, secondAnswer];
  }

  async function visibleItem(id: string): Promise<Record<string, unknown> | undefined> {
    const item = (await scanTable(wal, table)).find((candidate) => candidate.id === id);
    if (!item || item._walDeleted === true) return undefined;
    return Object.fromEntries(Object.entries(item).filter(([name]) => !name.startsWith('_wal')));
  }

  it('counts a retried add that a later add overtook', async () => {
    // WHEN two acknowledged adds of one counter arrive in the wrong order
    await firstRetriedAfterSecond(
      { op: 'update', payload: { id: 'counter-1' }, add: { count: 1 } },
      { op: 'update', payload: { id: 'counter-1' }, add: { count: 1 } },
    );
    // THEN both count
    expect(await visibleItem('counter-1')).toEqual({ id: 'counter-1', count: 2 });
  });

  it('keeps the fields of a put retried after a later update of the key', async () => {
    // GIVEN a put that fails, then an update of the key; WHEN the put's retry lands after the update
    await firstRetriedAfterSecond(
      { payload: { id: 'put-then-set', name: 'Ada', status: 'new' } },
      { op: 'update', payload: { id: 'put-then-set' }, set: { status: 'paid' } },
    );
    // THEN the item has the put's fields and the update's status
    expect(await visibleItem('put-then-set')).toEqual({ id: 'put-then-set', name: 'Ada', status: 'paid' });
  });

  it('keeps a delete deleted when an older put is retried after it', async () => {
    // GIVEN the item exists
    await postMutation(wal, 'ordered', { payload: { id: 'put-then-delete', v: 0 } });
    await drain(wal);
    // WHEN a put is retried after a later delete
    await firstRetriedAfterSecond(
      { payload: { id: 'put-then-delete', v: 1 } },
      { op: 'delete', payload: { id: 'put-then-delete' } },
    );
    // THEN the item stays deleted
    expect(await visibleItem('put-then-delete')).toBeUndefined();
  });
});

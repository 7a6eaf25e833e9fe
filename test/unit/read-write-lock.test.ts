import { ReadWriteLock } from '#src/local/dynamo-transactions/rw-lock';

const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ReadWriteLock', () => {
  it('lets shared holders run together', async () => {
    // GIVEN a lock
    const lock = new ReadWriteLock();
    // WHEN two take it shared
    const first = await lock.shared();
    const second = await lock.shared();
    // THEN both hold it at once
    expect([first, second]).toHaveLength(2);
  });

  it('runs an exclusive holder alone, after the shared ones, and before later shared ones', async () => {
    // GIVEN a shared holder, then a writer waiting, then a reader arriving
    const lock = new ReadWriteLock();
    const order: string[] = [];
    const reader = await lock.shared();
    const writer = lock.exclusive().then((release) => {
      order.push('writer');
      return release;
    });
    const lateReader = lock.shared().then((release) => {
      order.push('late reader');
      return release;
    });
    await settled();
    // WHEN the first reader releases, then the writer
    expect(order).toEqual([]);
    reader();
    const releaseWriter = await writer;
    await settled();
    expect(order).toEqual(['writer']);
    releaseWriter();
    // THEN the late reader runs only after the writer
    (await lateReader)();
    expect(order).toEqual(['writer', 'late reader']);
  });

  it('ignores a second release', async () => {
    // GIVEN two shared holders, one releasing twice
    const lock = new ReadWriteLock();
    const first = await lock.shared();
    const second = await lock.shared();
    first();
    first();
    // WHEN a writer asks
    let granted = false;
    const writer = lock.exclusive().then((release) => {
      granted = true;
      return release;
    });
    await settled();
    // THEN it waits for the other holder
    expect(granted).toBe(false);
    second();
    (await writer)();
    expect(granted).toBe(true);
  });
});

import { runInKeyLanes } from '#lambdas/shared/key-lanes';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('runInKeyLanes', () => {
  it('handles the items of a key one at a time, in their order', async () => {
    // GIVEN items of two keys, interleaved
    const items = ['a1', 'b1', 'a2', 'b2', 'a3'];
    const started: string[] = [];
    const busy = new Set<string>();
    let overlapped = false;
    // WHEN each item takes a moment
    await runInKeyLanes(
      items,
      (item) => item.charAt(0),
      4,
      async (item) => {
        const key = item.charAt(0);
        if (busy.has(key)) overlapped = true;
        busy.add(key);
        started.push(item);
        await tick();
        busy.delete(key);
        return 'done';
      },
    );
    // THEN no key had two items in hand at once, and each key's items started in their order
    expect(overlapped).toBe(false);
    expect(started.filter((item) => item.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(started.filter((item) => item.startsWith('b'))).toEqual(['b1', 'b2']);
  });

  it('handles different keys at once, never more than the concurrency', async () => {
    // GIVEN ten items of ten keys
    const items = Array.from({ length: 10 }, (_, index) => `k${index}`);
    let running = 0;
    let peak = 0;
    // WHEN they run with a concurrency of 3
    await runInKeyLanes(
      items,
      (item) => item,
      3,
      async () => {
        running++;
        peak = Math.max(peak, running);
        await tick();
        running--;
        return 'done';
      },
    );
    // THEN three keys were in hand at once, never more
    expect(peak).toBe(3);
  });

  it('skips the later items of a key after one of its items failed, and goes on with other keys', async () => {
    // GIVEN items of two keys, where a1 fails
    const items = ['a1', 'b1', 'a2', 'b2', 'a3'];
    const handled: string[] = [];
    const skipped: string[] = [];
    // WHEN they run
    await runInKeyLanes(
      items,
      (item) => item.charAt(0),
      4,
      async (item) => {
        handled.push(item);
        await tick();
        return item === 'a1' ? 'failed' : 'done';
      },
      (item) => skipped.push(item),
    );
    // THEN a2 and a3 were not handled but skipped, in their order; key b ran in full
    expect(handled.sort()).toEqual(['a1', 'b1', 'b2']);
    expect(skipped).toEqual(['a2', 'a3']);
  });

  it('handles nothing for no items', async () => {
    // GIVEN no items
    const handled: string[] = [];
    // WHEN they run
    await runInKeyLanes([], String, 4, async (item: string) => {
      handled.push(item);
      return 'done';
    });
    // THEN nothing was handled
    expect(handled).toEqual([]);
  });
});

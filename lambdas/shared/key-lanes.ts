/** What handling an item came to: `failed` stops the rest of its key's lane. */
export type LaneOutcome = 'done' | 'failed';

/**
 * Runs `handle` on every item, one lane per key: the items of a key one after the other in their given order,
 * different keys at the same time, at most `concurrency` lanes at once. After an item of a lane fails, the
 * later items of that lane are not handled but passed to `skip`: running them before the failed one is
 * retried would reorder the key (a Kinesis consumer resumes from the lowest failed sequence number, so
 * they come back anyway). Resolves when every item is handled or skipped; `handle` must not throw (a
 * failure of one item is its own to record), or the first error rejects.
 */
export async function runInKeyLanes<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  concurrency: number,
  handle: (item: T) => Promise<LaneOutcome>,
  skip: (item: T) => void = () => {},
): Promise<void> {
  const lanes = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const lane = lanes.get(key);
    if (lane) lane.push(item);
    else lanes.set(key, [item]);
  }
  // Lanes start in the order of their first item, so the oldest work goes first.
  const queue = [...lanes.values()];
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const lane = queue[next++] as T[];
      let failed = false;
      for (const item of lane) {
        if (failed) skip(item);
        else failed = (await handle(item)) === 'failed';
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, worker));
}

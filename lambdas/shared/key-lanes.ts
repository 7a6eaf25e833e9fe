/**
 * Runs `handle` on every item, one lane per key: the items of a key one after the other in their given order,
 * different keys at the same time, at most `concurrency` lanes at once. Resolves when every item is handled;
 * `handle` must not throw (a failure of one item is its own to record), or the first error rejects.
 */
export async function runInKeyLanes<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  concurrency: number,
  handle: (item: T) => Promise<void>,
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
      for (const item of lane) await handle(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, worker));
}

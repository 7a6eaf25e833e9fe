/**
 * Cuts `items` into consecutive runs of at most `maxCount` items whose sizes add up to at most `maxBytes` (an item
 * larger than `maxBytes` gets a run of its own): the shape of every batched AWS call (PutRecords,
 * SendMessageBatch) and of the batch endpoint's requests.
 */
export function chunkBySize<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  limits: { readonly maxCount: number; readonly maxBytes: number },
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= limits.maxCount || bytes + size > limits.maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

import { chunkBySize } from '#lambdas/shared/chunks';

describe('chunkBySize', () => {
  it('cuts at the count and at the byte limit, keeping order, and gives an oversized item a run of its own', () => {
    // GIVEN items whose size is their value
    const items = [3, 3, 3, 9, 1, 1, 1, 1];
    // WHEN they are cut into runs of at most 3 items and 6 bytes
    const chunks = chunkBySize(items, (item) => item, { maxCount: 3, maxBytes: 6 });
    // THEN each run keeps both limits (the 9 alone), and every item is there once, in order
    expect(chunks).toEqual([[3, 3], [3], [9], [1, 1, 1], [1]]);
  });

  it('gives no run for no items', () => {
    // GIVEN nothing
    // WHEN it is cut
    // THEN there is no run
    expect(chunkBySize([], () => 1, { maxCount: 10, maxBytes: 10 })).toEqual([]);
  });
});

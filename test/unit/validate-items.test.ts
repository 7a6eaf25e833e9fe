import { acceptMutation, parseMutationRequest } from '#lambdas/ingest/validate-mutation';
import { MAX_MUTATION_ITEMS } from '#lambdas/shared/mutation-request';
import { namespaceConfig, problemOf } from '#test/support/fixtures';

const context = {
  now: Date.parse('2026-01-01T00:00:00Z'),
  random: () => 0.5,
};

/** Two tables (one keyed by id and sort key at) and a queue, as the `multi` fixture namespace has. */
const config = namespaceConfig({
  name: 'multi',
  targets: [
    { name: 'orders', type: 'dynamodb', tableName: 'orders-table', key: { partitionKey: 'id' } },
    {
      name: 'lines',
      type: 'dynamodb',
      tableName: 'lines-table',
      key: { partitionKey: 'order', sortKey: 'line', sortKeyType: 'number' },
    },
    { name: 'ordersAgain', type: 'dynamodb', tableName: 'orders-table', key: { partitionKey: 'id' } },
    { name: 'events', type: 'sqs', queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/events' },
  ],
  payload: { maxBytes: 400 },
});

function accept(body: Record<string, unknown>) {
  return acceptMutation(config, parseMutationRequest(body, undefined), context);
}

describe('multi-item mutations at ingest', () => {
  it('normalises each item into the shape of a single-target mutation, keyed by the first item', () => {
    // GIVEN a put, an update and a delete across two tables and a queue
    const body = {
      items: [
        { target: 'lines', op: 'put', item: { order: 'o1', line: 1, sku: 'x' } },
        { target: 'orders', op: 'update', key: { id: 'o1' }, set: { state: 'paid' }, add: { lines: 1 } },
        { target: 'orders', op: 'delete', key: { id: 'o0' } },
        { target: 'events', item: { kind: 'paid' } },
      ],
    };
    // WHEN it is accepted
    const accepted = accept(body);
    // THEN each item holds its op, payload (item or key) and update, a DynamoDB item its table; the first item's
    // key orders it
    expect(accepted.items).toEqual([
      { target: 'lines', table: 'lines-table', op: 'put', payload: { order: 'o1', line: 1, sku: 'x' } },
      {
        target: 'orders',
        table: 'orders-table',
        op: 'update',
        payload: { id: 'o1' },
        update: { set: { state: 'paid' }, add: { lines: 1 } },
      },
      { target: 'orders', table: 'orders-table', op: 'delete', payload: { id: 'o0' } },
      { target: 'events', op: 'put', payload: { kind: 'paid' } },
    ]);
    expect(accepted.partitionKey).toBe('o1#1');
    expect(accepted.targets).toEqual([]);
  });

  it('orders by the id when the first item is on a message-like target', () => {
    // GIVEN a first item on the queue
    // WHEN
    const accepted = accept({ items: [{ target: 'events', item: { a: 1 } }] });
    // THEN no item key orders it: the ingest falls back to the mutation id
    expect(accepted.partitionKey).toBeUndefined();
  });

  it.each([
    ['payload', { payload: { id: 'a' } }],
    ['op', { op: 'put' }],
    ['set', { set: { a: 1 } }],
    ['add', { add: { a: 1 } }],
    ['targets', { targets: ['orders'] }],
  ])('fails if items come with "%s", naming the field', (field, extra) => {
    // GIVEN a valid items list and a single-target field besides
    const body = { items: [{ target: 'orders', item: { id: 'a' } }], ...extra };
    // WHEN
    const problem = problemOf(() => parseMutationRequest(body, undefined));
    // THEN a 400 that points at that field
    expect(problem).toMatchObject({ status: 400, slug: 'items-with-single-target-fields' });
    expect(problem.extensions.errors).toEqual([{ pointer: `/${field}`, detail: expect.any(String) }]);
  });

  it.each([
    [
      'a put has no item',
      { target: 'orders', op: 'put', key: { id: 'a' } },
      ['/items/0/item', '/items/0/key'],
    ],
    ['an update has no key', { target: 'orders', op: 'update', set: { a: 1 } }, ['/items/0/key']],
    ['an update changes nothing', { target: 'orders', op: 'update', key: { id: 'a' } }, ['/items/0/op']],
    [
      'a delete carries set',
      { target: 'orders', op: 'delete', key: { id: 'a' }, set: { a: 1 } },
      ['/items/0/set'],
    ],
    ['an item has an unknown field', { target: 'orders', item: { id: 'a' }, payload: 1 }, ['/items/0']],
    [
      'an add is not a number',
      { target: 'orders', op: 'update', key: { id: 'a' }, add: { n: 'x' } },
      ['/items/0/add/n'],
    ],
  ])('fails if %s, naming the item field', (_case, item, pointers) => {
    // GIVEN the bad item
    // WHEN
    const problem = problemOf(() => parseMutationRequest({ items: [item] }, undefined));
    // THEN a 400 whose pointers name the item's fields
    expect(problem).toMatchObject({ status: 400, slug: 'invalid-mutation' });
    const errors = problem.extensions.errors as { pointer: string }[];
    expect(errors.map((error) => error.pointer)).toEqual(pointers);
  });

  it('fails if there are more items than one transaction takes', () => {
    // GIVEN 101 items
    const items = Array.from({ length: MAX_MUTATION_ITEMS + 1 }, (_, n) => ({
      target: 'orders',
      item: { id: `i${n}` },
    }));
    // WHEN
    const problem = problemOf(() => parseMutationRequest({ items }, undefined));
    // THEN a 400 on /items that says the limit
    expect(problem).toMatchObject({ status: 400, slug: 'invalid-mutation' });
    expect(problem.extensions.errors).toEqual([
      { pointer: '/items', detail: expect.stringContaining(`at most ${MAX_MUTATION_ITEMS} items`) },
    ]);
  });

  it('fails if the items list is empty', () => {
    // GIVEN no items
    // WHEN
    const problem = problemOf(() => parseMutationRequest({ items: [] }, undefined));
    // THEN
    expect(problem).toMatchObject({ status: 400, slug: 'invalid-mutation' });
  });

  it('fails if an item names a target the namespace does not have', () => {
    // GIVEN a second item for target "nope"
    const body = {
      items: [
        { target: 'orders', item: { id: 'a' } },
        { target: 'nope', item: { id: 'b' } },
      ],
    };
    // WHEN
    const problem = problemOf(() => accept(body));
    // THEN a 400 that points at its target
    expect(problem).toMatchObject({ status: 400, slug: 'unknown-target' });
    expect(problem.extensions.errors).toEqual([
      { pointer: '/items/1/target', detail: 'namespace "multi" has no target "nope"' },
    ]);
  });

  it("fails if an item does not fit its target, as its payload would not, naming the item's index", () => {
    // GIVEN a line without its numeric sort key, as the third item
    const body = {
      items: [
        { target: 'orders', item: { id: 'a' } },
        { target: 'events', item: { any: 'thing' } },
        { target: 'lines', op: 'update', key: { order: 'o1', line: 'one' }, set: { sku: 'x' } },
      ],
    };
    // WHEN
    const problem = problemOf(() => accept(body));
    // THEN a 400 on /items/2/key saying what the target needs
    expect(problem).toMatchObject({ status: 400, slug: 'invalid-payload' });
    expect(problem.extensions.errors).toEqual([
      {
        pointer: '/items/2/key',
        detail: 'target "lines" needs payload.line, its key attribute, as a number',
      },
    ]);
  });

  it('fails if a number in an item cannot be stored exactly', () => {
    // GIVEN an item with an integer beyond 2^53
    const body = { items: [{ target: 'orders', item: { id: 'a', n: 1e20 } }] };
    // WHEN
    const problem = problemOf(() => accept(body));
    // THEN
    expect(problem).toMatchObject({ status: 400, slug: 'invalid-payload' });
    expect(problem.detail).toContain('/items/0/item: item.n');
  });

  it('fails if two items act on the same item key: one action per item key', () => {
    // GIVEN a put and a delete of order "a"
    const body = {
      items: [
        { target: 'orders', item: { id: 'a' } },
        { target: 'lines', item: { order: 'a', line: 1 } },
        { target: 'orders', op: 'delete', key: { id: 'a' } },
      ],
    };
    // WHEN
    const problem = problemOf(() => accept(body));
    // THEN a 400 on the second one's key, naming the first
    expect(problem).toMatchObject({ status: 400, slug: 'duplicate-item' });
    expect(problem.extensions.errors).toEqual([
      { pointer: '/items/2/key', detail: expect.stringContaining('same item as /items/0') },
    ]);
  });

  it('fails if two targets on the same table act on the same key', () => {
    // GIVEN two targets that write one table, each given order "a"
    const body = {
      items: [
        { target: 'orders', item: { id: 'a' } },
        { target: 'ordersAgain', op: 'update', key: { id: 'a' }, set: { s: 1 } },
      ],
    };
    // WHEN
    const problem = problemOf(() => accept(body));
    // THEN one transaction could not act on that item twice: a 400
    expect(problem).toMatchObject({ status: 400, slug: 'duplicate-item' });
    expect(problem.extensions.errors).toEqual([{ pointer: '/items/1/key', detail: expect.any(String) }]);
  });

  it('fails if two items go to one message-like target, whose receivers dedup by the mutation id', () => {
    // GIVEN two items for the queue
    const body = {
      items: [
        { target: 'events', item: { a: 1 } },
        { target: 'events', item: { a: 2 } },
      ],
    };
    // WHEN
    const problem = problemOf(() => accept(body));
    // THEN
    expect(problem).toMatchObject({ status: 400, slug: 'duplicate-item' });
    expect(problem.detail).toContain('one item per mutation');
  });

  it('fails if two targets send to one queue, each given an item: the queue would drop the second as a duplicate', () => {
    // GIVEN two sqs targets on the same FIFO queue, one item each
    const queueUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/events.fifo';
    const shared = namespaceConfig({
      name: 'multi',
      targets: [
        { name: 'events', type: 'sqs', queueUrl },
        { name: 'eventsAgain', type: 'sqs', queueUrl },
      ],
    });
    const body = {
      items: [
        { target: 'events', item: { a: 1 } },
        { target: 'eventsAgain', item: { a: 2 } },
      ],
    };
    // WHEN
    const problem = problemOf(() => acceptMutation(shared, parseMutationRequest(body, undefined), context));
    // THEN a 400 on the second item, naming the first
    expect(problem).toMatchObject({ status: 400, slug: 'duplicate-item' });
    expect(problem.extensions.errors).toEqual([
      { pointer: '/items/1/item', detail: expect.stringContaining('same sqs destination as /items/0') },
    ]);
  });

  it('fails if an update sets or adds what it may not, pointing at "set" and "add", not the key', () => {
    // GIVEN an update that sets a key attribute, adds to a reserved one, and has one attribute in both
    const body = {
      items: [
        { target: 'orders', item: { id: 'a' } },
        {
          target: 'lines',
          op: 'update',
          key: { order: 'o1', line: 1 },
          set: { line: 2, n: 1 },
          add: { _walCount: 1, n: 1 },
        },
      ],
    };
    // WHEN
    const problem = problemOf(() => accept(body));
    // THEN each problem points at the field it is in
    expect(problem).toMatchObject({ status: 400, slug: 'invalid-payload' });
    expect(problem.extensions.errors).toEqual([
      { pointer: '/items/1/set', detail: expect.stringContaining('"line" is a key attribute') },
      { pointer: '/items/1/set', detail: expect.stringContaining('"n" is in both "set" and "add"') },
      { pointer: '/items/1/add', detail: expect.stringContaining('reserved for the WAL') },
    ]);
  });

  it("fails if all items together are larger than the namespace's maxBytes", () => {
    // GIVEN two items of 250 bytes each (maxBytes 400)
    const body = {
      items: [
        { target: 'orders', item: { id: 'a', s: 'x'.repeat(200) } },
        { target: 'orders', item: { id: 'b', s: 'x'.repeat(200) } },
      ],
    };
    // WHEN
    const problem = problemOf(() => accept(body));
    // THEN 413, counting both
    expect(problem).toMatchObject({ status: 413, slug: 'payload-too-large' });
    expect(problem.detail).toMatch(/The 2 items are \d+ bytes together/);
  });
});

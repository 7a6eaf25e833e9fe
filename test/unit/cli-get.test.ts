import { getMutation } from '#src/cli/commands/get';

describe('wal get', () => {
  const fetchSpy = jest.spyOn(globalThis, 'fetch');

  // GIVEN a fetch that answers 200
  beforeEach(() => {
    fetchSpy.mockClear();
    fetchSpy.mockImplementation(async () => new Response('{"state":"COMMITTED"}', { status: 200 }));
  });

  afterAll(() => fetchSpy.mockRestore());

  it('asks by id alone without --key, and by the key with --key (and the stream view with --full)', async () => {
    // WHEN a mutation is got without options, then with --key and --full
    await getMutation('http://127.0.0.1:3000', 'orders', '01JAAAAAAAAAAAAAAAAAAAAAAA');
    const answer = await getMutation('http://127.0.0.1:3000', 'orders', '01JAAAAAAAAAAAAAAAAAAAAAAA', {
      key: 'order 1/a',
      full: true,
    });
    // THEN the first names the id only; the second passes the key (encoded) and view=full in the query
    expect(fetchSpy.mock.calls.map(([url]) => String(url))).toEqual([
      'http://127.0.0.1:3000/v1/namespaces/orders/mutations/01JAAAAAAAAAAAAAAAAAAAAAAA',
      'http://127.0.0.1:3000/v1/namespaces/orders/mutations/01JAAAAAAAAAAAAAAAAAAAAAAA?idempotencyKey=order+1%2Fa&view=full',
    ]);
    expect(answer).toEqual({ status: 200, body: { state: 'COMMITTED' } });
  });
});

import { formatMutation, getMutation } from '#src/cli/commands/get';

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

  it('prints the ledger view and one line per target with what goes with its state', () => {
    // GIVEN an answer with a retrying target, an applied one and a multi-item delivery
    const body = {
      id: '01JAAAAAAAAAAAAAAAAAAAAAAA',
      namespace: 'orders',
      state: 'COMMITTED',
      idempotencyKey: 'order-1',
      loggedAt: '2026-11-27T02:00:00.000Z',
      effectiveAt: '2026-11-27T02:00:00.000Z',
      status: {
        tracking: 'all',
        heldBack: { kind: 'key-lane', reason: 'held behind mutation X', since: '2026-11-27T02:00:00.500Z' },
        targets: {
          main: {
            state: 'retrying',
            attempts: 2,
            nextAttemptAt: '2026-11-27T02:00:08.000Z',
            since: '2026-11-27T02:00:04.000Z',
            lastError: 'table not found',
          },
          audit: { state: 'applied', outcome: 'duplicate', since: '2026-11-27T02:00:01.000Z' },
          '*items': {
            state: 'dead-lettered',
            reason: 'failed 8 of 8 attempts',
            items: [
              { index: 0, target: 'main', done: true },
              { index: 1, target: 'hook', done: false, error: '500' },
            ],
          },
        },
      },
    };
    // WHEN
    const lines = formatMutation(body);
    // THEN
    expect(lines).toEqual([
      'orders/01JAAAAAAAAAAAAAAAAAAAAAAA  COMMITTED  key order-1',
      '  logged 2026-11-27T02:00:00.000Z',
      '  status tracking: all',
      '  held back since 2026-11-27T02:00:00.500Z (key-lane): held behind mutation X',
      '  main             retrying  attempts 2  next attempt 2026-11-27T02:00:08.000Z  since 2026-11-27T02:00:04.000Z  last error: table not found',
      '  audit            applied  outcome duplicate  since 2026-11-27T02:00:01.000Z',
      '  *items           dead-lettered  reason: failed 8 of 8 attempts',
      '    item 0 -> main: done',
      '    item 1 -> hook: not done: 500',
    ]);
  });
  it('prints why the status is unavailable, and where the target names come from', () => {
    // GIVEN an answer whose status could not be read, and one whose targets are the namespace's
    const base = {
      id: '01JAAAAAAAAAAAAAAAAAAAAAAA',
      namespace: 'orders',
      state: 'COMMITTED',
      idempotencyKey: 'k',
    };
    const unavailable = {
      ...base,
      status: { tracking: 'failures', targets: {}, unavailable: 'could not be read' },
    };
    const fromConfig = { ...base, status: { tracking: 'all', targets: {}, note: 'targets of the config' } };
    // WHEN they are printed
    const printed = [...formatMutation(unavailable), ...formatMutation(fromConfig)].join('\n');
    // THEN each says so
    expect(printed).toContain('status unavailable: could not be read');
    expect(printed).toContain('(targets of the config)');
  });
});

import type { KinesisStreamEvent } from 'aws-lambda';
import type { LocalWal } from '#src/local/runtime/local-wal';
import {
  drain,
  ledgerTableName,
  postMutation,
  scanTable,
  streamRecords,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';

/**
 * The foundation slice against the emulators, through the local runtime: the template's API route,
 * the real handlers in their workers, the real SDK clients, Kinesis and SQS event sources.
 */
describe('ingest to target (emulators)', () => {
  let wal: LocalWal;
  let ordersTable: string;
  let pausedTable: string;
  let ledgerTable: string;

  withTestWal(async (started) => {
    wal = started;
    ordersTable = await targetTableName(wal, 'it', 'orders', 'main');
    pausedTable = await targetTableName(wal, 'it', 'paused', 'main');
    ledgerTable = ledgerTableName(wal);
  });

  it('applies a POSTed mutation to the target table', async () => {
    // WHEN
    const answer = await postMutation(wal, 'orders', {
      payload: { id: 'put-1', total: 42, lines: ['a', 'b'] },
    });
    await drain(wal);
    // THEN
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      id: expect.stringMatching(/^[0-9A-Z]{26}$/),
      namespace: 'orders',
      durable: 'SUCCESS',
      effectiveAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      sequence: expect.stringMatching(/^\d+$/),
    });
    const items = await scanTable(wal, ordersTable);
    expect(items.find((item) => item.id === 'put-1')).toMatchObject({
      id: 'put-1',
      total: 42,
      lines: ['a', 'b'],
      _walId: answer.body.id,
    });
  });

  it('answers GET /v1/namespaces/{ns}/mutations/{id} from the ledger by its key, and 404 for an unknown id', async () => {
    // GIVEN a mutation sent with an idempotency key, and one sent without (its id is its key)
    const keyed = await postMutation(
      wal,
      'orders',
      { payload: { id: 'get-1', n: 7 } },
      { 'idempotency-key': 'get-key' },
    );
    const keyless = await postMutation(wal, 'orders', { payload: { id: 'get-2', n: 8 } });
    const url = (id: unknown) => `${wal.apiUrl}/v1/namespaces/orders/mutations/${String(id)}`;
    // WHEN they are read by id: the keyed one with its key (query or header), the keyless one by id alone
    const found = await fetch(`${url(keyed.body.id)}?idempotencyKey=get-key`);
    const byHeader = await fetch(url(keyed.body.id), { headers: { 'idempotency-key': 'get-key' } });
    const full = await fetch(`${url(keyed.body.id)}?idempotencyKey=get-key&view=full`);
    const withoutKey = await fetch(url(keyed.body.id));
    const keylessFull = await fetch(`${url(keyless.body.id)}?view=full`);
    const missing = await fetch(url('01JZZZZZZZZZZZZZZZZZZZZZZZ'));
    // THEN the ledger's view answers what the commit answered; view=full adds the envelope from the stream
    expect(found.status).toBe(200);
    const view = (await found.json()) as Record<string, unknown>;
    expect(view).toEqual({
      id: keyed.body.id,
      namespace: 'orders',
      state: 'COMMITTED',
      idempotencyKey: 'get-key',
      sequence: keyed.body.sequence,
      shardId: expect.stringMatching(/^shardId-/),
      loggedAt: keyed.body.effectiveAt,
      effectiveAt: keyed.body.effectiveAt,
      // Namespace "orders" tracks failures only, and none was recorded.
      // Without view=full the targets listed are the namespace's current ones, and the answer says so.
      status: {
        tracking: 'failures',
        note: expect.stringContaining("namespace's current config"),
        targets: { main: { state: 'not-tracked', note: expect.stringContaining('delivered or in flight') } },
      },
    });
    expect(await byHeader.json()).toEqual(view);
    const { note: _configNote, ...ownTargets } = view.status as Record<string, unknown>;
    expect(await full.json()).toEqual({
      ...view,
      status: ownTargets,
      op: 'put',
      partitionKey: 'get-1',
      payload: { id: 'get-1', n: 7 },
    });
    expect(await keylessFull.json()).toMatchObject({
      id: keyless.body.id,
      idempotencyKey: keyless.body.id,
      payload: { id: 'get-2', n: 8 },
    });
    // AND without its key a keyed mutation is a 404 that says to pass the key; an unknown id is a 404
    expect(withoutKey.status).toBe(404);
    expect(withoutKey.headers.get('content-type')).toBe('application/problem+json');
    expect(((await withoutKey.json()) as { detail: string }).detail).toContain('?idempotencyKey=');
    expect(missing.status).toBe(404);
  });

  it('gives one id and one effect for the same idempotency key twice', async () => {
    // GIVEN
    const before = (await streamRecords(wal)).length;
    const mutation = { payload: { id: 'idem-1', n: 1 } };
    // WHEN the client sends the same mutation twice, by header then by body field
    const first = await postMutation(wal, 'orders', mutation, { 'idempotency-key': 'order-idem-1' });
    const second = await postMutation(wal, 'orders', { ...mutation, idempotencyKey: 'order-idem-1' });
    await drain(wal);
    // THEN both answers are the original, and one ledger entry and one applied mutation exist
    expect(first.status).toBe(200);
    expect(second).toMatchObject({ status: 200, body: { id: first.body.id, sequence: first.body.sequence } });
    const ledger = (await scanTable(wal, ledgerTable)).filter((entry) => entry.pk === 'orders#order-idem-1');
    expect(ledger).toEqual([expect.objectContaining({ id: first.body.id, state: 'COMMITTED' })]);
    // The retry's prepare reached the stream, and the consumer skipped it as a duplicate.
    expect((await streamRecords(wal)).length).toBe(before + 2);
    const items = (await scanTable(wal, ordersTable)).filter((item) => item.id === 'idem-1');
    expect(items).toEqual([expect.objectContaining({ _walId: first.body.id })]);
  });

  it('fails if an idempotency key is reused for a different mutation (422), changing nothing', async () => {
    // GIVEN a mutation committed with key reuse
    const first = await postMutation(wal, 'orders', {
      payload: { id: 'reuse-1', n: 1 },
      idempotencyKey: 'reuse',
    });
    // WHEN another mutation is sent with the same key
    const second = await postMutation(wal, 'orders', {
      payload: { id: 'reuse-1', n: 2 },
      idempotencyKey: 'reuse',
    });
    await drain(wal);
    // THEN a 422, and the item keeps the first mutation
    expect(first.status).toBe(200);
    expect(second).toMatchObject({ status: 422, contentType: 'application/problem+json' });
    expect((await scanTable(wal, ordersTable)).find((item) => item.id === 'reuse-1')).toMatchObject({ n: 1 });
  });

  it('deletes the item for op "delete"', async () => {
    // GIVEN an item put by the WAL
    await postMutation(wal, 'orders', { payload: { id: 'del-1', n: 1 } });
    await drain(wal);
    // WHEN a delete of its key is posted and delivered
    const answer = await postMutation(wal, 'orders', { op: 'delete', payload: { id: 'del-1' } });
    await drain(wal);
    // THEN the item is a tombstone
    expect(answer.status).toBe(200);
    // A tombstone (the key and the WAL's marks) keeps the delete deleted against older retried puts.
    const item = (await scanTable(wal, ordersTable)).find((candidate) => candidate.id === 'del-1');
    expect(item).toMatchObject({ id: 'del-1', _walDeleted: true, _walExpiresAt: expect.any(Number) });
    expect(Object.keys(item ?? {}).filter((name) => !name.startsWith('_wal'))).toEqual(['id']);
  });

  it('never lets an older or redelivered mutation overwrite a newer one', async () => {
    // GIVEN two committed mutations of one key, applied in order
    const older = await postMutation(wal, 'orders', { payload: { id: 'order-1', version: 1 } });
    const newer = await postMutation(wal, 'orders', { payload: { id: 'order-1', version: 2 } });
    await drain(wal);
    // WHEN the stream delivers the older record again (Kinesis is at-least-once)
    const records = await streamRecords(wal);
    const olderRecord = records.find((record) => record.data.includes(String(older.body.id)));
    if (!olderRecord) throw new Error('older record not on the stream');
    // The stream consumer is the function the template wires to the stream's mapping.
    const mapping = wal.wiring.kinesisMappings[0];
    const consumer = mapping && wal.wiring.functions.get(mapping.functionLogicalId);
    if (!consumer || !mapping) throw new Error('no stream consumer in the template');
    const event: KinesisStreamEvent = {
      Records: [
        {
          kinesis: {
            kinesisSchemaVersion: '1.0',
            partitionKey: 'orders#order-1',
            sequenceNumber: olderRecord.sequence,
            data: Buffer.from(olderRecord.data).toString('base64'),
            approximateArrivalTimestamp: Date.now() / 1000,
          },
          eventSource: 'aws:kinesis',
          eventVersion: '1.0',
          eventID: `shardId-000000000000:${olderRecord.sequence}`,
          eventName: 'aws:kinesis:record',
          invokeIdentityArn: 'local',
          awsRegion: 'us-east-1',
          eventSourceARN: mapping.settings.streamArn,
        },
      ],
    };
    const response = await wal.invoke(consumer.logicalId, event);
    // THEN the redelivery succeeds and the item keeps the newer mutation
    expect(response).toEqual({ batchItemFailures: [] });
    expect((await scanTable(wal, ordersTable)).find((item) => item.id === 'order-1')).toMatchObject({
      version: 2,
      _walId: newer.body.id,
    });
  });

  describe('bad input', () => {
    it.each([
      // GIVEN each bad request with the status and code it must get
      ['the body is not JSON', 'orders', '{"payload":', {}, 400, 'invalid-json'],
      ['the payload is missing', 'orders', { op: 'put' }, {}, 400, 'missing-payload'],
      [
        'the payload is over maxBytes',
        'orders',
        { payload: { id: 'big', s: 'x'.repeat(2_000) } },
        {},
        413,
        'payload-too-large',
      ],
      ['the payload lacks the target key', 'orders', { payload: { n: 1 } }, {}, 400, 'invalid-payload'],
      [
        'the delay is over the namespace maximum',
        'orders',
        { payload: { id: 'd' }, lifecycle: { delaySeconds: 7_200 } },
        {},
        400,
        'delay-out-of-bounds',
      ],
      [
        'the delay is not a number',
        'orders',
        { payload: { id: 'd' }, lifecycle: { delaySeconds: 'soon' } },
        {},
        400,
        'invalid-mutation',
      ],
      ['the namespace is unknown', 'nope', { payload: { id: 'x' } }, {}, 404, 'unknown-namespace'],
      [
        'the namespace name is not a namespace name',
        'NOT_valid!',
        { payload: { id: 'x' } },
        {},
        404,
        'unknown-namespace',
      ],
      ['the namespace is disabled', 'paused', { payload: { id: 'x' } }, {}, 403, 'namespace-disabled'],
      [
        'the idempotency header is malformed',
        'orders',
        { payload: { id: 'x' } },
        { 'idempotency-key': 'has space' },
        400,
        'invalid-idempotency-key',
      ],
    ])('fails if %s, and writes nothing', async (_case, namespace, body, headers, status, slug) => {
      // GIVEN
      const recordsBefore = (await streamRecords(wal)).length;
      const ledgerBefore = (await scanTable(wal, ledgerTable)).length;
      // WHEN
      const answer = await postMutation(wal, namespace, body, headers);
      await drain(wal);
      // THEN a problem+json that says what is wrong, and no write anywhere
      expect(answer.status).toBe(status);
      expect(answer.contentType).toBe('application/problem+json');
      expect(answer.body).toMatchObject({
        status,
        type: expect.stringContaining(slug),
        detail: expect.any(String),
      });
      expect((await streamRecords(wal)).length).toBe(recordsBefore);
      expect((await scanTable(wal, ledgerTable)).length).toBe(ledgerBefore);
      expect(await scanTable(wal, pausedTable)).toEqual([]);
    });
  });
});

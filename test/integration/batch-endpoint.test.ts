import type { LocalWal } from '#src/local/runtime/local-wal';
import { drain, scanTable, targetTableName, withTestWal } from '#test/support/local-wal-harness';

interface BatchAnswer {
  readonly status: number;
  readonly body: { results?: Record<string, unknown>[] } & Record<string, unknown>;
}

async function postBatch(wal: LocalWal, namespace: string, body: unknown): Promise<BatchAnswer> {
  const response = await fetch(`${wal.apiUrl}/v1/namespaces/${namespace}/mutations:batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as BatchAnswer['body'] };
}

/** The batch route of the template, served by the local runtime against the emulators. */
describe('batch endpoint (emulators)', () => {
  let wal: LocalWal;
  let ordersTable: string;

  withTestWal(async (started) => {
    wal = started;
    ordersTable = await targetTableName(wal, 'it', 'orders', 'main');
  });

  const mixed = {
    mutations: [
      { payload: { id: 'batch-1', n: 1 }, idempotencyKey: 'batch-k1' },
      { payload: { id: 'batch-bad' }, op: 'explode' },
      { payload: { id: 'batch-dup', n: 2 }, idempotencyKey: 'batch-k1' },
      { payload: { id: 'batch-2', n: 3 } },
      { payload: { id: 'batch-3', n: 4 }, idempotencyKey: 'batch-k3' },
    ],
  };

  it('answers each mutation of a mixed batch in order and applies only the valid ones', async () => {
    // WHEN a batch of valid, invalid and duplicate-key mutations is posted
    const answer = await postBatch(wal, 'orders', mixed);
    await drain(wal);
    // THEN one answer each, in request order
    expect(answer.status).toBe(200);
    const results = answer.body.results ?? [];
    expect(results.map((result) => [result.status, result.durable])).toEqual([
      [200, 'SUCCESS'],
      [400, undefined],
      [400, undefined],
      [200, 'SUCCESS'],
      [200, 'SUCCESS'],
    ]);
    expect(results[2]?.type).toContain('duplicate-idempotency-key');
    // AND only the valid ones reached the target, each with its answer's id
    const items = await scanTable(wal, ordersTable);
    const batchItems = items.filter((item) => String(item.id).startsWith('batch-'));
    expect(batchItems.map((item) => item.id).sort()).toEqual(['batch-1', 'batch-2', 'batch-3']);
    expect(batchItems.find((item) => item.id === 'batch-1')?._walId).toBe(results[0]?.id);
  });

  it('answers a repeated batch with the original answers of its keyed mutations', async () => {
    // GIVEN the batch was posted once (previous test); the keyless one gets the key its answer named
    const first = await postBatch(wal, 'orders', mixed);
    // WHEN it is posted again
    const again = await postBatch(wal, 'orders', mixed);
    await drain(wal);
    // THEN the keyed mutations get the same ids and sequences; the rest answer as before
    const [one, , , , three] = again.body.results ?? [];
    expect(one).toMatchObject({
      status: 200,
      id: first.body.results?.[0]?.id,
      sequence: first.body.results?.[0]?.sequence,
    });
    expect(three).toMatchObject({
      status: 200,
      id: first.body.results?.[4]?.id,
      sequence: first.body.results?.[4]?.sequence,
    });
    expect(again.body.results?.[1]?.status).toBe(400);
    expect(again.body.results?.[2]?.status).toBe(400);
  });

  it('fails if the batch is empty (400 problem for the whole request)', async () => {
    // WHEN
    const answer = await postBatch(wal, 'orders', { mutations: [] });
    // THEN
    expect(answer.status).toBe(400);
    expect(answer.body.type).toContain('invalid-batch-size');
  });
});

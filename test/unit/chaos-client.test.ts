import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  fillEffectiveTimes,
  groupRequests,
  type MutationResult,
  sendBatch,
  sendOne,
} from '#src/chaos/client';
import type { PlannedMutation } from '#src/chaos/workload';

interface Seen {
  readonly idempotencyKey?: string;
  readonly url?: string;
  readonly at: number;
}

type Reply = (seen: Seen, res: ServerResponse) => void;

/** An API stand-in that answers each request with the next reply (the last one repeats). */
async function fakeApi(replies: Reply[]): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const key = req.headers['idempotency-key'];
      const entry: Seen = {
        ...(typeof key === 'string' ? { idempotencyKey: key } : {}),
        ...(req.url ? { url: req.url } : {}),
        at: Date.now(),
      };
      seen.push(entry);
      const reply = replies[Math.min(seen.length - 1, replies.length - 1)] as Reply;
      reply(entry, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, server };
}

const json =
  (status: number, body: Record<string, unknown>, delayMs = 0): Reply =>
  (_seen, res) => {
    setTimeout(() => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    }, delayMs);
  };
const hangUp: Reply = (_seen, res) => res.socket?.destroy();
const success = json(200, {
  id: 'ID1',
  durable: 'SUCCESS',
  sequence: '42',
  effectiveAt: '2026-11-26T16:00:00.123Z',
});

function mutation(client: PlannedMutation['client']): PlannedMutation {
  return {
    index: 0,
    op: client === 'keyless' ? 'keyless-counter' : 'counter',
    client,
    key: 'c0',
    ...(client === 'keyless' ? {} : { idempotencyKey: 'm0' }),
    body: { op: 'update', payload: { id: 'c0' }, add: { count: 1 } },
    delayed: false,
  };
}

describe('chaos clients', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('retries an UNKNOWN with the same key and keeps the order fields of the answer', async () => {
    // GIVEN an API that answers UNKNOWN once, then SUCCESS
    const api = await fakeApi([json(503, { id: 'ID1', durable: 'UNKNOWN' }), success]);
    server = api.server;
    // WHEN a careful client sends
    const result = await sendOne(mutation('careful'), { apiUrl: api.url, namespace: 'ns', concurrency: 1 });
    // THEN it is acked with the answer's sequence and effective time, after two attempts with one key
    expect(result).toMatchObject({
      outcome: 'acked',
      id: 'ID1',
      sequence: '42',
      attempts: 2,
      unknownAnswers: 1,
    });
    expect(result.effectiveAt).toBe(Date.UTC(2026, 10, 26, 16, 0, 0, 123));
    expect(api.seen.map((s) => s.idempotencyKey)).toEqual(['m0', 'm0']);
  });

  it('abandons a slow attempt and retries with the same key while it still runs (impatient)', async () => {
    // GIVEN an API whose first answer takes 1.5 s, longer than any impatient timeout (at most 300 ms)
    const api = await fakeApi([json(200, { id: 'ID1', durable: 'SUCCESS' }, 1_500), success]);
    server = api.server;
    // WHEN an impatient client sends
    const result = await sendOne(mutation('impatient'), { apiUrl: api.url, namespace: 'ns', concurrency: 1 });
    // THEN its second attempt started before the first was answered, with the same key
    expect(result).toMatchObject({ outcome: 'acked', abandoned: 1 });
    const [first, second] = api.seen;
    expect(second?.idempotencyKey).toBe('m0');
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeLessThan(1_000);
  });

  it('sends again without a key when a keyless send gets no answer, and counts the sends', async () => {
    // GIVEN an API that drops the first connection, then answers UNKNOWN with an id, then SUCCESS
    const api = await fakeApi([hangUp, json(503, { id: 'ID2', durable: 'UNKNOWN' }), success]);
    server = api.server;
    // WHEN a keyless client sends
    const result = await sendOne(mutation('keyless'), { apiUrl: api.url, namespace: 'ns', concurrency: 1 });
    // THEN: two sends without a key (each may apply), then a retry keyed by the id it learned
    expect(api.seen.map((s) => s.idempotencyKey)).toEqual([undefined, undefined, 'ID2']);
    expect(result).toMatchObject({ outcome: 'acked', keylessSends: 2 });
  });

  it('stops at FAIL and never retries after it', async () => {
    // GIVEN an API that answers FAIL, then would answer SUCCESS
    const api = await fakeApi([json(503, { id: 'ID1', durable: 'FAIL' }), success]);
    server = api.server;
    // WHEN a careful client sends a mutation
    const result = await sendOne(mutation('careful'), { apiUrl: api.url, namespace: 'ns', concurrency: 1 });
    // THEN it is failed after one request
    expect(result.outcome).toBe('failed');
    expect(api.seen).toHaveLength(1);
  });

  it('counts a mutation as unresolved when no attempt settles it in time', async () => {
    // GIVEN an API that always answers UNKNOWN
    const api = await fakeApi([json(503, { durable: 'UNKNOWN' })]);
    server = api.server;
    // WHEN a careful client retries for 300 ms
    const result = await sendOne(mutation('careful'), {
      apiUrl: api.url,
      namespace: 'ns',
      concurrency: 1,
      retryForMs: 300,
    });
    // THEN it is unresolved, after several UNKNOWN answers
    expect(result).toMatchObject({ outcome: 'unresolved' });
    expect(result.unknownAnswers).toBeGreaterThan(1);
  });

  it('looks up the effective time of an answer without one: the delivery time if delayed', async () => {
    // GIVEN an acked result without effectiveAt, and an API whose GET gives the mutation's times
    const api = await fakeApi([
      json(200, {
        sequence: '7',
        loggedAt: '2026-11-26T16:00:00.000Z',
        deliverAt: '2026-11-26T16:00:03.000Z',
      }),
    ]);
    server = api.server;
    const acked: MutationResult = {
      mutation: mutation('careful'),
      outcome: 'acked',
      id: 'ID1',
      attempts: 1,
      unknownAnswers: 0,
      keylessSends: 0,
      abandoned: 0,
    };
    // WHEN the times are filled in
    const [filled] = await fillEffectiveTimes([acked], { apiUrl: api.url, namespace: 'ns' });
    // THEN the delivery time and the sequence are used
    expect(filled).toMatchObject({ effectiveAt: Date.UTC(2026, 10, 26, 16, 0, 3), sequence: '7' });
  });

  it("looks up a keyed mutation's effective time by its key, from the lean view's effectiveAt", async () => {
    // GIVEN an acked keyed result without effectiveAt, and an API whose GET answers the lean ledger's view
    const api = await fakeApi([
      json(200, {
        sequence: '8',
        loggedAt: '2026-11-26T16:00:00.000Z',
        effectiveAt: '2026-11-26T16:00:05.000Z',
      }),
    ]);
    server = api.server;
    const acked: MutationResult = {
      mutation: mutation('careful'),
      outcome: 'acked',
      id: 'ID2',
      attempts: 1,
      unknownAnswers: 0,
      keylessSends: 0,
      abandoned: 0,
    };
    // WHEN the times are filled in
    const [filled] = await fillEffectiveTimes([acked], { apiUrl: api.url, namespace: 'ns' });
    // THEN the GET named the key, and the view's effectiveAt is used
    expect(api.seen[0]?.url).toBe('/v1/namespaces/ns/mutations/ID2?idempotencyKey=m0');
    expect(filled).toMatchObject({ effectiveAt: Date.UTC(2026, 10, 26, 16, 0, 5), sequence: '8' });
  });

  it('sends a batch, retries each unsettled member with its key in its body, and settles each on its own', async () => {
    // GIVEN an API whose first batch answer is UNKNOWN for both members, then SUCCESS for each
    const bodies: { mutations: Record<string, unknown>[] }[] = [];
    const answers = [
      [
        { status: 503, durable: 'UNKNOWN', id: 'ID1' },
        { status: 503, durable: 'UNKNOWN', id: 'ID2' },
      ],
      [
        { status: 200, durable: 'SUCCESS', id: 'ID1', sequence: '1' },
        { status: 200, durable: 'SUCCESS', id: 'ID2', sequence: '2' },
      ],
    ];
    const batchServer = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk) => {
        text += chunk;
      });
      req.on('end', () => {
        bodies.push(JSON.parse(text));
        const results = answers[Math.min(bodies.length - 1, 1)];
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results }));
      });
    });
    server = batchServer;
    await new Promise<void>((resolve) => batchServer.listen(0, '127.0.0.1', resolve));
    const { port } = batchServer.address() as AddressInfo;
    // WHEN a careful and a keyless mutation are sent as one batch
    const results = await sendBatch([mutation('careful'), { ...mutation('keyless'), index: 1 }], {
      apiUrl: `http://127.0.0.1:${port}`,
      namespace: 'ns',
      concurrency: 1,
    });
    // THEN the retry carries the careful key and the key the keyless one learned, and both are acked
    expect(bodies[0]?.mutations.map((entry) => entry.idempotencyKey)).toEqual(['m0', undefined]);
    expect(bodies[1]?.mutations.map((entry) => entry.idempotencyKey)).toEqual(['m0', 'ID2']);
    expect(
      results.map((result) => [result.outcome, result.sequence, result.batched, result.keylessSends]),
    ).toEqual([
      ['acked', '1', true, 0],
      ['acked', '2', true, 1],
    ]);
  });

  it('cuts the plan into single requests and batches of 2 to 10, in plan order', () => {
    // GIVEN a plan of 40 mutations and draws that make every other request a batch
    const plan = Array.from({ length: 40 }, (_, index) => ({ ...mutation('careful'), index }));
    let draw = 0;
    const random = () => [0.1, 0.99, 0.9][draw++ % 3] as number;
    // WHEN
    const requests = groupRequests(plan, random);
    // THEN every mutation is in exactly one request, in order, and batches hold 2 to 10
    expect(requests.flat().map((entry) => entry.index)).toEqual(plan.map((entry) => entry.index));
    expect(requests.some((request) => request.length > 1)).toBe(true);
    expect(requests.every((request) => request.length >= 1 && request.length <= 10)).toBe(true);
  });
});

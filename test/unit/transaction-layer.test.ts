import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { transactionLayer } from '#src/local/dynamo-transactions/transaction-layer';
import type { DynamoCall } from '#src/local/dynamo-transactions/wire';

/** A transaction's calls wait on `release` while it holds the exclusive lock; dynalite answers `{}` at once. */
function startLayer(): { server: Server; release: () => void; port: () => number } {
  let releaseCalls: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    releaseCalls = resolve;
  });
  const call: DynamoCall = async (operation) => {
    await held;
    return operation === 'DescribeTable'
      ? { Table: { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] } }
      : {};
  };
  const dynalite = (_req: unknown, res: { end(text: string): void }) => res.end('{}');
  const server = createServer(transactionLayer(dynalite as never, call));
  server.listen(0, '127.0.0.1');
  return { server, release: () => releaseCalls(), port: () => (server.address() as AddressInfo).port };
}

/** One DynamoDB-style POST; `abortAfterMs` destroys it before an answer, as an SDK request timeout does. */
function post(port: number, operation: string, body: object, abortAfterMs?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        headers: {
          'X-Amz-Target': `DynamoDB_20120810.${operation}`,
          'Content-Type': 'application/x-amz-json-1.0',
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (error) => (abortAfterMs === undefined ? reject(error) : resolve(-1)));
    req.end(JSON.stringify(body));
    if (abortAfterMs !== undefined) setTimeout(() => req.destroy(), abortAfterMs);
  });
}

const TRANSACTION = {
  TransactItems: [{ Put: { TableName: 't', Item: { pk: { S: 'a' } } } }],
};

describe('the local transaction layer', () => {
  it('keeps serving after a client gives up while it waits behind a transaction', async () => {
    // GIVEN a transaction that holds the exclusive lock
    const layer = startLayer();
    await new Promise((resolve) => layer.server.once('listening', resolve));
    try {
      const first = post(layer.port(), 'TransactWriteItems', TRANSACTION);
      await new Promise((resolve) => setTimeout(resolve, 50));
      // WHEN a reader queued behind it gives up (its socket closes before it is let in), and the transaction ends
      expect(await post(layer.port(), 'GetItem', {}, 50)).toBe(-1);
      layer.release();
      await first;
      // THEN a later transaction and a later read are still served (the gone reader's slot was given back)
      let timer: NodeJS.Timeout | undefined;
      const answers = await Promise.race([
        Promise.all([
          post(layer.port(), 'TransactWriteItems', TRANSACTION),
          post(layer.port(), 'GetItem', {}),
        ]),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve('blocked'), 2000);
        }),
      ]);
      clearTimeout(timer);
      expect(answers).toEqual([200, 200]);
    } finally {
      layer.server.closeAllConnections();
      await new Promise((resolve) => layer.server.close(resolve));
    }
  });
});

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { ClientTokens } from './idempotency';
import { ReadWriteLock } from './rw-lock';
import { transactGetItems } from './transact-get';
import { transactWriteItems, type UndoLog } from './transact-write';
import { type DynamoCall, DynamoWireError, dynamoError } from './wire';

type Operation = (input: Record<string, unknown>) => Promise<Record<string, unknown>>;

/**
 * The request listener in front of dynalite: every request goes to dynalite untouched (holding the lock shared),
 * except TransactWriteItems and TransactGetItems, implemented here while holding it exclusive, so no request ever
 * runs during a transaction and none sees one half applied.
 */
export function transactionLayer(
  dynalite: RequestListener,
  call: DynamoCall,
  undoLog?: UndoLog,
): RequestListener {
  const lock = new ReadWriteLock();
  const tokens = new ClientTokens();
  const operations: Record<string, Operation> = {
    TransactWriteItems: async (input) => {
      const { ClientRequestToken: token, ...request } = input;
      const fingerprint = JSON.stringify(request);
      const clientToken = typeof token === 'string' ? token : undefined;
      if (tokens.alreadyApplied(clientToken, fingerprint)) return {};
      const answer = await transactWriteItems(call, input, undoLog);
      tokens.remember(clientToken, fingerprint);
      return answer;
    },
    TransactGetItems: (input) => transactGetItems(call, input),
  };

  return (req, res) => {
    const target = req.headers['x-amz-target'];
    const operation = typeof target === 'string' ? operations[target.split('.')[1] ?? ''] : undefined;
    if (operation) {
      // A client that closes its socket mid-body must not become an unhandled rejection (it would stop the WAL).
      runExclusive(lock, operation, req, res).catch(() => res.destroy());
      return;
    }
    void lock.shared().then((release) => {
      // A client that gave up while queued (an SDK timeout behind a transaction) has closed already: its 'close'
      // will not come again, and a slot never released would block every transaction after it for good.
      if (res.closed || req.destroyed) {
        release();
        return;
      }
      res.once('close', release);
      dynalite(req, res);
    });
  };
}

async function runExclusive(
  lock: ReadWriteLock,
  operation: Operation,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let input: Record<string, unknown>;
  try {
    input = JSON.parse(await readBody(req)) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    send(res, 400, { __type: 'com.amazon.coral.service#SerializationException' });
    return;
  }
  const release = await lock.exclusive();
  try {
    send(res, 200, await operation(input));
  } catch (err) {
    if (err instanceof DynamoWireError) send(res, err.status, err.body);
    else send(res, 500, dynamoError('InternalServerError', { message: String(err) }).body);
  } finally {
    release();
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
    // Some Node versions only close (no error) when the client goes away mid-body; after 'end' this is a no-op.
    req.on('close', () => reject(new Error('the client closed the connection before the body ended')));
  });
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.0',
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': randomUUID(),
  });
  res.end(text);
}

import { createServer, type RequestListener, type Server } from 'node:http';
import { DEFAULT_LOCAL_HOST } from '#src/local/constants';
import { close, endpointUrl, listen } from '#src/local/http-server';
import { transactionLayer } from './transaction-layer';
import { rollBackInterrupted, undoJournal } from './undo-journal';
import { dynaliteCaller } from './wire';

export interface TransactionServerOptions {
  /** A dynalite server, not listening yet. */
  dynalite: Server;
  host: string;
  port: number;
  /** Where the undo journal lives (with --data-dir); none in memory. */
  undoJournalPath?: string;
}

/**
 * Serves DynamoDB on host:port: dynalite plus TransactWriteItems / TransactGetItems. dynalite itself listens on a
 * loopback port of its own that only the transactions use.
 */
export async function startTransactionServer(
  options: TransactionServerOptions,
): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const { dynalite, host, port, undoJournalPath } = options;
  const internalPort = await listen(dynalite, 0, DEFAULT_LOCAL_HOST);
  const front = createServer();
  try {
    const call = dynaliteCaller(endpointUrl(DEFAULT_LOCAL_HOST, internalPort));
    if (undoJournalPath) await rollBackInterrupted(call, undoJournalPath);
    const handle = dynalite.listeners('request')[0] as RequestListener;
    front.on(
      'request',
      transactionLayer(handle, call, undoJournalPath ? undoJournal(undoJournalPath) : undefined),
    );
    const bound = await listen(front, port, host);
    return {
      endpoint: endpointUrl(host, bound),
      stop: async () => {
        await close(front);
        await close(dynalite);
      },
    };
  } catch (err) {
    // dynalite releases its store (and the data dir) only when its listening server closes.
    await close(dynalite).catch(() => undefined);
    throw err;
  }
}

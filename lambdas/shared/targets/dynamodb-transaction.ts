import { createHash } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoDbItemSize } from '#lambdas/shared/dynamodb-item-size';
import type { LoggedMutation } from '#lambdas/shared/envelope';
import {
  ConcurrentItemWriteError,
  type ConditionalPut,
  type DynamoDbTarget,
  MAX_WRITE_ROUNDS,
  newRevision,
  type PlannedWrite,
} from './dynamodb-target';
import type { ApplyContext, ApplyOutcome } from './target';
import { PermanentTargetError } from './target-errors';

/**
 * The DynamoDB items of a multi-item mutation, applied all or none in one TransactWriteItems. Each item is
 * placed in its own key's WAL order exactly as a single-item apply places it (DynamoDbTarget.planWrite: read,
 * applyToHistory, a put conditional on the item being unchanged since the read); the transaction then writes
 * every put that has an effect, or none of them. A failed condition means another writer changed an item
 * between the read and the write: read again and retry, a few rounds, as the single-item apply does.
 */

/** One DynamoDB item of the mutation: its index in `envelope.items`, its target and its single-item mutation. */
export interface TransactionItem {
  readonly index: number;
  readonly target: DynamoDbTarget;
  readonly mutation: LoggedMutation;
}

/** An item's own failure (it cannot be placed, a counter is not a number...): the others are not applied either. */
export class TransactionItemError extends Error {
  constructor(
    readonly index: number,
    options: { cause: unknown },
  ) {
    const cause = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`item ${index}: ${cause}`, options);
    this.name = 'TransactionItemError';
  }
}

/** Cancellation reasons that say the request itself is wrong (too large, bad values): retrying cannot help. */
const PERMANENT_CANCELLATIONS = new Set(['ValidationError', 'ItemCollectionSizeLimitExceeded']);
/** Cancellation reasons that say an item changed between the read and the write: read again. */
const CHANGED_CANCELLATIONS = new Set(['ConditionalCheckFailed', 'TransactionConflict']);

/**
 * Applies the items in one transaction; resolves with each item's outcome (in the order given). Throws a
 * TransactionItemError for an item that cannot be applied, a ConcurrentItemWriteError when the items kept
 * changing, a PermanentTargetError when DynamoDB refuses the transaction as such, or the SDK's error.
 */
export async function applyInTransaction(
  documentClient: DynamoDBDocumentClient,
  items: readonly TransactionItem[],
  context: ApplyContext,
): Promise<ApplyOutcome[]> {
  const id = items[0]?.mutation.envelope.id ?? '';
  for (let round = 0; round < MAX_WRITE_ROUNDS; round++) {
    // One revision per round: the items written together carry it, and it names the request's token.
    const revision = newRevision(id);
    const writes = await Promise.all(items.map((item) => planItem(item, context, revision)));
    const puts = writes.flatMap((write) => (write.outcome === 'applied' ? [{ Put: write.put }] : []));
    checkTransactionSize(items, writes);
    if (puts.length === 0 || (await writeAll(documentClient, puts, revision))) {
      return writes.map((write) => write.outcome);
    }
  }
  throw new ConcurrentItemWriteError('a multi-item transaction', id, MAX_WRITE_ROUNDS);
}

/**
 * TransactWriteItems takes at most 4 MB of items together, and each put carries the whole stored item (with
 * its WAL attributes), not just the change: small updates of large items can pass it. DynamoDB would only refuse it after
 * the call (ValidationException); this says so before, with the items to blame.
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
 */
const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;

/** Throws a PermanentTargetError when the puts planned are over {@link MAX_TRANSACTION_BYTES} together. */
function checkTransactionSize(items: readonly TransactionItem[], writes: readonly PlannedWrite[]): void {
  const sizes = writes.flatMap((write, position) =>
    write.outcome === 'applied'
      ? [
          {
            index: items[position]?.index,
            table: write.put.TableName,
            bytes: dynamoDbItemSize(write.put.Item),
          },
        ]
      : [],
  );
  const total = sizes.reduce((sum, size) => sum + size.bytes, 0);
  if (total <= MAX_TRANSACTION_BYTES) return;
  const largest = sizes
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 3)
    .map((size) => `item ${size.index} (table "${size.table}") ${size.bytes} bytes`)
    .join(', ');
  throw new PermanentTargetError(
    'a multi-item transaction',
    `the transaction would write ${total} bytes, over DynamoDB's 4 MB (${MAX_TRANSACTION_BYTES} bytes) for one ` +
      `transaction (each item is written whole, not just its change); largest items: ${largest}. ` +
      'Send these items in several smaller mutations',
  );
}

async function planItem(
  item: TransactionItem,
  context: ApplyContext,
  revision: string,
): Promise<PlannedWrite> {
  try {
    return await item.target.planWrite(item.mutation, context, revision);
  } catch (error) {
    throw new TransactionItemError(item.index, { cause: error });
  }
}

/**
 * The token makes an SDK retry of this very request (its answer was lost) succeed instead of failing its
 * conditions on the items it wrote; each round has its own revision, hence its own token (at most 36 characters).
 */
export function transactionToken(revision: string): string {
  return createHash('sha256').update(revision).digest('base64url').slice(0, 36);
}

/** Sends the transaction; false when an item changed since it was read (read again), else throws. */
async function writeAll(
  documentClient: DynamoDBDocumentClient,
  puts: { Put: ConditionalPut }[],
  revision: string,
): Promise<boolean> {
  try {
    await documentClient.send(
      new TransactWriteCommand({ TransactItems: puts, ClientRequestToken: transactionToken(revision) }),
    );
    return true;
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
    const codes = (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
    const refused = codes.find((code) => PERMANENT_CANCELLATIONS.has(code));
    if (refused !== undefined) {
      throw new PermanentTargetError('a multi-item transaction', `${refused}: ${error.message}`, {
        cause: error,
      });
    }
    if (codes.some((code) => CHANGED_CANCELLATIONS.has(code))) return false;
    throw error;
  }
}

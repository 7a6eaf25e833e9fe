import { itemSize } from './item-size';
import { parseWriteActions, type WriteAction } from './transact-actions';
import { type DynamoCall, DynamoWireError, dynamoError, validationError, type WireItem } from './wire';

/** DynamoDB's limit on the aggregate size of the items in one transaction. */
const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;

/** What a transaction's writes replaced: put `item` back, or delete `key` when there was no item. */
export interface UndoEntry {
  table: string;
  key: WireItem;
  item?: WireItem;
}

/** Durable record of a transaction being applied (src/local/dynamo-transactions/undo-journal.ts). */
export interface UndoLog {
  /** Rolls back a transaction whose own rollback failed (its journal is still there); throws if it fails again. */
  recover(call: DynamoCall): Promise<void>;
  begin(entries: UndoEntry[]): void;
  end(): void;
}

interface Reason {
  Code: string;
  Message?: string;
  Item?: WireItem;
}

/**
 * TransactWriteItems on dynalite, all or nothing. The caller holds the exclusive lock, so nothing changes under it:
 * 1. snapshot every item; 2. check every condition (a conditional write of the snapshot back, or a conditional
 * delete of the absent item: dynalite evaluates the expression, nothing changes); 3. if one fails, cancel with a
 * reason per action; 4. else apply the actions one by one, and put the snapshots back if one of them fails.
 */
export async function transactWriteItems(
  call: DynamoCall,
  input: Record<string, unknown>,
  undoLog?: UndoLog,
): Promise<Record<string, unknown>> {
  // A journal left by a failed rollback is put back first: overwriting it would lose that rollback for good.
  await undoLog?.recover(call);
  const actions = await parseWriteActions(call, input.TransactItems);
  checkSize(actions);
  const before = await Promise.all(actions.map((action) => snapshot(call, action)));
  const reasons = await Promise.all(actions.map((action, i) => checkCondition(call, action, before[i])));
  if (reasons.some((reason) => reason.Code !== 'None')) throw cancelled(reasons);

  const writes = actions.filter((action) => action.kind !== 'ConditionCheck');
  const undo = writes.map((action) => ({ table: action.table, key: action.key, item: before[action.index] }));
  undoLog?.begin(undo);
  const failure = await applyWrites(call, writes, undo, reasons);
  // Not reached if putting the snapshots back failed: the journal stays, and the next start rolls back.
  undoLog?.end();
  if (failure) throw failure;
  return {};
}

/** Applies the writes in order; if one fails, puts every snapshot back and answers the error to give. */
async function applyWrites(
  call: DynamoCall,
  writes: WriteAction[],
  undo: UndoEntry[],
  reasons: Reason[],
): Promise<DynamoWireError | Error | undefined> {
  let current: WriteAction | undefined;
  try {
    for (const action of writes) {
      current = action;
      await call(action.kind === 'Put' ? 'PutItem' : `${action.kind}Item`, request(action));
    }
    return undefined;
  } catch (err) {
    await restore(call, undo);
    const index = current?.index;
    if (!(err instanceof DynamoWireError) || index === undefined) {
      return err instanceof Error ? err : new Error(String(err));
    }
    // Conditions were checked under the same lock, so this is unexpected; still answered the way DynamoDB would.
    if (err.type === 'ConditionalCheckFailedException') {
      return cancelled(reasons.map((reason, i) => (i === index ? failed(reason) : reason)));
    }
    // What only applying finds (ADD to a string, an item over 400 KB): DynamoDB cancels the transaction with a
    // ValidationError reason at that action, None elsewhere; input-shape errors were thrown before anything applied.
    if (err.type === 'ValidationException') {
      const reason = { Code: 'ValidationError', Message: err.message };
      return cancelled(reasons.map((other, i) => (i === index ? reason : other)));
    }
    return err;
  }
}

/** Puts every item back as it was before the transaction (idempotent: also used to recover after a crash). */
export async function restore(call: DynamoCall, undo: UndoEntry[]): Promise<void> {
  for (const { table, key, item } of undo) {
    if (item) await call('PutItem', { TableName: table, Item: item });
    else await call('DeleteItem', { TableName: table, Key: key });
  }
}

function checkSize(actions: WriteAction[]): void {
  const bytes = actions.reduce(
    (sum, action) => sum + itemSize(action.kind === 'Put' ? (action.spec.Item as WireItem) : action.key),
    0,
  );
  if (bytes > MAX_TRANSACTION_BYTES) {
    throw validationError(
      'Transaction request size exceeds the maximum of 4 MB for the aggregate size of its items',
    );
  }
}

async function snapshot(call: DynamoCall, action: WriteAction): Promise<WireItem | undefined> {
  const answer = await call('GetItem', { TableName: action.table, Key: action.key, ConsistentRead: true });
  return answer.Item as WireItem | undefined;
}

async function checkCondition(
  call: DynamoCall,
  action: WriteAction,
  item: WireItem | undefined,
): Promise<Reason> {
  const condition = action.spec.ConditionExpression;
  if (typeof condition !== 'string') return { Code: 'None' };
  const probe = {
    TableName: action.table,
    ConditionExpression: condition,
    ...usedIn(condition, 'ExpressionAttributeNames', action.spec.ExpressionAttributeNames),
    ...usedIn(condition, 'ExpressionAttributeValues', action.spec.ExpressionAttributeValues),
  };
  try {
    await (item
      ? call('PutItem', { ...probe, Item: item })
      : call('DeleteItem', { ...probe, Key: action.key }));
    return { Code: 'None' };
  } catch (err) {
    if (!(err instanceof DynamoWireError && err.type === 'ConditionalCheckFailedException')) throw err;
    const withItem = action.spec.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && item !== undefined;
    return { ...failed({ Code: 'None' }), ...(withItem ? { Item: item } : {}) };
  }
}

/** The placeholders (#name or :value) of `field` that the expression uses: dynalite rejects unused ones. */
function usedIn(expression: string, field: string, placeholders: unknown): Record<string, unknown> {
  if (typeof placeholders !== 'object' || placeholders === null) return {};
  const used = Object.entries(placeholders).filter(([token]) =>
    new RegExp(`${token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_])`).test(expression),
  );
  return used.length > 0 ? { [field]: Object.fromEntries(used) } : {};
}

/** The action as a single-item call: ReturnValuesOnConditionCheckFailure is answered from the snapshot instead. */
function request(action: WriteAction): Record<string, unknown> {
  const { ReturnValuesOnConditionCheckFailure: _answeredFromSnapshot, ...spec } = action.spec;
  return spec;
}

function failed(reason: Reason): Reason {
  return { ...reason, Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' };
}

function cancelled(reasons: Reason[]): DynamoWireError {
  const codes = reasons.map((reason) => reason.Code).join(', ');
  return dynamoError('TransactionCanceledException', {
    Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes}]`,
    CancellationReasons: reasons,
  });
}

import { type DynamoCall, validationError, type WireItem } from './wire';

/** DynamoDB's limits for one transaction (TransactWriteItems / TransactGetItems). */
const MAX_TRANSACTION_ACTIONS = 100;

const WRITE_KINDS = ['Put', 'Update', 'Delete', 'ConditionCheck'] as const;
type WriteKind = (typeof WRITE_KINDS)[number];
type Spec = Record<string, unknown>;

/** One action of a TransactWriteItems request, with the key of the item it touches. */
export interface WriteAction {
  index: number;
  kind: WriteKind;
  table: string;
  key: WireItem;
  /** The action's own parameters (TableName, Item or Key, expressions...), as sent. */
  spec: Spec;
}

/** Validates TransactItems as DynamoDB does before touching anything, and finds each action's item key. */
export async function parseWriteActions(call: DynamoCall, transactItems: unknown): Promise<WriteAction[]> {
  const entries = checkCount(transactItems);
  const keyNames = tableKeyNames(call);
  const actions: WriteAction[] = [];
  for (const [index, entry] of entries.entries()) {
    const kinds = WRITE_KINDS.filter((kind) => isObject(entry) && isObject(entry[kind]));
    const kind = kinds[0];
    if (kinds.length !== 1 || kind === undefined) {
      throw validationError('TransactItems can only contain one of Check, Put, Update or Delete');
    }
    const spec = (entry as Record<WriteKind, Spec>)[kind];
    if (typeof spec.TableName !== 'string') throw validationError(`${kind}.TableName must be a table name`);
    checkExpressions(kind, spec);
    const source = kind === 'Put' ? spec.Item : spec.Key;
    if (!isObject(source)) throw validationError(`${kind}.${kind === 'Put' ? 'Item' : 'Key'} must be a map`);
    const key = pickKey(source as WireItem, await keyNames(spec.TableName));
    actions.push({ index, kind, table: spec.TableName, key, spec });
  }
  checkDistinctItems(actions);
  return actions;
}

/** The TransactItems list, if it holds 1 to 100 entries. */
export function checkCount(transactItems: unknown): unknown[] {
  if (!Array.isArray(transactItems) || transactItems.length < 1) {
    throw validationError(
      "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  }
  if (transactItems.length > MAX_TRANSACTION_ACTIONS) {
    throw validationError(
      `1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TRANSACTION_ACTIONS}`,
    );
  }
  return transactItems;
}

function checkExpressions(kind: WriteKind, spec: Spec): void {
  if (kind === 'ConditionCheck' && typeof spec.ConditionExpression !== 'string') {
    throw validationError('ConditionCheck.ConditionExpression must be specified');
  }
  if (kind === 'Update' && typeof spec.UpdateExpression !== 'string') {
    throw validationError('Update.UpdateExpression must be specified');
  }
}

function checkDistinctItems(actions: WriteAction[]): void {
  const seen = new Set<string>();
  for (const action of actions) {
    const id = JSON.stringify([action.table, action.key]);
    if (seen.has(id))
      throw validationError('Transaction request cannot include multiple operations on one item');
    seen.add(id);
  }
}

/** The key attribute names of each table (DescribeTable once per table and request). */
function tableKeyNames(call: DynamoCall): (table: string) => Promise<string[]> {
  const known = new Map<string, Promise<string[]>>();
  return (table) => {
    let names = known.get(table);
    if (names === undefined) {
      names = call('DescribeTable', { TableName: table }).then((answer) => {
        const schema = (answer.Table as { KeySchema: { AttributeName: string }[] }).KeySchema;
        return schema.map((element) => element.AttributeName);
      });
      known.set(table, names);
    }
    return names;
  };
}

/** The item's key attributes, in the table's key order (so equal keys compare equal). */
function pickKey(item: WireItem, names: string[]): WireItem {
  const key: WireItem = {};
  for (const name of names) {
    const value = item[name];
    if (value === undefined) {
      throw validationError(`One or more parameter values were invalid: Missing the key ${name} in the item`);
    }
    key[name] = value;
  }
  return key;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

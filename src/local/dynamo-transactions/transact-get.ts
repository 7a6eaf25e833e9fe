import { checkCount, isObject } from './transact-actions';
import { type DynamoCall, validationError } from './wire';

/** TransactGetItems on dynalite: consistent reads of up to 100 items while the caller holds the exclusive lock. */
export async function transactGetItems(
  call: DynamoCall,
  input: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const gets = checkCount(input.TransactItems).map((entry) => {
    if (!isObject(entry) || !isObject(entry.Get)) throw validationError('TransactItems can only contain Get');
    return entry.Get;
  });
  const responses = await Promise.all(
    gets.map(async (get) => {
      const answer = await call('GetItem', { ...get, ConsistentRead: true });
      return answer.Item === undefined ? {} : { Item: answer.Item };
    }),
  );
  return { Responses: responses };
}

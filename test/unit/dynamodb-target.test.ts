import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbTarget } from '#lambdas/shared/targets/dynamodb-target';

function target(): DynamoDbTarget {
  const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  return new DynamoDbTarget(
    {
      name: 'main',
      type: 'dynamodb',
      tableName: 'items',
      key: { partitionKey: 'id', sortKey: 'at', sortKeyType: 'number' },
    },
    documentClient,
  );
}

describe('DynamoDbTarget.validate', () => {
  it('finds nothing wrong with an item that has its key and no reserved names', () => {
    // GIVEN an update of a keyed item
    const payload = { id: 'a', at: 1 };
    // WHEN
    const problems = target().validate(payload, 'update', { set: { name: 'x' }, add: { count: 1 } });
    // THEN
    expect(problems).toEqual([]);
  });

  it('fails if the payload is not an object, saying it holds the key of a non-put', () => {
    // GIVEN a delete whose payload is an array
    // WHEN
    const problems = target().validate(['a'], 'delete');
    // THEN
    expect(problems).toEqual([`target "main" (dynamodb) needs payload to be a JSON object (the item's key)`]);
  });

  it('fails if keys, reserved names or updated attributes are wrong, listing every problem in order', () => {
    // GIVEN a payload without its sort key and with a reserved name, and an update that breaks every rule
    const payload = { id: 'a', at: 'not a number', _walOrder: 'x' };
    const update = { set: { count: 1, id: 'b', '': 2 }, add: { count: 1, _walAdds: 1 } };
    // WHEN
    const problems = target().validate(payload, 'update', update);
    // THEN
    expect(problems).toEqual([
      'target "main" needs payload.at, its key attribute, as a number',
      'payload._walOrder: attribute names starting with "_wal" are reserved for the WAL',
      'update: "count" is in both "set" and "add"; use one',
      'update: "id" is a key attribute of target "main" and cannot be updated',
      'update: an attribute name is empty',
      'update: attribute names starting with "_wal" are reserved for the WAL',
    ]);
  });
});

import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createDocumentClient } from '#lambdas/shared/clients';
import { fromAttributeValue, toAttributeValue } from '#lambdas/shared/dynamo-marshalling';

describe('toAttributeValue / fromAttributeValue', () => {
  it.each([
    // GIVEN each value with the attribute it marshals to
    ['a "constructor" string', { constructor: 'acme' }, { M: { constructor: { S: 'acme' } } }],
    [
      'a "constructor" naming a built-in',
      { constructor: { name: 'String' } },
      { M: { constructor: { M: { name: { S: 'String' } } } } },
    ],
    [
      'a "constructor" naming Set, in a list',
      [{ constructor: { name: 'Set' } }],
      { L: [{ M: { constructor: { M: { name: { S: 'Set' } } } } }] },
    ],
    [
      'scalars',
      { s: '', n: -1.5, b: false, z: null },
      { M: { s: { S: '' }, n: { N: '-1.5' }, b: { BOOL: false }, z: { NULL: true } } },
    ],
    ['a string set', new Set(['a', 'b']), { SS: ['a', 'b'] }],
  ])('marshals %s as sent, and back', (_case, value, attribute) => {
    // WHEN
    const marshalled = toAttributeValue(value, { removeUndefinedValues: true });
    // THEN
    expect(marshalled).toEqual(attribute);
    expect(fromAttributeValue(marshalled)).toEqual(value);
  });

  it('keeps a field named "__proto__" as an own field both ways', () => {
    // GIVEN what JSON.parse makes of it (an own field, not the prototype)
    const value: unknown = JSON.parse('{"__proto__":{"x":1},"a":{"__proto__":"y"}}');
    // WHEN
    const marshalled = toAttributeValue(value);
    const back = fromAttributeValue(marshalled) as Record<string, unknown>;
    // THEN
    expect(JSON.stringify(marshalled)).toBe(
      '{"M":{"__proto__":{"M":{"x":{"N":"1"}}},"a":{"M":{"__proto__":{"S":"y"}}}}}',
    );
    expect(Object.keys(back)).toEqual(['__proto__', 'a']);
    expect(JSON.stringify(back)).toBe('{"__proto__":{"x":1},"a":{"__proto__":"y"}}');
  });

  it('drops undefined fields when told to, as lib-dynamodb does', () => {
    // WHEN/THEN a map with an undefined field is marshalled with removeUndefinedValues
    expect(toAttributeValue({ a: 1, b: undefined }, { removeUndefinedValues: true })).toEqual({
      M: { a: { N: '1' } },
    });
  });

  it('fails if a value is a class instance (a bug in the caller, not a map)', () => {
    // WHEN/THEN a Date is marshalled without convertClassInstanceToMap
    expect(() => toAttributeValue({ when: new Date(0) }, { convertClassInstanceToMap: false })).toThrow(
      /Unsupported type/,
    );
  });
});

describe('createDocumentClient', () => {
  const dynamodb = new DynamoDBClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  const mock = mockClient(dynamodb);
  const documents = createDocumentClient(dynamodb);

  beforeEach(() => mock.reset());

  it('puts an item with a "constructor" field exactly (the SDK marshaller throws "Unsupported type")', async () => {
    // GIVEN
    mock.on(PutItemCommand).resolves({});
    // WHEN
    await documents.send(
      new PutCommand({
        TableName: 't',
        Item: { id: 'a', constructor: 'x', nested: { constructor: { name: 'Number' } } },
        ConditionExpression: 'attribute_not_exists(#o) OR #o < :o',
        ExpressionAttributeNames: { '#o': '_walOrder' },
        ExpressionAttributeValues: { ':o': '0001' },
      }),
    );
    // THEN the low-level PutItem carries the attribute values as sent
    expect(mock.commandCalls(PutItemCommand)[0]?.args[0].input).toEqual({
      TableName: 't',
      Item: {
        id: { S: 'a' },
        constructor: { S: 'x' },
        nested: { M: { constructor: { M: { name: { S: 'Number' } } } } },
      },
      ConditionExpression: 'attribute_not_exists(#o) OR #o < :o',
      ExpressionAttributeNames: { '#o': '_walOrder' },
      ExpressionAttributeValues: { ':o': { S: '0001' } },
    });
  });

  it('marshals update values and unmarshals returned attributes', async () => {
    // GIVEN
    mock.on(UpdateItemCommand).resolves({ Attributes: { constructor: { M: { name: { S: 'Map' } } } } });
    // WHEN
    const answer = await documents.send(
      new UpdateCommand({
        TableName: 't',
        Key: { id: 'a' },
        UpdateExpression: 'SET #c = :c',
        ExpressionAttributeNames: { '#c': 'constructor' },
        ExpressionAttributeValues: { ':c': { name: 'Map' } },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    // THEN
    expect(mock.commandCalls(UpdateItemCommand)[0]?.args[0].input).toMatchObject({
      Key: { id: { S: 'a' } },
      ExpressionAttributeValues: { ':c': { M: { name: { S: 'Map' } } } },
    });
    expect(answer.Attributes).toEqual({ constructor: { name: 'Map' } });
  });

  it('reads an item back with every field name as stored', async () => {
    // GIVEN
    mock.on(GetItemCommand).resolves({
      Item: JSON.parse(
        '{"id":{"S":"a"},"constructor":{"S":"x"},"__proto__":{"N":"1"},"abortedIds":{"SS":["i1"]}}',
      ),
    });
    // WHEN
    const answer = await documents.send(new GetCommand({ TableName: 't', Key: { id: 'a' } }));
    // THEN
    expect(mock.commandCalls(GetItemCommand)[0]?.args[0].input).toEqual({
      TableName: 't',
      Key: { id: { S: 'a' } },
    });
    expect(Object.keys(answer.Item ?? {})).toEqual(['id', 'constructor', '__proto__', 'abortedIds']);
    expect(answer.Item?.abortedIds).toEqual(new Set(['i1']));
  });
});

import { mutationRequestSchema } from '#lambdas/shared/mutation-request';

function issues(body: string): { pointer: string; message: string }[] {
  const result = mutationRequestSchema.safeParse(JSON.parse(body));
  if (result.success) return [];
  return result.error.issues.map((issue) => ({
    pointer: `/${issue.path.join('/')}`,
    message: issue.message,
  }));
}

describe('mutationRequestSchema: client data stored as sent', () => {
  it('passes the payload on as the very value JSON.parse made, with "constructor" and Object.prototype names', () => {
    // GIVEN
    const body = JSON.parse(
      '{"payload":{"id":"a","constructor":{"name":"String"},"toString":1,"valueOf":[]}}',
    );
    // WHEN
    const result = mutationRequestSchema.safeParse(body);
    // THEN
    expect(result.success).toBe(true);
    expect(result.data?.payload).toBe(body.payload);
  });

  it('passes "set" and "add" on unchanged', () => {
    // GIVEN an update whose set and add use Object.prototype names
    const body = JSON.parse(
      '{"op":"update","payload":{"id":"a"},"set":{"constructor":"x"},"add":{"valueOf":2}}',
    );
    // WHEN it is validated
    const result = mutationRequestSchema.safeParse(body);
    // THEN they come out as the same objects
    expect(result.data).toMatchObject({ set: { constructor: 'x' }, add: { valueOf: 2 } });
    expect(result.data?.set).toBe(body.set);
  });

  it.each([
    // GIVEN each body JSON or DynamoDB cannot hold as sent, with the pointer and the message
    ['"__proto__" in the payload', '{"payload":{"id":"a","__proto__":1}}', '/payload/__proto__', /__proto__/],
    [
      'a nested "__proto__"',
      '{"payload":{"id":"a","l":[{"__proto__":{}}]}}',
      '/payload/l/0/__proto__',
      /__proto__/,
    ],
    [
      '"__proto__" in "set"',
      '{"op":"update","payload":{"id":"a"},"set":{"__proto__":1}}',
      '/set/__proto__',
      /__proto__/,
    ],
    [
      '"__proto__" in "add"',
      '{"op":"update","payload":{"id":"a"},"add":{"__proto__":1}}',
      '/add/__proto__',
      /__proto__/,
    ],
    ['a lone surrogate in a value', '{"payload":{"id":"a","s":"\\ud800"}}', '/payload/s', /lone surrogate/],
    ['a lone surrogate in a name', '{"payload":{"id":"a","\\udc00":1}}', '/payload/\udc00', /lone surrogate/],
    [
      'a lone surrogate in the partition key',
      '{"payload":{"id":"a"},"partitionKey":"\\ud83d"}',
      '/partitionKey',
      /lone surrogate/,
    ],
    [
      'a U+FFFF in a value (SQS refuses it)',
      '{"payload":{"id":"a","s":["x\\uffff"]}}',
      '/payload/s/0',
      /U\+FFFF/,
    ],
    ['a U+FFFE in a name', '{"payload":{"id":"a","\\ufffe":1}}', '/payload/\ufffe', /U\+FFFE/],
    ['a U+FFFF in "set"', '{"op":"update","payload":{"id":"a"},"set":{"s":"\\uffff"}}', '/set/s', /U\+FFFF/],
    [
      'a U+FFFF in the partition key',
      '{"payload":{"id":"a"},"partitionKey":"\\uffff"}',
      '/partitionKey',
      /U\+FFFF/,
    ],
    [
      'a number JSON.parse made Infinity',
      '{"payload":{"id":"a","n":1e400}}',
      '/payload/n',
      /not a JSON number/,
    ],
    [
      'an "add" that is not a number',
      '{"op":"update","payload":{"id":"a"},"add":{"n":"1"}}',
      '/add/n',
      /expected a number/,
    ],
    [
      'an "add" number DynamoDB cannot hold',
      '{"op":"update","payload":{"id":"a"},"add":{"n":-1e-200}}',
      '/add/n',
      /add amounts must be integers/,
    ],
    [
      'an "add" amount that is not an integer (sums of fractions depend on their order)',
      '{"op":"update","payload":{"id":"a"},"add":{"n":0.1}}',
      '/add/n',
      /add amounts must be integers/,
    ],
    [
      'an update that changes nothing',
      '{"op":"update","payload":{"id":"a"},"set":{}}',
      '/op',
      /needs at least one attribute in "set" or "add"/,
    ],
    [
      'an "add" integer beyond 2^53',
      '{"op":"update","payload":{"id":"a"},"add":{"n":1e21}}',
      '/add/n',
      /add amounts must be integers/,
    ],
    [
      'a "set" that is not an object',
      '{"op":"update","payload":{"id":"a"},"set":[1]}',
      '/set',
      /expected a JSON object/,
    ],
  ])('fails if the request has %s, naming its pointer', (_case, body, pointer, message) => {
    // WHEN/THEN the body is validated: one issue at the pointer
    expect(issues(body)).toContainEqual({ pointer, message: expect.stringMatching(message) });
  });

  it('accepts a valid surrogate pair in names and values', () => {
    // WHEN/THEN an emoji name and value are validated: no issue
    expect(issues('{"payload":{"id":"\\ud83d\\ude00","\\ud83d\\ude80":"caf\\u00e9"}}')).toEqual([]);
  });

  it('fails if a payload is nested deeper than the walk goes, without overflowing the stack', () => {
    // GIVEN a payload of 5000 nested arrays
    const body = `{"payload":${'['.repeat(5_000)}${']'.repeat(5_000)}}`;
    // WHEN/THEN it is validated: an issue, not a stack overflow
    expect(issues(body)).toContainEqual({
      pointer: expect.stringMatching(/^\/payload(\/0)+$/),
      message: expect.stringMatching(/nested deeper/),
    });
  });
});

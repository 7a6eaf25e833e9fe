import { hasSqsRefusedCharacter, storableJsonProblems } from '#lambdas/shared/storable-json';

describe('storableJsonProblems', () => {
  it('finds nothing in JSON that every path stores as sent', () => {
    // GIVEN nested objects, arrays and every scalar
    const value = { a: [1, 'two', true, null, { b: -0.5 }], 'caf\u00e9 \u{1F600}': 'ok' };
    // WHEN
    const problems = storableJsonProblems(value);
    // THEN
    expect(problems).toEqual([]);
  });

  it('fails if a string or a field name has a lone surrogate, naming its path', () => {
    // GIVEN a lone surrogate in a nested string and in a field name
    const value = { items: ['fine', 'bad \uD800'], '\uDC00name': 1 };
    // WHEN
    const problems = storableJsonProblems(value);
    // THEN
    expect(problems).toEqual([
      { path: ['items', 1], message: expect.stringContaining('lone surrogate') },
      { path: ['\uDC00name'], message: expect.stringContaining('field name is not valid Unicode') },
    ]);
  });

  it('fails if a string or a field name has U+FFFE or U+FFFF, which SQS refuses and JSON.stringify leaves raw', () => {
    // GIVEN the two noncharacters in a nested string and in a field name, and the characters around them
    const value = { items: ['fine \uFFFD \u{10FFFF}', 'bad \uFFFF'], '\uFFFEname': 1 };
    // WHEN
    const problems = storableJsonProblems(value);
    // THEN each is named by its path
    expect(problems).toEqual([
      { path: ['items', 1], message: expect.stringContaining('U+FFFF') },
      { path: ['\uFFFEname'], message: expect.stringContaining('field name has the noncharacter') },
    ]);
  });

  it('tells which message texts SQS refuses: outside #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-', () => {
    // GIVEN texts at each edge of the ranges SQS allows
    const allowed = ['\t\n\r', ' \uD7FF', '\uE000\uFFFD', '\u{10000}\u{10FFFF}', '{"a":"\\uffff"}'];
    const refused = ['\u0000', '\u001F', '\uFFFE', '\uFFFF', '\uD800', 'x\uDC00'];
    // WHEN/THEN
    expect(allowed.filter(hasSqsRefusedCharacter)).toEqual([]);
    expect(refused.filter((text) => !hasSqsRefusedCharacter(text))).toEqual([]);
    // THEN JSON.stringify escapes all of them but U+FFFE and U+FFFF
    expect(refused.filter((text) => hasSqsRefusedCharacter(JSON.stringify(text)))).toEqual([
      '\uFFFE',
      '\uFFFF',
    ]);
  });

  it('fails if a field is named __proto__, which JavaScript readers of DynamoDB drop', () => {
    // GIVEN a __proto__ field as JSON.parse makes it (an own property)
    const value: unknown = JSON.parse('{"item":{"__proto__":{"x":1}}}');
    // WHEN
    const problems = storableJsonProblems(value);
    // THEN
    expect(problems).toEqual([
      { path: ['item', '__proto__'], message: expect.stringContaining('rename the field') },
    ]);
  });

  it('fails if a number is not finite or a value is not JSON at all', () => {
    // GIVEN values JSON cannot carry
    const value = { n: Number.POSITIVE_INFINITY, d: new Date(0), u: undefined };
    // WHEN
    const problems = storableJsonProblems(value);
    // THEN
    expect(problems).toEqual([
      { path: ['n'], message: 'Infinity is not a JSON number' },
      { path: ['d'], message: 'expected a JSON value, received object' },
      { path: ['u'], message: 'expected a JSON value, received undefined' },
    ]);
  });

  it('stops at 5 problems and at a depth of 64', () => {
    // GIVEN ten bad numbers, and a value nested 70 levels deep
    const many = Array.from({ length: 10 }, () => Number.NaN);
    let deep: unknown = 1;
    for (let level = 0; level < 70; level++) deep = [deep];
    // WHEN
    const manyProblems = storableJsonProblems(many);
    const deepProblems = storableJsonProblems(deep);
    // THEN
    expect(manyProblems).toHaveLength(5);
    expect(deepProblems).toEqual([{ path: expect.any(Array), message: 'nested deeper than 64 levels' }]);
    expect(deepProblems[0]?.path).toHaveLength(65);
  });
});

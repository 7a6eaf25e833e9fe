import fc from 'fast-check';
import { type JsonTree, jsonText, object, scalar } from './json-text';

/**
 * Random requests to the ingest API: JSON payloads with nasty field names, deep nesting, extreme
 * numbers and long strings, and random request shapes (ops, set/add, lifecycle, keys, targets, bodies
 * that are not mutations at all). Each case is data; the runner gives it a unique item key.
 */

/** The names JavaScript objects treat specially (prototype and Object.prototype members). */
const JS_SPECIAL_NAMES = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
] as const;

/** Field names JavaScript, JSON pointers, DynamoDB expressions or Unicode treat specially. */
const NASTY_NAMES = [
  ...JS_SPECIAL_NAMES,
  '__defineGetter__',
  'then',
  'length',
  '',
  ' ',
  'id',
  '_walOrder',
  '_walX',
  'a.b',
  'a/b',
  '~0',
  '#n',
  ':v',
  '$type',
  'M',
  'S',
  'NULL',
  '\u0000',
  '\u00e9t\u00e9',
  '\u{1F600}',
  '\ud800',
  'a\udc00',
  '\u200b',
  '\ufeff',
] as const;

// Mostly names a client would use, so that most requests are valid and reach the target.
const fieldName = fc.oneof(
  { weight: 12, arbitrary: fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,10}$/) },
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_NAMES) },
  { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }) },
  {
    weight: 1,
    arbitrary: fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.stringMatching(/^[a-z]{1,5}$/)),
  },
);

const EXTREME_NUMBERS = [
  0,
  -0,
  1e126,
  9.99e125,
  -9.99e125,
  1e-130,
  1e-131,
  5e-324,
  Number.MAX_VALUE,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  2 ** 53,
  -(2 ** 53),
  0.1,
  1e21,
  123456789.12345679,
] as const;

const stringValue = fc.oneof(
  { weight: 10, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('\ud800', 'x\udfff', '\u{1F600}', '\u0000', '', 'null') },
  { weight: 1, arbitrary: fc.string({ minLength: 1000, maxLength: 20_000, unit: 'grapheme-ascii' }) },
);

const numberValue = fc.oneof(
  { weight: 4, arbitrary: fc.integer() },
  { weight: 4, arbitrary: fc.integer().map((thousandths) => thousandths / 1000) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(...EXTREME_NUMBERS) },
);

/** Number texts JSON allows that JSON.stringify never writes (1e400 parses to Infinity). */
const numberText = fc
  .constantFrom(
    '1e400',
    '-1e400',
    '1e-400',
    '-0',
    '-0.0',
    '1.0',
    '1E2',
    '1e+2',
    '100000000000000000000000',
    '0.1e-129',
  )
  .map((text): JsonTree => ({ kind: 'raw', text }));

const scalarTree: fc.Arbitrary<JsonTree> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.oneof(
      { weight: 1, arbitrary: numberText },
      { weight: 4, arbitrary: fc.constant(scalar(1)) },
    ),
  },
  { weight: 4, arbitrary: stringValue.map(scalar) },
  { weight: 3, arbitrary: numberValue.map(scalar) },
  { weight: 1, arbitrary: fc.boolean().map(scalar) },
  { weight: 1, arbitrary: fc.constant(scalar(null)) },
);

const { tree } = fc.letrec<{ tree: JsonTree; array: JsonTree; object: JsonTree }>((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalarTree, tie('array'), tie('object')),
  array: fc.array(tie('tree'), { maxLength: 4 }).map((items) => ({ kind: 'array', items })),
  object: fc.array(fc.tuple(fieldName, tie('tree')), { maxLength: 5 }).map((fields) => object(fields)),
}));

/** A value wrapped in 20 to 40 levels of objects and arrays: DynamoDB allows 32. */
const deepTree: fc.Arbitrary<JsonTree> = fc
  .tuple(scalarTree, fc.integer({ min: 20, max: 40 }), fc.boolean())
  .map(([leaf, depth, useArrays]) => {
    let value = leaf;
    for (let level = 0; level < depth; level++) {
      value = useArrays ? { kind: 'array', items: [value] } : object([['d', value]]);
    }
    return value;
  });

/** Names a client would use, and values DynamoDB stores as they are: the valid background of a case. */
const plainName = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,10}$/);
const { plainTree } = fc.letrec<{ plainTree: JsonTree }>((tie) => ({
  plainTree: fc.oneof(
    { depthSize: 'small' },
    fc.oneof(fc.integer(), fc.stringMatching(/^[ -~]{0,12}$/), fc.boolean(), fc.constant(null)).map(scalar),
    fc.array(tie('plainTree'), { maxLength: 3 }).map((items): JsonTree => ({ kind: 'array', items })),
    fc.array(fc.tuple(plainName, tie('plainTree')), { maxLength: 3 }).map(object),
  ),
}));

/** A valid set of fields with one JavaScript-special name at some depth: what defect 9 was about. */
const oneSpecialField = fc
  .tuple(
    fc.array(fc.tuple(plainName, plainTree), { maxLength: 3 }),
    fc.constantFrom(...JS_SPECIAL_NAMES),
    plainTree,
    fc.boolean(),
  )
  .map(([fields, name, value, nested]) =>
    nested ? [...fields, ['inner', object([[name, value]])] as const] : [...fields, [name, value] as const],
  );

const anyFields = fc.array(
  fc.tuple(fieldName, fc.oneof({ weight: 12, arbitrary: tree }, { weight: 1, arbitrary: deepTree })),
  { maxLength: 4 },
);

const fieldsArb = fc.oneof({ weight: 3, arbitrary: anyFields }, { weight: 1, arbitrary: oneSpecialField });

/** How the item key (`id`) is given: the runner's unique key, or something else. */
export type KeyShape = 'unique' | 'unique-with-suffix' | 'missing' | 'number' | 'empty';

export interface FuzzCase {
  readonly namespace: string;
  readonly keyShape: KeyShape;
  readonly keySuffix: string;
  /** The payload's other fields; the runner puts `id` first. */
  readonly payloadFields: readonly (readonly [string, JsonTree])[];
  readonly op: 'put' | 'update' | 'delete' | 'absent' | 'bogus';
  readonly set: readonly (readonly [string, JsonTree])[] | undefined;
  readonly add: readonly (readonly [string, JsonTree])[] | undefined;
  /** Other top-level fields of the body, as JSON text. */
  readonly extra: readonly (readonly [string, JsonTree])[];
  readonly idempotency: 'none' | 'body' | 'header' | 'both-same' | 'both-different' | 'header-invalid';
  /** The body is replaced by this text when set (not a mutation at all). */
  readonly rawBody: string | undefined;
  /** Consistent: `set`/`add` only with op update, which has one of them; random: as generated. */
  readonly shape: 'consistent' | 'random';
}

const lifecycleTree: fc.Arbitrary<JsonTree> = fc.oneof(
  fc.constant(object([['delaySeconds', scalar(0)]])),
  fc.constant(object([['delaySeconds', scalar(1)]])),
  fc.constant(object([['deliverAt', scalar('2001-01-01T00:00:00Z')]])),
  fc.constant(object([['delaySeconds', scalar(100_000)]])),
  fc.constant(object([['delaySeconds', scalar(-1)]])),
  fc.constant(object([['deliverAt', scalar('soon')]])),
  fc.constant(
    object([
      ['jitterSeconds', scalar(0)],
      ['delaySeconds', scalar(0)],
    ]),
  ),
  tree,
);

const extraField = fc.oneof(
  fc.tuple(fc.constant('lifecycle'), lifecycleTree),
  fc.tuple(
    fc.constant('targets'),
    fc.constantFrom(
      { kind: 'array', items: [scalar('main')] } as JsonTree,
      { kind: 'array', items: [scalar('nope')] } as JsonTree,
      { kind: 'array', items: [] } as JsonTree,
      { kind: 'array', items: [scalar('main'), scalar('main')] } as JsonTree,
    ),
  ),
  fc.tuple(fc.constant('partitionKey'), stringValue.map(scalar)),
  fc.tuple(fc.constant('items'), tree),
  fc.tuple(fieldName, tree),
);

// dynalite (local only) fails an ADD that creates an attribute named like an Object.prototype member
// ("incorrect data type": it finds the inherited function); real DynamoDB does not. See docs/decisions.md.
const addName = fieldName.filter((name) => !(name in Object.prototype));

const numbersFields = fc.array(
  fc.tuple(
    addName,
    fc.oneof({ weight: 5, arbitrary: numberValue.map(scalar) }, { weight: 1, arbitrary: tree }),
  ),
  { minLength: 1, maxLength: 3 },
);

const rawBodies = fc.oneof(
  fc.constant('{"payload":'),
  fc.constant(''),
  fc.constant('null'),
  fc.constant('[]'),
  fc.constant('"payload"'),
  fc.constant('{"payload":{"id":"x"}}garbage'),
  tree.map(jsonText),
  fc.string({ maxLength: 30 }),
);

export const fuzzCaseArbitrary: fc.Arbitrary<FuzzCase> = fc.record({
  namespace: fc.oneof(
    { weight: 20, arbitrary: fc.constant('fuzz') },
    { weight: 1, arbitrary: fc.constantFrom('paused', 'nope', 'NOT_valid!', '%2e%2e', 'a'.repeat(300)) },
  ),
  keyShape: fc.oneof(
    { weight: 12, arbitrary: fc.constant<KeyShape>('unique') },
    { weight: 3, arbitrary: fc.constant<KeyShape>('unique-with-suffix') },
    { weight: 1, arbitrary: fc.constantFrom<KeyShape>('missing', 'number', 'empty') },
  ),
  keySuffix: stringValue,
  payloadFields: fieldsArb,
  op: fc.oneof(
    { weight: 6, arbitrary: fc.constant<FuzzCase['op']>('absent') },
    { weight: 3, arbitrary: fc.constant<FuzzCase['op']>('put') },
    { weight: 4, arbitrary: fc.constant<FuzzCase['op']>('update') },
    { weight: 2, arbitrary: fc.constant<FuzzCase['op']>('delete') },
    { weight: 1, arbitrary: fc.constant<FuzzCase['op']>('bogus') },
  ),
  set: fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fieldsArb }),
  add: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: numbersFields }),
  extra: fc.array(extraField, { maxLength: 2 }),
  idempotency: fc.oneof(
    { weight: 6, arbitrary: fc.constant<FuzzCase['idempotency']>('none') },
    { weight: 2, arbitrary: fc.constantFrom<FuzzCase['idempotency']>('body', 'header', 'both-same') },
    { weight: 1, arbitrary: fc.constantFrom<FuzzCase['idempotency']>('both-different', 'header-invalid') },
  ),
  shape: fc.oneof(
    { weight: 5, arbitrary: fc.constant<FuzzCase['shape']>('consistent') },
    { weight: 1, arbitrary: fc.constant<FuzzCase['shape']>('random') },
  ),
  rawBody: fc.oneof({ weight: 14, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: rawBodies }),
});

/** Valid puts and updates whose payload or `set` has one JavaScript-special field name (defect 9). */
export const specialNameCaseArbitrary: fc.Arbitrary<FuzzCase> = fc
  .tuple(fc.constantFrom<FuzzCase['op']>('absent', 'put', 'update'), oneSpecialField, oneSpecialField)
  .map(([op, payloadFields, set]) => ({
    namespace: 'fuzz',
    keyShape: 'unique',
    keySuffix: '',
    payloadFields,
    op,
    set: op === 'update' ? set : undefined,
    add: undefined,
    extra: [],
    idempotency: 'none',
    rawBody: undefined,
    shape: 'consistent',
  }));

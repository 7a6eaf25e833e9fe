/**
 * Checks that a value the client sent can be stored and delivered exactly as sent, on every path that
 * carries it (stream, ledger, queues, targets, GET). What cannot is named by its path, so the API
 * answers 400 with the field's JSON pointer instead of acknowledging data it would change.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [name: string]: JsonValue };

export interface StorableJsonProblem {
  /** From the checked value down to the field, as zod paths go (keys and array indexes). */
  readonly path: (string | number)[];
  readonly message: string;
}

/**
 * `__proto__` is dropped by assignments such as `object[name] = value`: the AWS SDK's DynamoDB
 * deserializer and lib-dynamodb's marshalling build maps that way, and so does the dynalite emulator,
 * so the field would vanish after the WAL acknowledged it (docs/decisions.md, "Field names").
 */
const UNSTORABLE_FIELD_NAMES: ReadonlySet<string> = new Set(['__proto__']);

// Deeper than DynamoDB's 32 levels is refined later; this bound only keeps the walk's stack small.
const MAX_DEPTH = 64;
const MAX_PROBLEMS = 5;

// "All names must be encoded using UTF-8" (DynamoDB developer guide, naming rules), and strings are UTF-8
// too: a lone surrogate has no UTF-8 form. With the `u` flag a surrogate pair is one code point, so only
// a lone surrogate matches.
const LONE_SURROGATE = /\p{Surrogate}/u;

export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

// SQS accepts only #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF in a message and
// refuses the rest with InvalidMessageContents (SQS API reference, SendMessage and SendMessageBatch:
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html).
const SQS_REFUSED = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
// In the WAL's JSON messages JSON.stringify escapes what is below #x20 and lone surrogates (ES2019 well-formed
// JSON.stringify), but writes the noncharacters U+FFFE and U+FFFF raw: a client string holding one would be
// acknowledged and then refused by every queue it is sent to.
const SQS_REFUSED_UNESCAPED = /[\uFFFE\uFFFF]/;

/** Whether SQS refuses a message body holding this text as is. */
export function hasSqsRefusedCharacter(text: string): boolean {
  return SQS_REFUSED.test(text);
}

/** Whether this client string, once in a WAL message, makes SQS refuse the message (U+FFFE, U+FFFF). */
export function hasSqsRefusedUnescaped(text: string): boolean {
  return SQS_REFUSED_UNESCAPED.test(text);
}

const NONCHARACTER_PROBLEM =
  "has the noncharacter U+FFFE or U+FFFF, which the WAL's queues (SQS) refuse; remove it or send it as another character";

export function storableJsonProblems(value: unknown): StorableJsonProblem[] {
  const problems: StorableJsonProblem[] = [];
  visit(value, [], problems);
  return problems;
}

/** A JSON object as JSON.parse makes it: no prototype other than Object's (or none). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function fieldNameProblem(name: string): string | undefined {
  if (UNSTORABLE_FIELD_NAMES.has(name)) {
    return `the field name "${name}" cannot be stored as sent (JavaScript readers of DynamoDB, including the AWS SDK, drop it); rename the field`;
  }
  if (LONE_SURROGATE.test(name)) {
    return 'the field name is not valid Unicode (it has a lone surrogate), which DynamoDB cannot store; send valid UTF-8';
  }
  if (hasSqsRefusedUnescaped(name)) return `the field name ${NONCHARACTER_PROBLEM}`;
  return undefined;
}

function visit(value: unknown, path: (string | number)[], problems: StorableJsonProblem[]): void {
  if (problems.length >= MAX_PROBLEMS) return;
  if (path.length > MAX_DEPTH) {
    problems.push({ path, message: `nested deeper than ${MAX_DEPTH} levels` });
    return;
  }
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) visit(item, [...path, index], problems);
    return;
  }
  if (isPlainObject(value)) {
    visitFields(value, path, problems);
    return;
  }
  const message = scalarProblem(value);
  if (message) problems.push({ path, message });
}

function visitFields(
  object: Record<string, unknown>,
  path: (string | number)[],
  problems: StorableJsonProblem[],
): void {
  for (const name of Object.keys(object)) {
    const problem = fieldNameProblem(name);
    if (problem) {
      problems.push({ path: [...path, name], message: problem });
      if (problems.length >= MAX_PROBLEMS) return;
      continue;
    }
    visit(object[name], [...path, name], problems);
  }
}

/** Why a value that is neither an array nor a plain object is not storable JSON, or undefined if it is. */
function scalarProblem(value: unknown): string | undefined {
  switch (typeof value) {
    case 'boolean':
      return undefined;
    case 'string':
      return stringProblem(value);
    case 'number':
      return Number.isFinite(value) ? undefined : `${value} is not a JSON number`;
    default:
      return value === null ? undefined : `expected a JSON value, received ${typeof value}`;
  }
}

function stringProblem(value: string): string | undefined {
  if (LONE_SURROGATE.test(value)) {
    return 'the string is not valid Unicode (it has a lone surrogate), which DynamoDB cannot store; send valid UTF-8';
  }
  return hasSqsRefusedUnescaped(value) ? `the string ${NONCHARACTER_PROBLEM}` : undefined;
}

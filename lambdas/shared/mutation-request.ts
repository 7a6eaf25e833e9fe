import * as z from 'zod/mini';
import { numberProblem } from './dynamo-values';
import { mutationOpSchema } from './envelope';
import {
  hasLoneSurrogate,
  hasSqsRefusedUnescaped,
  isPlainObject,
  type JsonValue,
  storableJsonProblems,
} from './storable-json';
import './zod-locale';

/**
 * The longest idempotency key (ASCII, so bytes). It bounds the ledger's key, hence its commit record:
 * with the longest namespace name that record stays within one DynamoDB write unit (test/unit/ledger.test.ts).
 */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

/** Idempotency keys: printable ASCII, so they are safe in headers, logs and DynamoDB keys. */
export const IDEMPOTENCY_KEY_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${IDEMPOTENCY_KEY_MAX_LENGTH}}$`);

/**
 * Client data (payload, set, add) is checked on the value JSON.parse made and passed on as that very
 * value: zod's z.json() and z.record() rebuild objects with `result[key] = ...`, which drops a field
 * named `__proto__` without an issue. Every name that is not storable becomes an issue with its path.
 */
function storable(value: unknown, ctx: z.core.$RefinementCtx): void {
  for (const problem of storableJsonProblems(value)) {
    ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  }
}

const storableJsonSchema = z.custom<JsonValue>(() => true).check(z.superRefine(storable));

const storableObjectSchema = z
  .custom<Record<string, JsonValue>>(isPlainObject, 'expected a JSON object')
  .check(z.superRefine(storable));

const storableNumbersSchema = z.custom<Record<string, number>>(isPlainObject, 'expected a JSON object').check(
  z.superRefine((value, ctx) => {
    if (!isPlainObject(value)) return;
    storable(value, ctx);
    for (const [name, field] of Object.entries(value)) {
      // Checked here, not only in the payload checks: an `add` DynamoDB refuses would fail the commit (503).
      // Integers only: the target sums adds that arrive out of order, and only integer sums are exact
      // whatever the order (0.1 + 0.2 + 0.3 is not 0.3 + 0.2 + 0.1 in binary floating point).
      const problem =
        typeof field !== 'number'
          ? `expected a number, received ${typeof field}`
          : Number.isSafeInteger(field)
            ? numberProblem(field)
            : 'add amounts must be integers between -(2^53-1) and 2^53-1 (counters are summed exactly)';
      if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
    }
  }),
);

/** An update that changes nothing would be acknowledged and then have no effect at all. */
function checkUpdateChanges(
  update: { op: string; set?: object | undefined; add?: object | undefined },
  ctx: z.core.$RefinementCtx,
): void {
  const changes = Object.keys(update.set ?? {}).length + Object.keys(update.add ?? {}).length;
  if (update.op === 'update' && changes === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['op'],
      message: 'op "update" needs at least one attribute in "set" or "add"',
    });
  }
}

/** The most items one mutation may carry: DynamoDB's TransactWriteItems takes at most 100 actions. */
export const MAX_MUTATION_ITEMS = 100;

/** Which of `item`, `key`, `set` and `add` each op takes; `need` are required (for update: `set` or `add`). */
const ITEM_FIELDS = {
  put: { need: ['item'], allowed: ['item'] },
  update: { need: ['key'], allowed: ['key', 'set', 'add'] },
  delete: { need: ['key'], allowed: ['key'] },
} as const;

/**
 * One item of a multi-item mutation (`items[]`): a target and what to do to one item there. A put gives the
 * whole `item`; an update its `key` and `set`/`add`; a delete its `key`.
 */
const mutationItemSchema = z
  .strictObject({
    target: z.string().check(z.minLength(1)),
    op: z._default(mutationOpSchema, 'put'),
    item: z.optional(storableObjectSchema),
    key: z.optional(storableObjectSchema),
    set: z.optional(storableObjectSchema),
    add: z.optional(storableNumbersSchema),
  })
  .check(
    z.superRefine((item, ctx) => {
      const fields = ITEM_FIELDS[item.op];
      for (const field of ['item', 'key', 'set', 'add'] as const) {
        const given = item[field] !== undefined;
        if (given && !(fields.allowed as readonly string[]).includes(field)) {
          ctx.addIssue({ code: 'custom', path: [field], message: `op "${item.op}" takes no "${field}"` });
        }
        if (!given && (fields.need as readonly string[]).includes(field)) {
          ctx.addIssue({ code: 'custom', path: [field], message: `op "${item.op}" needs "${field}"` });
        }
      }
      checkUpdateChanges(item, ctx);
    }),
  );

export type MutationItemRequest = z.output<typeof mutationItemSchema>;

/** Fields of a single-target mutation that a multi-item one gives per item instead. */
export const SINGLE_TARGET_FIELDS = ['payload', 'op', 'set', 'add', 'targets'] as const;

/** The body of `POST /v1/namespaces/{ns}/mutations`. */
export const mutationRequestSchema = z
  .strictObject({
    payload: z.optional(storableJsonSchema),
    op: z._default(mutationOpSchema, 'put'),
    /** With op `update`: attributes to set on the item that `payload`'s key attributes name. */
    set: z.optional(storableObjectSchema),
    /** With op `update`: numbers to add to the item's attributes (counters). */
    add: z.optional(storableNumbersSchema),
    // Kinesis partition keys and the ledger are Unicode: a lone surrogate would be altered or refused.
    partitionKey: z.optional(
      z.string().check(
        z.minLength(1),
        z.maxLength(512),
        z.refine((key) => !hasLoneSurrogate(key), 'is not valid Unicode (it has a lone surrogate)'),
        z.refine((key) => !hasSqsRefusedUnescaped(key), 'has U+FFFE or U+FFFF, which SQS refuses'),
      ),
    ),
    idempotencyKey: z.optional(
      z
        .string()
        .check(
          z.regex(
            IDEMPOTENCY_KEY_PATTERN,
            `must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters without spaces`,
          ),
        ),
    ),
    lifecycle: z.optional(
      z
        .strictObject({
          delaySeconds: z.optional(z.number().check(z.int(), z.gte(0))),
          deliverAt: z.optional(z.iso.datetime({ offset: true })),
          jitterSeconds: z.optional(z.number().check(z.int(), z.gte(0))),
        })
        .check(
          z.refine((lifecycle) => lifecycle.delaySeconds === undefined || lifecycle.deliverAt === undefined, {
            message: 'give either delaySeconds or deliverAt, not both',
          }),
        ),
    ),
    targets: z.optional(
      z.array(z.string().check(z.minLength(1))).check(
        z.minLength(1),
        z.refine((names) => new Set(names).size === names.length, { message: 'target names must be unique' }),
      ),
    ),
    items: z.optional(
      z.array(mutationItemSchema).check(
        z.minLength(1),
        z.refine((items) => items.length <= MAX_MUTATION_ITEMS, {
          message: `at most ${MAX_MUTATION_ITEMS} items (one DynamoDB transaction takes at most ${MAX_MUTATION_ITEMS} actions); split the mutation`,
        }),
      ),
    ),
  })
  .check(
    z.superRefine((request, ctx) => {
      // With items, each item carries its op and changes: the top-level fields are checked in parseRequest.
      if (request.items !== undefined) return;
      const hasUpdate = request.set !== undefined || request.add !== undefined;
      checkUpdateChanges(request, ctx);
      if (request.op !== 'update' && hasUpdate) {
        ctx.addIssue({ code: 'custom', path: ['op'], message: '"set" and "add" need op "update"' });
      }
    }),
  );

export type MutationRequest = z.output<typeof mutationRequestSchema>;

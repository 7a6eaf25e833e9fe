import * as z from 'zod';
import { numberProblem } from './dynamo-values';
import { mutationOpSchema } from './envelope';
import {
  hasLoneSurrogate,
  hasSqsRefusedUnescaped,
  isPlainObject,
  type JsonValue,
  storableJsonProblems,
} from './storable-json';

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
function storable(value: unknown, ctx: z.RefinementCtx): void {
  for (const problem of storableJsonProblems(value)) {
    ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  }
}

const storableJsonSchema = z.custom<JsonValue>(() => true).superRefine(storable);

const storableObjectSchema = z
  .custom<Record<string, JsonValue>>(isPlainObject, 'expected a JSON object')
  .superRefine(storable);

const storableNumbersSchema = z
  .custom<Record<string, number>>(isPlainObject, 'expected a JSON object')
  .superRefine((value, ctx) => {
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
  });

/** The body of `POST /v1/namespaces/{ns}/mutations`. */
export const mutationRequestSchema = z
  .object({
    payload: storableJsonSchema.optional(),
    op: mutationOpSchema.default('put'),
    /** With op `update`: attributes to set on the item that `payload`'s key attributes name. */
    set: storableObjectSchema.optional(),
    /** With op `update`: numbers to add to the item's attributes (counters). */
    add: storableNumbersSchema.optional(),
    // Kinesis partition keys and the ledger are Unicode: a lone surrogate would be altered or refused.
    partitionKey: z
      .string()
      .min(1)
      .max(512)
      .refine((key) => !hasLoneSurrogate(key), 'is not valid Unicode (it has a lone surrogate)')
      .refine((key) => !hasSqsRefusedUnescaped(key), 'has U+FFFE or U+FFFF, which SQS refuses')
      .optional(),
    idempotencyKey: z
      .string()
      .regex(
        IDEMPOTENCY_KEY_PATTERN,
        `must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters without spaces`,
      )
      .optional(),
    lifecycle: z
      .object({
        delaySeconds: z.number().int().min(0).optional(),
        deliverAt: z.iso.datetime({ offset: true }).optional(),
        jitterSeconds: z.number().int().min(0).optional(),
      })
      .strict()
      .refine((lifecycle) => lifecycle.delaySeconds === undefined || lifecycle.deliverAt === undefined, {
        message: 'give either delaySeconds or deliverAt, not both',
      })
      .optional(),
    targets: z
      .array(z.string().min(1))
      .min(1)
      .refine((names) => new Set(names).size === names.length, { message: 'target names must be unique' })
      .optional(),
    items: z.array(z.unknown()).optional(),
  })
  .strict()
  .superRefine((request, ctx) => {
    const hasUpdate = request.set !== undefined || request.add !== undefined;
    const changes = Object.keys(request.set ?? {}).length + Object.keys(request.add ?? {}).length;
    if (request.op === 'update' && changes === 0) {
      // An update that changes nothing would be acknowledged and then have no effect at all.
      ctx.addIssue({
        code: 'custom',
        path: ['op'],
        message: 'op "update" needs at least one attribute in "set" or "add"',
      });
    }
    if (request.op !== 'update' && hasUpdate) {
      ctx.addIssue({ code: 'custom', path: ['op'], message: '"set" and "add" need op "update"' });
    }
  });

export type MutationRequest = z.output<typeof mutationRequestSchema>;

import { dynamoValueProblems } from '#lambdas/shared/dynamo-values';
import type { EnvelopeItem } from '#lambdas/shared/envelope';
import { badRequest, ProblemError } from '#lambdas/shared/http/problem';
import {
  IDEMPOTENCY_KEY_MAX_LENGTH,
  IDEMPOTENCY_KEY_PATTERN,
  type MutationRequest,
  mutationRequestSchema,
  SINGLE_TARGET_FIELDS,
} from '#lambdas/shared/mutation-request';
import type { NamespaceConfig } from '#lambdas/shared/namespace-config';
import { type TargetValidator, targetValidator } from '#lambdas/shared/targets/validators';
import { acceptItems } from './validate-items';

/**
 * The validation half of an ingest: everything that can answer 4xx before anything is logged. The
 * request is checked on its own first ({@link parseMutationRequest}), then against its namespace's
 * config ({@link acceptMutation}).
 */

/** A well-formed request and the idempotency key its client chose (header or body), if any. */
export interface ParsedMutation {
  readonly request: MutationRequest;
  readonly clientKey: string | undefined;
}

/** A request its namespace takes: what the envelope needs besides its ids. */
export interface AcceptedMutation {
  readonly request: MutationRequest;
  /** The targets of a single-target mutation (none for a multi-item one: each item names its own). */
  readonly targets: TargetValidator[];
  /** A multi-item mutation's items, normalised for the envelope; undefined for a single-target mutation. */
  readonly items?: EnvelopeItem[];
  /** The key that orders the mutation when the client gives none (its target item's key), else undefined. */
  readonly partitionKey: string | undefined;
  /** Epoch ms the mutation is due, or undefined when it is due now. */
  readonly deliverAt: number | undefined;
}

export interface AcceptanceContext {
  readonly now: number;
  readonly random: () => number;
}

/** Checks the request on its own (schema, idempotency key); throws a 400 ProblemError saying what is wrong. */
export function parseMutationRequest(
  body: unknown,
  headerIdempotencyKey: string | undefined,
): ParsedMutation {
  const request = parseRequest(body);
  if (request.items !== undefined) refuseSingleTargetFields(body);
  return { request, clientKey: chooseIdempotencyKey(request, headerIdempotencyKey) };
}

/**
 * Checks the request against its namespace: enabled, idempotency key if required, targets, payload, delay.
 * Throws a ProblemError (403, 400 or 413) saying what the client should change.
 */
export function acceptMutation(
  config: NamespaceConfig,
  parsed: ParsedMutation,
  context: AcceptanceContext,
): AcceptedMutation {
  const { request, clientKey } = parsed;
  if (!config.enabled) {
    throw new ProblemError(
      403,
      'namespace-disabled',
      'Namespace disabled',
      `Namespace "${config.name}" is disabled and takes no mutations. Ask its owners to set "enabled": true.`,
    );
  }
  if (config.requireIdempotencyKey && clientKey === undefined) {
    throw badRequest(
      'idempotency-key-required',
      `Namespace "${config.name}" requires an idempotency key: send the header "Idempotency-Key" (or ` +
        '"idempotencyKey" in the body), unique per mutation and the same on every retry of it.',
    );
  }
  const deliverAt = () => deliveryTime(config, request, context.now, context.random);
  if (request.items !== undefined) {
    const accepted = acceptItems(config, request.items);
    return { request, targets: [], ...accepted, deliverAt: deliverAt() };
  }
  const targets = selectTargets(config, request);
  validatePayload(config, request, targets);
  return { request, targets, partitionKey: defaultPartitionKey(request, targets), deliverAt: deliverAt() };
}

/** The first target that orders the payload by an item key; undefined when none does (the id orders it). */
function defaultPartitionKey(request: MutationRequest, targets: TargetValidator[]): string | undefined {
  for (const target of targets) {
    const key = target.partitionKeyOf(request.payload);
    if (key !== undefined) return key;
  }
  return undefined;
}

/** A multi-item mutation gives each item's op and changes in the item: the single-target fields are refused. */
function refuseSingleTargetFields(body: unknown): void {
  const fields = SINGLE_TARGET_FIELDS.filter((field) => Object.hasOwn(body as object, field));
  if (fields.length === 0) return;
  const detail = 'not with "items": each item gives its own target, op, item or key, and set/add';
  throw badRequest(
    'items-with-single-target-fields',
    `A mutation with "items" takes no ${fields.map((field) => `"${field}"`).join(', ')}: give each item its ` +
      'target, op, "item" (put) or "key" (update, delete), and "set"/"add" (update).',
    { errors: fields.map((field) => ({ pointer: `/${field}`, detail })) },
  );
}

function parseRequest(body: unknown): MutationRequest {
  const result = mutationRequestSchema.safeParse(body);
  if (!result.success) {
    const errors = result.error.issues.map((issue) => ({
      pointer: jsonPointer(issue.path),
      detail: issue.message,
    }));
    throw badRequest(
      'invalid-mutation',
      `The mutation is not valid: ${errors.map((error) => `${error.pointer}: ${error.detail}`).join('; ')}`,
      { errors },
    );
  }
  const request = result.data;
  if (request.payload === undefined && request.items === undefined) {
    throw badRequest(
      'missing-payload',
      'The mutation has no "payload": send the JSON value to deliver (or "items" for a multi-item mutation).',
    );
  }
  return request;
}

function selectTargets(config: NamespaceConfig, request: MutationRequest): TargetValidator[] {
  const names = request.targets ?? config.targets.map((target) => target.name);
  const unknown = names.filter((name) => !config.targets.some((target) => target.name === name));
  if (unknown.length > 0) {
    throw badRequest(
      'unknown-target',
      `Namespace "${config.name}" has no target named ${unknown.map((name) => `"${name}"`).join(', ')}; ` +
        `its targets are ${config.targets.map((target) => `"${target.name}"`).join(', ')}.`,
    );
  }
  return config.targets
    .filter((target) => names.includes(target.name))
    .map((target) => targetValidator(target));
}

function validatePayload(
  config: NamespaceConfig,
  request: MutationRequest,
  targets: TargetValidator[],
): void {
  // Everything the envelope carries of the client's data counts toward maxBytes.
  const data = { payload: request.payload, set: request.set, add: request.add };
  const bytes = Buffer.byteLength(JSON.stringify(data), 'utf8');
  if (bytes > config.payload.maxBytes) {
    throw new ProblemError(
      413,
      'payload-too-large',
      'Payload too large',
      `The payload (with "set" and "add") is ${bytes} bytes; namespace "${config.name}" takes at most ${config.payload.maxBytes}.`,
    );
  }
  const update = request.op === 'update' ? { set: request.set, add: request.add } : undefined;
  const problems = [
    ...dynamoValueProblems(request.payload, 'payload'),
    ...dynamoValueProblems(request.set ?? {}, 'set'),
    ...targets.flatMap((target) => target.validate(request.payload, request.op, update)),
  ];
  if (problems.length > 0) {
    throw badRequest(
      'invalid-payload',
      `The payload does not fit the namespace's targets: ${problems.join('; ')}`,
    );
  }
}

/** The delivery time of a delayed mutation (epoch ms), or undefined when it is due now. */
function deliveryTime(
  config: NamespaceConfig,
  request: MutationRequest,
  now: number,
  random: () => number,
): number | undefined {
  const lifecycle = request.lifecycle;
  if (!lifecycle) return undefined;
  const jitterMs = Math.floor(random() * (lifecycle.jitterSeconds ?? 0) * 1000);
  let delayMs: number;
  if (lifecycle.deliverAt !== undefined) {
    delayMs = Date.parse(lifecycle.deliverAt) - now;
  } else {
    delayMs = (lifecycle.delaySeconds ?? 0) * 1000;
  }
  // A deliverAt in the past means "now": the mutation is immediate.
  if (delayMs <= 0 && jitterMs === 0) return undefined;
  const totalMs = Math.max(delayMs, 0) + jitterMs;
  const maxMs = config.delay.maxDelaySeconds * 1000;
  if (totalMs > maxMs) {
    throw badRequest(
      'delay-out-of-bounds',
      `The delay is ${Math.ceil(totalMs / 1000)} s (with jitter); namespace "${config.name}" allows at most ` +
        `${config.delay.maxDelaySeconds} s.`,
    );
  }
  return now + totalMs;
}

function chooseIdempotencyKey(request: MutationRequest, header: string | undefined): string | undefined {
  if (header !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(header)) {
    throw badRequest(
      'invalid-idempotency-key',
      `The Idempotency-Key header must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters without spaces.`,
    );
  }
  if (header !== undefined && request.idempotencyKey !== undefined && header !== request.idempotencyKey) {
    throw badRequest(
      'conflicting-idempotency-key',
      'The Idempotency-Key header and the body\'s "idempotencyKey" differ; send one, or the same in both.',
    );
  }
  return request.idempotencyKey ?? header;
}

/** RFC 6901: `~` and `/` inside a segment are escaped, so a field named `a/b` is told from a nested `b`. */
function jsonPointer(path: readonly PropertyKey[]): string {
  return path.map((segment) => `/${String(segment).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

import { createHash } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { dynamoValueProblems } from '#lambdas/shared/dynamo-values';
import { ENVELOPE_VERSION, type Envelope, effectiveTime } from '#lambdas/shared/envelope';
import { crashPoint } from '#lambdas/shared/faults';
import { badRequest, ProblemError } from '#lambdas/shared/http/problem';
import {
  commitLedgerEntry,
  expiresAt,
  fenceEarlierAttempts,
  getLedgerEntry,
  type Ledger,
  type LedgerEntry,
  ledgerKey,
} from '#lambdas/shared/ledger';
import { errorMessage } from '#lambdas/shared/logger';
import {
  IDEMPOTENCY_KEY_PATTERN,
  type MutationRequest,
  mutationRequestSchema,
} from '#lambdas/shared/mutation-request';
import type { NamespaceConfig } from '#lambdas/shared/namespace-config';
import type { NamespaceConfigSource } from '#lambdas/shared/namespace-store';
import { createTarget, type Target, type TargetClients } from '#lambdas/shared/targets/index';

export type Durability = 'SUCCESS' | 'FAIL' | 'UNKNOWN';

/** The answer to one mutation. */
export interface MutationAnswer {
  readonly id: string;
  readonly namespace: string;
  readonly durable: Durability;
  readonly sequence?: string;
  /** The mutation's effective time (its delivery time if delayed, else its log time): with `sequence`, its place in the WAL order. */
  readonly effectiveAt?: string;
  readonly message?: string;
}

export interface IngestDependencies {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly ledger: Ledger;
  readonly namespaces: NamespaceConfigSource;
  readonly targetClients: TargetClients;
  readonly logger: Logger;
  readonly now: () => number;
  readonly newId: () => string;
  readonly random: () => number;
  /** Region this stack runs in, recorded as the mutation's origin. */
  readonly region?: string;
  /**
   * How long a FAIL answer keeps its key from committing: longer than any attempt already under way
   * can still run (API Gateway's 30 s + the ingest timeout + clock margin; FAIL_FENCE_SECONDS).
   */
  readonly failFenceMs: number;
}

// Kinesis partition keys are at most 256 characters; longer keys are hashed (same key, same hash).
const MAX_PARTITION_KEY_LENGTH = 256;

/**
 * Makes one mutation durable: validate, prepare (PutRecord), commit (conditional ledger put).
 * Resolves only with SUCCESS; every other outcome is a ProblemError that says what the client
 * should do, with `durable` FAIL or UNKNOWN when the request itself was valid.
 */
export async function ingestMutation(
  deps: IngestDependencies,
  namespace: string,
  body: unknown,
  headerIdempotencyKey: string | undefined,
): Promise<MutationAnswer> {
  const config = await deps.namespaces.get(namespace);
  const request = parseRequest(body);
  const requestHash = hashRequest(request);
  const clientKey = chooseIdempotencyKey(request, headerIdempotencyKey);
  let targets: Target[];
  let deliverAt: number | undefined;
  const now = deps.now();
  try {
    if (!config.enabled) {
      throw new ProblemError(
        403,
        'namespace-disabled',
        'Namespace disabled',
        `Namespace "${namespace}" is disabled and takes no mutations. Ask its owners to set "enabled": true.`,
      );
    }
    if (config.requireIdempotencyKey && clientKey === undefined) {
      throw badRequest(
        'idempotency-key-required',
        `Namespace "${namespace}" requires an idempotency key: send the header "Idempotency-Key" (or ` +
          '"idempotencyKey" in the body), unique per mutation and the same on every retry of it.',
      );
    }
    targets = selectTargets(config, request, deps.targetClients);
    validatePayload(config, request, targets);
    deliverAt = deliveryTime(config, request, now, deps.random);
  } catch (error) {
    // A retry of a mutation committed before the namespace's config changed still learns its outcome.
    if (error instanceof ProblemError && clientKey !== undefined) {
      const existing = await getLedgerEntry(deps.ledger, namespace, clientKey).catch(() => undefined);
      if (existing?.state === 'COMMITTED' && existing.id && existing.requestHash === requestHash) {
        return answerFromCommitted(existing, namespace, clientKey, requestHash);
      }
    }
    throw error;
  }
  const id = deps.newId();
  const idempotencyKey = clientKey ?? id;

  const envelope: Envelope = {
    v: ENVELOPE_VERSION,
    id,
    namespace,
    idempotencyKey,
    partitionKey: request.partitionKey ?? defaultPartitionKey(request, targets, id),
    op: request.op,
    payload: request.payload,
    ...(request.op === 'update'
      ? {
          update: {
            ...(request.set ? { set: request.set } : {}),
            ...(request.add ? { add: request.add } : {}),
          },
        }
      : {}),
    ...(request.targets ? { targets: request.targets } : {}),
    loggedAt: now,
    ...(deliverAt !== undefined ? { deliverAt } : {}),
    ...(deps.region ? { origin: deps.region } : {}),
  };

  let sequence: string;
  try {
    sequence = await prepare(deps, envelope);
  } catch (error) {
    if (!(error instanceof PrepareFailedError)) throw error;
    return answerFailedPrepare(deps, envelope, requestHash, config.retentionDays, error.cause);
  }
  crashPoint('after-prepare');
  const entry: LedgerEntry & { id: string } = {
    pk: ledgerKey(namespace, idempotencyKey),
    namespace,
    idempotencyKey,
    id,
    state: 'COMMITTED',
    sequence,
    requestHash,
    envelope,
    updatedAt: now,
    expiresAt: expiresAt(now, config.retentionDays),
  };
  return commit(deps, entry, config.retentionDays);
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
  if (request.items !== undefined) {
    throw badRequest(
      'unsupported-items',
      'Multi-item mutations ("items") are not supported yet; send "payload".',
    );
  }
  if (request.payload === undefined) {
    throw badRequest('missing-payload', 'The mutation has no "payload": send the JSON value to deliver.');
  }
  return request;
}

function selectTargets(config: NamespaceConfig, request: MutationRequest, clients: TargetClients): Target[] {
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
    .map((target) => createTarget(target, clients));
}

function validatePayload(config: NamespaceConfig, request: MutationRequest, targets: Target[]): void {
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
      'The Idempotency-Key header must be 1 to 255 printable ASCII characters without spaces.',
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

function defaultPartitionKey(request: MutationRequest, targets: Target[], id: string): string {
  for (const target of targets) {
    const key = target.partitionKeyOf(request.payload);
    if (key !== undefined) return key;
  }
  return id;
}

function streamPartitionKey(envelope: Envelope): string {
  const key = `${envelope.namespace}#${envelope.partitionKey}`;
  if (key.length <= MAX_PARTITION_KEY_LENGTH) return key;
  return `${envelope.namespace}#sha256:${createHash('sha256').update(envelope.partitionKey).digest('hex')}`;
}

/** A stable hash of what the client asked for, so a retry can be told from a reused key. */
export function hashRequest(request: MutationRequest): string {
  const { idempotencyKey: _ignored, ...rest } = request;
  return createHash('sha256').update(canonicalJson(rest)).digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, field]) => field !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, field]) => `${JSON.stringify(key)}:${canonicalJson(field)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

class PrepareFailedError extends Error {
  constructor(options: { cause: unknown }) {
    super('PutRecord failed', options);
    this.name = 'PrepareFailedError';
  }
}

async function prepare(deps: IngestDependencies, envelope: Envelope): Promise<string> {
  try {
    const answer = await deps.kinesis.send(
      new PutRecordCommand({
        StreamName: deps.streamName,
        PartitionKey: streamPartitionKey(envelope),
        Data: Buffer.from(JSON.stringify(envelope)),
      }),
    );
    if (!answer.SequenceNumber) throw new Error('PutRecord answered without a sequence number');
    return answer.SequenceNumber;
  } catch (error) {
    deps.logger.warn('Prepare failed', {
      namespace: envelope.namespace,
      id: envelope.id,
      error: errorMessage(error),
    });
    throw new PrepareFailedError({ cause: error });
  }
}

/**
 * This attempt logged nothing that can commit (a record that did reach the stream stays uncommitted
 * and is fenced). But an earlier attempt of the same key may have committed: its answer wins.
 */
function answerFailedPrepare(
  deps: IngestDependencies,
  envelope: Envelope,
  requestHash: string,
  retentionDays: number,
  cause: unknown,
): Promise<MutationAnswer> {
  return answerFailAfterFencing(deps, envelope, requestHash, retentionDays, {
    status: 503,
    slug: 'prepare-failed',
    what: 'The mutation was not logged and will not be applied, nor will any earlier attempt with this key.',
    cause,
  });
}

interface FailAnswer {
  readonly status: number;
  readonly slug: string;
  readonly what: string;
  readonly cause?: unknown;
}

/**
 * Every FAIL answer first fences its key: other attempts of it may still be running (the client's timeout
 * was shorter than the WAL's, or a handler started late), and none may commit after the client heard FAIL.
 * The fence keeps the key from committing until every attempt sent so far has ended. If the key turns out
 * to be committed, that answer wins (SUCCESS, or 422 for another request); if the ledger cannot say: UNKNOWN.
 */
async function answerFailAfterFencing(
  deps: IngestDependencies,
  envelope: Envelope,
  requestHash: string,
  retentionDays: number,
  fail: FailAnswer,
): Promise<MutationAnswer> {
  const unknown = (error: unknown) =>
    durabilityProblem(
      503,
      fail.slug,
      envelope,
      'UNKNOWN',
      'The mutation could not be logged now, and whether an earlier attempt with this key was cannot be read.',
      error,
    );
  const failed = () =>
    durabilityProblem(
      fail.status,
      fail.slug,
      envelope,
      'FAIL',
      `${fail.what} The key can be committed again from ${Math.ceil(deps.failFenceMs / 1000)} s after this answer.`,
      fail.cause,
    );
  const now = deps.now();
  const fencedUntil = now + deps.failFenceMs;
  let existing: LedgerEntry | undefined;
  try {
    if (await fenceEarlierAttempts(deps.ledger, envelope, fencedUntil, now, retentionDays)) throw failed();
    existing = await getLedgerEntry(deps.ledger, envelope.namespace, envelope.idempotencyKey);
  } catch (error) {
    throw error instanceof ProblemError ? error : unknown(error);
  }
  if (existing?.state === 'COMMITTED' && existing.id)
    return answerFromCommitted(existing, envelope.namespace, envelope.idempotencyKey, requestHash);
  // A longer fence is already there: it covers every attempt this one would.
  if (existing?.state === 'ABORTED' && (existing.fencedUntil ?? 0) >= fencedUntil) throw failed();
  throw unknown(fail.cause);
}

/** A key already committed: the original answer for a retry, 422 for a different request. */
function answerFromCommitted(
  existing: LedgerEntry,
  namespace: string,
  idempotencyKey: string,
  requestHash: string,
): MutationAnswer {
  if (existing.requestHash !== undefined && existing.requestHash !== requestHash) {
    throw new ProblemError(
      422,
      'idempotency-key-reused',
      'Idempotency key reused',
      `Idempotency key "${idempotencyKey}" was already used for a different mutation (${existing.id}). ` +
        'Use a new key for a new mutation.',
      { id: existing.id, namespace },
    );
  }
  // A retry of a committed mutation: the original answer. This attempt's record is a duplicate prepare.
  return {
    id: existing.id as string,
    namespace,
    durable: 'SUCCESS',
    ...(existing.sequence ? { sequence: existing.sequence } : {}),
    ...(existing.envelope ? { effectiveAt: isoTime(effectiveTime(existing.envelope)) } : {}),
  };
}

async function commit(
  deps: IngestDependencies,
  entry: LedgerEntry & { id: string },
  retentionDays: number,
): Promise<MutationAnswer> {
  const envelope = entry.envelope as Envelope;
  let result: Awaited<ReturnType<typeof commitLedgerEntry>>;
  try {
    result = await commitLedgerEntry(deps.ledger, entry, deps.now());
  } catch (error) {
    deps.logger.warn('Commit outcome unknown', {
      namespace: entry.namespace,
      id: entry.id,
      error: errorMessage(error),
    });
    throw durabilityProblem(
      503,
      'commit-unknown',
      envelope,
      'UNKNOWN',
      'The commit may or may not have happened; a retry learns which.',
      error,
    );
  }
  if (result.committed) {
    deps.logger.info('Mutation committed', {
      namespace: entry.namespace,
      id: entry.id,
      sequence: entry.sequence,
    });
    crashPoint('after-commit');
    return {
      id: entry.id,
      namespace: entry.namespace,
      durable: 'SUCCESS',
      sequence: entry.sequence,
      effectiveAt: isoTime(effectiveTime(envelope)),
    };
  }
  const existing = result.existing;
  if (existing?.state === 'COMMITTED' && existing.id) {
    return answerFromCommitted(
      existing,
      envelope.namespace,
      envelope.idempotencyKey,
      entry.requestHash ?? '',
    );
  }
  if (existing?.state === 'ABORTED') {
    // This FAIL must hold for the client's other attempts too: it extends the fence like any FAIL.
    return answerFailAfterFencing(deps, envelope, entry.requestHash ?? '', retentionDays, {
      status: 409,
      slug: 'commit-fenced',
      what:
        'The commit came too late: the WAL fenced this key (an answer to it was FAIL, or this attempt timed ' +
        'out) and will never apply this attempt, nor any earlier one.',
    });
  }
  throw durabilityProblem(
    503,
    'commit-unknown',
    envelope,
    'UNKNOWN',
    'The commit was refused but no ledger entry explains why.',
  );
}

function durabilityProblem(
  status: number,
  slug: string,
  envelope: Envelope,
  durable: Durability,
  what: string,
  cause?: unknown,
): ProblemError {
  // A request sent without a key got the id as its key: the retry must name it.
  const advice =
    envelope.idempotencyKey === envelope.id
      ? `Retry with the header "Idempotency-Key: ${envelope.id}".`
      : 'Retry with the same idempotency key.';
  const detail = `${what} ${advice}`;
  return new ProblemError(
    status,
    slug,
    durable === 'FAIL' ? 'Mutation not logged' : 'Mutation outcome unknown',
    detail,
    { id: envelope.id, namespace: envelope.namespace, durable, message: detail },
    { cause },
  );
}

function isoTime(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/** RFC 6901: `~` and `/` inside a segment are escaped, so a field named `a/b` is told from a nested `b`. */
function jsonPointer(path: readonly PropertyKey[]): string {
  return path.map((segment) => `/${String(segment).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

import { createHash } from 'node:crypto';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { ENVELOPE_VERSION, type Envelope, effectiveTime } from '#lambdas/shared/envelope';
import { crashPoint } from '#lambdas/shared/faults';
import { ProblemError } from '#lambdas/shared/http/problem';
import {
  type CommitRecord,
  type CommitResult,
  commitLedgerEntry,
  commitRecord,
  fenceEarlierAttempts,
  getLedgerEntry,
  type LedgerEntry,
  type PreparedRecord,
} from '#lambdas/shared/ledger';
import { errorMessage } from '#lambdas/shared/logger';
import type { MutationRequest } from '#lambdas/shared/mutation-request';
import type { NamespaceConfig } from '#lambdas/shared/namespace-config';
import type { WalDependencies } from '#lambdas/shared/wal-dependencies';
import { type AcceptedMutation, acceptMutation, parseMutationRequest } from './validate-mutation';

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

export interface IngestDependencies extends WalDependencies {
  readonly streamName: string;
  readonly newId: () => string;
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
  const planned = await planMutation(deps, config, namespace, body, headerIdempotencyKey);
  if (!('envelope' in planned)) return planned;
  return finishMutation(deps, planned, await prepareOne(deps, planned.envelope));
}

/** A valid mutation with its envelope, ready to prepare: what its commit and its answers need. */
export interface PlannedMutation {
  readonly envelope: Envelope;
  readonly requestHash: string;
  readonly retentionDays: number;
}

/** What one mutation's prepare came to: the record's sequence, or why no record can count. */
export type PrepareOutcome = PreparedRecord | { readonly failedCause: unknown };

/**
 * The validation half of one mutation (single or in a batch): its envelope, or the original answer
 * when it is a retry of a committed mutation that its namespace would now refuse. Throws the refusal.
 */
export async function planMutation(
  deps: IngestDependencies,
  config: NamespaceConfig,
  namespace: string,
  body: unknown,
  headerIdempotencyKey: string | undefined,
): Promise<PlannedMutation | MutationAnswer> {
  const parsed = parseMutationRequest(body, headerIdempotencyKey);
  const requestHash = hashRequest(parsed.request);
  const now = deps.now();
  let accepted: AcceptedMutation;
  try {
    accepted = acceptMutation(config, parsed, { now, random: deps.random });
  } catch (error) {
    // A retry of a mutation committed before the namespace's config changed still learns its outcome.
    const committed = await committedRetryAnswer(deps, namespace, parsed.clientKey, requestHash, error);
    if (committed) return committed;
    throw error;
  }
  const id = deps.newId();
  const envelope = buildEnvelope(accepted, {
    id,
    namespace,
    idempotencyKey: parsed.clientKey ?? id,
    loggedAt: now,
    origin: deps.region,
    configVersion: config.version,
  });
  return { envelope, requestHash, retentionDays: config.retentionDays };
}

/** The answer for a refused request whose key is already committed with the same request; else undefined. */
async function committedRetryAnswer(
  deps: IngestDependencies,
  namespace: string,
  clientKey: string | undefined,
  requestHash: string,
  refusal: unknown,
): Promise<MutationAnswer | undefined> {
  if (!(refusal instanceof ProblemError) || clientKey === undefined) return undefined;
  const existing = await getLedgerEntry(deps.ledger, namespace, clientKey).catch(() => undefined);
  if (existing?.state === 'COMMITTED' && existing.id && existing.requestHash === requestHash) {
    return answerFromCommitted(existing, namespace, clientKey, requestHash);
  }
  return undefined;
}

interface EnvelopeIds {
  readonly id: string;
  readonly namespace: string;
  readonly idempotencyKey: string;
  readonly loggedAt: number;
  readonly origin: string | undefined;
  /** The namespace config's version the mutation is accepted under. */
  readonly configVersion: number;
}

function buildEnvelope(accepted: AcceptedMutation, ids: EnvelopeIds): Envelope {
  const { request, deliverAt, items } = accepted;
  return {
    v: ENVELOPE_VERSION,
    id: ids.id,
    namespace: ids.namespace,
    idempotencyKey: ids.idempotencyKey,
    // Multi-item: the first item's key, so mutations whose first item is the same item stay in order.
    partitionKey: request.partitionKey ?? accepted.partitionKey ?? ids.id,
    op: request.op,
    // Undefined with items (refused together at parse), so absent from the JSON.
    payload: request.payload,
    ...(items ? { items } : {}),
    ...(request.op === 'update'
      ? {
          update: {
            ...(request.set ? { set: request.set } : {}),
            ...(request.add ? { add: request.add } : {}),
          },
        }
      : {}),
    ...(request.targets ? { targets: request.targets } : {}),
    loggedAt: ids.loggedAt,
    ...(deliverAt !== undefined ? { deliverAt } : {}),
    ...(ids.origin ? { origin: ids.origin } : {}),
    configVersion: ids.configVersion,
  };
}

/**
 * The protocol half after the prepare: commit the ledger entry that makes the record count, or, if the
 * prepare failed, answer as a failed prepare must (fence, then FAIL or UNKNOWN).
 */
export async function finishMutation(
  deps: IngestDependencies,
  { envelope, requestHash, retentionDays }: PlannedMutation,
  outcome: PrepareOutcome,
): Promise<MutationAnswer> {
  if ('failedCause' in outcome) {
    return answerFailedPrepare(deps, envelope, requestHash, retentionDays, outcome.failedCause);
  }
  crashPoint('after-prepare');
  // The ledger keeps no payload: one write unit per commit (the stream holds the envelope).
  const entry = commitRecord(envelope, outcome, requestHash, retentionDays);
  return commit(deps, entry, envelope, retentionDays);
}

/** The stream partition key of an envelope: per namespace and partition key, hashed when too long. */
export function streamPartitionKey(envelope: Envelope): string {
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

/** The single endpoint's prepare: one PutRecord. */
async function prepareOne(deps: IngestDependencies, envelope: Envelope): Promise<PrepareOutcome> {
  try {
    const answer = await deps.kinesis.send(
      new PutRecordCommand({
        StreamName: deps.streamName,
        PartitionKey: streamPartitionKey(envelope),
        Data: Buffer.from(JSON.stringify(envelope)),
      }),
    );
    if (!answer.SequenceNumber) throw new Error('PutRecord answered without a sequence number');
    return { sequence: answer.SequenceNumber, shardId: answer.ShardId };
  } catch (error) {
    return prepareFailed(deps, envelope, error);
  }
}

/** A prepare that failed, logged: the mutation takes the failed-prepare path. */
export function prepareFailed(deps: IngestDependencies, envelope: Envelope, cause: unknown): PrepareOutcome {
  deps.logger.warn('Prepare failed', {
    namespace: envelope.namespace,
    id: envelope.id,
    error: errorMessage(cause),
  });
  return { failedCause: cause };
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
    ...(existing.effectiveAt !== undefined ? { effectiveAt: isoTime(existing.effectiveAt) } : {}),
  };
}

/**
 * The commit: a conditional ledger put that makes the prepared record count. SUCCESS if it wrote the entry
 * or the key was already committed with this request; FAIL (after fencing) if the key is fenced; else UNKNOWN.
 */
async function commit(
  deps: IngestDependencies,
  entry: CommitRecord,
  envelope: Envelope,
  retentionDays: number,
): Promise<MutationAnswer> {
  const result = await writeCommit(deps, entry, envelope);
  if (result.committed) return answerCommitted(deps, entry, envelope);
  return answerRefusedCommit(deps, entry, envelope, result.existing, retentionDays);
}

/** The conditional ledger put; an error is UNKNOWN, since the write may have happened. */
async function writeCommit(
  deps: IngestDependencies,
  entry: CommitRecord,
  envelope: Envelope,
): Promise<CommitResult> {
  try {
    return await commitLedgerEntry(deps.ledger, entry, deps.now());
  } catch (error) {
    deps.logger.warn('Commit outcome unknown', {
      namespace: envelope.namespace,
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
}

/** This attempt's entry is committed: SUCCESS with its own sequence. */
function answerCommitted(deps: IngestDependencies, entry: CommitRecord, envelope: Envelope): MutationAnswer {
  // Per-mutation lines are DEBUG: at INFO they would cost about as much as the commit (CloudWatch Logs per GB).
  deps.logger.debug('Mutation committed', {
    namespace: envelope.namespace,
    id: entry.id,
    sequence: entry.sequence,
  });
  crashPoint('after-commit');
  return {
    id: entry.id,
    namespace: envelope.namespace,
    durable: 'SUCCESS',
    sequence: entry.sequence,
    effectiveAt: isoTime(effectiveTime(envelope)),
  };
}

/** The put's condition failed: the entry already there decides (committed, fenced, or unexplained: UNKNOWN). */
async function answerRefusedCommit(
  deps: IngestDependencies,
  entry: CommitRecord,
  envelope: Envelope,
  existing: LedgerEntry | undefined,
  retentionDays: number,
): Promise<MutationAnswer> {
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

/** A FAIL or UNKNOWN answer: it names the mutation's id, and the key a retry must carry. */
export function durabilityProblem(
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
      ? `Retry with the idempotency key "${envelope.id}" (header "Idempotency-Key", or "idempotencyKey" in the body).`
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

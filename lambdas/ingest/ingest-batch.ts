import { setTimeout as sleep } from 'node:timers/promises';
import {
  PutRecordsCommand,
  type PutRecordsRequestEntry,
  type PutRecordsResultEntry,
} from '@aws-sdk/client-kinesis';
import { chunkBySize } from '#lambdas/shared/chunks';
import { badRequest } from '#lambdas/shared/http/problem';
import { mapBounded } from '#lambdas/shared/map-bounded';
import { isPlainObject } from '#lambdas/shared/storable-json';
import { ANSWER_RESERVE_MS, MAX_PUT_RECORDS_RESENDS, resendBackoffMs, resendFits } from './batch-timing';
import {
  durabilityProblem,
  finishMutation,
  type IngestDependencies,
  type MutationAnswer,
  type PlannedMutation,
  type PrepareOutcome,
  planMutation,
  prepareFailed,
  streamPartitionKey,
} from './ingest-mutation';
import { toProblem } from './problem-responses';

/**
 * The batch endpoint (`POST /v1/namespaces/{ns}/mutations:batch`): each mutation gets the single
 * endpoint's validation, idempotency and FAIL/UNKNOWN rules (the same functions of ingest-mutation.ts);
 * only the AWS calls are shared: one namespace-config read, one PutRecords (plus resends of the entries it
 * refused for throughput), then one conditional PutItem per mutation, all at once. Decisions and limits:
 * docs/decisions.md, "Batch endpoint".
 */

/** Mutations per batch request. */
export const MAX_BATCH_MUTATIONS = 100;

/**
 * Bytes of a batch request's body: under Lambda's 6 MB synchronous payload (the event carries headers
 * too) and API Gateway HTTP API's 10 MB; the envelopes it becomes fit one PutRecords (5 MiB).
 */
export const MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024;

/** PutRecords takes at most 500 records and 5 MiB (data plus partition keys) per call. */
const PUT_RECORDS_MAX_RECORDS = 500;
const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;

/** Mutations validated at once (a refused retry may read the ledger); commits all run at once. */
const PLAN_CONCURRENCY = 10;

/** PutRecords entry errors the SDK would retry for a PutRecord: resent, the others fail at once. */
const RETRYABLE_ENTRY_ERRORS: ReadonlySet<string> = new Set([
  'ProvisionedThroughputExceededException',
  'InternalFailure',
]);

/** Kinesis refused one entry of a PutRecords call (its ErrorCode), or answered no result for it. */
class PutRecordsEntryRefusedError extends Error {
  constructor(
    readonly errorCode: string | undefined,
    readonly errorMessage: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      `PutRecords refused the record: ${errorCode ?? 'no result'} ${errorMessage ?? ''}`.trim() +
        '. The mutation takes the failed-prepare path; retry it with the same idempotency key.',
      options,
    );
    this.name = 'PutRecordsEntryRefusedError';
  }
}

/** What a batch knows of its invocation (the handler's Lambda context); without it, no deadline applies. */
export interface BatchClock {
  /** Milliseconds before the Lambda times out (the context's `getRemainingTimeInMillis`). */
  readonly remainingMs: () => number;
  /** The longest one SDK call may take under the function's budget (`worstCaseCallMs`). */
  readonly sdkCallMs: number;
}

/** One mutation's answer in a batch: the single endpoint's 200 body, or its problem document. */
export type BatchResult =
  | ({ readonly status: 200 } & MutationAnswer)
  | (Record<string, unknown> & { readonly status: number });

export interface BatchAnswer {
  readonly results: BatchResult[];
}

type Slot = { readonly planned: PlannedMutation } | { readonly result: BatchResult };

export async function ingestBatch(
  deps: IngestDependencies,
  namespace: string,
  body: unknown,
  headerIdempotencyKey: string | undefined,
  clock?: BatchClock,
): Promise<BatchAnswer> {
  const mutations = parseBatch(body, headerIdempotencyKey);
  const config = await deps.namespaces.get(namespace);
  const duplicates = laterDuplicates(mutations);
  const slots = await mapBounded(mutations, PLAN_CONCURRENCY, async (mutation, index): Promise<Slot> => {
    const duplicate = duplicates.get(index);
    if (duplicate !== undefined) return { result: problemResult(deps, duplicateKeyProblem(duplicate)) };
    try {
      const planned = await planMutation(deps, config, namespace, mutation, undefined);
      return 'envelope' in planned ? { planned } : { result: successResult(planned) };
    } catch (error) {
      return { result: problemResult(deps, error) };
    }
  });
  const pending = slots.flatMap((slot, index) =>
    'planned' in slot ? [{ index, planned: slot.planned }] : [],
  );
  const finished = await finishAll(
    deps,
    pending.map(({ planned }) => planned),
    clock,
  );
  const results = slots.map((slot) => ('result' in slot ? slot.result : undefined));
  pending.forEach(({ index }, position) => {
    results[index] = finished[position];
  });
  return { results: results as BatchResult[] };
}

/**
 * Prepares and commits the planned mutations, every commit at once: a batch takes the time of one
 * mutation, not of rounds of them. With a clock, a mutation not finished shortly before the Lambda times
 * out answers UNKNOWN with its id, so a keyless one still learns the key to retry with.
 */
async function finishAll(
  deps: IngestDependencies,
  planned: readonly PlannedMutation[],
  clock: BatchClock | undefined,
): Promise<BatchResult[]> {
  const prepared = prepareBatch(deps, planned, clock);
  const finishing = planned.map((mutation, position) =>
    prepared
      .then((outcomes) => finishMutation(deps, mutation, outcomes[position] as PrepareOutcome))
      .then(successResult, (error: unknown) => problemResult(deps, error)),
  );
  if (!clock) return Promise.all(finishing);
  const deadline = new AbortController();
  // Resolves true at the deadline, false once the batch has answered (the timer is cancelled).
  const timeUp = sleep(Math.max(0, clock.remainingMs() - ANSWER_RESERVE_MS), true, {
    signal: deadline.signal,
  }).catch(() => false);
  const unfinished = (mutation: PlannedMutation) =>
    timeUp.then((up) =>
      up ? problemResult(deps, deadlineProblem(mutation)) : new Promise<BatchResult>(() => {}),
    );
  try {
    return await Promise.all(
      finishing.map((result, position) =>
        Promise.race([result, unfinished(planned[position] as PlannedMutation)]),
      ),
    );
  } finally {
    deadline.abort();
  }
}

/** A mutation still unfinished when the batch must answer: it may commit yet, so UNKNOWN, with its id. */
function deadlineProblem({ envelope }: PlannedMutation) {
  return durabilityProblem(
    503,
    'batch-deadline',
    envelope,
    'UNKNOWN',
    'The batch had to answer before this mutation finished: it may or may not be logged.',
  );
}

/** The batch envelope: `{ "mutations": [ ... ] }` with 1 to 100 mutations, keys in the bodies. */
function parseBatch(body: unknown, headerIdempotencyKey: string | undefined): unknown[] {
  if (headerIdempotencyKey !== undefined) {
    throw badRequest(
      'idempotency-key-header-in-batch',
      'A batch takes no "Idempotency-Key" header: give each mutation its own "idempotencyKey" in its body.',
    );
  }
  if (!isPlainObject(body) || !Array.isArray(body.mutations)) {
    throw badRequest(
      'invalid-batch',
      'The batch is not valid: send a JSON object { "mutations": [ ... ] } whose array holds the mutations.',
    );
  }
  const extra = Object.keys(body).filter((name) => name !== 'mutations');
  if (extra.length > 0) {
    throw badRequest(
      'invalid-batch',
      `The batch has unknown fields ${extra.join(', ')}: send only "mutations".`,
    );
  }
  const count = body.mutations.length;
  if (count === 0 || count > MAX_BATCH_MUTATIONS) {
    throw badRequest(
      'invalid-batch-size',
      `The batch holds ${count} mutations; send 1 to ${MAX_BATCH_MUTATIONS} (split larger sets into several batches).`,
    );
  }
  return body.mutations;
}

/** Index -> key of every mutation whose body key an earlier mutation of the batch already uses. */
function laterDuplicates(mutations: readonly unknown[]): Map<number, string> {
  const seen = new Set<string>();
  const later = new Map<number, string>();
  mutations.forEach((mutation, index) => {
    const key = isPlainObject(mutation) ? mutation.idempotencyKey : undefined;
    if (typeof key !== 'string') return;
    if (seen.has(key)) later.set(index, key);
    seen.add(key);
  });
  return later;
}

function duplicateKeyProblem(key: string) {
  return badRequest(
    'duplicate-idempotency-key',
    `Idempotency key "${key}" appears earlier in this batch; this mutation was not logged. ` +
      'Give each mutation of a batch its own key.',
  );
}

function successResult(answer: MutationAnswer): BatchResult {
  return { status: 200, ...answer };
}

/** A mutation's error as its result: the problem the single endpoint would answer with. */
function problemResult(deps: IngestDependencies, error: unknown): BatchResult {
  const problem = toProblem(deps.logger, error, true);
  return { ...problem.toBody(), status: problem.status };
}

/**
 * The prepares of a batch: as few PutRecords calls as the limits allow (one for any batch under
 * MAX_BATCH_BODY_BYTES). An entry refused for throughput (or an internal failure) is resent, like the SDK
 * retries a PutRecord; an entry refused otherwise or still refused after the resends, or every record of a
 * call that failed, takes the single endpoint's failed-prepare path; the others go on to their commits.
 */
async function prepareBatch(
  deps: IngestDependencies,
  planned: readonly PlannedMutation[],
  clock: BatchClock | undefined,
): Promise<PrepareOutcome[]> {
  const entries = planned.map(({ envelope }) => ({
    PartitionKey: streamPartitionKey(envelope),
    Data: Buffer.from(JSON.stringify(envelope)),
  }));
  const outcomes: PrepareOutcome[] = [];
  for (const chunk of chunkRecords(entries)) {
    outcomes.push(...(await putRecords(deps, chunk, planned.slice(outcomes.length), clock)));
  }
  return outcomes;
}

/**
 * One chunk's PutRecords, then resends of only the entries refused with a retryable ErrorCode, in their
 * order, after a backoff: at most MAX_PUT_RECORDS_RESENDS rounds, each only if it still fits the time left.
 */
async function putRecords(
  deps: IngestDependencies,
  entries: readonly PutRecordsRequestEntry[],
  planned: readonly PlannedMutation[],
  clock: BatchClock | undefined,
): Promise<PrepareOutcome[]> {
  const outcomes: (PrepareOutcome | undefined)[] = entries.map(() => undefined);
  const fail = (position: number, cause: unknown) => {
    outcomes[position] = prepareFailed(deps, (planned[position] as PlannedMutation).envelope, cause);
  };
  let waiting = entries.map((_, position) => position);
  for (let round = 0; waiting.length > 0; round++) {
    let answered: readonly (PutRecordsResultEntry | undefined)[];
    try {
      const answer = await deps.kinesis.send(
        new PutRecordsCommand({
          StreamName: deps.streamName,
          Records: waiting.map((position) => entries[position] as PutRecordsRequestEntry),
        }),
      );
      answered = waiting.map((_, index) => answer.Records?.[index]);
    } catch (error) {
      for (const position of waiting) fail(position, error);
      break;
    }
    const refused = settleEntries(waiting, answered, outcomes, fail);
    waiting = refused.map(({ position }) => position);
    if (waiting.length === 0) break;
    const waitMs = resendBackoffMs(round, deps.random);
    if (
      round >= MAX_PUT_RECORDS_RESENDS ||
      (clock && !resendFits(clock.remainingMs(), waitMs, clock.sdkCallMs))
    ) {
      for (const { position, cause } of refused) fail(position, cause);
      break;
    }
    await sleep(waitMs);
  }
  return outcomes as PrepareOutcome[];
}

/**
 * Records the accepted entries of one PutRecords answer and fails those refused for good; answers the ones
 * refused with a retryable ErrorCode (position in the chunk, and why).
 */
function settleEntries(
  sent: readonly number[],
  answered: readonly (PutRecordsResultEntry | undefined)[],
  outcomes: (PrepareOutcome | undefined)[],
  fail: (position: number, cause: unknown) => void,
): { position: number; cause: PutRecordsEntryRefusedError }[] {
  const refused: { position: number; cause: PutRecordsEntryRefusedError }[] = [];
  sent.forEach((position, index) => {
    const record = answered[index];
    if (record?.SequenceNumber && !record.ErrorCode) {
      outcomes[position] = { sequence: record.SequenceNumber, shardId: record.ShardId };
      return;
    }
    const cause = new PutRecordsEntryRefusedError(record?.ErrorCode, record?.ErrorMessage);
    if (record?.ErrorCode && RETRYABLE_ENTRY_ERRORS.has(record.ErrorCode)) refused.push({ position, cause });
    else fail(position, cause);
  });
  return refused;
}

/** Consecutive runs of entries that each fit one PutRecords call (records and bytes). */
function chunkRecords(entries: readonly PutRecordsRequestEntry[]): PutRecordsRequestEntry[][] {
  return chunkBySize(
    entries,
    (entry) => (entry.Data?.byteLength ?? 0) + Buffer.byteLength(entry.PartitionKey ?? '', 'utf8'),
    { maxCount: PUT_RECORDS_MAX_RECORDS, maxBytes: PUT_RECORDS_MAX_BYTES },
  );
}

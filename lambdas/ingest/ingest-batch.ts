import { PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { badRequest } from '#lambdas/shared/http/problem';
import { mapBounded } from '#lambdas/shared/map-bounded';
import { isPlainObject } from '#lambdas/shared/storable-json';
import {
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
 * only the AWS calls are shared: one namespace-config read, one PutRecords, then one conditional
 * PutItem per mutation. Decisions and limits: docs/decisions.md, "Batch endpoint".
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

/** Commits (and the reads a refused commit needs) in flight at once: fast, without a burst of 100. */
const COMMIT_CONCURRENCY = 10;

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
): Promise<BatchAnswer> {
  const mutations = parseBatch(body, headerIdempotencyKey);
  const config = await deps.namespaces.get(namespace);
  const duplicates = laterDuplicates(mutations);
  const slots = await mapBounded(mutations, COMMIT_CONCURRENCY, async (mutation, index): Promise<Slot> => {
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
  const outcomes = await prepareBatch(
    deps,
    pending.map(({ planned }) => planned),
  );
  const finished = await mapBounded(pending, COMMIT_CONCURRENCY, ({ planned }, position) =>
    finishMutation(deps, planned, outcomes[position] as PrepareOutcome).then(
      successResult,
      (error: unknown) => problemResult(deps, error),
    ),
  );
  const results = slots.map((slot) => ('result' in slot ? slot.result : undefined));
  pending.forEach(({ index }, position) => {
    results[index] = finished[position];
  });
  return { results: results as BatchResult[] };
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
 * MAX_BATCH_BODY_BYTES). A record whose entry has an ErrorCode, or every record of a call that failed,
 * takes the single endpoint's failed-prepare path; the others go on to their commits.
 */
async function prepareBatch(
  deps: IngestDependencies,
  planned: readonly PlannedMutation[],
): Promise<PrepareOutcome[]> {
  const entries = planned.map(({ envelope }) => ({
    PartitionKey: streamPartitionKey(envelope),
    Data: Buffer.from(JSON.stringify(envelope)),
  }));
  const outcomes: PrepareOutcome[] = [];
  for (const chunk of chunkRecords(entries)) {
    outcomes.push(...(await putRecords(deps, chunk, planned.slice(outcomes.length))));
  }
  return outcomes;
}

async function putRecords(
  deps: IngestDependencies,
  entries: readonly PutRecordsRequestEntry[],
  planned: readonly PlannedMutation[],
): Promise<PrepareOutcome[]> {
  try {
    const answer = await deps.kinesis.send(
      new PutRecordsCommand({ StreamName: deps.streamName, Records: [...entries] }),
    );
    return entries.map((_, index) => {
      const envelope = (planned[index] as PlannedMutation).envelope;
      const record = answer.Records?.[index];
      if (record?.SequenceNumber && !record.ErrorCode) {
        return { sequence: record.SequenceNumber, shardId: record.ShardId };
      }
      const cause = new Error(
        `PutRecords refused the record: ${record?.ErrorCode ?? 'no result'} ${record?.ErrorMessage ?? ''}`.trim(),
      );
      return prepareFailed(deps, envelope, cause);
    });
  } catch (error) {
    return entries.map((_, index) =>
      prepareFailed(deps, (planned[index] as PlannedMutation).envelope, error),
    );
  }
}

/** Consecutive runs of entries that each fit one PutRecords call (records and bytes). */
function chunkRecords(entries: readonly PutRecordsRequestEntry[]): PutRecordsRequestEntry[][] {
  const chunks: PutRecordsRequestEntry[][] = [];
  let current: PutRecordsRequestEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = (entry.Data?.byteLength ?? 0) + Buffer.byteLength(entry.PartitionKey ?? '', 'utf8');
    if (
      current.length > 0 &&
      (current.length >= PUT_RECORDS_MAX_RECORDS || bytes + size > PUT_RECORDS_MAX_BYTES)
    ) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

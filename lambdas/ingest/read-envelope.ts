import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as KinesisRecord,
} from '@aws-sdk/client-kinesis';
import { type Envelope, parseEnvelope } from '#lambdas/shared/envelope';
import { ProblemError } from '#lambdas/shared/http/problem';
import type { LedgerEntry } from '#lambdas/shared/ledger';
import type { IngestDependencies } from './ingest-mutation';

/** The part of a mutation only its envelope holds: what `GET ...?view=full` adds to the ledger's view. */
export interface EnvelopeView {
  readonly op: string;
  readonly partitionKey: string;
  readonly payload: unknown;
  readonly update?: Envelope['update'];
  readonly targets?: string[];
  /** A multi-item mutation's items (it has no payload). */
  readonly items?: Envelope['items'];
  readonly deliverAt?: string;
}

// A sparse shard may answer an empty page before the record: follow a few iterators, no more.
const MAX_GET_RECORDS_CALLS = 3;

/**
 * Reads a committed mutation's envelope back from the stream: GetShardIterator AT_SEQUENCE_NUMBER at the
 * ledger's shard and sequence, then GetRecords with Limit 1. Opt-in (`?view=full`): a shard takes 5 GetRecords
 * calls per second, shared with the consumers that poll it. Past the stream's retention the record is gone:
 * 410, the target holds the state.
 */
export async function readEnvelopeView(
  deps: IngestDependencies,
  entry: LedgerEntry,
  id: string,
): Promise<EnvelopeView> {
  if (!entry.shardId || !entry.sequence) throw gone(id, 'its ledger entry names no stream shard');
  let record: KinesisRecord | undefined;
  try {
    record = await readRecord(deps, entry.shardId, entry.sequence);
  } catch (error) {
    throw streamProblem(id, error);
  }
  if (!record?.Data) throw gone(id, "it is no longer on the stream (past the stream's retention)");
  const envelope = parseEnvelope(Buffer.from(record.Data).toString('utf8'));
  if (envelope.id !== id) throw gone(id, 'the record at its sequence is another mutation');
  return {
    op: envelope.op,
    partitionKey: envelope.partitionKey,
    payload: envelope.payload,
    ...(envelope.update ? { update: envelope.update } : {}),
    ...(envelope.targets ? { targets: envelope.targets } : {}),
    ...(envelope.items ? { items: envelope.items } : {}),
    ...(envelope.deliverAt !== undefined ? { deliverAt: new Date(envelope.deliverAt).toISOString() } : {}),
  };
}

/** The record at `sequence`, or undefined when the stream no longer holds it. */
async function readRecord(
  deps: IngestDependencies,
  shardId: string,
  sequence: string,
): Promise<KinesisRecord | undefined> {
  let iterator: string | undefined;
  try {
    const answer = await deps.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: deps.streamName,
        ShardId: shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        StartingSequenceNumber: sequence,
      }),
    );
    iterator = answer.ShardIterator;
  } catch (error) {
    // A trimmed sequence number cannot be positioned at.
    if ((error as { name?: string }).name === 'InvalidArgumentException') return undefined;
    throw error;
  }
  for (let call = 0; iterator && call < MAX_GET_RECORDS_CALLS; call++) {
    const answer = await deps.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1 }));
    const [record] = answer.Records ?? [];
    if (record) return record.SequenceNumber === sequence ? record : undefined;
    if (answer.MillisBehindLatest === 0) return undefined;
    iterator = answer.NextShardIterator;
  }
  return undefined;
}

function gone(id: string, why: string): ProblemError {
  return new ProblemError(
    410,
    'payload-gone',
    'Payload no longer readable',
    `Mutation "${id}" is committed, but its payload cannot be read back: ${why}. The ledger's view (without ` +
      '"?view=full") still answers; the target holds the applied state.',
  );
}

function streamProblem(id: string, error: unknown): ProblemError {
  const throttled = (error as { name?: string }).name === 'ProvisionedThroughputExceededException';
  return new ProblemError(
    throttled ? 429 : 503,
    throttled ? 'stream-read-throttled' : 'stream-read-failed',
    throttled ? 'Stream read throttled' : 'Stream read failed',
    `The payload of mutation "${id}" could not be read from the stream now` +
      (throttled
        ? ' (a shard takes 5 reads per second, shared with the WAL consumers). Retry in a few seconds.'
        : '. Retry later; without "?view=full" the ledger\'s view answers.'),
    {},
    { cause: error },
  );
}

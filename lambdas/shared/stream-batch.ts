import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import {
  type DeliveryDependencies,
  deadLetter,
  RECHECK_DELAY_MS,
  routeCommitted,
  sendToQueue,
} from './delivery';
import { recordHold } from './delivery-status';
import { type Envelope, InvalidEnvelopeError, type LoggedMutation, parseEnvelope } from './envelope';
import { crashPoint } from './faults';
import { runInKeyLanes } from './key-lanes';
import { commitStateOf, getLedgerEntries, type LedgerEntry, ledgerKey } from './ledger';
import { errorMessage } from './logger';

/**
 * How many partition keys of a batch are handled at once. Records of one key stay in stream order, one at
 * a time (the order Lambda keeps per partition key, and the WAL's per-key order); records of different keys
 * do not wait for each other, so a batch takes about (records of its busiest key) writes, not (records) writes.
 */
export const KEY_CONCURRENCY = 16;

/** Every record of a batch failed: Lambda retries (and bisects) the whole batch. */
export class StreamBatchFailedError extends Error {
  constructor(
    readonly failures: number,
    options?: { cause?: unknown },
  ) {
    super(
      `All ${failures} records of the stream batch failed; Lambda retries the batch (the first error is the cause)`,
      options,
    );
    this.name = 'StreamBatchFailedError';
  }
}

/** A record was not handled because an earlier record of its partition key failed in this batch. */
class KeyLaneStoppedError extends Error {
  constructor(
    readonly partitionKey: string,
    options?: { cause?: unknown },
  ) {
    super(
      `An earlier record of partition key "${partitionKey}" failed in this batch, so this one was not handled ` +
        'yet (it would overtake the failed one); Lambda re-delivers it after the failed record.',
      options,
    );
    this.name = 'KeyLaneStoppedError';
  }
}

/**
 * Consumes one batch of the WAL stream (the stream consumer's work, and the queue consumer's for records
 * it re-reads or holds as copies). The ledger is read once for the whole batch (strongly
 * consistent); then each record is routed, skipped or parked: the records of a partition key in stream
 * order, different keys concurrently. A record whose handling throws is reported as a batch item failure,
 * so Lambda retries it (and bisects), and so are the later records of its key, unhandled (they would
 * overtake it); if every record failed, the batch fails as a whole.
 */
export async function consumeStreamBatch(
  deps: DeliveryDependencies,
  event: KinesisStreamEvent,
): Promise<KinesisStreamBatchResponse> {
  const decoded = new Map<string, Envelope | InvalidEnvelopeError>();
  for (const record of event.Records) {
    decoded.set(record.kinesis.sequenceNumber, decode(record));
  }
  const envelopes = [...decoded.values()].filter((value): value is Envelope => !(value instanceof Error));
  const ledger = await getLedgerEntries(
    deps.ledger,
    envelopes.map((envelope) => ledgerKey(envelope.namespace, envelope.idempotencyKey)),
  );

  const errors = new Map<string, unknown>();
  const failedIds = new Map<string, string>();
  await runInKeyLanes(
    event.Records,
    (record) => record.kinesis.partitionKey,
    KEY_CONCURRENCY,
    async (record) => {
      const sequence = record.kinesis.sequenceNumber;
      try {
        await handleRecord(deps, record, decoded.get(sequence), ledger);
        return 'done';
      } catch (error) {
        deps.logger.warn('Stream record failed', { sequence, error: errorMessage(error) });
        errors.set(sequence, error);
        failedIds.set(record.kinesis.partitionKey, idOf(decoded.get(sequence)) ?? sequence);
        return 'failed';
      }
    },
    // Later records of a failed key wait for its retry: Lambda re-delivers them after it, in order.
    (record) =>
      errors.set(record.kinesis.sequenceNumber, new KeyLaneStoppedError(record.kinesis.partitionKey)),
  );
  await recordHolds(deps, event, decoded, errors, failedIds);
  if (event.Records.length > 0 && errors.size === event.Records.length) {
    throw new StreamBatchFailedError(errors.size, { cause: errors.values().next().value });
  }
  // One INFO line per batch; each mutation's path is logged at DEBUG (stage setting logLevel).
  deps.logger.info('Stream batch handled', { records: event.Records.length, failed: errors.size });
  crashPoint('before-batch-response');
  // In stream order: Lambda resumes from the lowest failed sequence number.
  return {
    batchItemFailures: event.Records.filter((record) => errors.has(record.kinesis.sequenceNumber)).map(
      (record) => ({ itemIdentifier: record.kinesis.sequenceNumber }),
    ),
  };
}

function idOf(decoded: Envelope | InvalidEnvelopeError | undefined): string | undefined {
  return decoded instanceof Error ? undefined : decoded?.id;
}

/**
 * The records this batch did not route, on their status (failure path only: nothing on a batch that went well):
 * one whose routing failed, and the later ones of its key held behind it. Lambda retries them all.
 */
async function recordHolds(
  deps: DeliveryDependencies,
  event: KinesisStreamEvent,
  decoded: ReadonlyMap<string, Envelope | InvalidEnvelopeError>,
  errors: ReadonlyMap<string, unknown>,
  failedIds: ReadonlyMap<string, string>,
): Promise<void> {
  const holds: Promise<void>[] = [];
  for (const record of event.Records) {
    const { sequenceNumber: sequence, partitionKey } = record.kinesis;
    const envelope = decoded.get(sequence);
    const error = errors.get(sequence);
    if (error === undefined || envelope === undefined || envelope instanceof Error) continue;
    const mutation = { envelope, sequence };
    holds.push(
      error instanceof KeyLaneStoppedError
        ? recordHold(
            deps,
            mutation,
            'key-lane',
            `held behind mutation ${failedIds.get(partitionKey) ?? '?'} of the same partition key, whose routing ` +
              'failed: the stream consumer retries them in order',
          )
        : recordHold(
            deps,
            mutation,
            'route-failed',
            `routing failed (${errorMessage(error)}): the stream consumer retries it`,
          ),
    );
  }
  await Promise.all(holds);
}

function decode(record: KinesisStreamRecord): Envelope | InvalidEnvelopeError {
  try {
    return parseEnvelope(Buffer.from(record.kinesis.data, 'base64').toString('utf8'));
  } catch (error) {
    if (error instanceof InvalidEnvelopeError) return error;
    return new InvalidEnvelopeError('the data cannot be decoded', { cause: error });
  }
}

async function handleRecord(
  deps: DeliveryDependencies,
  record: KinesisStreamRecord,
  decoded: Envelope | InvalidEnvelopeError | undefined,
  ledger: Map<string, LedgerEntry>,
): Promise<void> {
  const sequence = record.kinesis.sequenceNumber;
  if (decoded === undefined || decoded instanceof Error) {
    await deadLetter(deps, {
      kind: 'poison',
      reason: decoded?.message ?? 'the record was not decoded',
      data: record.kinesis.data,
      source: `${record.eventSourceARN ?? 'stream'} ${record.eventID} sequence ${sequence}`,
    });
    return;
  }
  const mutation: LoggedMutation = { envelope: decoded, sequence };
  const entry = ledger.get(ledgerKey(decoded.namespace, decoded.idempotencyKey));
  const context = { namespace: decoded.namespace, id: decoded.id, sequence };
  switch (commitStateOf(entry, decoded.id, sequence)) {
    case 'committed':
      deps.logger.debug('Mutation routed', context);
      await routeCommitted(deps, mutation);
      return;
    case 'duplicate':
      deps.logger.info('Duplicate prepare skipped', { ...context, committedId: entry?.id });
      return;
    case 'fenced':
      deps.logger.info('Fenced prepare skipped', context);
      return;
    case 'uncommitted':
      deps.logger.info('Uncommitted prepare parked', context);
      // Only seen once committed (GET answers committed mutations): the commit landed after the ledger read.
      // Written before the recheck is queued (a status write never throws), so the recheck's clearHold cannot
      // run first and leave the hold behind for good.
      await recordHold(
        deps,
        mutation,
        'commit',
        'its commit was not yet in the ledger when the stream consumer read it: the queue consumer checks the ' +
          `ledger again every ${RECHECK_DELAY_MS / 1000} s and routes it then`,
      );
      await sendToQueue(
        deps,
        deps.queues.delay,
        { kind: 'recheck', mutation },
        deps.now() + RECHECK_DELAY_MS,
      );
      return;
  }
}

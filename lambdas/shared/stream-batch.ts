import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import {
  type DeliveryDependencies,
  deadLetter,
  RECHECK_DELAY_MS,
  routeCommitted,
  sendToQueue,
} from './delivery';
import { type Envelope, InvalidEnvelopeError, type LoggedMutation, parseEnvelope } from './envelope';
import { crashPoint } from './faults';
import { commitStateOf, getLedgerEntries, type LedgerEntry, ledgerKey } from './ledger';

/**
 * Consumes one batch of the WAL stream (the stream consumer's work, and the queue consumer's for records
 * it re-reads or holds as copies). The ledger is read once for the whole batch (strongly
 * consistent); then each record, in stream order, is routed, skipped or parked. A record whose
 * handling throws is reported as a batch item failure, so Lambda retries it (and bisects).
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

  const processor = new BatchProcessor(EventType.KinesisDataStreams);
  const response = await processPartialResponse(
    event,
    (record: KinesisStreamRecord) =>
      handleRecord(deps, record, decoded.get(record.kinesis.sequenceNumber), ledger),
    processor,
    // Stream order matters within a key: one record at a time.
    { processInParallel: false },
  );
  crashPoint('before-batch-response');
  return response;
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
      deps.logger.info('Mutation routed', context);
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
      await sendToQueue(
        deps,
        deps.queues.delay,
        { kind: 'recheck', mutation },
        deps.now() + RECHECK_DELAY_MS,
      );
      return;
  }
}

import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as KinesisRecord,
} from '@aws-sdk/client-kinesis';
import { type DeliveryDependencies, deadLetter, sendToQueue } from '#lambdas/shared/delivery';
import { ENV } from '#lambdas/shared/environment';
import { parseStreamArn, toKinesisStreamRecord } from '#lambdas/shared/kinesis-records';
import { errorMessage } from '#lambdas/shared/logger';
import type { StreamFailure, StreamRecordMessage } from '#lambdas/shared/queue-message';
import { replayRangeCommand } from '#lambdas/shared/replay-command';
import { consumeStreamBatch } from '#lambdas/shared/stream-batch';

export class StreamRereadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StreamRereadError';
  }
}

// Bounds the re-read: a batch is at most 10,000 records, GetRecords answers up to 10,000 per call.
const MAX_GET_RECORDS_CALLS = 50;

/**
 * Turns a stream batch that exhausted the mapping's retries back into work: re-reads its sequence
 * range from the shard and handles each record as the stream consumer does. A record that fails again
 * is copied whole to the retry queue (see {@link handleStreamRecordCopy}), so it no longer depends on the
 * stream's retention. Throws only if the range cannot be read or copied, so SQS retries the message.
 */
export async function rereadFailedBatch(deps: DeliveryDependencies, failure: StreamFailure): Promise<void> {
  const info = failure.KinesisBatchInfo;
  const records = await readRange(deps, info);
  const context = { shardId: info.shardId, start: info.startSequenceNumber, end: info.endSequenceNumber };
  if (records.length === 0) {
    // The range's start is gone from the stream (past its retention), and with it the only copy of those
    // envelopes the WAL keeps: the lean ledger holds ids and sequences, no payloads. What the shard still holds
    // of the range (its end may be younger than the trim point) `wal replay` re-delivers.
    await deadLetter(deps, {
      kind: 'poison',
      reason:
        'the start of a failed stream batch is no longer on the stream (past its retention), and the ledger keeps ' +
        `no payloads. Re-deliver what the stream still holds of it with: ${replayRangeCommand(info, process.env[ENV.stage])} ` +
        "(--dry-run first shows what). Records already trimmed cannot be replayed: the mutations' clients must " +
        're-send them (the ledger still names their ids until its retention)',
      data: Buffer.from(JSON.stringify(failure)).toString('base64'),
      source: `${info.streamArn} ${info.shardId} ${info.startSequenceNumber}..${info.endSequenceNumber}`,
    });
    return;
  }
  const { region } = parseStreamArn(info.streamArn);
  const events = records.map((record) => toKinesisStreamRecord(record, info.shardId, info.streamArn, region));
  let failed: Set<string>;
  let reason = 'the record failed every retry of the stream mapping and then its re-read';
  try {
    const response = await consumeStreamBatch(deps, { Records: events });
    failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
  } catch (error) {
    // The whole batch failed again (the ledger could not be read, or every record failed).
    failed = new Set(events.map((event) => event.kinesis.sequenceNumber));
    reason = `${reason}: ${errorMessage(error)}`;
  }
  // Records that fail again leave the stream as whole copies: they keep their own retries and reach
  // the DLQ with their bytes, so the stream's retention can no longer lose them.
  for (const event of events.filter((candidate) => failed.has(candidate.kinesis.sequenceNumber))) {
    const message: StreamRecordMessage = {
      kind: 'stream-record',
      streamArn: info.streamArn,
      shardId: info.shardId,
      sequenceNumber: event.kinesis.sequenceNumber,
      partitionKey: event.kinesis.partitionKey,
      data: event.kinesis.data,
      approximateArrivalTimestamp: event.kinesis.approximateArrivalTimestamp,
      reason,
    };
    await sendToQueue(deps, deps.queues.retry, message, deps.now());
  }
  deps.logger.info('Failed stream batch re-read and handled', {
    ...context,
    records: records.length,
    copiedToRetryQueue: failed.size,
  });
}

/** A record copied off the stream after it failed every retry: handled as the stream consumer would. */
export async function handleStreamRecordCopy(
  deps: DeliveryDependencies,
  message: StreamRecordMessage,
): Promise<void> {
  const { region } = parseStreamArn(message.streamArn);
  const record = toKinesisStreamRecord(
    {
      SequenceNumber: message.sequenceNumber,
      PartitionKey: message.partitionKey,
      Data: Buffer.from(message.data, 'base64'),
      ApproximateArrivalTimestamp: new Date(message.approximateArrivalTimestamp * 1000),
    },
    message.shardId,
    message.streamArn,
    region,
  );
  const response = await consumeStreamBatch(deps, { Records: [record] });
  if (response.batchItemFailures.length > 0) {
    throw new StreamRereadError(`stream record ${message.sequenceNumber} failed again; SQS will retry it`);
  }
}

async function readRange(
  deps: DeliveryDependencies,
  info: StreamFailure['KinesisBatchInfo'],
): Promise<KinesisRecord[]> {
  const end = BigInt(info.endSequenceNumber);
  const start = await iteratorAtStart(deps, info);
  if (start === null) return [];
  let iterator: string | undefined = start;
  const records: KinesisRecord[] = [];
  for (let call = 0; iterator && call < MAX_GET_RECORDS_CALLS; call++) {
    const answer = await deps.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator }));
    const page = answer.Records ?? [];
    if (appendInRange(records, page, end)) return records;
    // Caught up with the shard's end: nothing more of the range exists.
    if (page.length === 0 && answer.MillisBehindLatest === 0) return records;
    iterator = answer.NextShardIterator;
  }
  if (!iterator) return records;
  // Sparse shards can answer empty pages inside a range: never hand over part of it as the whole.
  throw new StreamRereadError(
    `the range ${info.startSequenceNumber}..${info.endSequenceNumber} of ${info.shardId} was not read to its end ` +
      `in ${MAX_GET_RECORDS_CALLS} GetRecords calls; SQS will retry`,
  );
}

/** An iterator at the range's first record; null when the stream no longer holds that record. */
async function iteratorAtStart(
  deps: DeliveryDependencies,
  info: StreamFailure['KinesisBatchInfo'],
): Promise<string | undefined | null> {
  try {
    const answer = await deps.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: parseStreamArn(info.streamArn).streamName,
        ShardId: info.shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        StartingSequenceNumber: info.startSequenceNumber,
      }),
    );
    return answer.ShardIterator;
  } catch (error) {
    // A trimmed start sequence cannot be positioned at: nothing of the range is left to read.
    if ((error as { name?: string }).name === 'InvalidArgumentException') return null;
    throw error;
  }
}

/** Appends the page's records up to `end` (a sequence number); true once the range is read to its end. */
function appendInRange(records: KinesisRecord[], page: readonly KinesisRecord[], end: bigint): boolean {
  for (const record of page) {
    if (BigInt(record.SequenceNumber ?? '0') > end) return true;
    records.push(record);
  }
  const last = records[records.length - 1]?.SequenceNumber;
  return last !== undefined && BigInt(last) === end;
}

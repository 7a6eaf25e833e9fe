import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as KinesisRecord,
} from '@aws-sdk/client-kinesis';
import { z } from 'zod';
import { type DeliveryDependencies, deadLetter } from '../shared/delivery';
import { parseStreamArn, toKinesisStreamRecord } from '../shared/kinesis-records';
import { consumeStreamBatch } from '../stream-consumer/consume-stream';

/** What the Kinesis mapping sends to its on-failure destination: where the batch was, not its records. */
export const streamFailureSchema = z.object({
  KinesisBatchInfo: z.object({
    shardId: z.string(),
    startSequenceNumber: z.string(),
    endSequenceNumber: z.string(),
    streamArn: z.string(),
    batchSize: z.number().int().optional(),
  }),
});
export type StreamFailure = z.infer<typeof streamFailureSchema>;

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
 * range from the shard and handles each record as the stream consumer does. Throws if any record
 * still fails, so SQS retries the message (and, after maxReceiveCount, moves it to the DLQ).
 */
export async function rereadFailedBatch(deps: DeliveryDependencies, failure: StreamFailure): Promise<void> {
  const info = failure.KinesisBatchInfo;
  const records = await readRange(deps, info);
  const context = { shardId: info.shardId, start: info.startSequenceNumber, end: info.endSequenceNumber };
  if (records.length === 0) {
    // The range is gone from the stream (past its retention): only a replay from the ledger can recover it.
    await deadLetter(deps, {
      kind: 'poison',
      reason: 'a failed stream batch is no longer on the stream; replay its time window from the ledger',
      data: Buffer.from(JSON.stringify(failure)).toString('base64'),
      source: `${info.streamArn} ${info.shardId} ${info.startSequenceNumber}..${info.endSequenceNumber}`,
    });
    return;
  }
  const { region } = parseStreamArn(info.streamArn);
  const response = await consumeStreamBatch(deps, {
    Records: records.map((record) => toKinesisStreamRecord(record, info.shardId, info.streamArn, region)),
  });
  if (response.batchItemFailures.length > 0) {
    throw new StreamRereadError(
      `${response.batchItemFailures.length} of ${records.length} re-read records failed again; SQS will retry`,
    );
  }
  deps.logger.info('Failed stream batch re-read and handled', { ...context, records: records.length });
}

async function readRange(
  deps: DeliveryDependencies,
  info: StreamFailure['KinesisBatchInfo'],
): Promise<KinesisRecord[]> {
  const { streamName } = parseStreamArn(info.streamArn);
  const end = BigInt(info.endSequenceNumber);
  let iterator: string | undefined;
  try {
    const answer = await deps.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: info.shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        StartingSequenceNumber: info.startSequenceNumber,
      }),
    );
    iterator = answer.ShardIterator;
  } catch (error) {
    // A trimmed start sequence cannot be positioned at: nothing of the range is left to read.
    if ((error as { name?: string }).name === 'InvalidArgumentException') return [];
    throw error;
  }
  const records: KinesisRecord[] = [];
  for (let call = 0; iterator && call < MAX_GET_RECORDS_CALLS; call++) {
    const answer = await deps.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator }));
    for (const record of answer.Records ?? []) {
      if (BigInt(record.SequenceNumber ?? '0') > end) return records;
      records.push(record);
    }
    const last = records[records.length - 1]?.SequenceNumber;
    if (last !== undefined && BigInt(last) === end) return records;
    // Caught up with the shard's end: nothing more of the range exists.
    if ((answer.Records ?? []).length === 0 && answer.MillisBehindLatest === 0) return records;
    iterator = answer.NextShardIterator;
  }
  if (!iterator) return records;
  // Sparse shards can answer empty pages inside a range: never hand over part of it as the whole.
  throw new StreamRereadError(
    `the range ${info.startSequenceNumber}..${info.endSequenceNumber} of ${info.shardId} was not read to its end ` +
      `in ${MAX_GET_RECORDS_CALLS} GetRecords calls; SQS will retry`,
  );
}

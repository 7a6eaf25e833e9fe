import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
  type _Record as KinesisRecord,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { toKinesisStreamRecord } from '#lambdas/shared/kinesis-records';

/** The settings of a Kinesis event source mapping, as the template states them. */
export interface KinesisEventSourceSettings {
  readonly streamName: string;
  readonly streamArn: string;
  readonly functionArn: string;
  readonly region: string;
  readonly batchSize: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly reportBatchItemFailures: boolean;
  readonly bisectBatchOnError: boolean;
  /** -1: retry until the record expires (the mapping's default). */
  readonly maximumRetryAttempts: number;
  /** -1: no limit. */
  readonly maximumRecordAgeSeconds: number;
}

/** What Lambda sends to an on-failure destination for a stream: metadata, not the records. */
export interface KinesisFailureRecord {
  readonly requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
    approximateInvokeCount: number;
  };
  readonly responseContext: { statusCode: number; executedVersion: string; functionError: string };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly KinesisBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

export type InvokeKinesisHandler = (
  event: KinesisStreamEvent,
) => Promise<KinesisStreamBatchResponse | undefined>;
export type SendToOnFailure = (failure: KinesisFailureRecord) => Promise<void>;

interface Segment {
  records: KinesisRecord[];
  attempts: number;
}

/** Where a mapping resumes after a restart: the last sequence number it finished, per shard. */
export interface CheckpointStore {
  get(shardId: string): string | undefined;
  set(shardId: string, sequenceNumber: string): void;
}

interface ShardState {
  iterator: string | undefined;
  closed: boolean;
  /** The last record of the current read: the checkpoint once all its segments are done. */
  lastRead?: string;
  /** Records read but not yet done with, split by bisection. */
  segments: Segment[];
}

/**
 * Emulates a Kinesis event source mapping: reads each shard in order, invokes the function with a
 * batch, and honours partial batch responses, bisect on error, bounded retries and record age,
 * and the on-failure destination, as Lambda does.
 */
export class KinesisEventSource {
  private readonly shards = new Map<string, ShardState>();
  private invocations = 0;

  constructor(
    private readonly kinesis: KinesisClient,
    readonly settings: KinesisEventSourceSettings,
    private readonly invoke: InvokeKinesisHandler,
    private readonly onFailure: SendToOnFailure | undefined,
    private readonly checkpoints?: CheckpointStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** One round over every shard: at most one invocation each. Returns how many records were handed over. */
  async pollOnce(): Promise<number> {
    await this.discoverShards();
    let delivered = 0;
    for (const [shardId, shard] of this.shards) {
      delivered += await this.pollShard(shardId, shard);
    }
    return delivered;
  }

  /** Whether records read from the stream are still waiting for a successful invocation. */
  hasPendingRecords(): boolean {
    return [...this.shards.values()].some((shard) => shard.segments.length > 0);
  }

  private async discoverShards(): Promise<void> {
    const answer = await this.kinesis.send(new ListShardsCommand({ StreamName: this.settings.streamName }));
    for (const shard of answer.Shards ?? []) {
      if (!shard.ShardId || this.shards.has(shard.ShardId)) continue;
      const iterator = await this.iteratorAfter(shard.ShardId, this.checkpoints?.get(shard.ShardId));
      this.shards.set(shard.ShardId, { iterator, closed: false, segments: [] });
    }
  }

  /** An iterator just after `sequenceNumber`, or at the mapping's starting position without one. */
  private async iteratorAfter(
    shardId: string,
    sequenceNumber: string | undefined,
  ): Promise<string | undefined> {
    const answer = await this.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: this.settings.streamName,
        ShardId: shardId,
        ...(sequenceNumber
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: sequenceNumber }
          : { ShardIteratorType: this.settings.startingPosition }),
      }),
    );
    return answer.ShardIterator;
  }

  /**
   * The next records of a shard. An iterator expires 5 minutes after it was handed out, and a segment
   * retried for longer outlives it (as Lambda's mapping does, the read resumes after the last record read).
   */
  private async getRecords(shardId: string, shard: ShardState): Promise<GetRecordsCommandOutput> {
    const read = (iterator: string) =>
      this.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: this.settings.batchSize }));
    try {
      return await read(shard.iterator as string);
    } catch (error) {
      if (!(error instanceof Error && error.name === 'ExpiredIteratorException')) throw error;
      shard.iterator = await this.iteratorAfter(shardId, shard.lastRead ?? this.checkpoints?.get(shardId));
      return read(shard.iterator as string);
    }
  }

  private async pollShard(shardId: string, shard: ShardState): Promise<number> {
    if (shard.segments.length === 0) {
      if (shard.closed || !shard.iterator) return 0;
      const answer = await this.getRecords(shardId, shard);
      shard.iterator = answer.NextShardIterator;
      shard.closed = !answer.NextShardIterator;
      const records = answer.Records ?? [];
      if (records.length === 0) return 0;
      shard.segments.push({ records, attempts: 0 });
      shard.lastRead = records[records.length - 1]?.SequenceNumber;
    }
    const segment = shard.segments[0] as Segment;
    const count = segment.records.length;
    await this.deliver(shardId, shard, segment);
    if (shard.segments.length === 0 && shard.lastRead) this.checkpoints?.set(shardId, shard.lastRead);
    return count;
  }

  private async deliver(shardId: string, shard: ShardState, segment: Segment): Promise<void> {
    if (await this.expired(shardId, shard, segment)) return;
    segment.attempts += 1;
    this.invocations += 1;
    let response: KinesisStreamBatchResponse | undefined;
    try {
      response = await this.invoke(this.event(shardId, segment.records));
    } catch {
      // A function error: bisect (not counted as a retry by Lambda), or retry the whole segment.
      if (this.settings.bisectBatchOnError && segment.records.length > 1) {
        const middle = Math.ceil(segment.records.length / 2);
        shard.segments.splice(
          0,
          1,
          { records: segment.records.slice(0, middle), attempts: segment.attempts },
          { records: segment.records.slice(middle), attempts: segment.attempts },
        );
      }
      return;
    }
    const failed = this.settings.reportBatchItemFailures ? (response?.batchItemFailures ?? []) : [];
    if (failed.length === 0) {
      shard.segments.shift();
      return;
    }
    // Lambda resumes at the lowest reported sequence number; an unknown one fails the whole batch.
    const positions = failed.map((failure) =>
      segment.records.findIndex((record) => record.SequenceNumber === failure.itemIdentifier),
    );
    const from = positions.includes(-1) ? 0 : Math.min(...positions);
    segment.records = segment.records.slice(from);
  }

  /** Drops a segment to the on-failure destination once its retries or record age are spent. */
  private async expired(shardId: string, shard: ShardState, segment: Segment): Promise<boolean> {
    const { maximumRetryAttempts, maximumRecordAgeSeconds } = this.settings;
    const oldest = segment.records[0]?.ApproximateArrivalTimestamp?.getTime() ?? this.now();
    let condition: KinesisFailureRecord['requestContext']['condition'] | undefined;
    if (maximumRetryAttempts >= 0 && segment.attempts > maximumRetryAttempts)
      condition = 'RetryAttemptsExhausted';
    else if (maximumRecordAgeSeconds >= 0 && this.now() - oldest > maximumRecordAgeSeconds * 1000) {
      condition = 'RecordAgeExceeded';
    }
    if (!condition) return false;
    await this.onFailure?.(this.failureRecord(shardId, segment, condition));
    shard.segments.shift();
    return true;
  }

  private event(shardId: string, records: KinesisRecord[]): KinesisStreamEvent {
    const { streamArn, region, functionArn } = this.settings;
    return {
      Records: records.map((record) =>
        toKinesisStreamRecord(record, shardId, streamArn, region, `${functionArn}-role`),
      ),
    };
  }

  private failureRecord(
    shardId: string,
    segment: Segment,
    condition: KinesisFailureRecord['requestContext']['condition'],
  ): KinesisFailureRecord {
    const first = segment.records[0];
    const last = segment.records[segment.records.length - 1];
    const arrival = (record: KinesisRecord | undefined) =>
      (record?.ApproximateArrivalTimestamp ?? new Date(this.now())).toISOString();
    return {
      requestContext: {
        requestId: `local-${this.invocations}`,
        functionArn: this.settings.functionArn,
        condition,
        approximateInvokeCount: segment.attempts,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date(this.now()).toISOString(),
      KinesisBatchInfo: {
        shardId,
        startSequenceNumber: first?.SequenceNumber ?? '',
        endSequenceNumber: last?.SequenceNumber ?? '',
        approximateArrivalOfFirstRecord: arrival(first),
        approximateArrivalOfLastRecord: arrival(last),
        batchSize: segment.records.length,
        streamArn: this.settings.streamArn,
      },
    };
  }
}

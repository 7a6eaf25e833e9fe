import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type KinesisClient,
  type _Record as KinesisRecord,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { ReplayInvalidStartError, ReplayShardNotFoundError, ReplayStreamReadError } from './errors';
import type { ReplayWindow } from './options';

/** How the replay reads the WAL stream. */
export interface StreamReader {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /**
   * The least time between two GetRecords calls on a shard. A shard serves 5 per second to all its readers,
   * and the WAL's stream consumer polls it about once a second: the replay takes two of the rest.
   */
  readonly minReadIntervalMs: number;
  /**
   * Whether the stream finds a time (AT_TIMESTAMP). Kinesis does; kinesalite (the local emulator) never
   * answers AT_TIMESTAMP on a shard with no record at or after the time, so locally a time window is read
   * from the shard's oldest record (TRIM_HORIZON) and the records logged before `from` are passed over.
   */
  readonly findsTimestamps: boolean;
}

export const DEFAULT_MIN_READ_INTERVAL_MS = 500;
/** Records per GetRecords call: pages small enough that the checkpoint moves often, and a read is never huge. */
export const PAGE_LIMIT = 500;
/**
 * The replay's share of a shard's read budget: a shard serves 2 MB/s to all its readers together, and the live
 * stream consumer needs the rest. After a page of B bytes the next read waits B / this rate at least.
 */
const REPLAY_READ_BYTES_PER_SECOND = 512 * 1024;
/** Backoff after a throttled GetRecords (ProvisionedThroughputExceededException): doubling, capped. */
const THROTTLE_BACKOFF_MS = { first: 1_000, max: 16_000, attempts: 10 };
/**
 * How far past `to` (by arrival time) a shard is read: a mutation's log time is taken before its PutRecord,
 * which the SDK may retry, so its record can arrive a little after it was logged.
 */
const READ_PAST_TO_MS = 60_000;

/** The stream's retention, in hours (DescribeStreamSummary): how far back a replay can start. */
export async function streamRetentionHours(reader: StreamReader): Promise<number> {
  const answer = await call(reader, 'DescribeStreamSummary', () =>
    reader.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: reader.streamName })),
  );
  return answer.StreamDescriptionSummary?.RetentionPeriodHours ?? 24;
}

/**
 * Every shard of the stream, open and closed: after a reshard the window's older records are on the closed
 * parents, its newer ones on the children. Parents come first, as ListShards lists them.
 */
export async function listShardIds(reader: StreamReader): Promise<string[]> {
  const ids: string[] = [];
  let nextToken: string | undefined;
  do {
    const token = nextToken;
    const answer = await call(reader, 'ListShards', () =>
      reader.kinesis.send(
        new ListShardsCommand(token ? { NextToken: token } : { StreamName: reader.streamName }),
      ),
    );
    for (const shard of answer.Shards ?? []) if (shard.ShardId) ids.push(shard.ShardId);
    nextToken = answer.NextToken;
  } while (nextToken);
  return ids;
}

/** One GetRecords page of a shard, cut at the window's end. */
export interface ShardPage {
  readonly records: readonly KinesisRecord[];
  /** The shard is read to the window's end (or to its own end, or to the stream's tip). */
  readonly done: boolean;
  /** How far through the window the shard is read, 0 to 1 (for the progress bar). */
  readonly fraction: number;
}

/** Where a shard's reading starts: after the checkpoint's last record, else at the window's start. */
export interface ShardStart {
  readonly shardId: string;
  readonly after?: string;
  /** Called when the start is past the stream's retention and reading starts at the oldest record instead. */
  readonly onTrimmedStart?: () => void;
}

/**
 * Reads one shard's part of the window, page by page: from the window's start (AT_TIMESTAMP `from`, or
 * AT_SEQUENCE_NUMBER) or after the checkpoint, until a record lies past the window's end, the shard ends
 * (a closed parent), or the stream's tip is reached (MillisBehindLatest 0 and nothing more).
 */
export async function* readShard(
  reader: StreamReader,
  window: ReplayWindow,
  start: ShardStart,
): AsyncGenerator<ShardPage> {
  let last = start.after;
  let iterator: string | undefined = await iteratorAt(reader, window, start);
  const pacing = new ShardReadPacing(reader, start.shardId);
  while (iterator) {
    await pacing.beforeRead();
    const answer = await getRecords(reader, iterator);
    if (answer === 'throttled') {
      // The shard's budget is spent (the live consumer reads it too): wait, and read the same page again.
      pacing.throttled();
      continue;
    }
    if (answer === 'expired') {
      // The consumer of the pages took longer than an iterator lives (5 minutes, at a low --rate).
      iterator = await iteratorAt(reader, window, {
        ...start,
        ...(last !== undefined ? { after: last } : {}),
      });
      continue;
    }
    const all = answer.Records ?? [];
    pacing.read(all);
    const inWindow = all.filter((record) => !isPastWindow(window, record));
    // A shard range read from the oldest record (its start trimmed) never replays what lies before its start.
    const records = inWindow.filter((record) => !isBeforeShardRange(window, record));
    last = inWindow[inWindow.length - 1]?.SequenceNumber ?? last;
    const done = isShardDone(reader, window, answer, inWindow.length < all.length);
    yield { records, done, fraction: done ? 1 : fractionOf(window, records[records.length - 1]) };
    if (done) return;
    iterator = answer.NextShardIterator;
  }
}

/**
 * When the next GetRecords of a shard may go: at least `minReadIntervalMs` after the last, and after a page of B
 * bytes B / {@link REPLAY_READ_BYTES_PER_SECOND}; after a throttled read, a doubling backoff.
 */
class ShardReadPacing {
  private readAt = 0;
  private pauseMs = 0;
  private throttledInARow = 0;

  constructor(
    private readonly reader: StreamReader,
    private readonly shardId: string,
  ) {}

  async beforeRead(): Promise<void> {
    const wait = this.readAt + Math.max(this.reader.minReadIntervalMs, this.pauseMs) - this.reader.now();
    if (wait > 0) await this.reader.sleep(wait);
    this.readAt = this.reader.now();
  }

  read(records: readonly KinesisRecord[]): void {
    this.throttledInARow = 0;
    this.pauseMs = (pageBytes(records) * 1000) / REPLAY_READ_BYTES_PER_SECOND;
  }

  throttled(): void {
    this.throttledInARow += 1;
    if (this.throttledInARow > THROTTLE_BACKOFF_MS.attempts) {
      throw new ReplayStreamReadError('GetRecords', this.reader.streamName, {
        cause: new Error(`throttled ${this.throttledInARow} times in a row on ${this.shardId}`),
      });
    }
    this.pauseMs = Math.min(
      THROTTLE_BACKOFF_MS.max,
      THROTTLE_BACKOFF_MS.first * 2 ** (this.throttledInARow - 1),
    );
  }
}

/** Read to the window's end: a record past it, the shard's end (a closed parent), or the stream's tip. */
function isShardDone(
  reader: StreamReader,
  window: ReplayWindow,
  answer: GetRecordsCommandOutput,
  cut: boolean,
): boolean {
  const empty = (answer.Records ?? []).length === 0;
  if (cut || !answer.NextShardIterator || (empty && answer.MillisBehindLatest === 0)) return true;
  // Empty pages of a sparse shard: done once its position (now less how far behind) is past the window.
  return (
    window.kind === 'time' &&
    empty &&
    reader.now() - (answer.MillisBehindLatest ?? 0) > window.to + READ_PAST_TO_MS
  );
}

function isBeforeShardRange(window: ReplayWindow, record: KinesisRecord): boolean {
  return window.kind === 'shard' && BigInt(record.SequenceNumber ?? '0') < BigInt(window.fromSequence);
}

function isPastWindow(window: ReplayWindow, record: KinesisRecord): boolean {
  if (window.kind === 'shard') return BigInt(record.SequenceNumber ?? '0') > BigInt(window.toSequence);
  return (record.ApproximateArrivalTimestamp?.getTime() ?? 0) > window.to + READ_PAST_TO_MS;
}

function fractionOf(window: ReplayWindow, record: KinesisRecord | undefined): number {
  if (!record) return 0;
  const [position, start, end] =
    window.kind === 'shard'
      ? [
          Number(BigInt(record.SequenceNumber ?? '0') - BigInt(window.fromSequence)),
          0,
          Number(BigInt(window.toSequence) - BigInt(window.fromSequence)),
        ]
      : [record.ApproximateArrivalTimestamp?.getTime() ?? window.from, window.from, window.to];
  return end <= start ? 0 : Math.min(1, Math.max(0, (position - start) / (end - start)));
}

/** What a page costs of the shard's read budget: its records' data and partition keys. */
function pageBytes(records: readonly KinesisRecord[]): number {
  return records.reduce(
    (sum, record) => sum + (record.Data?.byteLength ?? 0) + (record.PartitionKey?.length ?? 0),
    0,
  );
}

async function getRecords(reader: StreamReader, iterator: string) {
  try {
    return await reader.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: PAGE_LIMIT }));
  } catch (error) {
    if (nameOf(error) === 'ExpiredIteratorException') return 'expired' as const;
    if (nameOf(error) === 'ProvisionedThroughputExceededException') return 'throttled' as const;
    throw new ReplayStreamReadError('GetRecords', reader.streamName, { cause: error });
  }
}

/** What an InvalidArgumentException says when the starting sequence is older than the stream's trim horizon. */
const TRIMMED_START_MESSAGE = /trim|older than|retention|expired|no longer/i;

async function iteratorAt(
  reader: StreamReader,
  window: ReplayWindow,
  start: ShardStart,
): Promise<string | undefined> {
  const base = { StreamName: reader.streamName, ShardId: start.shardId };
  const position: Omit<GetShardIteratorCommandInput, 'StreamName' | 'ShardId'> =
    start.after !== undefined
      ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: start.after }
      : window.kind === 'shard'
        ? { ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: window.fromSequence }
        : reader.findsTimestamps
          ? { ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(window.from) }
          : { ShardIteratorType: 'TRIM_HORIZON' };
  try {
    const answer = await reader.kinesis.send(new GetShardIteratorCommand({ ...base, ...position }));
    return answer.ShardIterator;
  } catch (error) {
    const name = nameOf(error);
    if (name === 'ResourceNotFoundException') {
      throw new ReplayShardNotFoundError(start.shardId, reader.streamName, { cause: error });
    }
    // Only a start the stream has trimmed falls back to the oldest record: any other invalid argument (a mistyped
    // sequence, one of another shard or stream) would otherwise replay a whole shard silently.
    if (name !== 'InvalidArgumentException' || position.StartingSequenceNumber === undefined) {
      throw new ReplayStreamReadError('GetShardIterator', reader.streamName, { cause: error });
    }
    if (!TRIMMED_START_MESSAGE.test((error as Error).message ?? '')) {
      throw new ReplayInvalidStartError(start.shardId, position.StartingSequenceNumber, { cause: error });
    }
    // A sequence number the stream has trimmed cannot be positioned at: read what is left.
    start.onTrimmedStart?.();
    const answer = await call(reader, 'GetShardIterator', () =>
      reader.kinesis.send(new GetShardIteratorCommand({ ...base, ShardIteratorType: 'TRIM_HORIZON' })),
    );
    return answer.ShardIterator;
  }
}

async function call<T>(reader: StreamReader, action: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw new ReplayStreamReadError(action, reader.streamName, { cause: error });
  }
}

function nameOf(error: unknown): string | undefined {
  return (error as { name?: string } | undefined)?.name;
}

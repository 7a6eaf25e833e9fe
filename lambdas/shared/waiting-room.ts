import { createHash } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  MAX_SQS_DELAY_SECONDS,
  WAITING_ROOM_BUCKET_MS,
  WAITING_ROOM_PARTITION_KEY,
  WAITING_ROOM_RETENTION_AFTER_DUE_DAYS,
  WAITING_ROOM_SHARDS,
  WAITING_ROOM_SORT_KEY,
  WAITING_ROOM_TTL_ATTRIBUTE,
} from './waiting-room-schema';

/** The waiting room table and the client that reads and writes it. */
export interface WaitingRoom {
  readonly documentClient: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * A message body larger than this stays on the SQS hops: a DynamoDB item holds at most 400 KB (names and values),
 * while an SQS message may hold 1 MiB.
 */
const WAITING_ROOM_MAX_BODY_BYTES = 380_000;

/** One message waiting in the room: what the poller sends, where, and when it is due. */
export interface WaitingItem {
  readonly [WAITING_ROOM_PARTITION_KEY]: string;
  readonly [WAITING_ROOM_SORT_KEY]: string;
  /** The queue the message goes to once due (a namespace's own when it is isolated). */
  readonly queueUrl: string;
  /** The SQS message body, exactly as the delay or retry queue would have got it. */
  readonly body: string;
  /** Epoch ms. */
  readonly dueAt: number;
  readonly [WAITING_ROOM_TTL_ATTRIBUTE]: number;
}

/** Epoch minute of a due time: the bucket its item waits in. */
export function bucketOf(dueAt: number): number {
  return Math.floor(dueAt / WAITING_ROOM_BUCKET_MS);
}

export function partitionKeyOf(bucket: number, shard: number): string {
  return `${bucket}#${shard}`;
}

/**
 * Whether a wait goes to the waiting room: longer than SQS can delay, and small enough for an item. Larger
 * messages hop on SQS every 900 s as before.
 */
export function belongsInWaitingRoom(waitMs: number, body: string): boolean {
  return (
    waitMs > MAX_SQS_DELAY_SECONDS * 1000 && Buffer.byteLength(body, 'utf8') <= WAITING_ROOM_MAX_BODY_BYTES
  );
}

/** The item for a message due at `dueAt`: keyed by its bucket, a shard and a hash of its body. */
export function waitingItem(queueUrl: string, body: string, dueAt: number): WaitingItem {
  const hash = createHash('sha256').update(queueUrl).update('\n').update(body).digest('hex');
  const shard = Number.parseInt(hash.slice(0, 8), 16) % WAITING_ROOM_SHARDS;
  return {
    [WAITING_ROOM_PARTITION_KEY]: partitionKeyOf(bucketOf(dueAt), shard),
    // The same message written twice (a retried consumer batch) is one item.
    [WAITING_ROOM_SORT_KEY]: `${String(dueAt).padStart(15, '0')}#${hash.slice(0, 32)}`,
    queueUrl,
    body,
    dueAt,
    [WAITING_ROOM_TTL_ATTRIBUTE]: Math.ceil(dueAt / 1000) + WAITING_ROOM_RETENTION_AFTER_DUE_DAYS * 86_400,
  };
}

/**
 * Puts a message in the waiting room. A failure throws, so the caller's record or message is retried: the wait is
 * never dropped.
 */
export async function putWaitingItem(
  room: WaitingRoom,
  queueUrl: string,
  body: string,
  dueAt: number,
): Promise<WaitingItem> {
  const item = waitingItem(queueUrl, body, dueAt);
  await room.documentClient.send(new PutCommand({ TableName: room.tableName, Item: item }));
  return item;
}

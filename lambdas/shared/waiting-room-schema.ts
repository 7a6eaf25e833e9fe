/**
 * The waiting room's schema and timing. CDK (lib/wal-waiting-room.ts) creates the table and the poller's schedule
 * from these constants and the Lambdas use the same ones, so the two cannot drift apart.
 *
 * A wait longer than SQS's longest delay is written to the waiting room table, in a time bucket; a poller run every
 * minute hands each bucket to the delay queue once the bucket is due within {@link WAITING_ROOM_LOOKAHEAD_MS}, with
 * the rest of the wait as the SQS delay. So a delay of any length costs one write, a share of a query and one SQS
 * message, instead of one SQS round trip and invocation per 15 minutes.
 */

/** SQS cannot delay a message longer than this (DelaySeconds 0 to 900). */
export const MAX_SQS_DELAY_SECONDS = 900;
/** Partition key (String): `<bucket>#<shard>`, the bucket being the due minute in epoch minutes. */
export const WAITING_ROOM_PARTITION_KEY = 'pk';
/** Sort key (String): `<dueAt, 15 digits>#<hash of the message>`, so a bucket reads in due order. */
export const WAITING_ROOM_SORT_KEY = 'sk';
/** Epoch seconds after which DynamoDB's TTL may delete an item: long after the poller handed it on. */
export const WAITING_ROOM_TTL_ATTRIBUTE = 'expiresAt';
/** One bucket per due minute. */
export const WAITING_ROOM_BUCKET_MS = 60_000;
/** Partitions per bucket: a minute that many mutations are due in spreads its writes over this many keys. */
export const WAITING_ROOM_SHARDS = 4;
/**
 * The poller hands a bucket on once all of it is due within this: its items then wait at most this long on SQS
 * (under the 900 s limit), and a poller that runs up to 9 minutes late still sends them on time.
 */
export const WAITING_ROOM_LOOKAHEAD_MS = 600_000;
/**
 * A writer puts an item only when its wait exceeds 900 s, and the poller passes a bucket only once it is due within
 * the lookahead: a write decided at time t lands in a bucket the poller reaches no sooner than t + this. A writer's
 * PutItem must land within it (the consumers' timeout is checked against it at synth), or it could land behind the
 * poller's checkpoint and wait for an operator.
 */
export const WAITING_ROOM_WRITE_SLACK_MS = MAX_SQS_DELAY_SECONDS * 1000 - WAITING_ROOM_LOOKAHEAD_MS;
/** Items expire this long after they are due: a poller down for less than this loses nothing. */
export const WAITING_ROOM_RETENTION_AFTER_DUE_DAYS = 7;
/** How often the poller runs (an EventBridge rule: `rate(1 minute)`). */
export const WAITING_ROOM_POLL_MINUTES = 1;

import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

/**
 * The WAL constructs' defaults and limits, in one place (as AWS Solutions Constructs keep theirs in
 * `*-defaults.ts`). A construct falls back to these when a prop is absent, and documents them in its
 * `@default`; lib/stage-config.ts builds the stage settings from them. Defaults are the safe choice
 * for production (retain data, keep logs a month); the stage settings relax them for other stages.
 */

/** Log levels that Powertools for AWS Lambda understands (`POWERTOOLS_LOG_LEVEL`). */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** What happens to stateful resources (key, stream, tables, queues, log groups) that leave the stack. */
export const DEFAULT_REMOVAL_POLICY = RemovalPolicy.RETAIN;
/** Retention of the Lambda and API access log groups. */
export const DEFAULT_LOG_RETENTION = RetentionDays.ONE_MONTH;
/** `POWERTOOLS_LOG_LEVEL` of every Lambda. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'INFO';
/** Memory of every Lambda, in MB. */
export const DEFAULT_MEMORY_SIZE = 512;
/** Timeout of a Lambda that sets none. */
export const DEFAULT_FUNCTION_TIMEOUT = Duration.seconds(10);
/**
 * The ingest Lambda's timeout: its 4 SDK calls of 2 x (300 + 900) ms + 1 s backoff (13.6 s) leave
 * more than 1 s for its own work, and with a cold start (10 s) it stays under API Gateway's 30 s.
 */
export const INGEST_TIMEOUT = Duration.seconds(15);
/** Timeout of the stream and queue consumer Lambdas. */
export const DEFAULT_CONSUMER_TIMEOUT = Duration.seconds(60);
/** How long a Lambda trusts its cached copy of a namespace config before it reads SSM again. */
export const DEFAULT_CONFIG_MAX_AGE = Duration.seconds(60);
/** Throttling of the API's default stage. */
export const DEFAULT_API_THROTTLE = { rateLimit: 100, burstLimit: 200 } as const;
/** How long the stream keeps records. */
export const DEFAULT_STREAM_RETENTION = Duration.hours(24);

/** Records per invocation of the stream consumer. */
export const DEFAULT_STREAM_BATCH_SIZE = 100;
/** Retries of a failing stream batch before it goes to the stream-failure queue. */
export const DEFAULT_STREAM_RETRY_ATTEMPTS = 10;
/** Age after which a stream record goes to the stream-failure queue. */
export const DEFAULT_STREAM_MAX_RECORD_AGE = Duration.hours(6);
/** Messages per invocation of the queue consumer. */
export const DEFAULT_QUEUE_BATCH_SIZE = 10;
/** Receives before the delay, retry and stream-failure queues move a message to the DLQ. */
export const DEFAULT_MAX_RECEIVE_COUNT = 5;

/** Oldest DLQ message that may wait unattended: a day, of the DLQ's 14. */
export const DEFAULT_DEAD_LETTER_MAX_AGE = Duration.hours(24);
/** Oldest stream-failure message: its consumer takes each one at once. */
export const DEFAULT_STREAM_FAILURE_MAX_AGE = Duration.minutes(15);
/** Largest stream iterator age: the consumers are this far behind the stream. */
export const DEFAULT_MAX_ITERATOR_AGE = Duration.minutes(15);
/** 5xx answers of the API per 5 minutes: FAIL and UNKNOWN (503) are 5xx too. */
export const DEFAULT_API_5XX_THRESHOLD = 5;

/** What a Kinesis event source mapping accepts (and the WAL allows) for each stream setting. */
export const STREAM_SETTING_RANGES = {
  /** `BatchSize` of a Kinesis mapping. */
  streamBatchSize: { min: 1, max: 10_000 },
  /** `MaximumRetryAttempts`; infinite (-1) is not offered: a failing batch must reach the queue. */
  streamRetryAttempts: { min: 0, max: 10_000 },
  /** `MaximumRecordAgeInSeconds`; infinite (-1) is not offered either. */
  streamMaxRecordAgeSeconds: { min: 60, max: 7 * 24 * 3600 },
} as const;

/** The range SQS accepts for a redrive policy's `maxReceiveCount`. */
export const MAX_RECEIVE_COUNT_RANGE = { min: 1, max: 1000 } as const;

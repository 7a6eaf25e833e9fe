import { Duration } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  DEFAULT_API_5XX_THRESHOLD,
  DEFAULT_DEAD_LETTER_MAX_AGE,
  DEFAULT_MAX_ITERATOR_AGE,
  DEFAULT_STREAM_FAILURE_MAX_AGE,
} from './wal-defaults';

const MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);
/** A function run every minute that has not run for this long is not running (its schedule or its trigger). */
const NOT_RUNNING_PERIOD = Duration.minutes(10);

export interface WalAlarmsProps {
  /** The DLQ: every message in it is a mutation that was not delivered. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The stream event source's on-failure queue: stream ranges that failed every retry. */
  readonly streamFailureQueue: sqs.IQueue;
  /** The WAL's stream: how far behind its readers are. */
  readonly stream: kinesis.IStream;
  /** The stream and queue consumers: errors, throttles and dropped recursive invocations. */
  readonly consumers: Readonly<Record<string, lambda.IFunction>>;
  /** Functions a schedule runs (the waiting room poller): alarmed when they stop running at all. */
  readonly scheduled?: Readonly<Record<string, lambda.IFunction>>;
  /** The ingest API: answers 5xx. */
  readonly api: apigwv2.IHttpApi;
  /**
   * Alarm when the oldest DLQ message is older than this.
   * @default DEFAULT_DEAD_LETTER_MAX_AGE (24 hours)
   */
  readonly deadLetterMaxAge?: Duration;
  /**
   * Alarm when the oldest stream-failure message is older than this.
   * @default DEFAULT_STREAM_FAILURE_MAX_AGE (15 minutes)
   */
  readonly streamFailureMaxAge?: Duration;
  /**
   * Alarm when the stream's `GetRecords.IteratorAgeMilliseconds` stays above this for 5 minutes.
   * @default DEFAULT_MAX_ITERATOR_AGE (15 minutes)
   */
  readonly maxIteratorAge?: Duration;
  /**
   * Alarm when the API answers at least this many 5xx in 5 minutes.
   * @default DEFAULT_API_5XX_THRESHOLD (5)
   */
  readonly api5xxThreshold?: number;
}

/**
 * A failure nobody hears about is a loss: alarms on what needs an operator (dead letters, stream
 * failures, a stream falling behind, consumer errors and throttles, loops Lambda cut, server
 * errors), all sent to one SNS topic. Subscribe to {@link topic} (email, chat, paging); what each
 * alarm means and what to do is in docs/runbook.md.
 */
export class WalAlarms extends Construct {
  /** Every alarm notifies it, in ALARM and back to OK. */
  readonly topic: sns.Topic;
  /** By a short name, e.g. `deadLetterDepth`, `streamConsumerErrors`. */
  readonly alarms: ReadonlyMap<string, cloudwatch.Alarm>;

  private readonly byName = new Map<string, cloudwatch.Alarm>();

  constructor(scope: Construct, id: string, props: WalAlarmsProps) {
    super(scope, id);
    // Not KMS-encrypted: CloudWatch cannot publish to a topic under the AWS-managed SNS key, and the
    // notifications carry alarm names and numbers, no WAL data.
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'serverless-wal alarms', enforceSSL: true });
    this.addQueueAlarms(props);
    this.addStreamAlarms(props);
    for (const [name, fn] of Object.entries(props.consumers)) this.addFunctionAlarms(name, fn);
    for (const [name, fn] of Object.entries(props.scheduled ?? {})) this.addNotRunningAlarm(name, fn);
    this.add('api5xx', props.api.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' }), {
      threshold: props.api5xxThreshold ?? DEFAULT_API_5XX_THRESHOLD,
      description: 'The WAL API answers 5xx (FAIL or UNKNOWN answers, or crashes)',
    });
    this.alarms = this.byName;
  }

  /** The DLQ and the stream-failure queue: any message, and a message left waiting too long. */
  private addQueueAlarms(props: WalAlarmsProps): void {
    this.add(
      'deadLetterDepth',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: MINUTE,
        statistic: 'Maximum',
      }),
      { threshold: 1, description: 'The WAL DLQ holds messages: mutations not delivered (runbook: DLQ)' },
    );
    this.add(
      'deadLetterAge',
      props.deadLetterQueue.metricApproximateAgeOfOldestMessage({ period: MINUTE, statistic: 'Maximum' }),
      {
        threshold: (props.deadLetterMaxAge ?? DEFAULT_DEAD_LETTER_MAX_AGE).toSeconds(),
        description: 'A DLQ message waits unattended; SQS deletes it after 14 days',
      },
    );
    this.add(
      'streamFailureDepth',
      props.streamFailureQueue.metricApproximateNumberOfMessagesVisible({
        period: MINUTE,
        statistic: 'Maximum',
      }),
      { threshold: 1, description: 'A stream range failed every retry of the stream consumer' },
    );
    this.add(
      'streamFailureAge',
      props.streamFailureQueue.metricApproximateAgeOfOldestMessage({ period: MINUTE, statistic: 'Maximum' }),
      {
        threshold: (props.streamFailureMaxAge ?? DEFAULT_STREAM_FAILURE_MAX_AGE).toSeconds(),
        description: 'Failed stream ranges are not being recovered by the queue consumer',
      },
    );
  }

  /** The stream's readers falling behind. */
  private addStreamAlarms(props: WalAlarmsProps): void {
    this.add(
      'iteratorAge',
      props.stream.metricGetRecordsIteratorAgeMilliseconds({ period: MINUTE, statistic: 'Maximum' }),
      {
        threshold: (props.maxIteratorAge ?? DEFAULT_MAX_ITERATOR_AGE).toMilliseconds(),
        evaluationPeriods: 5,
        description: 'The stream consumer falls behind; records expire at the end of the stream retention',
      },
    );
  }

  /** A consumer's errors, throttles and the recursive loops Lambda cut. */
  private addFunctionAlarms(name: string, fn: lambda.IFunction): void {
    this.add(`${name}Errors`, fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }), {
      threshold: 1,
      description: `The ${name} Lambda failed invocations (whole batches retried)`,
    });
    this.add(`${name}Throttles`, fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }), {
      threshold: 1,
      description: `The ${name} Lambda was throttled (account or reserved concurrency)`,
    });
    this.add(
      `${name}RecursionDropped`,
      fn.metric('RecursiveInvocationsDropped', { period: FIVE_MINUTES, statistic: 'Sum' }),
      { threshold: 1, description: `Lambda stopped a recursive loop of the ${name} Lambda` },
    );
  }

  /**
   * A scheduled function that is not invoked at all: a disabled or deleted rule, a lost invoke permission. Its
   * errors alarm cannot see that (no run, no error), and its metrics then have no data, which counts as breaching.
   */
  private addNotRunningAlarm(name: string, fn: lambda.IFunction): void {
    this.add(`${name}NotRunning`, fn.metricInvocations({ period: NOT_RUNNING_PERIOD, statistic: 'Sum' }), {
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      description: `The ${name} Lambda was not invoked for ${NOT_RUNNING_PERIOD.toMinutes()} minutes (its schedule does not run it)`,
    });
  }

  /** One alarm on `metric` that notifies {@link topic} in ALARM and back to OK. */
  private add(name: string, metric: cloudwatch.IMetric, options: AlarmOptions): void {
    const alarm = new cloudwatch.Alarm(this, name, {
      metric,
      threshold: options.threshold,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      comparisonOperator:
        options.comparisonOperator ?? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // By default no data is no traffic (an idle queue or function), not a failure.
      treatMissingData: options.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: options.description,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
    this.byName.set(name, alarm);
  }
}

interface AlarmOptions {
  readonly threshold: number;
  readonly evaluationPeriods?: number;
  readonly comparisonOperator?: cloudwatch.ComparisonOperator;
  readonly treatMissingData?: cloudwatch.TreatMissingData;
  readonly description: string;
}

import { Duration } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Oldest DLQ message that may wait unattended, unless set: a day, of the DLQ's 14. */
export const DEFAULT_DEAD_LETTER_MAX_AGE = Duration.hours(24);
/** Oldest stream-failure message, unless set: its consumer takes each one at once. */
export const DEFAULT_STREAM_FAILURE_MAX_AGE = Duration.minutes(15);
/** Largest stream iterator age, unless set: the consumers are this far behind the stream. */
export const DEFAULT_MAX_ITERATOR_AGE = Duration.minutes(15);
/** 5xx answers of the API per 5 minutes, unless set: FAIL and UNKNOWN (503) are 5xx too. */
export const DEFAULT_API_5XX_THRESHOLD = 5;

export interface WalAlarmsProps {
  /** The DLQ: every message in it is a mutation that was not delivered. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The stream event source's on-failure queue: stream ranges that failed every retry. */
  readonly streamFailureQueue: sqs.IQueue;
  /** The WAL's stream: how far behind its readers are. */
  readonly stream: kinesis.IStream;
  /** The stream and queue consumers: errors, throttles and dropped recursive invocations. */
  readonly consumers: Readonly<Record<string, lambda.IFunction>>;
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

  constructor(scope: Construct, id: string, props: WalAlarmsProps) {
    super(scope, id);
    // Not KMS-encrypted: CloudWatch cannot publish to a topic under the AWS-managed SNS key, and the
    // notifications carry alarm names and numbers, no WAL data.
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'serverless-wal alarms', enforceSSL: true });
    const alarms = new Map<string, cloudwatch.Alarm>();
    const add = (name: string, metric: cloudwatch.IMetric, options: AlarmOptions): void => {
      const alarm = new cloudwatch.Alarm(this, name, {
        metric,
        threshold: options.threshold,
        evaluationPeriods: options.evaluationPeriods ?? 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // No data is no traffic (an idle queue or function), not a failure.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: options.description,
      });
      alarm.addAlarmAction(new actions.SnsAction(this.topic));
      alarm.addOkAction(new actions.SnsAction(this.topic));
      alarms.set(name, alarm);
    };
    const minute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);

    add(
      'deadLetterDepth',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: minute,
        statistic: 'Maximum',
      }),
      { threshold: 1, description: 'The WAL DLQ holds messages: mutations not delivered (runbook: DLQ)' },
    );
    add(
      'deadLetterAge',
      props.deadLetterQueue.metricApproximateAgeOfOldestMessage({ period: minute, statistic: 'Maximum' }),
      {
        threshold: (props.deadLetterMaxAge ?? DEFAULT_DEAD_LETTER_MAX_AGE).toSeconds(),
        description: 'A DLQ message waits unattended; SQS deletes it after 14 days',
      },
    );
    add(
      'streamFailureDepth',
      props.streamFailureQueue.metricApproximateNumberOfMessagesVisible({
        period: minute,
        statistic: 'Maximum',
      }),
      { threshold: 1, description: 'A stream range failed every retry of the stream consumer' },
    );
    add(
      'streamFailureAge',
      props.streamFailureQueue.metricApproximateAgeOfOldestMessage({ period: minute, statistic: 'Maximum' }),
      {
        threshold: (props.streamFailureMaxAge ?? DEFAULT_STREAM_FAILURE_MAX_AGE).toSeconds(),
        description: 'Failed stream ranges are not being recovered by the queue consumer',
      },
    );
    add(
      'iteratorAge',
      props.stream.metricGetRecordsIteratorAgeMilliseconds({ period: minute, statistic: 'Maximum' }),
      {
        threshold: (props.maxIteratorAge ?? DEFAULT_MAX_ITERATOR_AGE).toMilliseconds(),
        evaluationPeriods: 5,
        description: 'The stream consumer falls behind; records expire at the end of the stream retention',
      },
    );
    for (const [name, fn] of Object.entries(props.consumers)) {
      add(`${name}Errors`, fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }), {
        threshold: 1,
        description: `The ${name} Lambda failed invocations (whole batches retried)`,
      });
      add(`${name}Throttles`, fn.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }), {
        threshold: 1,
        description: `The ${name} Lambda was throttled (account or reserved concurrency)`,
      });
      add(
        `${name}RecursionDropped`,
        fn.metric('RecursiveInvocationsDropped', { period: fiveMinutes, statistic: 'Sum' }),
        { threshold: 1, description: `Lambda stopped a recursive loop of the ${name} Lambda` },
      );
    }
    add('api5xx', props.api.metricServerError({ period: fiveMinutes, statistic: 'Sum' }), {
      threshold: props.api5xxThreshold ?? DEFAULT_API_5XX_THRESHOLD,
      description: 'The WAL API answers 5xx (FAIL or UNKNOWN answers, or crashes)',
    });
    this.alarms = alarms;
  }
}

interface AlarmOptions {
  readonly threshold: number;
  readonly evaluationPeriods?: number;
  readonly description: string;
}

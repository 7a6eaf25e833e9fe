import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/** The settings of an SQS event source mapping, as the template states them. */
export interface SqsEventSourceSettings {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  /** At most 10 per receive, as SQS allows. */
  readonly batchSize: number;
  readonly reportBatchItemFailures: boolean;
}

export type InvokeSqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;

// ReceiveMessage returns at most 10 messages per call.
const MAX_RECEIVE = 10;

/**
 * Emulates an SQS event source mapping: receives a batch, invokes the function, and deletes what
 * succeeded. What failed stays on the queue until its visibility timeout ends, so SQS delivers it
 * again and its redrive policy moves it to the DLQ after maxReceiveCount receives.
 */
export class SqsEventSource {
  constructor(
    private readonly sqs: SQSClient,
    readonly settings: SqsEventSourceSettings,
    private readonly invoke: InvokeSqsHandler,
  ) {}

  /** One receive and invocation. Returns how many messages were handed over. */
  async pollOnce(waitTimeSeconds = 0): Promise<number> {
    const answer = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.settings.queueUrl,
        MaxNumberOfMessages: Math.min(this.settings.batchSize, MAX_RECEIVE),
        WaitTimeSeconds: waitTimeSeconds,
        // local-aws-sqs returns system attributes only when asked for all of them.
        AttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = answer.Messages ?? [];
    if (messages.length === 0) return 0;
    const records = messages.map((message) => this.record(message));
    let failedIds: Set<string>;
    try {
      const response = await this.invoke({ Records: records });
      const failures = this.settings.reportBatchItemFailures ? (response?.batchItemFailures ?? []) : [];
      failedIds = new Set(failures.map((failure) => failure.itemIdentifier));
    } catch {
      failedIds = new Set(records.map((record) => record.messageId));
    }
    const done = records.filter((record) => !failedIds.has(record.messageId));
    if (done.length > 0) {
      await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.settings.queueUrl,
          Entries: done.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
        }),
      );
    }
    return messages.length;
  }

  private record(message: Message): SQSRecord {
    const attributes = message.Attributes ?? {};
    return {
      messageId: message.MessageId ?? '',
      receiptHandle: message.ReceiptHandle ?? '',
      body: message.Body ?? '',
      attributes: {
        ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
        SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
        SenderId: attributes.SenderId ?? 'local',
        ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: message.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: this.settings.queueArn,
      awsRegion: this.settings.region,
    };
  }
}

import { randomUUID } from 'node:crypto';
import type { SinkFailureKind, SinkJournal, SinkService } from './sink-journal';

/** An HTTP answer. */
export interface SinkAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** SNS FIFO topics drop a repeated deduplication id for 5 minutes. */
const FIFO_DEDUP_WINDOW_MS = 5 * 60 * 1000;
const SNS_NAMESPACE = 'http://sns.amazonaws.com/doc/2010-03-31/';

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (char) => `&#${char.charCodeAt(0)};`);
}

function xml(status: number, body: string): SinkAnswer {
  return { status, headers: { 'Content-Type': 'text/xml' }, body: `<?xml version="1.0"?>\n${body}` };
}

function json(status: number, payload: unknown, headers: Record<string, string> = {}): SinkAnswer {
  return {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(payload),
  };
}

function snsError(code: string, status: number, message: string): SinkAnswer {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return xml(
    status,
    `<ErrorResponse xmlns="${SNS_NAMESPACE}"><Error><Type>${type}</Type><Code>${code}</Code>` +
      `<Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}

const SNS_FAILURES: Record<SinkFailureKind, () => SinkAnswer> = {
  transient: () => snsError('InternalError', 500, 'Injected by the local sinks: internal error'),
  throttle: () => snsError('Throttled', 429, 'Injected by the local sinks: rate exceeded'),
  permanent: () => snsError('NotFound', 404, 'Injected by the local sinks: topic does not exist'),
};

/** SNS Publish in the awsQuery protocol (form-encoded request, XML answer) that @aws-sdk/client-sns speaks. */
export class SnsPublishHandler {
  private readonly dedup = new Map<string, { messageId: string; at: number }>();
  private sequence = 0n;

  constructor(
    private readonly journal: SinkJournal,
    private readonly now: () => number = Date.now,
  ) {}

  handle(params: URLSearchParams): SinkAnswer {
    const topicArn = params.get('TopicArn') ?? '';
    const message = params.get('Message');
    if (topicArn === '' || message === null) {
      return snsError('InvalidParameter', 400, 'TopicArn and Message are required');
    }
    const failure = this.journal.takeFailure(topicArn);
    if (failure) return SNS_FAILURES[failure]();
    const groupId = params.get('MessageGroupId') ?? undefined;
    const dedupId = params.get('MessageDeduplicationId') ?? undefined;
    const fifo = topicArn.endsWith('.fifo');
    const problem = fifoProblem(fifo, groupId, dedupId);
    if (problem) return snsError('InvalidParameter', 400, problem);
    const messageId = fifo ? this.deduplicated(topicArn, dedupId ?? '') : undefined;
    if (messageId !== undefined) return this.published(messageId, true);
    const id = randomUUID();
    this.journal.add(
      record(
        'sns',
        topicArn,
        message,
        fifo ? { MessageGroupId: `${groupId}`, MessageDeduplicationId: `${dedupId}` } : {},
      ),
    );
    if (fifo) this.dedup.set(`${topicArn} ${dedupId}`, { messageId: id, at: this.now() });
    return this.published(id, fifo);
  }

  /** The message id of a FIFO publish with the same dedup id within the window, if any. */
  private deduplicated(topicArn: string, dedupId: string): string | undefined {
    const seen = this.dedup.get(`${topicArn} ${dedupId}`);
    return seen && this.now() - seen.at < FIFO_DEDUP_WINDOW_MS ? seen.messageId : undefined;
  }

  private published(messageId: string, fifo: boolean): SinkAnswer {
    this.sequence += 1n;
    const sequence = fifo
      ? `<SequenceNumber>${this.sequence.toString().padStart(20, '0')}</SequenceNumber>`
      : '';
    return xml(
      200,
      `<PublishResponse xmlns="${SNS_NAMESPACE}"><PublishResult><MessageId>${messageId}</MessageId>${sequence}` +
        `</PublishResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
    );
  }
}

/** Why SNS refuses the FIFO ids of a publish, or undefined when they fit the topic. */
function fifoProblem(
  fifo: boolean,
  groupId: string | undefined,
  dedupId: string | undefined,
): string | undefined {
  if (fifo && (groupId === undefined || dedupId === undefined)) {
    return 'a FIFO topic needs MessageGroupId and MessageDeduplicationId';
  }
  if (!fifo && (groupId !== undefined || dedupId !== undefined)) {
    return 'MessageGroupId and MessageDeduplicationId are for FIFO topics';
  }
  return undefined;
}

const EVENTBRIDGE_ENTRY_FAILURES: Record<SinkFailureKind, string> = {
  transient: 'InternalFailure',
  throttle: 'ThrottlingException',
  permanent: 'AccessDeniedException',
};

interface PutEventsEntry {
  EventBusName?: string;
  Source?: string;
  DetailType?: string;
  Detail?: string;
}

/** EventBridge PutEvents in AWS JSON 1.1; a failed entry is answered 200 with its ErrorCode, as AWS does. */
export function putEvents(journal: SinkJournal, input: unknown): SinkAnswer {
  const entries = (input as { Entries?: PutEventsEntry[] } | undefined)?.Entries;
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > 10) {
    return json(400, { __type: 'ValidationException', message: 'Entries must hold 1 to 10 entries' });
  }
  const answers = entries.map((entry) => {
    const bus = entry.EventBusName ?? 'default';
    const failure = journal.takeFailure(bus);
    if (failure) {
      return { ErrorCode: EVENTBRIDGE_ENTRY_FAILURES[failure], ErrorMessage: 'Injected by the local sinks' };
    }
    if (!entry.Source || !entry.DetailType || entry.Detail === undefined) {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Source, DetailType and Detail are required' };
    }
    journal.add(
      record('eventbridge', bus, entry.Detail, { Source: entry.Source, DetailType: entry.DetailType }),
    );
    return { EventId: randomUUID() };
  });
  const failed = answers.filter((answer) => 'ErrorCode' in answer).length;
  return json(
    200,
    { FailedEntryCount: failed, Entries: answers },
    { 'Content-Type': 'application/x-amz-json-1.1' },
  );
}

/** Lambda Invoke (REST-JSON): the function "runs" by being recorded; failures as Lambda reports them. */
export function invokeFunction(journal: SinkJournal, functionName: string, payload: string): SinkAnswer {
  const failure = journal.takeFailure(functionName);
  const functionError = (type: string, errorType: string, errorMessage: string) =>
    json(
      200,
      { errorType, errorMessage },
      { 'X-Amz-Function-Error': type, 'X-Amz-Executed-Version': '$LATEST' },
    );
  switch (failure) {
    case 'transient':
      return functionError('Unhandled', 'Error', 'Injected by the local sinks: the function failed');
    case 'permanent':
      return functionError('Handled', 'PermanentError', 'Injected by the local sinks: refused for good');
    case 'throttle':
      return json(
        429,
        { message: 'Rate Exceeded.', Reason: 'CallerRateLimitExceeded' },
        { 'x-amzn-ErrorType': 'TooManyRequestsException' },
      );
    default:
      journal.add(record('lambda', functionName, payload, {}));
      return json(200, null, { 'X-Amz-Executed-Version': '$LATEST' });
  }
}

function record(service: SinkService, resource: string, message: string, attributes: Record<string, string>) {
  return { service, resource, receivedAt: new Date().toISOString(), message: parsed(message), attributes };
}

import type { createRequestHandler } from 'local-aws-sqs';
import { JournalFile } from './journal-file';
import { type JournalEntry, SqsModel, type StoredMessage } from './sqs-model';

type SqsService = ReturnType<typeof createRequestHandler>['service'];
type EmulatedQueue = SqsService['Queues'][number];

/** The shape of local-aws-sqs 2.0.2's message records (its typings say `any`). */
interface EmulatedRecord {
  MessageId: string;
  MessageBody: string;
  MessageAttributes?: Record<string, unknown>;
  attributes: Record<string, string>;
}

// Below this many appended lines the journal is not worth rewriting.
const MIN_LINES_BEFORE_COMPACTION = 10_000;

export interface SqsPersistence {
  /** Hooks queues created since the last call and puts their journaled messages back on them. */
  attachNewQueues(): void;
  /** Stops journaling (the emulator's reset on shutdown must not be recorded) and closes the file. */
  close(): void;
}

/**
 * Makes local-aws-sqs (in memory) durable: every change of a queue's content goes to a journal
 * file before the emulator method that made it returns, and the journal is replayed onto each
 * queue when it is created again after a restart.
 *
 * The hooks sit on the queue methods every path goes through — setRecord (SendMessage, batches,
 * redrive policy and message-move moves), delete (DeleteMessage, batches, moves), receive
 * (receive counts) and clearRecords (purge, DeleteQueue) — so moves made by the emulator's
 * own timers are journaled too, not only what the HTTP API shows.
 */
export function persistSqs(service: SqsService, path: string, now: () => number = Date.now): SqsPersistence {
  const journal = new JournalFile(path);
  const model = SqsModel.fromEntries(journal.read());
  // Also drops a torn last line, so new appends never follow a half-written one.
  journal.rewrite(model.snapshot());
  const attached = new WeakSet<EmulatedQueue>();
  let closed = false;

  const record: RecordEntry = (entry, sync = true) => {
    if (closed) return;
    journal.append(entry, sync);
    model.apply(entry);
    if (journal.appendedSinceCompaction > Math.max(MIN_LINES_BEFORE_COMPACTION, 2 * model.size)) {
      journal.rewrite(model.snapshot());
    }
  };

  const attach = (queue: EmulatedQueue) => {
    attached.add(queue);
    const hooks: QueueHooks = { queue, name: queue.QueueName, model, record, now };
    restore(queue, queue.setRecord, model, now());
    hookSetRecord(hooks);
    hookReceive(hooks);
    hookDelete(hooks);
    hookClearRecords(hooks);
  };

  return {
    attachNewQueues() {
      if (closed) return;
      for (const queue of service.Queues) if (!attached.has(queue)) attach(queue);
    },
    close() {
      if (closed) return;
      closed = true;
      journal.close();
    },
  };
}

/** Journals one change and applies it to the model; `sync` false skips the fsync. */
type RecordEntry = (entry: JournalEntry, sync?: boolean) => void;

/** What the hooks on one queue share. */
interface QueueHooks {
  readonly queue: EmulatedQueue;
  readonly name: string;
  readonly model: SqsModel;
  readonly record: RecordEntry;
  readonly now: () => number;
}

/** Journals every message put on the queue: sends, batches and the emulator's own moves. */
function hookSetRecord({ queue, name, model, record, now }: QueueHooks): void {
  const setRecord = queue.setRecord;
  queue.setRecord = (input: Record<string, unknown>, messageId?: string) => {
    const result = setRecord(input, messageId);
    const stored = result.record as EmulatedRecord;
    // A FIFO deduplication hit answers with the message already on the queue: nothing new to keep.
    if (messageId === undefined && model.has(name, stored.MessageId)) return result;
    const delaySeconds = Number(input.DelaySeconds);
    const delayMs = (Number.isNaN(delaySeconds) ? queue.DelaySeconds : delaySeconds) * 1000;
    record({ op: 'put', queue: name, message: toStored(queue, stored, now() + delayMs) });
    return result;
  };
}

/** Journals the receive count of every message handed out (redrive policies count on it). */
function hookReceive({ queue, name, model, record, now }: QueueHooks): void {
  const receive = queue.receive.bind(queue);
  queue.receive = async (request: Parameters<EmulatedQueue['receive']>[0]) => {
    const received = (await receive(request)) as EmulatedRecord[];
    for (const message of received) {
      const count = Number(message.attributes.ApproximateReceiveCount);
      if (model.has(name, message.MessageId)) {
        // Not synced: losing a count in a crash grants one more attempt, never loses a message.
        record({ op: 'receive', queue: name, id: message.MessageId, count }, false);
      } else record({ op: 'put', queue: name, message: toStored(queue, message, now()) });
    }
    return received;
  };
}

/** Journals every deletion of a message the journal holds. */
function hookDelete({ queue, name, model, record }: QueueHooks): void {
  const deleteMessage = queue.delete.bind(queue);
  queue.delete = (receiptHandle: string) => {
    const deleted = deleteMessage(receiptHandle);
    const id = messageIdOf(receiptHandle);
    if (id !== undefined && model.has(name, id)) record({ op: 'delete', queue: name, id });
    return deleted;
  };
}

/** Journals a purge or a DeleteQueue, which empty the queue at once. */
function hookClearRecords({ queue, name, record }: QueueHooks): void {
  const clearRecords = queue.clearRecords.bind(queue);
  queue.clearRecords = () => {
    clearRecords();
    record({ op: 'clear', queue: name });
  };
}

/**
 * Puts a queue's journaled messages back: same id, body, attributes and receive count; a delayed
 * one stays hidden until its due time. Leases (visibility timeouts) are not restored: every local
 * consumer died with the process, so each message is visible again at once, as SQS makes it once
 * the lease ends. Messages past their retention period are dropped, as SQS would have.
 */
function restore(
  queue: EmulatedQueue,
  setRecord: EmulatedQueue['setRecord'],
  model: SqsModel,
  at: number,
): void {
  for (const message of model.messages(queue.QueueName)) {
    if (message.expiresAt < at) {
      model.apply({ op: 'delete', queue: queue.QueueName, id: message.id });
      continue;
    }
    const { MessageGroupId, MessageDeduplicationId } = message.attributes;
    const result = setRecord(
      {
        MessageBody: message.body,
        ...(message.messageAttributes ? { MessageAttributes: message.messageAttributes } : {}),
        ...(MessageGroupId ? { MessageGroupId } : {}),
        ...(MessageDeduplicationId ? { MessageDeduplicationId } : {}),
        DelaySeconds: Math.max(0, message.dueAt - at) / 1000,
      },
      message.id,
    );
    Object.assign((result.record as EmulatedRecord).attributes, message.attributes);
  }
}

function toStored(queue: EmulatedQueue, record: EmulatedRecord, dueAt: number): StoredMessage {
  const sentAt = Number(record.attributes.SentTimestamp);
  return {
    id: record.MessageId,
    body: record.MessageBody,
    ...(record.MessageAttributes ? { messageAttributes: record.MessageAttributes } : {}),
    attributes: { ...record.attributes },
    dueAt,
    expiresAt: sentAt + queue.MessageRetentionPeriod * 1000,
  };
}

/** local-aws-sqs's receipt handles are base64 of a UUID followed by `{"date","MessageId","QueueName"}`. */
function messageIdOf(receiptHandle: string): string | undefined {
  try {
    const text = Buffer.from(receiptHandle, 'base64').toString('utf8');
    const parsed: unknown = JSON.parse(text.slice(text.indexOf('{')));
    if (typeof parsed === 'object' && parsed !== null && 'MessageId' in parsed) {
      return typeof parsed.MessageId === 'string' ? parsed.MessageId : undefined;
    }
  } catch {
    // Not one of the emulator's handles: the emulator rejects it itself.
  }
  return undefined;
}

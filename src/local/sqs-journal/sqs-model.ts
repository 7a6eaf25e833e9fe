/** A message as the journal keeps it: enough to put it back on its queue with its identity and timing. */
export interface StoredMessage {
  readonly id: string;
  readonly body: string;
  /** The message attributes as sent (SQS's typed `{ DataType, StringValue | BinaryValue }` map). */
  readonly messageAttributes?: Record<string, unknown>;
  /**
   * The emulator's system attributes (SentTimestamp, ApproximateReceiveCount, MessageGroupId,
   * DeadLetterQueueSourceArn, ...), all strings.
   */
  readonly attributes: Record<string, string>;
  /** When the message's delay ends (epoch ms): it is not delivered before. */
  readonly dueAt: number;
  /**
   * When its queue's retention period (as it was when the message arrived) ends (epoch ms). Kept
   * with the message: at a restart, queues are created before their attributes are set.
   */
  readonly expiresAt: number;
}

/**
 * One change of the queues' content. `put` adds a message (a send, or a move: a message id lives on
 * one queue only, so a put of a known id elsewhere moves it); `receive` records a receive count;
 * `delete` removes one message; `clear` empties a queue (purge, DeleteQueue).
 */
export type JournalEntry =
  | { readonly op: 'put'; readonly queue: string; readonly message: StoredMessage }
  | { readonly op: 'receive'; readonly queue: string; readonly id: string; readonly count: number }
  | { readonly op: 'delete'; readonly queue: string; readonly id: string }
  | { readonly op: 'clear'; readonly queue: string };

/** The content of every queue, rebuilt from the journal and kept in step with the emulator. */
export class SqsModel {
  private readonly queues = new Map<string, Map<string, StoredMessage>>();

  static fromEntries(entries: Iterable<JournalEntry>): SqsModel {
    const model = new SqsModel();
    for (const entry of entries) model.apply(entry);
    return model;
  }

  apply(entry: JournalEntry): void {
    switch (entry.op) {
      case 'put': {
        for (const [name, messages] of this.queues) {
          if (name !== entry.queue) messages.delete(entry.message.id);
        }
        this.queue(entry.queue).set(entry.message.id, entry.message);
        return;
      }
      case 'receive': {
        const messages = this.queues.get(entry.queue);
        const message = messages?.get(entry.id);
        if (!messages || !message) return;
        messages.set(entry.id, {
          ...message,
          attributes: { ...message.attributes, ApproximateReceiveCount: String(entry.count) },
        });
        return;
      }
      case 'delete':
        this.queues.get(entry.queue)?.delete(entry.id);
        return;
      case 'clear':
        this.queues.delete(entry.queue);
        return;
    }
  }

  has(queue: string, id: string): boolean {
    return this.queues.get(queue)?.has(id) ?? false;
  }

  /** The queue's messages in the order they were first put. */
  messages(queue: string): StoredMessage[] {
    return [...(this.queues.get(queue)?.values() ?? [])];
  }

  get size(): number {
    let count = 0;
    for (const messages of this.queues.values()) count += messages.size;
    return count;
  }

  /** The whole content as `put` entries: a snapshot that replays to this model. */
  *snapshot(): Generator<JournalEntry> {
    for (const [queue, messages] of this.queues) {
      for (const message of messages.values()) yield { op: 'put', queue, message };
    }
  }

  private queue(name: string): Map<string, StoredMessage> {
    let messages = this.queues.get(name);
    if (!messages) {
      messages = new Map();
      this.queues.set(name, messages);
    }
    return messages;
  }
}

import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  JournalFile,
  SqsJournalCorruptError,
  SqsJournalWriteError,
} from '#src/local/sqs-journal/journal-file';
import { type JournalEntry, SqsModel, type StoredMessage } from '#src/local/sqs-journal/sqs-model';

function message(id: string, body = `body of ${id}`): StoredMessage {
  return {
    id,
    body,
    attributes: { SentTimestamp: '1000', ApproximateReceiveCount: '0' },
    dueAt: 1000,
    expiresAt: 2000,
  };
}

describe('the SQS journal file', () => {
  let dir: string;
  let path: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wal-journal-'));
    path = join(dir, 'sqs-journal.log');
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replays puts, receives, moves, deletes and clears to the queues they leave', () => {
    // GIVEN a history of changes
    const journal = new JournalFile(path);
    const entries: JournalEntry[] = [
      { op: 'put', queue: 'retry', message: message('a') },
      { op: 'put', queue: 'retry', message: message('b') },
      { op: 'receive', queue: 'retry', id: 'a', count: 3 },
      // the redrive policy moves "a" to the DLQ: same id, another queue
      { op: 'put', queue: 'dlq', message: message('a') },
      { op: 'delete', queue: 'retry', id: 'b' },
      { op: 'put', queue: 'delay', message: message('c') },
      { op: 'clear', queue: 'delay' },
      { op: 'put', queue: 'delay', message: message('d') },
    ];
    for (const entry of entries) journal.append(entry);
    journal.close();

    // WHEN it is read back
    const model = SqsModel.fromEntries(new JournalFile(path).read());

    // THEN each queue holds what is left on it
    expect(model.messages('retry')).toEqual([]);
    expect(model.messages('dlq').map((kept) => kept.id)).toEqual(['a']);
    expect(model.messages('delay').map((kept) => kept.id)).toEqual(['d']);
    expect(model.size).toBe(2);
  });

  it('keeps the receive count a receive recorded', () => {
    // GIVEN a message received twice
    const journal = new JournalFile(path);
    journal.append({ op: 'put', queue: 'q', message: message('a') });
    journal.append({ op: 'receive', queue: 'q', id: 'a', count: 2 }, false);
    journal.close();

    // WHEN read back
    const [kept] = SqsModel.fromEntries(new JournalFile(path).read()).messages('q');

    // THEN the count is there
    expect(kept?.attributes.ApproximateReceiveCount).toBe('2');
  });

  it('drops a last line that a crash cut short (it was never acknowledged)', () => {
    // GIVEN two complete lines and half of a third
    const journal = new JournalFile(path);
    journal.append({ op: 'put', queue: 'q', message: message('a') });
    journal.append({ op: 'put', queue: 'q', message: message('b') });
    journal.close();
    appendFileSync(path, '1234abcd {"op":"put","queue":"q","mess');

    // WHEN it is read
    const entries = new JournalFile(path).read();

    // THEN the complete lines count and the torn one does not
    expect(entries).toHaveLength(2);
  });

  it('fails if a line before the last one is damaged', () => {
    // GIVEN a journal whose first line was altered after it was written
    const journal = new JournalFile(path);
    journal.append({ op: 'put', queue: 'q', message: message('a') });
    journal.append({ op: 'put', queue: 'q', message: message('b') });
    journal.close();
    writeFileSync(path, readFileSync(path, 'utf8').replace('body of a', 'body of x'));

    // WHEN it is read THEN it says where, rather than replaying around it
    expect(() => new JournalFile(path).read()).toThrow(SqsJournalCorruptError);
    expect(() => new JournalFile(path).read()).toThrow(/line 1\b/);
  });

  it('rewrites itself as a snapshot that replays to the same content, torn tail gone', () => {
    // GIVEN a long history with a torn tail
    const journal = new JournalFile(path);
    for (let index = 0; index < 50; index++) {
      journal.append({ op: 'put', queue: 'q', message: message(`m${index}`) });
      if (index % 2 === 0) journal.append({ op: 'delete', queue: 'q', id: `m${index}` });
    }
    journal.close();
    appendFileSync(path, 'torn');
    const before = SqsModel.fromEntries(journal.read());

    // WHEN it is compacted and appended to
    journal.rewrite(before.snapshot());
    journal.append({ op: 'put', queue: 'q', message: message('after') });
    journal.close();

    // THEN the file holds one line per message, and replays to the same content plus the new one
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(26);
    const after = SqsModel.fromEntries(new JournalFile(path).read());
    expect(after.messages('q').map((kept) => kept.id)).toEqual([
      ...before.messages('q').map((kept) => kept.id),
      'after',
    ]);
  });

  it('fails if it cannot write, and refuses every later change (fail-stop)', () => {
    // GIVEN a journal in a directory that does not exist
    const journal = new JournalFile(join(dir, 'missing', 'sqs-journal.log'));

    // WHEN a change is appended THEN it is not acknowledged
    expect(() => journal.append({ op: 'put', queue: 'q', message: message('a') })).toThrow(
      SqsJournalWriteError,
    );
    // and neither is any later one, even once writing would work again
    mkdirSync(join(dir, 'missing'));
    expect(() => journal.append({ op: 'delete', queue: 'q', id: 'a' })).toThrow(SqsJournalWriteError);
  });
});

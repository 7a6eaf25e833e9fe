import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transactWriteItems } from '#src/local/dynamo-transactions/transact-write';
import { undoJournal } from '#src/local/dynamo-transactions/undo-journal';
import type { DynamoCall } from '#src/local/dynamo-transactions/wire';

/** A fake dynalite: table `orders` keyed by `pk`, no items; writes fail while `down` is set. Logs every write. */
function fakeDynamo(): { call: DynamoCall; writes: string[]; setDown(down: boolean): void } {
  const writes: string[] = [];
  let down = false;
  const call: DynamoCall = async (operation, input) => {
    if (operation === 'DescribeTable') return { Table: { KeySchema: [{ AttributeName: 'pk' }] } };
    if (operation === 'GetItem') return {};
    const key = JSON.stringify(input.Item ?? input.Key);
    writes.push(`${operation} ${key}`);
    if (down) throw new Error('the store is down');
    return {};
  };
  return { call, writes, setDown: (value) => (down = value) };
}

const putOf = (pk: string) => ({ Put: { TableName: 'orders', Item: { pk: { S: pk } } } });

describe('undo journal', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wal-undo-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('rolls back the journal a failed rollback left before the next transaction begins', async () => {
    // GIVEN a transaction whose write and whose rollback both failed: its journal stays
    const path = join(dir, 'undo.json');
    const journal = undoJournal(path);
    const dynamo = fakeDynamo();
    dynamo.setDown(true);
    await expect(transactWriteItems(dynamo.call, { TransactItems: [putOf('a')] }, journal)).rejects.toThrow(
      'the store is down',
    );
    const left = readFileSync(path, 'utf8');
    // WHEN the store is back and the next transaction runs
    dynamo.setDown(false);
    dynamo.writes.length = 0;
    await transactWriteItems(dynamo.call, { TransactItems: [putOf('b')] }, journal);
    // THEN the first transaction's item was rolled back (deleted: it was absent) before the second wrote, and no
    // journal is left
    expect(JSON.parse(left)).toEqual([{ table: 'orders', key: { pk: { S: 'a' } } }]);
    expect(dynamo.writes).toEqual(['DeleteItem {"pk":{"S":"a"}}', 'PutItem {"pk":{"S":"b"}}']);
    expect(existsSync(path)).toBe(false);
  });

  it('fails if the leftover journal cannot be rolled back, and keeps it', async () => {
    // GIVEN a journal left by a failed rollback, and a store still down
    const path = join(dir, 'undo.json');
    const journal = undoJournal(path);
    const dynamo = fakeDynamo();
    dynamo.setDown(true);
    await expect(transactWriteItems(dynamo.call, { TransactItems: [putOf('a')] }, journal)).rejects.toThrow();
    dynamo.writes.length = 0;
    // WHEN the next transaction runs
    const next = transactWriteItems(dynamo.call, { TransactItems: [putOf('b')] }, journal);
    // THEN it is refused before it writes anything, and the journal of the first is still there
    await expect(next).rejects.toThrow('the store is down');
    expect(dynamo.writes).toEqual(['DeleteItem {"pk":{"S":"a"}}']);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual([{ table: 'orders', key: { pk: { S: 'a' } } }]);
  });
});

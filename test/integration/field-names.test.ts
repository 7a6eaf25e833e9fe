import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '#lambdas/shared/clients';
import { canonicalJson, withoutWalAttributes } from '#src/fuzz/canonical-json';
import type { LocalWal } from '#src/local/runtime/local-wal';
import {
  delayedMessages,
  drain,
  driveUntil,
  ledgerTableName,
  postMutation,
  scanTable,
  streamRecords,
  takeTableDown,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';

/**
 * Issue 7, defect 9: what is acknowledged is what is applied. Field names JavaScript treats specially and
 * strings that are not valid Unicode, through the whole local WAL (API, stream, ledger, consumers, target).
 */
describe('field names and strings stored as sent (emulators)', () => {
  let wal: LocalWal;
  let table: string;
  let ledgerTable: string;

  withTestWal(async (started) => {
    wal = started;
    table = await targetTableName(wal, 'it', 'fuzz', 'main');
    ledgerTable = ledgerTableName(wal);
  });

  async function targetItem(id: string): Promise<Record<string, unknown> | undefined> {
    const documents = createDocumentClient(wal.clients.dynamodb);
    const answer = await documents.send(
      new GetCommand({ TableName: table, Key: { id }, ConsistentRead: true }),
    );
    return answer.Item;
  }

  /** The target item as sent: without the WAL's attributes, fields sorted (order is not data). */
  async function storedAsJson(id: string): Promise<string> {
    const item = await targetItem(id);
    return item ? canonicalJson(withoutWalAttributes(item)) : 'no item';
  }

  describe('stores names JavaScript treats specially, exactly as sent', () => {
    it.each([
      // GIVEN payloads whose field names are Object.prototype names
      ['"constructor" as a string', { id: 'ctor-1', constructor: 'acme' }],
      ['"constructor" as an object', { id: 'ctor-2', constructor: { name: 'Acme', since: 1999 } }],
      // The SDK's marshall sniffs value.constructor.name: these would be written as a string, a set, a number.
      [
        'a nested "constructor" that names a built-in',
        { id: 'ctor-3', a: { constructor: { name: 'String' } } },
      ],
      [
        '"constructor" naming Set',
        { id: 'ctor-4', constructor: { name: 'Set' }, list: [{ constructor: 'x' }] },
      ],
      ['"constructor" naming Number', { id: 'ctor-5', constructor: { name: 'Number' } }],
      [
        'other Object.prototype names',
        { id: 'proto-names', toString: 't', valueOf: 1, hasOwnProperty: true, isPrototypeOf: null },
      ],
    ])('stores a payload with %s', async (_case, payload) => {
      // WHEN
      const answer = await postMutation(wal, 'fuzz', { payload });
      await drain(wal);
      // THEN acknowledged, applied as sent, and GET (reading it back from the stream) answers it as sent
      expect(answer).toMatchObject({ status: 200, body: { durable: 'SUCCESS' } });
      expect(await storedAsJson(payload.id)).toBe(canonicalJson(payload));
      const view = await fetch(`${wal.apiUrl}/v1/namespaces/fuzz/mutations/${answer.body.id}?view=full`);
      expect(view.status).toBe(200);
      expect(canonicalJson(((await view.json()) as { payload: unknown }).payload)).toBe(
        canonicalJson(payload),
      );
    });

    it('applies an update whose "set" and "add" name "constructor"', async () => {
      // GIVEN
      await postMutation(wal, 'fuzz', { payload: { id: 'ctor-update', n: 1 } });
      await drain(wal);
      // WHEN
      const answer = await postMutation(wal, 'fuzz', {
        op: 'update',
        payload: { id: 'ctor-update' },
        set: { constructor: { name: 'Map' }, toString: 'x' },
        add: { valueOf: 2 },
      });
      await drain(wal);
      // THEN
      expect(answer).toMatchObject({ status: 200, body: { durable: 'SUCCESS' } });
      expect(await storedAsJson('ctor-update')).toBe(
        canonicalJson({
          id: 'ctor-update',
          n: 1,
          constructor: { name: 'Map' },
          toString: 'x',
          valueOf: 2,
        }),
      );
    });
  });

  describe('rejects what cannot be stored as sent, naming the field, writing nothing', () => {
    it.each([
      // GIVEN each request DynamoDB or JSON cannot hold as sent, with the pointer to the bad field
      [
        '"__proto__" at the top of the payload',
        '{"payload":{"id":"p1","__proto__":{"x":1}}}',
        '/payload/__proto__',
      ],
      ['a scalar "__proto__" in the payload', '{"payload":{"id":"p2","__proto__":7}}', '/payload/__proto__'],
      ['a nested "__proto__"', '{"payload":{"id":"p3","a":[{"__proto__":"x"}]}}', '/payload/a/0/__proto__'],
      [
        '"__proto__" in "set"',
        '{"op":"update","payload":{"id":"p4"},"set":{"__proto__":{"x":1}}}',
        '/set/__proto__',
      ],
      [
        '"__proto__" in a "set" value',
        '{"op":"update","payload":{"id":"p5"},"set":{"a":{"__proto__":1}}}',
        '/set/a/__proto__',
      ],
      [
        '"__proto__" in "add"',
        '{"op":"update","payload":{"id":"p6"},"add":{"__proto__":1}}',
        '/add/__proto__',
      ],
      ['a lone surrogate in a value', '{"payload":{"id":"s1","name":"a\\ud800b"}}', '/payload/name'],
      ['a lone low surrogate in a nested value', '{"payload":{"id":"s2","a":["\\udc00"]}}', '/payload/a/0'],
      ['a lone surrogate in the key attribute', '{"payload":{"id":"s3\\ud83d"}}', '/payload/id'],
      ['a lone surrogate in a field name', '{"payload":{"id":"s4","a\\udfffb":1}}', '/payload/a\udfffb'],
      // DynamoDB refuses these numbers: before, the commit of the ledger entry failed (503 UNKNOWN).
      [
        'an "add" number out of range',
        '{"op":"update","payload":{"id":"n1"},"add":{"n":-1.3e132}}',
        '/add/n',
      ],
      ['an "add" integer beyond 2^53', '{"op":"update","payload":{"id":"n2"},"add":{"n":1e21}}', '/add/n'],
      [
        'a lone surrogate in a "set" field name',
        '{"op":"update","payload":{"id":"s5"},"set":{"\\ud800":1}}',
        '/set/\ud800',
      ],
    ])('fails if the request has %s (400)', async (_case, body, pointer) => {
      // GIVEN
      const recordsBefore = (await streamRecords(wal)).length;
      const ledgerBefore = (await scanTable(wal, ledgerTable)).length;
      // WHEN
      const answer = await postMutation(wal, 'fuzz', body);
      await drain(wal);
      // THEN a problem+json naming the field's JSON pointer, and no write anywhere
      expect(answer.status).toBe(400);
      expect(answer.contentType).toBe('application/problem+json');
      expect(answer.body).toMatchObject({
        status: 400,
        errors: expect.arrayContaining([expect.objectContaining({ pointer })]),
      });
      expect(answer.body.detail).toEqual(expect.stringContaining(pointer));
      expect((await streamRecords(wal)).length).toBe(recordsBefore);
      expect((await scanTable(wal, ledgerTable)).length).toBe(ledgerBefore);
    });
  });

  it('stores a valid surrogate pair (an emoji) in names and values as sent', async () => {
    // GIVEN a payload with an emoji in a name and in values
    const payload = { id: 'emoji-\u{1F600}', '\u{1F680}': 'caf\u00e9 \u{1F600}' };
    // WHEN it is posted and delivered
    const answer = await postMutation(wal, 'fuzz', { payload });
    await drain(wal);
    // THEN it is stored exactly as sent
    expect(answer.status).toBe(200);
    expect(await storedAsJson(payload.id)).toBe(canonicalJson(payload));
  });
  describe('keeps names as sent through the SQS queues (JSON round trips)', () => {
    const payload = { id: 'queued-ctor', constructor: { name: 'Set' }, toString: ['x'], a: { valueOf: 1 } };

    it('delivers a delayed put through the delay queue as sent', async () => {
      // WHEN
      const answer = await postMutation(wal, 'fuzz', { payload, lifecycle: { delaySeconds: 1 } });
      // THEN
      expect(answer.status).toBe(200);
      const stored = await driveUntil(
        wal,
        async () => ((await targetItem(payload.id)) ? storedAsJson(payload.id) : undefined),
        10_000,
      );
      expect(stored).toBe(canonicalJson(payload));
    });

    it('applies a put retried through the retry queue as sent', async () => {
      // GIVEN the target table is down when the mutation is routed
      const bringBack = await takeTableDown(wal, table);
      const retried = { ...payload, id: 'retried-ctor' };
      const answer = await postMutation(wal, 'fuzz', { payload: retried });
      await drain(wal);
      expect(await delayedMessages(wal, 'RetryQueue')).toBe(1);
      // WHEN the table is back and the retry runs
      await bringBack();
      const stored = await driveUntil(
        wal,
        async () => ((await targetItem(retried.id)) ? storedAsJson(retried.id) : undefined),
        15_000,
      );
      // THEN
      expect(answer.status).toBe(200);
      expect(stored).toBe(canonicalJson(retried));
    });
  });
});

import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createDocumentClient } from '#lambdas/shared/clients';
import { ENVELOPE_VERSION, type Envelope } from '#lambdas/shared/envelope';
import { getLedgerEntry } from '#lambdas/shared/ledger';
import type { LocalWal } from '#src/local/runtime/local-wal';
import {
  drain,
  ledgerTableName,
  queueUrl,
  scanTable,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';

/**
 * A recheck message can outlive the ledger entry it checks (it cycled through the DLQ and back). A missing
 * entry then no longer proves the mutation was never committed: fencing it would drop an acknowledged
 * mutation, routing it could apply one answered FAIL. It goes to the DLQ with the reason instead.
 */
describe('a recheck older than the ledger retention (emulators)', () => {
  let wal: LocalWal;

  withTestWal((started) => {
    wal = started;
  });

  it('is dead-lettered as ledger-expired, neither fenced nor applied', async () => {
    // GIVEN a recheck of a record logged 40 days ago (namespace "orders" keeps its ledger 30 days)
    const loggedAt = Date.now() - 40 * 86_400_000;
    const envelope: Envelope = {
      v: ENVELOPE_VERSION,
      id: '01HEXPIREDRECORD0000000000',
      namespace: 'orders',
      idempotencyKey: 'expired-key',
      partitionKey: 'expired-1',
      op: 'put',
      payload: { id: 'expired-1', n: 1 },
      loggedAt,
    };
    await wal.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl(wal, 'DelayQueue'),
        MessageBody: JSON.stringify({ kind: 'recheck', mutation: { envelope, sequence: '1' } }),
      }),
    );
    // WHEN the queue consumer handles it
    await drain(wal);
    // THEN no fence was written, nothing was applied, and the DLQ holds it with the reason
    const ledger = {
      documentClient: createDocumentClient(wal.clients.dynamodb),
      tableName: ledgerTableName(wal),
    };
    expect(await getLedgerEntry(ledger, 'orders', 'expired-key')).toBeUndefined();
    const table = await targetTableName(wal, 'it', 'orders', 'main');
    expect((await scanTable(wal, table)).find((item) => item.id === 'expired-1')).toBeUndefined();
    const received = await wal.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl(wal, 'DeadLetterQueue'), MaxNumberOfMessages: 10 }),
    );
    const letters = (received.Messages ?? []).map((message) => JSON.parse(message.Body ?? '{}'));
    expect(letters).toContainEqual(
      expect.objectContaining({
        kind: 'poison',
        id: envelope.id,
        reason: expect.stringMatching(/^ledger-expired: /),
      }),
    );
  });
});

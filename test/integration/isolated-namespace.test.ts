import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { namespaceParameterName, parseNamespaceConfig } from '#lambdas/shared/namespace-config';
import type { LocalWal } from '#src/local/runtime/local-wal';
import {
  drain,
  postMutation,
  queueUrl,
  scanTable,
  takeTableDown,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';
import { waitFor } from '#test/support/wait';

/** Messages a queue holds, visible or waiting. */
async function messagesOn(wal: LocalWal, url: string): Promise<number> {
  const answer = await wal.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesDelayed',
        'ApproximateNumberOfMessagesNotVisible',
      ],
    }),
  );
  const attributes = answer.Attributes ?? {};
  return (
    Number(attributes.ApproximateNumberOfMessages ?? 0) +
    Number(attributes.ApproximateNumberOfMessagesDelayed ?? 0) +
    Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

describe('an isolated namespace (test/fixtures/config/it/isolated.json)', () => {
  let wal: LocalWal;
  let ownRetryQueue: string;
  withTestWal(async (started) => {
    wal = started;
    const parameter = await wal.clients.ssm.send(
      new GetParameterCommand({ Name: namespaceParameterName('it', 'isolated') }),
    );
    const config = parseNamespaceConfig(JSON.parse(parameter.Parameter?.Value ?? '{}'), 'isolated');
    ownRetryQueue = config.delivery.queues?.retry ?? '';
  });

  it('retries on its own queue, which the local runtime drains too', async () => {
    // GIVEN its target table is down
    expect(ownRetryQueue).toMatch(/-n[0-9a-f]{8}-retry-/);
    const table = await targetTableName(wal, 'it', 'isolated', 'main');
    const bringBack = await takeTableDown(wal, table);
    // WHEN a mutation is logged and delivered
    const answer = await postMutation(wal, 'isolated', { payload: { id: 'iso-1', n: 1 } });
    expect(answer.body.durable).toBe('SUCCESS');
    await drain(wal);
    // THEN its retry waits on the namespace's own queue, and the shared retry queue stays empty
    expect(await messagesOn(wal, ownRetryQueue)).toBe(1);
    expect(await messagesOn(wal, queueUrl(wal, 'RetryQueue'))).toBe(0);
    // AND once the table is back, the consumer of its own queue applies it
    await bringBack();
    await waitFor(async () => {
      await wal.pollOnce();
      return (await scanTable(wal, table)).length === 1 ? true : undefined;
    }, 20_000);
    expect(await scanTable(wal, table)).toEqual([expect.objectContaining({ id: 'iso-1', n: 1 })]);
  });
});

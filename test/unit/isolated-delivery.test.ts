import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { routeCommitted } from '#lambdas/shared/delivery';
import { PermanentTargetError } from '#lambdas/shared/targets/target-errors';
import { deliveryDependencies, loggedMutation, namespaceConfig } from '#test/support/fixtures';

const sqsMock = mockClient(SQSClient);
const documentMock = mockClient(DynamoDBDocumentClient);
const NOW = 1_700_000_000_000;
// GIVEN an isolated namespace whose parameter names its own queues
const isolated = namespaceConfig({
  delivery: { isolated: true, maxConcurrency: 4, queues: { delay: 'own-delay-url', retry: 'own-retry-url' } },
});

const queuesSentTo = () =>
  sqsMock.commandCalls(SendMessageCommand).map((call) => call.args[0].input.QueueUrl);

beforeEach(() => {
  sqsMock.reset();
  documentMock.reset();
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm1' });
});

describe('an isolated namespace', () => {
  it('waits for its delay on its own delay queue', async () => {
    // WHEN a mutation due in a minute is routed
    await routeCommitted(deliveryDependencies(isolated, NOW), loggedMutation({ deliverAt: NOW + 60_000 }));
    // THEN it waits on the namespace's own queue, not the shared one
    expect(queuesSentTo()).toEqual(['own-delay-url']);
  });

  it('retries on its own retry queue', async () => {
    // GIVEN its target is down
    documentMock.on(PutCommand).rejects(new Error('table is down'));
    // WHEN a mutation is routed
    await routeCommitted(deliveryDependencies(isolated, NOW), loggedMutation());
    // THEN the retry waits on the namespace's own queue
    expect(queuesSentTo()).toEqual(['own-retry-url']);
  });

  it('dead-letters to the shared DLQ', async () => {
    // GIVEN its target refuses the mutation for good
    documentMock.on(PutCommand).rejects(new PermanentTargetError('main', 'no such table'));
    // WHEN a mutation is routed
    await routeCommitted(deliveryDependencies(isolated, NOW), loggedMutation());
    // THEN it goes to the one DLQ operators watch, with the reason
    expect(queuesSentTo()).toEqual(['dlq-url']);
    const body = JSON.parse(sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageBody ?? '{}');
    expect(body.reason).toMatch(
      /rejected by the target: PermanentTargetError: target "main" refused the mutation for good: no such table/,
    );
  });
});

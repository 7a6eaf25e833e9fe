import { Duration } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import type { WalStack } from '#lib/wal-stack';
import { WaitingRoomWriterTooSlowError } from '#lib/wal-waiting-room';
import {
  arnOf,
  type Json,
  logicalIdOf,
  newTestStack,
  ORDERS_NAMESPACE,
  removeDir,
  synthesizeOnce,
  writeConfigDir,
} from './fixtures';

// GIVEN a stage with one namespace and one isolated namespace (synthesized once for the file).
let stack: WalStack;
let template: Template;

synthesizeOnce(
  {
    'orders.json': ORDERS_NAMESPACE,
    'solo.json': { ...ORDERS_NAMESPACE, name: 'solo', delivery: { isolated: true } },
  },
  (synthesized) => {
    ({ stack, template } = synthesized);
  },
);

interface Statement {
  readonly Action: string | string[];
  readonly Resource: Json;
}

/** The statements of the policies attached to a function's role. */
function statementsOf(fn: { role?: IConstruct | undefined }): Statement[] {
  if (!fn.role) throw new Error('the function has no role');
  const roleId = logicalIdOf(fn.role);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(`"${roleId}"`))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

/** The actions a role may take on a resource (matched by the resource's logical id in the statement). */
function actionsOn(statements: readonly Statement[], resource: IConstruct): string[] {
  const id = logicalIdOf(resource);
  return statements
    .filter((statement) => JSON.stringify(statement.Resource).includes(`"${id}"`))
    .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]))
    .sort();
}

describe('waiting room table', () => {
  test('is keyed by bucket and due time, pay per request, KMS-encrypted with the WAL key, with PITR and TTL', () => {
    // THEN the table has the schema the Lambdas use and the ledger's protections
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: arnOf(stack.storage.key) },
    });
    template.hasOutput('WaitingRoomTableName', { Value: { Ref: logicalIdOf(stack.waitingRoom.table) } });
  });
});

describe('waiting room poller', () => {
  test('runs every minute from an EventBridge rule, with a timeout shorter than the minute', () => {
    // THEN the rule targets the poller at rate(1 minute), EventBridge may invoke it, and Lambda does not retry
    // a failed run (the next run goes on from the checkpoint)
    const poller = stack.waitingRoom.poller.handler;
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: arnOf(poller) })],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: arnOf(poller),
      SourceArn: arnOf(stack.waitingRoom.rule),
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalIdOf(poller) },
      MaximumRetryAttempts: 0,
    });
    const timeout = template.toJSON().Resources[logicalIdOf(poller)].Properties.Timeout;
    expect(timeout).toBeLessThan(60);
  });

  test('may only read and advance the table, and send to the delay, retry and dead-letter queues', () => {
    // WHEN the poller's policies are read
    const statements = statementsOf(stack.waitingRoom.poller.handler);
    const { queues } = stack;
    const solo = queues.namespaceQueues.get('solo');
    if (!solo) throw new Error('no queues for the isolated namespace');
    // THEN the table allows exactly GetItem, PutItem, Query and Scan; each delay, retry and dead-letter queue
    // SendMessage (the DLQ for what SQS refuses for good), and nothing else
    expect(actionsOn(statements, stack.waitingRoom.table)).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:Scan',
    ]);
    for (const queue of [
      queues.delayQueue,
      queues.retryQueue,
      solo.delay,
      solo.retry,
      queues.deadLetterQueue,
    ]) {
      expect(actionsOn(statements, queue)).toEqual(expect.arrayContaining(['sqs:SendMessage']));
      expect(
        actionsOn(statements, queue).every(
          (action) => action.startsWith('sqs:Send') || action.startsWith('sqs:Get'),
        ),
      ).toBe(true);
    }
    expect(actionsOn(statements, stack.storage.ledger)).toEqual([]);
  });

  test('is told the DLQ, where it puts what SQS refuses for good', () => {
    // THEN the poller's environment names the shared DLQ
    const poller = template.toJSON().Resources[logicalIdOf(stack.waitingRoom.poller.handler)];
    expect(poller.Properties.Environment.Variables.DEAD_LETTER_QUEUE_URL).toEqual({
      Ref: logicalIdOf(stack.queues.deadLetterQueue),
    });
  });

  test('has its errors alarmed like the consumers', () => {
    // THEN an alarm watches the poller's errors and notifies the alarm topic
    expect(stack.alarms.alarms.get('waitingRoomPollerErrors')).toBeDefined();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalIdOf(stack.waitingRoom.poller.handler) } }],
    });
  });
});

describe('consumers and the waiting room', () => {
  test('both consumers may only put items in it, and are told its name', () => {
    // THEN each consumer's only action on the table is PutItem, and its environment names the table
    for (const consumer of [stack.consumers.streamConsumer, stack.consumers.queueConsumer]) {
      expect(actionsOn(statementsOf(consumer.handler), stack.waitingRoom.table)).toEqual([
        'dynamodb:PutItem',
      ]);
      template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: Match.absent(),
        Environment: {
          Variables: Match.objectLike({
            WAITING_ROOM_TABLE_NAME: { Ref: logicalIdOf(stack.waitingRoom.table) },
          }),
        },
        Description: Match.stringLikeRegexp(
          consumer === stack.consumers.streamConsumer ? 'routes them' : 'delivers',
        ),
      });
    }
  });

  test('fails if the consumer timeout leaves a late PutItem no slack before the poller passes its bucket', () => {
    // GIVEN a stage whose consumers may run 300 s (the write slack)
    const configDir = writeConfigDir({ slow: { 'orders.json': ORDERS_NAMESPACE } });
    try {
      // WHEN/THEN synth refuses it
      expect(() =>
        newTestStack({ stage: 'slow', configDir, settings: { consumerTimeout: Duration.seconds(300) } }),
      ).toThrow(WaitingRoomWriterTooSlowError);
    } finally {
      removeDir(configDir);
    }
  });
});

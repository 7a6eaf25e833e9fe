import type { Template } from 'aws-cdk-lib/assertions';
import type { WalFunction } from '#lib/wal-function';
import type { WalStack } from '#lib/wal-stack';
import { allowedResources, logicalIdOf, synthesizeOnce } from './fixtures';

/**
 * Multi-item mutations write their DynamoDB items with one TransactWriteItems of `Put` actions. IAM has no
 * TransactWriteItems action: each action in a transaction is authorised as its own operation (a `Put` as
 * dynamodb:PutItem, `Update` as UpdateItem, `Delete` as DeleteItem, `ConditionCheck` as ConditionCheckItem) on
 * its table ("Using IAM with DynamoDB transactions", DynamoDB developer guide). The WAL's transaction holds Puts
 * only (deletes are tombstone puts), after consistent GetItem reads: the consumers need GetItem and PutItem on
 * every target table, and nothing more.
 */
const THEIR_TABLE = 'their-orders';
const NAMESPACES = {
  'multi.json': {
    name: 'multi',
    targets: [
      { name: 'orders', type: 'dynamodb', provision: true, key: { partitionKey: 'id' } },
      { name: 'lines', type: 'dynamodb', provision: true, key: { partitionKey: 'order', sortKey: 'line' } },
      { name: 'theirs', type: 'dynamodb', tableName: THEIR_TABLE, key: { partitionKey: 'id' } },
      { name: 'events', type: 'sqs', provision: true },
    ],
  },
};

let stack: WalStack;
let template: Template;

// GIVEN a namespace with two provisioned tables, an existing one and a queue; WHEN the stage is synthesized
synthesizeOnce(NAMESPACES, (synthesized) => {
  ({ stack, template } = synthesized);
});

const resourcesFor = (fn: WalFunction, action: string) =>
  allowedResources(template, logicalIdOf(fn.handler.role ?? fn.handler), action);

/** The tables' ARNs as granted: provisioned ones by the namespace stacks' table name pattern, the existing one by name. */
const TABLES = [
  'arn:<Ref:AWS::Partition>:dynamodb:eu-west-1:111111111111:table/ServerlessWal-test-Namespaces*',
  `arn:<Ref:AWS::Partition>:dynamodb:eu-west-1:111111111111:table/${THEIR_TABLE}`,
];

describe('consumer permissions for multi-item transactions', () => {
  test.each(['streamConsumer', 'queueConsumer'] as const)(
    "the %s may read and put items on every target table: a transaction's Put actions need nothing more",
    (name) => {
      // THEN GetItem and PutItem name the provisioned tables and the existing one
      const consumer = stack.consumers[name];
      expect(stack.namespaces.provisionedTables.size).toBe(2);
      for (const action of ['dynamodb:GetItem', 'dynamodb:PutItem']) {
        expect(resourcesFor(consumer, action)).toEqual(expect.arrayContaining(TABLES));
      }
    },
  );

  test.each(['streamConsumer', 'queueConsumer'] as const)(
    'the %s gets no transaction action it does not use (no UpdateItem, DeleteItem or ConditionCheckItem on targets)',
    (name) => {
      // THEN none of the actions the WAL's transactions never hold is granted on a target table
      const consumer = stack.consumers[name];
      for (const action of ['dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem']) {
        expect(resourcesFor(consumer, action).filter((resource) => TABLES.includes(resource))).toEqual([]);
      }
      expect(resourcesFor(consumer, 'dynamodb:TransactWriteItems')).toEqual([]);
    },
  );
});

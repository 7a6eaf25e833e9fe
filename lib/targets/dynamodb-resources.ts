import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { DynamoDbTargetConfig } from '#lambdas/shared/namespace-config';
import { EXPIRES_AT_ATTRIBUTE } from '#lambdas/shared/targets/wal-attributes';
import type { TargetResourceContext, TargetResources } from './target-resources';

const ATTRIBUTE_TYPES = {
  string: dynamodb.AttributeType.STRING,
  number: dynamodb.AttributeType.NUMBER,
} as const;

/**
 * What the DynamoDB target does to its table (lambdas/shared/targets/dynamodb-target.ts): a consistent
 * read of the item and its history, then a conditional put (deletes are tombstone puts). Multi-item mutations
 * send those puts in one TransactWriteItems, which IAM authorises action by action: a `Put` needs
 * dynamodb:PutItem on its table, and there is no TransactWriteItems action ("Using IAM with DynamoDB
 * transactions", DynamoDB developer guide). test/cdk/multi-item-permissions.test.ts.
 */
const DYNAMODB_TARGET_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem'] as const;

/** A DynamoDB target: an existing table by name, or one the stack provisions with the configured key. */
export function dynamoDbTargetResources(
  target: DynamoDbTargetConfig,
  context: TargetResourceContext,
): TargetResources {
  if (target.tableName !== undefined) {
    const table = dynamodb.Table.fromTableName(context.scope, `Target-${target.name}`, target.tableName);
    return {
      config: target,
      permissions: [{ actions: DYNAMODB_TARGET_ACTIONS, resourceArns: [table.tableArn] }],
    };
  }
  const table = provisionTable(target, context);
  return {
    config: { ...target, tableName: table.tableName },
    permissions: [{ actions: DYNAMODB_TARGET_ACTIONS, resourceArns: [table.tableArn] }],
    provisioned: table,
  };
}

function provisionTable(target: DynamoDbTargetConfig, context: TargetResourceContext): dynamodb.Table {
  return new dynamodb.Table(context.scope, `Target-${target.name}`, {
    // Key attribute types come from the config (`partitionKeyType`, `sortKeyType`; strings by default).
    partitionKey: {
      name: target.key.partitionKey,
      type: ATTRIBUTE_TYPES[target.key.partitionKeyType ?? 'string'],
    },
    sortKey:
      target.key.sortKey === undefined
        ? undefined
        : { name: target.key.sortKey, type: ATTRIBUTE_TYPES[target.key.sortKeyType ?? 'string'] },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: context.encryptionKey,
    deletionProtection: context.removalPolicy === RemovalPolicy.RETAIN,
    // The WAL's delete tombstones expire after the namespace's retention.
    timeToLiveAttribute: EXPIRES_AT_ATTRIBUTE,
    removalPolicy: context.removalPolicy,
  });
}

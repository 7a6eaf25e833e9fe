import { Stack } from 'aws-cdk-lib';
import type { TargetConfig } from '#lambdas/shared/namespace-config';
import { dynamoDbTargetResources } from './dynamodb-resources';
import { eventBridgeTargetResources } from './eventbridge-resources';
import { httpTargetResources } from './http-resources';
import { kinesisTargetResources } from './kinesis-resources';
import { lambdaTargetResources } from './lambda-resources';
import { snsTargetResources } from './sns-resources';
import { sqsTargetResources } from './sqs-resources';
import { checkTargetReachable } from './target-region';
import type { TargetResourceContext, TargetResources } from './target-resources';

export { UnreachableTargetError } from './target-region';
export { grantPermissions, type TargetResourceContext, type TargetResources } from './target-resources';

/** The stack's side of a target: what it provisions, what the parameter holds, what consumers are granted. */
export function targetResources(target: TargetConfig, context: TargetResourceContext): TargetResources {
  checkTargetReachable(context.namespace, target, Stack.of(context.scope));
  switch (target.type) {
    case 'dynamodb':
      return dynamoDbTargetResources(target, context);
    case 'http':
      return httpTargetResources(target, context);
    case 'sqs':
      return sqsTargetResources(target, context);
    case 'kinesis':
      return kinesisTargetResources(target, context);
    case 'sns':
      return snsTargetResources(target, context);
    case 'eventbridge':
      return eventBridgeTargetResources(target, context);
    case 'lambda':
      return lambdaTargetResources(target);
  }
}

import type { TargetConfig } from '#lambdas/shared/namespace-config';
import { dynamoDbTargetResources } from './dynamodb-resources';
import { eventBridgeTargetResources } from './eventbridge-resources';
import { lambdaTargetResources } from './lambda-resources';
import { snsTargetResources } from './sns-resources';
import type { TargetResourceContext, TargetResources } from './target-resources';

export { grantPermissions, type TargetResourceContext, type TargetResources } from './target-resources';

/** A target type the stack cannot deploy yet. */
export class UnsupportedTargetTypeError extends Error {
  constructor(
    readonly namespace: string,
    readonly target: string,
    readonly type: string,
  ) {
    super(`Namespace "${namespace}", target "${target}": the stack cannot deploy "${type}" targets yet`);
    this.name = 'UnsupportedTargetTypeError';
  }
}

/** The stack's side of a target: what it provisions, what the parameter holds, what consumers are granted. */
export function targetResources(target: TargetConfig, context: TargetResourceContext): TargetResources {
  switch (target.type) {
    case 'dynamodb':
      return dynamoDbTargetResources(target, context);
    case 'sns':
      return snsTargetResources(target, context);
    case 'eventbridge':
      return eventBridgeTargetResources(target, context);
    case 'lambda':
      return lambdaTargetResources(target);
    default:
      throw new UnsupportedTargetTypeError(context.namespace, target.name, target.type);
  }
}

import type { TargetConfig } from '#lambdas/shared/namespace-config';
import { dynamoDbTargetResources } from './dynamodb-resources';
import { httpTargetResources } from './http-resources';
import { kinesisTargetResources } from './kinesis-resources';
import { sqsTargetResources } from './sqs-resources';
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
    case 'http':
      return httpTargetResources(target, context);
    case 'sqs':
      return sqsTargetResources(target, context);
    case 'kinesis':
      return kinesisTargetResources(target, context);
    default:
      throw new UnsupportedTargetTypeError(context.namespace, target.name, target.type);
  }
}

import type { TargetConfig } from '#lambdas/shared/namespace-config';
import { DynamoDbValidator, type TargetValidator } from './dynamodb-validator';

export type { TargetValidator } from './dynamodb-validator';

/**
 * The ingest side of a target. Only here, not through createTarget: the ingest bundle then holds no client of
 * a message-like target (SQS, SNS, EventBridge, Lambda, Secrets Manager), which it never calls.
 * Message-like targets take any JSON payload and any op; their partition key defaults to the mutation id.
 */
export function targetValidator(config: TargetConfig): TargetValidator {
  if (config.type === 'dynamodb') return new DynamoDbValidator(config);
  return { name: config.name, type: config.type, validate: () => [], partitionKeyOf: () => undefined };
}

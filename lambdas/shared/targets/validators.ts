import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TargetConfig } from '#lambdas/shared/namespace-config';
import { DynamoDbTarget } from './dynamodb-target';
import type { Target } from './target';

/** What ingest asks of a target before it logs a mutation: is the payload fine, and what key orders it. */
export type TargetValidator = Pick<Target, 'name' | 'type' | 'validate' | 'partitionKeyOf'>;

/**
 * The ingest side of a target. Only here, not through createTarget: the ingest bundle then holds no client of
 * a message-like target (SQS, SNS, EventBridge, Lambda, Secrets Manager), which it never calls.
 * Message-like targets take any JSON payload and any op; their partition key defaults to the mutation id.
 */
export function targetValidator(
  config: TargetConfig,
  documentClient: DynamoDBDocumentClient,
): TargetValidator {
  if (config.type === 'dynamodb') return new DynamoDbTarget(config, documentClient);
  return { name: config.name, type: config.type, validate: () => [], partitionKeyOf: () => undefined };
}

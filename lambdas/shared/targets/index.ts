import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TargetConfig } from '#lambdas/shared/namespace-config';
import { DynamoDbTarget } from './dynamodb-target';
import type { Target } from './target';

export type { ApplyOutcome, Target } from './target';

/** The SDK clients targets may use; each handler creates them once and passes them in. */
export interface TargetClients {
  readonly documentClient: DynamoDBDocumentClient;
}

export function createTarget(config: TargetConfig, clients: TargetClients): Target {
  switch (config.type) {
    case 'dynamodb':
      return new DynamoDbTarget(config, clients.documentClient);
  }
}

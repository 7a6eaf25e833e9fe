import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TargetConfig } from '#lambdas/shared/namespace-config';
import { DynamoDbTarget } from './dynamodb-target';
import { EventBridgeTarget } from './eventbridge-target';
import { HttpTarget, plainHttpAllowed } from './http-target';
import { KinesisTarget } from './kinesis-target';
import { LambdaTarget } from './lambda-target';
import { SnsTarget } from './sns-target';
import { SqsTarget } from './sqs-target';
import type { Target } from './target';

export type { ApplyOutcome, Target } from './target';

/**
 * The SDK clients targets may use. Each handler creates them once (see {@link lazyTargetClients}): the
 * ingest Lambda only validates, so it never creates the clients of message-like targets.
 */
export interface TargetClients {
  readonly documentClient: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly kinesis: KinesisClient;
  readonly sns: SNSClient;
  readonly eventBridge: EventBridgeClient;
  readonly lambda: LambdaClient;
  /** Reads HTTP targets' signing secrets from SSM SecureString parameters. */
  readonly ssm: SSMClient;
  readonly secretsManager: SecretsManagerClient;
}

/** Client factories, by client; {@link lazyTargetClients} calls each at most once, on first use. */
export type TargetClientFactories = { readonly [K in keyof TargetClients]: () => TargetClients[K] };

/** Target clients created on first use, once each. */
export function lazyTargetClients(factories: TargetClientFactories): TargetClients {
  const created = new Map<keyof TargetClients, unknown>();
  const clients = {} as TargetClients;
  for (const key of Object.keys(factories) as (keyof TargetClients)[]) {
    Object.defineProperty(clients, key, {
      enumerable: true,
      get: () => {
        if (!created.has(key)) created.set(key, factories[key]());
        return created.get(key);
      },
    });
  }
  return clients;
}

export function createTarget(config: TargetConfig, clients: TargetClients): Target {
  switch (config.type) {
    case 'dynamodb':
      return new DynamoDbTarget(config, clients.documentClient);
    case 'http':
      return new HttpTarget(config, clients, { allowPlainHttp: plainHttpAllowed() });
    case 'sqs':
      return new SqsTarget(config, () => clients.sqs);
    case 'kinesis':
      return new KinesisTarget(config, () => clients.kinesis);
    case 'sns':
      return new SnsTarget(config, () => clients.sns);
    case 'eventbridge':
      return new EventBridgeTarget(config, () => clients.eventBridge);
    case 'lambda':
      return new LambdaTarget(config, () => clients.lambda);
  }
}

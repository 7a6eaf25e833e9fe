import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DeliveryDependencies } from '#lambdas/shared/delivery';
import type { Envelope, LoggedMutation } from '#lambdas/shared/envelope';
import { ProblemError } from '#lambdas/shared/http/problem';
import { type NamespaceConfig, parseNamespaceConfig } from '#lambdas/shared/namespace-config';
import { type NamespaceConfigSource, UnknownNamespaceError } from '#lambdas/shared/namespace-store';
import { createTargetClients } from '#lambdas/shared/target-clients';

/** A logger that writes nothing, for tests that do not look at logs. */
export const silentLogger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });

export function namespaceConfig(overrides: Record<string, unknown> = {}): NamespaceConfig {
  return parseNamespaceConfig(
    {
      name: 'orders',
      targets: [{ name: 'main', type: 'dynamodb', tableName: 'orders-table', key: { partitionKey: 'id' } }],
      ...overrides,
    },
    'test fixture',
  );
}

/** A namespace source backed by a fixed map, for logic tests that do not need SSM. */
export function staticNamespaces(...configs: NamespaceConfig[]): NamespaceConfigSource {
  const byName = new Map(configs.map((config) => [config.name, config]));
  return {
    async get(namespace: string) {
      const config = byName.get(namespace);
      if (!config) throw new UnknownNamespaceError(namespace);
      return config;
    },
  };
}

export function envelope(overrides: Partial<Envelope> = {}): Envelope {
  return {
    v: 1,
    id: '01JTESTMUTATION0000000000A',
    namespace: 'orders',
    idempotencyKey: 'key-1',
    partitionKey: 'a1',
    op: 'put',
    payload: { id: 'a1', n: 1 },
    loggedAt: 1_700_000_000_000,
    ...overrides,
  };
}

export function loggedMutation(
  overrides: Partial<Envelope> = {},
  sequence = '49650000000000000000000000001',
): LoggedMutation {
  return { envelope: envelope(overrides), sequence };
}

/**
 * The consumers' dependencies with real SDK clients (for aws-sdk-client-mock to intercept), fixed
 * queue URLs ('delay-url', 'retry-url', 'dlq-url'), a fixed clock and jitter drawn at its maximum.
 */
export function deliveryDependencies(config: NamespaceConfig, now: number): DeliveryDependencies {
  const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  return {
    sqs: new SQSClient({ region: 'us-east-1' }),
    kinesis: new KinesisClient({ region: 'us-east-1' }),
    queues: { delay: 'delay-url', retry: 'retry-url', deadLetter: 'dlq-url' },
    ledger: { documentClient, tableName: 'ledger' },
    waitingRoom: { documentClient, tableName: 'waiting-room' },
    namespaces: staticNamespaces(config),
    targetClients: createTargetClients(documentClient),
    logger: silentLogger,
    now: () => now,
    random: () => 1,
    commitTimeoutMs: 30_000,
  };
}

/** The ProblemError that `act` throws (any other error is rethrown; none fails the test). */
export function problemOf(act: () => unknown): ProblemError {
  try {
    act();
  } catch (error) {
    if (error instanceof ProblemError) return error;
    throw error;
  }
  throw new Error('expected a ProblemError');
}

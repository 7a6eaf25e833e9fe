import type { SSMClient } from '@aws-sdk/client-ssm';
import { logger } from '#lambdas/shared/logger';
import { namespaceParameterName, namespaceParameterPrefix } from '#lambdas/shared/namespace-config';
import { SsmNamespaceConfigStore } from '#lambdas/shared/namespace-store';

class TargetTableNotFoundError extends Error {
  constructor(
    readonly parameterName: string,
    readonly target: string | undefined,
  ) {
    super(
      `The namespace parameter ${parameterName} names no table for ${target === undefined ? 'any target' : `target "${target}"`}`,
    );
    this.name = 'TargetTableNotFoundError';
  }
}

/** The table a namespace's target writes to (`target` by name, else its first target with a table). */
export async function targetTableName(
  ssm: SSMClient,
  stage: string,
  namespace: string,
  target?: string,
): Promise<string> {
  // The store the Lambdas read namespaces with, uncached: an unknown namespace is an UnknownNamespaceError.
  const config = await new SsmNamespaceConfigStore(ssm, namespaceParameterPrefix(stage), 0, logger).get(
    namespace,
  );
  const found = config.targets.find(
    (candidate) =>
      candidate.type === 'dynamodb' &&
      candidate.tableName !== undefined &&
      (target === undefined || candidate.name === target),
  );
  if (found?.type !== 'dynamodb' || !found.tableName)
    throw new TargetTableNotFoundError(namespaceParameterName(stage, namespace), target);
  return found.tableName;
}

import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import {
  type NamespaceConfig,
  namespaceParameterName,
  parseNamespaceConfig,
} from '#lambdas/shared/namespace-config';

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

/** A namespace's config as the stage's SSM parameter holds it: the contract for its targets. */
async function readNamespaceConfig(
  ssm: SSMClient,
  stage: string,
  namespace: string,
): Promise<NamespaceConfig> {
  const name = namespaceParameterName(stage, namespace);
  const answer = await ssm.send(new GetParameterCommand({ Name: name }));
  return parseNamespaceConfig(JSON.parse(answer.Parameter?.Value ?? ''), name);
}

/** The table a namespace's target writes to (`target` by name, else its first target with a table). */
export async function targetTableName(
  ssm: SSMClient,
  stage: string,
  namespace: string,
  target?: string,
): Promise<string> {
  const config = await readNamespaceConfig(ssm, stage, namespace);
  const found = config.targets.find(
    (candidate) => candidate.tableName !== undefined && (target === undefined || candidate.name === target),
  );
  if (!found?.tableName) throw new TargetTableNotFoundError(namespaceParameterName(stage, namespace), target);
  return found.tableName;
}

import { Token } from 'aws-cdk-lib';
import type { TargetConfig } from '#lambdas/shared/namespace-config';

/** A target the consumers cannot reach: their clients call the stack's region (and Kinesis its account). */
export class UnreachableTargetError extends Error {
  constructor(
    readonly namespace: string,
    readonly target: string,
    readonly resource: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Namespace "${namespace}", target "${target}": ${resource} ${reason}. The consumers call their own ` +
        "region's endpoints: use a resource in the stack's region (cross-region delivery needs a region target).",
      options,
    );
    this.name = 'UnreachableTargetError';
  }
}

/** Region and account of an ARN (`arn:<partition>:<service>:<region>:<account>:...`) or an AWS SQS URL. */
function locationOf(resource: string): { region?: string; account?: string } {
  const arn = /^arn:[^:]+:[^:]+:([^:]*):(\d{12}):/.exec(resource);
  if (arn) return { region: arn[1], account: arn[2] };
  const url =
    /^https:\/\/(?:sqs\.([a-z0-9-]+)\.amazonaws\.com|([a-z0-9-]+)\.queue\.amazonaws\.com)\/(\d{12})\//.exec(
      resource,
    );
  return url ? { region: url[1] ?? url[2], account: url[3] } : {};
}

/** The existing resources a target names (not the ones the stack provisions in its own region). */
function namedResources(target: TargetConfig): string[] {
  switch (target.type) {
    case 'sqs':
      return target.provision === true || !target.queueUrl ? [] : [target.queueUrl];
    case 'kinesis':
      return target.provision === true || !target.streamArn ? [] : [target.streamArn];
    case 'sns':
      return target.provision === true || !target.topicArn ? [] : [target.topicArn];
    case 'eventbridge':
      return target.provision === true || !target.eventBusArn ? [] : [target.eventBusArn];
    case 'lambda':
      return [target.functionArn];
    case 'http':
      return 'secretArn' in target.secret ? [target.secret.secretArn] : [];
    case 'dynamodb':
      return [];
  }
}

/**
 * Fails the synth for a target in another region (every client is in the stack's region), or a Kinesis stream of
 * another account (the record is put by stream name, which addresses the caller's account). An environment-agnostic
 * stack (region or account unresolved) is not checked.
 */
export function checkTargetReachable(
  namespace: string,
  target: TargetConfig,
  stack: { readonly region: string; readonly account: string },
): void {
  for (const resource of namedResources(target)) {
    const { region, account } = locationOf(resource);
    if (region && !Token.isUnresolved(stack.region) && region !== stack.region) {
      throw new UnreachableTargetError(
        namespace,
        target.name,
        resource,
        `is in ${region}, the stack in ${stack.region}`,
      );
    }
    if (
      target.type === 'kinesis' &&
      account &&
      !Token.isUnresolved(stack.account) &&
      account !== stack.account
    ) {
      throw new UnreachableTargetError(
        namespace,
        target.name,
        resource,
        `is in account ${account}; a stream is written by name, in the stack's account ${stack.account}`,
      );
    }
  }
}

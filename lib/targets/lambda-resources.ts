import type { LambdaTargetConfig } from '#lambdas/shared/namespace-config';
import type { TargetResources } from './target-resources';

/** What the Lambda target does (lambdas/shared/targets/lambda-target.ts): a synchronous Invoke. */
const LAMBDA_TARGET_ACTIONS = ['lambda:InvokeFunction'] as const;

/** `arn:...:function:<name>` of a function ARN that may end in `:<version or alias>`. */
function unqualified(functionArn: string): string {
  return functionArn.split(':').slice(0, 7).join(':');
}

/**
 * A Lambda target: an existing function by ARN only (the WAL does not own its code). IAM matches the
 * ARN invoked exactly, so a qualified ARN (version or alias) is granted as given and unqualified.
 */
export function lambdaTargetResources(target: LambdaTargetConfig): TargetResources {
  const base = unqualified(target.functionArn);
  const resourceArns = base === target.functionArn ? [base] : [base, target.functionArn];
  return { config: target, permissions: [{ actions: LAMBDA_TARGET_ACTIONS, resourceArns }] };
}

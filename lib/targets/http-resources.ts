import { Arn, ArnFormat, Stack } from 'aws-cdk-lib';
import type { HttpTargetConfig } from '#lambdas/shared/namespace-config';
import type { TargetPermission, TargetResourceContext, TargetResources } from './target-resources';

/**
 * A complete Secrets Manager ARN ends in `-` and six random characters that Secrets Manager appends to
 * the name; without them it is a partial ARN (the name only), which GetSecretValue accepts. Secrets
 * Manager itself takes an ARN ending in a hyphen and six characters as complete (its API reference, on
 * `SecretId`), so a partial ARN of a secret named like `hook-secret` does not work there either: give
 * the complete ARN.
 */
const COMPLETE_SECRET_ARN = /-[A-Za-z0-9]{6}$/;

/**
 * An http target: the stack provisions nothing. Consumers may read its signing secret, and only that:
 * `ssm:GetParameter` on the SecureString parameter, or `secretsmanager:GetSecretValue` on the secret. A
 * partial secret ARN (no `-XXXXXX` suffix) is granted as `<arn>-??????`: exactly the secret of that name,
 * whatever its suffix. `kms:Decrypt` is not granted: the AWS-managed keys (`aws/ssm`,
 * `aws/secretsmanager`) allow it through their key policy to principals of the account; a secret under a
 * customer-managed key needs that key's policy (or a grant) to allow the consumers' roles.
 */
export function httpTargetResources(
  target: HttpTargetConfig,
  context: TargetResourceContext,
): TargetResources {
  return { config: target, permissions: [secretPermission(target, context)] };
}

function secretPermission(target: HttpTargetConfig, context: TargetResourceContext): TargetPermission {
  const { secret } = target;
  if ('ssmParameter' in secret) {
    return {
      actions: ['ssm:GetParameter'],
      resourceArns: [
        Stack.of(context.scope).formatArn({
          service: 'ssm',
          resource: 'parameter',
          // The name starts with "/", the ARN has one: `parameter/path/to/secret`.
          resourceName: secret.ssmParameter.slice(1),
        }),
      ],
    };
  }
  const name = Arn.split(secret.secretArn, ArnFormat.COLON_RESOURCE_NAME).resourceName ?? '';
  return {
    actions: ['secretsmanager:GetSecretValue'],
    resourceArns: [COMPLETE_SECRET_ARN.test(name) ? secret.secretArn : `${secret.secretArn}-??????`],
  };
}

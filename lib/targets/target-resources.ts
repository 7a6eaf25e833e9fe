import type { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct, IConstruct } from 'constructs';
import type { TargetConfig } from '#lambdas/shared/namespace-config';

/** Where a namespace's target resources are created, and how. */
export interface TargetResourceContext {
  /** The namespace's own scope: construct ids stay unique whatever the target names are. */
  readonly scope: Construct;
  readonly namespace: string;
  /** Encrypts what the stack provisions for targets (tables, streams). */
  readonly encryptionKey: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * What a consumer may do to deliver to one target: actions on resources. Permissions of all targets are
 * merged into one statement per set of actions ({@link grantPermissions}), so a consumer's policy grows
 * by one ARN per target, not by one statement.
 */
export interface TargetPermission {
  readonly actions: readonly string[];
  readonly resourceArns: readonly string[];
}

/** A target as the stack sees it. */
export interface TargetResources {
  /** The target as its namespace parameter holds it: provisioned resources' names filled in. */
  readonly config: TargetConfig;
  /** What delivering to it needs. */
  readonly permissions: readonly TargetPermission[];
  /** The resource the stack created for it (`provision: true`), if any. */
  readonly provisioned?: IConstruct;
}

/**
 * Grants every permission, one statement per distinct set of actions, each naming its resources once.
 * Never a `*` resource: a target without resources grants nothing.
 */
export function grantPermissions(
  grantee: iam.IGrantable,
  permissions: readonly TargetPermission[],
): iam.Grant {
  const byActions = new Map<string, { actions: string[]; resourceArns: Set<string> }>();
  for (const permission of permissions) {
    if (permission.resourceArns.length === 0) continue;
    const actions = [...new Set(permission.actions)].sort();
    const key = actions.join(',');
    const entry = byActions.get(key) ?? { actions, resourceArns: new Set<string>() };
    for (const arn of permission.resourceArns) entry.resourceArns.add(arn);
    byActions.set(key, entry);
  }
  return [...byActions.values()]
    .map(({ actions, resourceArns }) =>
      iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [...resourceArns] }),
    )
    .reduce((all, grant) => all.combine(grant), iam.Grant.drop(grantee, 'no target resources'));
}

import { type RemovalPolicy, Token } from 'aws-cdk-lib';
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
 * The most characters of ARNs one statement lists, as the CDK estimates them. The CDK moves what does not fit a
 * role's 10,000-character inline policy into managed policies of at most 6,000, statement by statement: a
 * statement larger than that (300 existing tables) would fit none, so long lists are cut into statements that
 * each nearly fill one managed policy.
 */
const MAX_STATEMENT_ARN_CHARS = 5500;
/** What the CDK counts an unresolved ARN (a token) as (`@aws-cdk/aws-iam.arnSizeEstimate`, default 150). */
const TOKEN_ARN_CHARS = 150;

/**
 * Grants every permission, one statement per distinct set of actions, each naming its resources once
 * (in several statements of at most {@link MAX_STATEMENT_ARN_CHARS} when the list is long).
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
    .flatMap(({ actions, resourceArns }) =>
      chunkArns([...resourceArns]).map((chunk) =>
        iam.Grant.addToPrincipal({ grantee, actions, resourceArns: chunk }),
      ),
    )
    .reduce((all, grant) => all.combine(grant), iam.Grant.drop(grantee, 'no target resources'));
}

/** ARNs in lists of at most {@link MAX_STATEMENT_ARN_CHARS} characters, in their order. */
function chunkArns(arns: readonly string[]): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let length = 0;
  for (const arn of arns) {
    const arnLength = (Token.isUnresolved(arn) ? TOKEN_ARN_CHARS : arn.length) + 3;
    if (current.length > 0 && length + arnLength > MAX_STATEMENT_ARN_CHARS) {
      chunks.push(current);
      current = [];
      length = 0;
    }
    current.push(arn);
    length += arnLength;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

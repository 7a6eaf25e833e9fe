import { createHash } from 'node:crypto';
import { type CfnResource, NestedStack, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct, type IConstruct } from 'constructs';
import {
  type NamespaceConfig,
  namespaceParameterName,
  namespaceParameterPrefix,
  type ProvisionableType,
  RESOURCE_FIELDS,
} from '#lambdas/shared/namespace-config';
import { grantPermissions, targetResources } from './targets/index';
import type { TargetPermission } from './targets/target-resources';
import { DEFAULT_REMOVAL_POLICY } from './wal-defaults';
import type { NamespaceQueues } from './wal-queues';

/**
 * How many nested stacks the namespaces are spread over, by a hash of their name. FIXED FOREVER: a namespace's
 * resources live in stack `namespaceStackIndex(name)`, and changing this count would move most of them to
 * another stack, i.e. replace their tables (docs/decisions.md, "Namespaces in 32 nested stacks").
 */
export const NAMESPACE_STACK_COUNT = 32;

/**
 * The logical id of the nested stack of bucket `index` in the parent (`Namespaces00`...`Namespaces31`). It starts
 * the physical name of the nested stack (`<stack>-Namespaces07-<random>`), and with it the generated name of every
 * table it creates: the consumers are granted the provisioned tables by that prefix.
 */
function namespaceStackLogicalId(index: number): string {
  return `Namespaces${String(index).padStart(2, '0')}`;
}

/** The nested stack a namespace lives in: a hash of its name alone, so other namespaces never move it. */
export function namespaceStackIndex(namespace: string): number {
  return createHash('sha256').update(namespace).digest().readUInt32BE(0) % NAMESPACE_STACK_COUNT;
}

/** A standard-tier SSM parameter holds at most 4 KB. */
const MAX_PARAMETER_LENGTH = 4096;
/**
 * The longest value each provisioned resource's name token may resolve to, for the parameter's size check:
 * DynamoDB's 255-character table name, an SQS URL with an 80-character name, ARNs with the longest names.
 */
const LONGEST_QUEUE_URL = 'x'.repeat(140);
const LONGEST_RESOURCE_VALUE: Record<ProvisionableType, number> = {
  dynamodb: 255,
  sqs: 140,
  kinesis: 200,
  sns: 330,
  eventbridge: 330,
};

export interface NamespaceParametersProps {
  /** The stage, which names the parameters: `/wal/<stage>/namespaces/<name>`. */
  readonly stage: string;
  /** Validated namespace configs (see `loadStageConfig`). */
  readonly namespaces: readonly NamespaceConfig[];
  /** Encrypts the target tables the stack provisions. */
  readonly encryptionKey: kms.IKey;
  /**
   * What happens to provisioned target tables when they leave the stack.
   * @default DEFAULT_REMOVAL_POLICY (RemovalPolicy.RETAIN)
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * The own queues of isolated namespaces, whose URLs go into their parameters (`delivery.queues`).
   * @default - none
   */
  readonly namespaceQueues?: ReadonlyMap<string, NamespaceQueues>;
}

/** A namespace's config parameter would not fit a standard-tier SSM parameter. */
export class NamespaceParameterTooLargeError extends Error {
  constructor(
    readonly namespace: string,
    readonly length: number,
    options?: { cause?: unknown },
  ) {
    super(
      `The config of namespace "${namespace}" is ${length} characters as JSON (with table names at ` +
        `their longest); an SSM parameter holds at most ${MAX_PARAMETER_LENGTH}. Split the namespace.`,
      options,
    );
    this.name = 'NamespaceParameterTooLargeError';
  }
}

/**
 * The control plane of a stage: one SSM parameter per namespace holding its validated config as
 * JSON, the target resources the configs ask the stack to provision (their generated names are
 * written into the parameter), and the permissions delivering to every target needs.
 *
 * A namespace's parameter and provisioned resources live in one of {@link NAMESPACE_STACK_COUNT} nested
 * stacks, chosen by a hash of its name: the parent stays far below CloudFormation's 500 resources whatever
 * the number of namespaces, and adding or removing a namespace never moves another one.
 */
export class NamespaceParameters extends Construct {
  readonly stage: string;
  /** The path under which the parameters live (what `NAMESPACE_PARAMETER_PREFIX` says). */
  readonly parameterPrefix: string;
  /** By namespace name. */
  readonly parameters: ReadonlyMap<string, ssm.StringParameter>;
  /** Resources the stack created for targets (`provision: true`), by `<namespace>/<target>`. */
  readonly provisioned: ReadonlyMap<string, IConstruct>;
  /** Tables the stack created, by `<namespace>/<target>`. */
  readonly provisionedTables: ReadonlyMap<string, dynamodb.Table>;
  /** The nested stacks that hold namespaces, by bucket index (empty buckets have none). */
  readonly stacks: ReadonlyMap<number, NestedStack>;
  private readonly permissions: TargetPermission[] = [];

  constructor(scope: Construct, id: string, props: NamespaceParametersProps) {
    super(scope, id);
    this.stage = props.stage;
    this.parameterPrefix = namespaceParameterPrefix(props.stage);
    const removalPolicy = props.removalPolicy ?? DEFAULT_REMOVAL_POLICY;
    const parameters = new Map<string, ssm.StringParameter>();
    const provisioned = new Map<string, IConstruct>();
    const stacks = new Map<number, NestedStack>();

    for (const namespace of props.namespaces) {
      // One scope per namespace: construct ids stay unique whatever the target names are.
      const context = {
        scope: new Construct(this.stackFor(namespace.name, stacks), namespace.name),
        namespace: namespace.name,
        encryptionKey: props.encryptionKey,
        removalPolicy,
      };
      const targets = namespace.targets.map((target) => {
        const resources = targetResources(target, context);
        this.permissions.push(...this.compactPermissions(resources.permissions, resources.provisioned));
        if (resources.provisioned) provisioned.set(`${namespace.name}/${target.name}`, resources.provisioned);
        return resources.config;
      });
      const value = { ...namespace, targets, delivery: deliveryOf(namespace, props.namespaceQueues) };
      checkSize(namespace.name, value);

      parameters.set(
        namespace.name,
        new ssm.StringParameter(context.scope, 'Parameter', {
          parameterName: namespaceParameterName(props.stage, namespace.name),
          description: `serverless-wal ${props.stage}: config of namespace ${namespace.name}`,
          stringValue: Stack.of(context.scope).toJsonString(value),
          tier: ssm.ParameterTier.STANDARD,
        }),
      );
    }
    this.parameters = parameters;
    this.provisioned = provisioned;
    this.stacks = stacks;
    this.provisionedTables = new Map(
      [...provisioned].filter(
        (entry): entry is [string, dynamodb.Table] => entry[1] instanceof dynamodb.Table,
      ),
    );
  }

  /**
   * ARN pattern of every table the namespace stacks provision: CloudFormation names a table
   * `<nested stack name>-<logical id>-<random>`, and a nested stack `<parent stack name>-<its logical id>-<random>`.
   * Stage names are lower case, so no other stage's stack name starts with `<this stack name>-Namespaces`.
   */
  get provisionedTableArnPattern(): string {
    const stack = Stack.of(this);
    return stack.formatArn({
      service: 'dynamodb',
      resource: 'table',
      resourceName: `${stack.stackName}-Namespaces*`,
    });
  }

  /** Read every namespace's parameter: GetParameter(s) on the prefix, where only namespace configs live. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    // By the prefix, not parameter by parameter: 300 parameter ARNs would not fit a role's policy.
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:GetParameter', 'ssm:GetParameters'],
      resourceArns: [this.parameterPrefixArn()],
    });
  }

  /**
   * `ssm:GetParameter` on every name under the prefix, existing or not: a lookup of a namespace
   * that does not exist then fails with ParameterNotFound (the caller's 404) instead of
   * AccessDenied. Whatever lives under the prefix is a namespace config, which the grantee may read.
   */
  grantLookup(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:GetParameter'],
      resourceArns: [this.parameterPrefixArn()],
    });
  }

  /** Deliver mutations to exactly the targets the configs name (tables, queues, streams, ...). */
  grantDeliver(grantee: iam.IGrantable): iam.Grant {
    return grantPermissions(grantee, this.permissions);
  }

  private parameterPrefixArn(): string {
    return Stack.of(this).formatArn({
      service: 'ssm',
      resource: 'parameter',
      // The prefix starts and ends with "/": `parameter/wal/<stage>/namespaces/*`.
      resourceName: `${this.parameterPrefix.slice(1)}*`,
    });
  }

  /** The nested stack of a namespace's bucket, created with the first namespace that lands in it. */
  private stackFor(namespace: string, stacks: Map<number, NestedStack>): NestedStack {
    const index = namespaceStackIndex(namespace);
    const existing = stacks.get(index);
    if (existing) return existing;
    const logicalId = namespaceStackLogicalId(index);
    const stack = new NestedStack(this, logicalId, {
      description: `serverless-wal ${this.stage}: namespaces of bucket ${index} (parameters and provisioned targets)`,
    });
    // A short, fixed id: it is the start of the generated names the table grant's pattern matches.
    (stack.nestedStackResource as CfnResource).overrideLogicalId(logicalId);
    stacks.set(index, stack);
    return stack;
  }

  /**
   * A provisioned table is granted by the pattern that matches every provisioned table, not by its own ARN: the
   * consumer's policy stays one ARN long however many tables there are, and the parent needs no output of
   * the nested stack. Existing resources (and other provisioned types) keep their exact ARNs.
   */
  private compactPermissions(
    permissions: readonly TargetPermission[],
    provisioned: IConstruct | undefined,
  ): readonly TargetPermission[] {
    if (!(provisioned instanceof dynamodb.Table)) return permissions;
    return permissions.map((permission) => ({
      actions: permission.actions,
      resourceArns: permission.resourceArns.map((arn) =>
        arn === provisioned.tableArn ? this.provisionedTableArnPattern : arn,
      ),
    }));
  }
}

/** The namespace's delivery settings with its own queues' URLs when it is isolated. */
function deliveryOf(
  namespace: NamespaceConfig,
  namespaceQueues: ReadonlyMap<string, NamespaceQueues> | undefined,
): NamespaceConfig['delivery'] {
  const queues = namespaceQueues?.get(namespace.name);
  if (!queues) return namespace.delivery;
  return { ...namespace.delivery, queues: { delay: queues.delay.queueUrl, retry: queues.retry.queueUrl } };
}

function checkSize(namespace: string, value: NamespaceConfig): void {
  const longest = JSON.stringify({
    ...value,
    targets: value.targets.map((target) =>
      target.type in RESOURCE_FIELDS && 'provision' in target && target.provision === true
        ? {
            ...target,
            [RESOURCE_FIELDS[target.type as ProvisionableType]]: 'x'.repeat(
              LONGEST_RESOURCE_VALUE[target.type as ProvisionableType],
            ),
          }
        : target,
    ),
    delivery: value.delivery.queues
      ? { ...value.delivery, queues: { delay: LONGEST_QUEUE_URL, retry: LONGEST_QUEUE_URL } }
      : value.delivery,
  });
  if (longest.length > MAX_PARAMETER_LENGTH) {
    throw new NamespaceParameterTooLargeError(namespace, longest.length);
  }
}

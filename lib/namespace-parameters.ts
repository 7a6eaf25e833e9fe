import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import {
  type DynamoDbTargetConfig,
  type NamespaceConfig,
  namespaceParameterName,
  namespaceParameterPrefix,
} from '#lambdas/shared/namespace-config';
import { EXPIRES_AT_ATTRIBUTE } from '#lambdas/shared/targets/wal-attributes';
import { DEFAULT_REMOVAL_POLICY } from './wal-defaults';

/** A standard-tier SSM parameter holds at most 4 KB. */
const MAX_PARAMETER_LENGTH = 4096;
/** Stands in for a table name token when the parameter's size is checked (DynamoDB's longest). */
const LONGEST_TABLE_NAME = 'x'.repeat(255);

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
 * JSON, the DynamoDB target tables the configs ask the stack to provision (their generated names
 * are written into the parameter), and references to the existing tables they name.
 */
const ATTRIBUTE_TYPES = {
  string: dynamodb.AttributeType.STRING,
  number: dynamodb.AttributeType.NUMBER,
} as const;

export class NamespaceParameters extends Construct {
  readonly stage: string;
  /** The path under which the parameters live (what `NAMESPACE_PARAMETER_PREFIX` says). */
  readonly parameterPrefix: string;
  /** By namespace name. */
  readonly parameters: ReadonlyMap<string, ssm.StringParameter>;
  /** Tables the stack created, by `<namespace>/<target>`. */
  readonly provisionedTables: ReadonlyMap<string, dynamodb.Table>;
  /** Every DynamoDB target table, provisioned or imported, by `<namespace>/<target>`. */
  readonly targetTables: ReadonlyMap<string, dynamodb.ITable>;

  constructor(scope: Construct, id: string, props: NamespaceParametersProps) {
    super(scope, id);
    this.stage = props.stage;
    this.parameterPrefix = namespaceParameterPrefix(props.stage);
    const removalPolicy = props.removalPolicy ?? DEFAULT_REMOVAL_POLICY;
    const parameters = new Map<string, ssm.StringParameter>();
    const provisionedTables = new Map<string, dynamodb.Table>();
    const targetTables = new Map<string, dynamodb.ITable>();

    for (const namespace of props.namespaces) {
      // One scope per namespace: construct ids stay unique whatever the target names are.
      const scopeOfNamespace = new Construct(this, namespace.name);
      const targets = namespace.targets.map((target) => {
        const key = `${namespace.name}/${target.name}`;
        if (target.tableName !== undefined) {
          targetTables.set(
            key,
            dynamodb.Table.fromTableName(scopeOfNamespace, `Target-${target.name}`, target.tableName),
          );
          return target;
        }
        const table = this.provisionTable(scopeOfNamespace, target, props.encryptionKey, removalPolicy);
        provisionedTables.set(key, table);
        targetTables.set(key, table);
        return { ...target, tableName: table.tableName };
      });
      const value = { ...namespace, targets };
      checkSize(namespace.name, value);

      parameters.set(
        namespace.name,
        new ssm.StringParameter(scopeOfNamespace, 'Parameter', {
          parameterName: namespaceParameterName(props.stage, namespace.name),
          description: `serverless-wal ${props.stage}: config of namespace ${namespace.name}`,
          stringValue: Stack.of(this).toJsonString(value),
          tier: ssm.ParameterTier.STANDARD,
        }),
      );
    }
    this.parameters = parameters;
    this.provisionedTables = provisionedTables;
    this.targetTables = targetTables;
  }

  /** Read every namespace's parameter (and nothing else under the prefix). */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return [...this.parameters.values()]
      .map((parameter) => parameter.grantRead(grantee))
      .reduce((all, grant) => all.combine(grant), iam.Grant.drop(grantee, 'no namespace parameters'));
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
      resourceArns: [
        Stack.of(this).formatArn({
          service: 'ssm',
          resource: 'parameter',
          // The prefix starts and ends with "/": `parameter/wal/<stage>/namespaces/*`.
          resourceName: `${this.parameterPrefix.slice(1)}*`,
        }),
      ],
    });
  }

  /** Apply mutations (conditional put and delete) to exactly the target tables the configs name. */
  grantWriteTargets(grantee: iam.IGrantable): iam.Grant {
    return [...this.targetTables.values()]
      .map((table) => table.grantWriteData(grantee))
      .reduce((all, grant) => all.combine(grant), iam.Grant.drop(grantee, 'no target tables'));
  }

  private provisionTable(
    scope: Construct,
    target: DynamoDbTargetConfig,
    encryptionKey: kms.IKey,
    removalPolicy: RemovalPolicy,
  ): dynamodb.Table {
    return new dynamodb.Table(scope, `Target-${target.name}`, {
      // Key attribute types come from the config (`partitionKeyType`, `sortKeyType`; strings by default).
      partitionKey: {
        name: target.key.partitionKey,
        type: ATTRIBUTE_TYPES[target.key.partitionKeyType ?? 'string'],
      },
      sortKey:
        target.key.sortKey === undefined
          ? undefined
          : { name: target.key.sortKey, type: ATTRIBUTE_TYPES[target.key.sortKeyType ?? 'string'] },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey,
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      // The WAL's delete tombstones expire after the namespace's retention.
      timeToLiveAttribute: EXPIRES_AT_ATTRIBUTE,
      removalPolicy,
    });
  }
}

function checkSize(namespace: string, value: NamespaceConfig): void {
  const longest = JSON.stringify({
    ...value,
    targets: value.targets.map((target) => ({ ...target, tableName: LONGEST_TABLE_NAME })),
  });
  if (longest.length > MAX_PARAMETER_LENGTH) {
    throw new NamespaceParameterTooLargeError(namespace, longest.length);
  }
}

import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type SdkBudget, sdkBudgetEnvironment } from '#lambdas/shared/sdk-budget';
import type { LogLevel } from './stage-config';

/** The repository root: NodejsFunction bundles from here with the root package-lock.json. */
export const REPO_ROOT = path.resolve(__dirname, '..');

/** Template metadata on each function: its handler source, relative to the repository root. */
export const ENTRY_METADATA_KEY = 'wal:entry';

/** The handler entry file of each Lambda (`lambdas/<name>/handler.ts`, exporting `handler`). */
export const LAMBDA_ENTRIES = {
  ingest: path.join(REPO_ROOT, 'lambdas', 'ingest', 'handler.ts'),
  streamConsumer: path.join(REPO_ROOT, 'lambdas', 'stream-consumer', 'handler.ts'),
  queueConsumer: path.join(REPO_ROOT, 'lambdas', 'queue-consumer', 'handler.ts'),
} as const;

export interface WalFunctionProps {
  /** The TypeScript entry file; it exports `handler`. */
  readonly entry: string;
  /** `POWERTOOLS_SERVICE_NAME`: names the function in logs and metrics. */
  readonly serviceName: string;
  /**
   * @default - no description
   */
  readonly description?: string;
  /**
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Variables on top of `NODE_OPTIONS` and the Powertools ones, which the construct sets.
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * `POWERTOOLS_LOG_LEVEL`.
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;
  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Attempts and timeouts of the function's AWS SDK calls (`WAL_SDK_*` variables, read by
   * lambdas/shared/clients.ts). Derive it from the timeout with lib/timeout-budget.ts.
   * @default - none set: the clients use DEFAULT_SDK_BUDGET, which does not nest in a short timeout
   */
  readonly sdkBudget?: SdkBudget;
  /**
   * Whether Lambda stops the function when it detects a recursive loop (SQS -> function -> same
   * queue, about 16 times). Allow it only where the loop is the design.
   * @default lambda.RecursiveLoop.TERMINATE
   */
  readonly recursiveLoop?: lambda.RecursiveLoop;
}

/**
 * A Node.js 22 Lambda on arm64 with the project's conventions: bundled by the local esbuild
 * (minified, with source maps that Node applies to stack traces), the AWS SDK bundled at the
 * versions package-lock.json pins (so what is tested is what runs), Powertools settings, and an
 * explicit log group with a retention.
 */
export class WalFunction extends Construct implements iam.IGrantable {
  readonly handler: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly grantPrincipal: iam.IPrincipal;
  readonly timeout: Duration;
  readonly sdkBudget?: SdkBudget;

  constructor(scope: Construct, id: string, props: WalFunctionProps) {
    super(scope, id);
    this.timeout = props.timeout ?? Duration.seconds(10);
    this.sdkBudget = props.sdkBudget;

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.handler = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: this.timeout,
      memorySize: props.memorySize ?? 512,
      logGroup: this.logGroup,
      recursiveLoop: props.recursiveLoop ?? lambda.RecursiveLoop.TERMINATE,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node22',
        // Bundle the SDK too: the runtime's copy is a different, moving version.
        externalModules: [],
        // Never fall back to Docker: synth must work on a machine without it.
        forceDockerBundling: false,
      },
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        ...(props.sdkBudget ? sdkBudgetEnvironment(props.sdkBudget) : {}),
        ...props.environment,
      },
    });
    // The local runtime reads this to run the same handler source the bundle is built from.
    (this.handler.node.defaultChild as lambda.CfnFunction).addMetadata(
      ENTRY_METADATA_KEY,
      path.relative(REPO_ROOT, props.entry).split(path.sep).join('/'),
    );
    this.grantPrincipal = this.handler.grantPrincipal;
  }
}

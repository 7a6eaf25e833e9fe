import * as path from 'node:path';
import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type SdkBudget, sdkBudgetEnvironment } from '#lambdas/shared/sdk-budget';
import {
  DEFAULT_FUNCTION_TIMEOUT,
  DEFAULT_LOG_LEVEL,
  DEFAULT_LOG_RETENTION,
  DEFAULT_MEMORY_SIZE,
  DEFAULT_REMOVAL_POLICY,
  type LogLevel,
} from './wal-defaults';

/** The repository root: NodejsFunction bundles from here with the root package-lock.json. */
export const REPO_ROOT = path.resolve(__dirname, '..');

/** Template metadata on each function: its handler source, relative to the repository root. */
export const ENTRY_METADATA_KEY = 'wal:entry';

/** The handler entry file of each Lambda (`lambdas/<name>/handler.ts`, exporting `handler`). */
export const LAMBDA_ENTRIES = {
  ingest: path.join(REPO_ROOT, 'lambdas', 'ingest', 'handler.ts'),
  streamConsumer: path.join(REPO_ROOT, 'lambdas', 'stream-consumer', 'handler.ts'),
  queueConsumer: path.join(REPO_ROOT, 'lambdas', 'queue-consumer', 'handler.ts'),
  waitingRoomPoller: path.join(REPO_ROOT, 'lambdas', 'waiting-room-poller', 'handler.ts'),
} as const;

/**
 * How every WAL Lambda is bundled (exported so test/cdk/bundling.test.ts and bench/bundles.ts bundle with the same
 * options): the local esbuild, minified, the AWS SDK bundled at the versions package-lock.json pins (so what is
 * tested is what runs), and what keeps the bundle near the size of the SDK clients alone (docs/performance.md,
 * "Bundles and cold start").
 */
export const WAL_BUNDLING = {
  minify: true,
  // A source map beside the bundle, without the sources (a third of the size), to read a stack trace with. Node
  // does not apply it: NODE_OPTIONS=--enable-source-maps costs every cold start (docs/performance.md, "Bundles and
  // cold start"); set it on a function while debugging.
  sourceMap: true,
  sourcesContent: false,
  target: 'node22',
  // The SDK's ES modules (package.json `module`) rather than its CommonJS: esbuild drops what no import uses
  // (about half of each client). The output stays CommonJS for Node.
  mainFields: ['module', 'main'],
  // Bundle the SDK too: the runtime's copy is a different, moving version.
  externalModules: [],
  // Test-only code out of production: lambdas/shared/faults.ts checks this constant, and esbuild drops
  // the fault injection (SDK faults, `process.exit` crash points, the fault config schema) as dead code.
  define: { WAL_FAULT_INJECTION: 'false' },
  // Never fall back to Docker: synth must work on a machine without it.
  forceDockerBundling: false,
} as const satisfies nodejs.BundlingOptions;

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
   * @default DEFAULT_FUNCTION_TIMEOUT (10 s)
   */
  readonly timeout?: Duration;
  /**
   * @default DEFAULT_MEMORY_SIZE (512)
   */
  readonly memorySize?: number;
  /**
   * Variables on top of the Powertools ones, which the construct sets.
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * `POWERTOOLS_LOG_LEVEL`.
   * @default DEFAULT_LOG_LEVEL ('INFO')
   */
  readonly logLevel?: LogLevel;
  /**
   * Retention of the function's log group.
   * @default DEFAULT_LOG_RETENTION (one month)
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when it leaves the stack.
   * @default DEFAULT_REMOVAL_POLICY (RemovalPolicy.RETAIN)
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
 * A Node.js 22 Lambda on arm64 with the project's conventions: bundled as {@link WAL_BUNDLING} says,
 * Powertools settings, and an explicit log group with a retention.
 */
export class WalFunction extends Construct implements iam.IGrantable {
  readonly handler: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly grantPrincipal: iam.IPrincipal;
  readonly timeout: Duration;
  readonly sdkBudget?: SdkBudget;

  constructor(scope: Construct, id: string, props: WalFunctionProps) {
    super(scope, id);
    this.timeout = props.timeout ?? DEFAULT_FUNCTION_TIMEOUT;
    this.sdkBudget = props.sdkBudget;

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? DEFAULT_LOG_RETENTION,
      removalPolicy: props.removalPolicy ?? DEFAULT_REMOVAL_POLICY,
    });

    this.handler = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: this.timeout,
      memorySize: props.memorySize ?? DEFAULT_MEMORY_SIZE,
      logGroup: this.logGroup,
      recursiveLoop: props.recursiveLoop ?? lambda.RecursiveLoop.TERMINATE,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      bundling: {
        ...WAL_BUNDLING,
        mainFields: [...WAL_BUNDLING.mainFields],
        externalModules: [...WAL_BUNDLING.externalModules],
      },
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? DEFAULT_LOG_LEVEL,
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

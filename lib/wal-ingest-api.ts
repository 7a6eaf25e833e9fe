import { type Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '#lambdas/shared/environment';
import { ROUTES, type Route } from '#lambdas/shared/http/routes';
import { NAMESPACE_NAME_PATTERN } from '#lambdas/shared/namespace-config';
import type { NamespaceParameters } from './namespace-parameters';
import { API_GATEWAY_INTEGRATION_TIMEOUT, ingestSdkBudget } from './timeout-budget';
import {
  DEFAULT_API_THROTTLE,
  DEFAULT_CONFIG_MAX_AGE,
  DEFAULT_LOG_RETENTION,
  DEFAULT_MEMORY_SIZE,
  DEFAULT_REMOVAL_POLICY,
  INGEST_TIMEOUT,
  type LogLevel,
} from './wal-defaults';
import { LAMBDA_ENTRIES, WalFunction } from './wal-function';
import type { WalStorage } from './wal-storage';

/** The stage name of the API: its URL has no stage segment. */
const DEFAULT_STAGE = '$default';

/** What each access log line records: one JSON object per request. */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  routeKey: '$context.routeKey',
  status: '$context.status',
  caller: '$context.identity.caller',
  userArn: '$context.identity.userArn',
  sourceIp: '$context.identity.sourceIp',
  responseLength: '$context.responseLength',
  integrationStatus: '$context.integrationStatus',
  integrationLatency: '$context.integrationLatency',
  error: '$context.error.message',
} as const;

export interface WalIngestApiProps {
  readonly storage: WalStorage;
  readonly namespaces: NamespaceParameters;
  /**
   * Timeout of the ingest Lambda. It bounds how long a prepare can stay uncommitted, so the
   * consumers' commit timeout is derived from it. Its SDK budget is derived from it, and it must
   * leave room for a cold start under API Gateway's 30 s (lib/timeout-budget.ts checks both).
   * @default INGEST_TIMEOUT (15 s)
   */
  readonly timeout?: Duration;
  /**
   * @default DEFAULT_MEMORY_SIZE (512)
   */
  readonly memorySize?: number;
  /**
   * How long the Lambda trusts its cached namespace config.
   * @default DEFAULT_CONFIG_MAX_AGE (60 s)
   */
  readonly configMaxAge?: Duration;
  /**
   * Throttling of the API's default stage.
   * @default DEFAULT_API_THROTTLE ({ rateLimit: 100, burstLimit: 200 })
   */
  readonly throttle?: apigwv2.ThrottleSettings;
  /**
   * @default DEFAULT_LOG_LEVEL ('INFO')
   */
  readonly logLevel?: LogLevel;
  /**
   * Retention of the Lambda's and the access log's log groups.
   * @default DEFAULT_LOG_RETENTION (one month)
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log groups when they leave the stack.
   * @default DEFAULT_REMOVAL_POLICY (RemovalPolicy.RETAIN)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** A namespace that cannot appear in a route, so a grant for it would be meaningless. */
export class InvalidNamespaceNameError extends Error {
  constructor(
    readonly namespace: string,
    options?: { cause?: unknown },
  ) {
    super(`Invalid namespace name "${namespace}": it must match ${NAMESPACE_NAME_PATTERN}`, options);
    this.name = 'InvalidNamespaceNameError';
  }
}

/**
 * The write path's front door: an HTTP API whose routes all require SigV4 (IAM) and go to the
 * ingest Lambda, which prepares a mutation on the stream and commits it in the ledger, and reads a
 * mutation back from the ledger. Callers are authorised per namespace with {@link grantMutate}
 * and {@link grantRead}.
 */
export class WalIngestApi extends Construct {
  readonly ingest: WalFunction;
  readonly api: apigwv2.HttpApi;
  /** The `$default` stage: throttled, with JSON access logs. */
  readonly stage: apigwv2.HttpStage;
  readonly accessLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WalIngestApiProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? DEFAULT_REMOVAL_POLICY;
    this.ingest = this.createIngestFunction(props, removalPolicy);
    this.api = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: `${Stack.of(this).stackName}-api`,
      description: `serverless-wal ${props.namespaces.stage}: mutations in, durable answers out`,
      // The default stage is created below, to give it throttling and access logs.
      createDefaultStage: false,
    });
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? DEFAULT_LOG_RETENTION,
      removalPolicy,
    });
    this.stage = this.addDefaultStage(props.throttle);
    this.addRoutes();
  }

  /** The ingest Lambda, with what it needs to append to the WAL and to read the namespace configs. */
  private createIngestFunction(props: WalIngestApiProps, removalPolicy: RemovalPolicy): WalFunction {
    const { storage, namespaces } = props;
    const timeout = props.timeout ?? INGEST_TIMEOUT;
    const ingest = new WalFunction(this, 'Ingest', {
      entry: LAMBDA_ENTRIES.ingest,
      serviceName: 'wal-ingest',
      description: 'serverless-wal: validates, prepares and commits mutations',
      timeout,
      sdkBudget: ingestSdkBudget(timeout),
      memorySize: props.memorySize ?? DEFAULT_MEMORY_SIZE,
      logLevel: props.logLevel,
      logRetention: props.logRetention,
      removalPolicy,
      environment: {
        [ENV.stage]: namespaces.stage,
        [ENV.ledgerTableName]: storage.ledger.tableName,
        [ENV.streamName]: storage.stream.streamName,
        [ENV.namespaceParameterPrefix]: namespaces.parameterPrefix,
        [ENV.configMaxAgeSeconds]: String((props.configMaxAge ?? DEFAULT_CONFIG_MAX_AGE).toSeconds()),
        [ENV.failFenceSeconds]: String(failFenceSeconds(timeout)),
      },
    });
    storage.grantAppend(ingest);
    namespaces.grantRead(ingest);
    // An unknown namespace must be a 404 (ParameterNotFound), not an AccessDenied turned into a 5xx.
    namespaces.grantLookup(ingest);
    return ingest;
  }

  /** The `$default` stage of {@link api}: throttled, with JSON access logs to {@link accessLogGroup}. */
  private addDefaultStage(throttle: apigwv2.ThrottleSettings | undefined): apigwv2.HttpStage {
    return this.api.addStage('DefaultStage', {
      stageName: DEFAULT_STAGE,
      autoDeploy: true,
      throttle: throttle ?? { ...DEFAULT_API_THROTTLE },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
  }

  /** Every route is IAM-authorised (SigV4) and served by the ingest Lambda. */
  private addRoutes(): void {
    const integration = new HttpLambdaIntegration('Ingest', this.ingest.handler);
    const authorizer = new HttpIamAuthorizer();
    for (const route of Object.values(ROUTES)) {
      this.api.addRoutes({
        path: route.path,
        methods: [apigwv2.HttpMethod[route.method]],
        integration,
        authorizer,
      });
    }
  }

  /** The API's base URL (ends with `/`). */
  get url(): string {
    return this.stage.url;
  }

  /** Lets `grantee` post mutations to one namespace, one at a time or in batches (IAM authorisation per namespace). */
  grantMutate(grantee: iam.IGrantable, namespace: string): iam.Grant {
    return this.grantNamespaceRoute(grantee, namespace, ROUTES.mutate, ROUTES.mutateBatch);
  }

  /**
   * Lets `grantee` read the mutations of one namespace, any id
   * (`GET /v1/namespaces/<namespace>/mutations/*`). Independent of {@link grantMutate}: a writer
   * that wants to poll its mutations needs both.
   */
  grantRead(grantee: iam.IGrantable, namespace: string): iam.Grant {
    return this.grantNamespaceRoute(grantee, namespace, ROUTES.getMutation);
  }

  /** Lets `grantee` call `GET /v1/health` (e.g. a synthetic canary). */
  grantHealthCheck(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: [this.api.arnForExecuteApi(ROUTES.health.method, ROUTES.health.path, DEFAULT_STAGE)],
    });
  }

  /** `execute-api:Invoke` on `routes` with `{namespace}` filled in and any other parameter as `*`. */
  private grantNamespaceRoute(grantee: iam.IGrantable, namespace: string, ...routes: Route[]): iam.Grant {
    if (!NAMESPACE_NAME_PATTERN.test(namespace)) throw new InvalidNamespaceNameError(namespace);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: routes.map((route) => {
        const path = route.path.replace('{namespace}', namespace).replace(/\{[^}]+\}/g, '*');
        return this.api.arnForExecuteApi(route.method, path, DEFAULT_STAGE);
      }),
    });
  }
}

/**
 * How long a FAIL answer keeps its key from committing, counted from when its handler writes the fence:
 * the FAIL reaches the client at most one ingest `timeout` later, and any attempt sent before that has
 * ended by then + API Gateway's 30 s (its handler starts within them) + `timeout`; plus a second for the
 * clocks of different hosts.
 */
function failFenceSeconds(ingestTimeout: Duration): number {
  return API_GATEWAY_INTEGRATION_TIMEOUT.toSeconds() + 2 * ingestTimeout.toSeconds() + 1;
}

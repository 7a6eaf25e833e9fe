import { isAbsolute, join } from 'node:path';
import { ENTRY_METADATA_KEY } from '#lib/wal-function';
import type { KinesisEventSourceSettings } from '#src/local/event-sources/kinesis-event-source';
import type { SqsEventSourceSettings } from '#src/local/event-sources/sqs-event-source';
import {
  type CfnTemplate,
  type ResolveContext,
  referencedLogicalId,
  resolveString,
  resolveValue,
  resourcesOfType,
} from './cfn-template';
import type { Provisioned } from './provision';

export interface FunctionWiring {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** Absolute path of the TypeScript entry file. */
  readonly entry: string;
  /** The exported handler's name (`index.handler` -> `handler`). */
  readonly handlerExport: string;
  readonly environment: Record<string, string>;
  readonly timeoutSeconds: number;
}

export interface KinesisMappingWiring {
  readonly logicalId: string;
  readonly functionLogicalId: string;
  readonly settings: KinesisEventSourceSettings;
  /** The on-failure destination queue, if the mapping has one. */
  readonly onFailureQueueUrl?: string;
}

export interface SqsMappingWiring {
  readonly logicalId: string;
  readonly functionLogicalId: string;
  readonly settings: SqsEventSourceSettings;
}

export interface RouteWiring {
  readonly routeKey: string;
  readonly functionLogicalId: string;
  readonly authorizationType: string;
}

/** An EventBridge rule that invokes a function on a schedule (`rate(...)`). */
export interface ScheduleWiring {
  readonly logicalId: string;
  readonly ruleArn: string;
  readonly functionLogicalId: string;
  /** The rate, in ms. */
  readonly periodMs: number;
}

/** How the template connects its functions to event sources, schedules and routes. */
export interface Wiring {
  readonly functions: Map<string, FunctionWiring>;
  readonly kinesisMappings: KinesisMappingWiring[];
  readonly sqsMappings: SqsMappingWiring[];
  readonly schedules: ScheduleWiring[];
  readonly routes: RouteWiring[];
}

class UnsupportedWiringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedWiringError';
  }
}

/** Reads functions, event source mappings and routes from the template, resolved to local resources. */
export function readWiring(template: CfnTemplate, provisioned: Provisioned, repoRoot: string): Wiring {
  const functions = readFunctions(template, provisioned.context, repoRoot);
  return {
    functions,
    ...readMappings(template, provisioned, functions),
    schedules: readSchedules(template, provisioned.context, functions),
    routes: readRoutes(template, functions),
  };
}

function readFunctions(
  template: CfnTemplate,
  context: ResolveContext,
  repoRoot: string,
): Map<string, FunctionWiring> {
  const functions = new Map<string, FunctionWiring>();
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const entry = resource.Metadata?.[ENTRY_METADATA_KEY];
    // Functions CDK adds on its own (custom resource providers) have no entry: they do not run locally.
    if (typeof entry !== 'string') continue;
    const properties = resource.Properties ?? {};
    const variables = resolveValue(
      (properties.Environment as { Variables?: unknown } | undefined)?.Variables ?? {},
      context,
      `${logicalId}.Environment`,
    ) as Record<string, unknown>;
    const resolved = context.resources.get(logicalId);
    functions.set(logicalId, {
      logicalId,
      name: resolved?.ref ?? logicalId,
      arn: resolved?.attributes.Arn ?? logicalId,
      entry: isAbsolute(entry) ? entry : join(repoRoot, entry),
      handlerExport:
        String(properties.Handler ?? 'index.handler')
          .split('.')
          .pop() ?? 'handler',
      environment: Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, String(value)])),
      timeoutSeconds: Number(properties.Timeout ?? 3),
    });
  }
  return functions;
}

/** One event source mapping of the template, with what it connects. */
interface MappingSource {
  readonly logicalId: string;
  readonly properties: Record<string, unknown>;
  readonly fn: FunctionWiring;
  readonly sourceLogicalId: string;
  readonly sourceArn: string;
  readonly reportBatchItemFailures: boolean;
}

function readMappings(
  template: CfnTemplate,
  provisioned: Provisioned,
  functions: ReadonlyMap<string, FunctionWiring>,
): { kinesisMappings: KinesisMappingWiring[]; sqsMappings: SqsMappingWiring[] } {
  const kinesisMappings: KinesisMappingWiring[] = [];
  const sqsMappings: SqsMappingWiring[] = [];
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')) {
    const properties = resource.Properties ?? {};
    const functionLogicalId = referencedLogicalId(properties.FunctionName);
    const sourceLogicalId = referencedLogicalId(properties.EventSourceArn);
    const fn = functionLogicalId ? functions.get(functionLogicalId) : undefined;
    if (!fn || !sourceLogicalId) continue;
    const mapping: MappingSource = {
      logicalId,
      properties,
      fn,
      sourceLogicalId,
      sourceArn: resolveString(properties.EventSourceArn, provisioned.context, `${logicalId}.EventSourceArn`),
      reportBatchItemFailures:
        (properties.FunctionResponseTypes as string[] | undefined)?.includes('ReportBatchItemFailures') ??
        false,
    };
    const sourceType = template.Resources[sourceLogicalId]?.Type;
    if (sourceType === 'AWS::Kinesis::Stream') kinesisMappings.push(kinesisMapping(mapping, provisioned));
    else if (sourceType === 'AWS::SQS::Queue') sqsMappings.push(sqsMapping(mapping, provisioned));
    else {
      throw new UnsupportedWiringError(
        `${logicalId}: event sources of type ${sourceType ?? 'unknown'} do not run locally yet`,
      );
    }
  }
  return { kinesisMappings, sqsMappings };
}

function kinesisMapping(mapping: MappingSource, provisioned: Provisioned): KinesisMappingWiring {
  const { properties } = mapping;
  const { context } = provisioned;
  const destination = (properties.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)
    ?.OnFailure?.Destination;
  const destinationId = referencedLogicalId(destination);
  return {
    logicalId: mapping.logicalId,
    functionLogicalId: mapping.fn.logicalId,
    ...(destinationId ? { onFailureQueueUrl: provisioned.queues.get(destinationId)?.url } : {}),
    settings: {
      streamName: context.resources.get(mapping.sourceLogicalId)?.ref ?? '',
      streamArn: mapping.sourceArn,
      functionArn: mapping.fn.arn,
      region: context.region,
      batchSize: Number(properties.BatchSize ?? 100),
      startingPosition: properties.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
      reportBatchItemFailures: mapping.reportBatchItemFailures,
      bisectBatchOnError: properties.BisectBatchOnFunctionError === true,
      maximumRetryAttempts: Number(properties.MaximumRetryAttempts ?? -1),
      maximumRecordAgeSeconds: Number(properties.MaximumRecordAgeInSeconds ?? -1),
    },
  };
}

function sqsMapping(mapping: MappingSource, provisioned: Provisioned): SqsMappingWiring {
  const queue = provisioned.queues.get(mapping.sourceLogicalId);
  if (!queue) {
    throw new UnsupportedWiringError(
      `${mapping.logicalId}: queue ${mapping.sourceLogicalId} was not provisioned`,
    );
  }
  return {
    logicalId: mapping.logicalId,
    functionLogicalId: mapping.fn.logicalId,
    settings: {
      queueUrl: queue.url,
      queueArn: queue.arn,
      region: provisioned.context.region,
      batchSize: Number(mapping.properties.BatchSize ?? 10),
      reportBatchItemFailures: mapping.reportBatchItemFailures,
    },
  };
}

const RATE_UNITS_MS: Readonly<Record<string, number>> = {
  minute: 60_000,
  minutes: 60_000,
  hour: 3_600_000,
  hours: 3_600_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** The period of an EventBridge `rate(<n> <unit>)` expression, in ms; undefined for anything else (cron). */
export function ratePeriodMs(expression: string): number | undefined {
  const match = /^rate\((\d+) (minutes?|hours?|days?)\)$/.exec(expression.trim());
  const unit = match?.[2] === undefined ? undefined : RATE_UNITS_MS[match[2]];
  if (!match || unit === undefined || Number(match[1]) < 1) return undefined;
  return Number(match[1]) * unit;
}

/** The enabled scheduled rules whose targets are functions of the template, one entry per target. */
function readSchedules(
  template: CfnTemplate,
  context: ResolveContext,
  functions: ReadonlyMap<string, FunctionWiring>,
): ScheduleWiring[] {
  const schedules: ScheduleWiring[] = [];
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Events::Rule')) {
    const properties = resource.Properties ?? {};
    // Event-pattern rules (no schedule) react to events that nothing emits locally.
    if (properties.ScheduleExpression === undefined || properties.State === 'DISABLED') continue;
    const expression = resolveString(
      properties.ScheduleExpression,
      context,
      `${logicalId}.ScheduleExpression`,
    );
    const periodMs = ratePeriodMs(expression);
    if (periodMs === undefined) {
      throw new UnsupportedWiringError(
        `${logicalId}: only rate(...) schedules run locally, not ${expression}`,
      );
    }
    for (const target of (properties.Targets as { Arn?: unknown }[] | undefined) ?? []) {
      const functionLogicalId = referencedLogicalId(target.Arn);
      if (!functionLogicalId || !functions.has(functionLogicalId)) continue;
      const ruleArn = context.resources.get(logicalId)?.attributes.Arn ?? logicalId;
      schedules.push({ logicalId, ruleArn, functionLogicalId, periodMs });
    }
  }
  return schedules;
}

function readRoutes(template: CfnTemplate, functions: ReadonlyMap<string, FunctionWiring>): RouteWiring[] {
  const routes: RouteWiring[] = [];
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::ApiGatewayV2::Route')) {
    const properties = resource.Properties ?? {};
    const integrationId = integrationOf(properties.Target);
    const integration = integrationId ? template.Resources[integrationId] : undefined;
    const functionLogicalId = referencedLogicalId(integration?.Properties?.IntegrationUri);
    if (!functionLogicalId || !functions.has(functionLogicalId)) {
      throw new UnsupportedWiringError(`${logicalId}: only Lambda proxy integrations run locally`);
    }
    routes.push({
      routeKey: String(properties.RouteKey),
      functionLogicalId,
      authorizationType: String(properties.AuthorizationType ?? 'NONE'),
    });
  }
  return routes;
}

/** `integrations/<Ref Integration>` as CDK writes a route's target. */
function integrationOf(target: unknown): string | undefined {
  const join = (target as { 'Fn::Join'?: [string, unknown[]] } | undefined)?.['Fn::Join'];
  return join?.[1].map(referencedLogicalId).find((id) => id !== undefined);
}

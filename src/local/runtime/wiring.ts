import { isAbsolute, join } from 'node:path';
import { ENTRY_METADATA_KEY } from '#lib/wal-function';
import type { KinesisEventSourceSettings } from '#src/local/event-sources/kinesis-event-source';
import type { SqsEventSourceSettings } from '#src/local/event-sources/sqs-event-source';
import {
  type CfnTemplate,
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

/** How the template connects its functions to event sources and routes. */
export interface Wiring {
  readonly functions: Map<string, FunctionWiring>;
  readonly kinesisMappings: KinesisMappingWiring[];
  readonly sqsMappings: SqsMappingWiring[];
  readonly routes: RouteWiring[];
}

export class UnsupportedWiringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedWiringError';
  }
}

/** Reads functions, event source mappings and routes from the template, resolved to local resources. */
export function readWiring(template: CfnTemplate, provisioned: Provisioned, repoRoot: string): Wiring {
  const { context } = provisioned;
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

  const kinesisMappings: KinesisMappingWiring[] = [];
  const sqsMappings: SqsMappingWiring[] = [];
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')) {
    const properties = resource.Properties ?? {};
    const functionLogicalId = referencedLogicalId(properties.FunctionName);
    const sourceLogicalId = referencedLogicalId(properties.EventSourceArn);
    const fn = functionLogicalId ? functions.get(functionLogicalId) : undefined;
    if (!fn || !functionLogicalId || !sourceLogicalId) continue;
    const source = template.Resources[sourceLogicalId];
    const sourceArn = resolveString(properties.EventSourceArn, context, `${logicalId}.EventSourceArn`);
    const reportBatchItemFailures = (properties.FunctionResponseTypes as string[] | undefined)?.includes(
      'ReportBatchItemFailures',
    );
    if (source?.Type === 'AWS::Kinesis::Stream') {
      const destination = (
        properties.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined
      )?.OnFailure?.Destination;
      const destinationId = referencedLogicalId(destination);
      kinesisMappings.push({
        logicalId,
        functionLogicalId,
        ...(destinationId ? { onFailureQueueUrl: provisioned.queues.get(destinationId)?.url } : {}),
        settings: {
          streamName: context.resources.get(sourceLogicalId)?.ref ?? '',
          streamArn: sourceArn,
          functionArn: fn.arn,
          region: context.region,
          batchSize: Number(properties.BatchSize ?? 100),
          startingPosition: properties.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
          reportBatchItemFailures: reportBatchItemFailures ?? false,
          bisectBatchOnError: properties.BisectBatchOnFunctionError === true,
          maximumRetryAttempts: Number(properties.MaximumRetryAttempts ?? -1),
          maximumRecordAgeSeconds: Number(properties.MaximumRecordAgeInSeconds ?? -1),
        },
      });
    } else if (source?.Type === 'AWS::SQS::Queue') {
      const queue = provisioned.queues.get(sourceLogicalId);
      if (!queue)
        throw new UnsupportedWiringError(`${logicalId}: queue ${sourceLogicalId} was not provisioned`);
      sqsMappings.push({
        logicalId,
        functionLogicalId,
        settings: {
          queueUrl: queue.url,
          queueArn: queue.arn,
          region: context.region,
          batchSize: Number(properties.BatchSize ?? 10),
          reportBatchItemFailures: reportBatchItemFailures ?? false,
        },
      });
    } else {
      throw new UnsupportedWiringError(
        `${logicalId}: event sources of type ${source?.Type ?? 'unknown'} do not run locally yet`,
      );
    }
  }

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
  return { functions, kinesisMappings, sqsMappings, routes };
}

/** `integrations/<Ref Integration>` as CDK writes a route's target. */
function integrationOf(target: unknown): string | undefined {
  const join = (target as { 'Fn::Join'?: [string, unknown[]] } | undefined)?.['Fn::Join'];
  return join?.[1].map(referencedLogicalId).find((id) => id !== undefined);
}

import { createHash } from 'node:crypto';
import { CreateTableCommand, type DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  type KinesisClient,
  ResourceInUseException as StreamInUseException,
} from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, SetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import {
  type CfnResource,
  type CfnTemplate,
  type ResolveContext,
  type ResolvedResource,
  resolveString,
  resolveValue,
  resourcesOfType,
} from './cfn-template';

/** The SDK clients pointed at the emulators. */
export interface ProvisionClients {
  readonly dynamodb: DynamoDBClient;
  readonly kinesis: KinesisClient;
  readonly sqs: SQSClient;
  readonly ssm: SSMClient;
}

export interface ProvisionOptions {
  readonly stackName: string;
  readonly region: string;
  readonly accountId: string;
  /** The local API's base URL: what the HTTP API's endpoint resolves to. */
  readonly apiUrl: string;
  /** Shards of an on-demand stream (the template gives no count). */
  readonly onDemandShardCount?: number;
}

/** Every resource of the template as it exists locally. */
export interface Provisioned {
  readonly context: ResolveContext;
  readonly tables: string[];
  readonly streams: string[];
  readonly queues: Map<string, { url: string; arn: string; name: string }>;
  readonly parameters: string[];
}

class ProvisionError extends Error {
  constructor(
    readonly logicalId: string,
    readonly type: string,
    options: { cause: unknown },
  ) {
    const cause = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`Cannot create ${type} ${logicalId} locally: ${cause}`, options);
    this.name = 'ProvisionError';
  }
}

/**
 * A local physical name from the stack and logical id, as CloudFormation would generate one:
 * stable across restarts (so --data-dir state is found again) and within the service's limit.
 */
function physicalName(stackName: string, logicalId: string, maxLength: number): string {
  const name = `${stackName}-${logicalId}`.replace(/[^A-Za-z0-9_-]/g, '-');
  if (name.length <= maxLength) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, maxLength - 9)}-${hash}`;
}

const arn = (options: ProvisionOptions, service: string, resource: string) =>
  `arn:aws:${service}:${options.region}:${options.accountId}:${resource}`;

/**
 * Creates the template's tables, streams, queues and parameters in the emulators, and returns what
 * each `Ref` and `Fn::GetAtt` resolves to. Idempotent: resources that exist (a kept data dir) stay.
 */
export async function provisionTemplate(
  template: CfnTemplate,
  clients: ProvisionClients,
  options: ProvisionOptions,
): Promise<Provisioned> {
  const resources = new Map<string, ResolvedResource>();
  const context: ResolveContext = {
    resources,
    region: options.region,
    accountId: options.accountId,
    stackName: options.stackName,
  };
  const provisioned: Provisioned = { context, tables: [], streams: [], queues: new Map(), parameters: [] };
  const run: ProvisionRun = { template, clients, options, resources, provisioned };

  // Names first: every Ref and GetAtt of the data resources is known before anything is created.
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    resources.set(logicalId, placeholder(logicalId, resource, options));
  }
  await createQueues(run);
  await createTables(run);
  await createStreams(run);
  // Queue attributes once every queue exists: redrive policies name other queues.
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::SQS::Queue')) {
    await guard(logicalId, resource, () => setQueueAttributes(clients.sqs, logicalId, resource, context));
  }
  await putParameters(run);
  return provisioned;
}

/** What each step of provisioning reads, and the resolved resources and result it fills in. */
interface ProvisionRun {
  readonly template: CfnTemplate;
  readonly clients: ProvisionClients;
  readonly options: ProvisionOptions;
  /** The map behind `provisioned.context.resources`, which resolution only reads. */
  readonly resources: Map<string, ResolvedResource>;
  readonly provisioned: Provisioned;
}

/** Creates the queues (attributes come later) and records their real URLs over the placeholders. */
async function createQueues(run: ProvisionRun): Promise<void> {
  const { template, clients, options, resources, provisioned } = run;
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::SQS::Queue')) {
    await guard(logicalId, resource, async () => {
      const name = physicalName(options.stackName, logicalId, resource.Properties?.FifoQueue ? 75 : 80);
      const queueName =
        resource.Properties?.QueueName !== undefined
          ? resolveString(resource.Properties.QueueName, provisioned.context, `${logicalId}.QueueName`)
          : resource.Properties?.FifoQueue
            ? `${name}.fifo`
            : name;
      const answer = await clients.sqs.send(
        new CreateQueueCommand({ QueueName: queueName, Attributes: fifoAttributes(resource) }),
      );
      const url = answer.QueueUrl ?? '';
      const queueArn = arn(options, 'sqs', queueName);
      resources.set(logicalId, {
        ref: url,
        attributes: { Arn: queueArn, QueueName: queueName, QueueUrl: url },
      });
      provisioned.queues.set(logicalId, { url, arn: queueArn, name: queueName });
    });
  }
}

// SQS takes these only when it creates a queue (FifoQueue) or only for FIFO queues: set at creation.
const FIFO_ATTRIBUTES = [
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
] as const;

/** A FIFO queue's attributes as CreateQueue takes them (strings); none for a standard queue. */
function fifoAttributes(resource: CfnResource): Record<string, string> | undefined {
  const properties = resource.Properties ?? {};
  if (properties.FifoQueue !== true && properties.FifoQueue !== 'true') return undefined;
  const attributes: Record<string, string> = {};
  for (const name of FIFO_ATTRIBUTES) {
    const value = properties[name];
    if (value !== undefined) attributes[name] = String(value);
  }
  return attributes;
}

/** Creates the tables under their placeholder names. */
async function createTables(run: ProvisionRun): Promise<void> {
  const { template, clients, resources, provisioned } = run;
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::DynamoDB::Table')) {
    await guard(logicalId, resource, () =>
      createTable(clients.dynamodb, resources, logicalId, resource, provisioned.context),
    );
    provisioned.tables.push(resources.get(logicalId)?.ref ?? '');
  }
}

/** Creates the streams; one that exists already (a kept data dir) stays as it is. */
async function createStreams(run: ProvisionRun): Promise<void> {
  const { template, clients, options, resources, provisioned } = run;
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Kinesis::Stream')) {
    const name = resources.get(logicalId)?.ref ?? '';
    const shardCount = Number(resource.Properties?.ShardCount ?? options.onDemandShardCount ?? 2);
    await guard(logicalId, resource, async () => {
      try {
        await clients.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shardCount }));
      } catch (error) {
        if (!(error instanceof StreamInUseException)) throw error;
      }
    });
    provisioned.streams.push(name);
  }
}

/** Writes the SSM parameters, overwriting what a kept data dir holds. */
async function putParameters(run: ProvisionRun): Promise<void> {
  const { template, clients, provisioned } = run;
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::SSM::Parameter')) {
    await guard(logicalId, resource, async () => {
      const properties = resource.Properties ?? {};
      const name = resolveString(properties.Name, provisioned.context, `${logicalId}.Name`);
      await clients.ssm.send(
        new PutParameterCommand({
          Name: name,
          Value: resolveString(properties.Value, provisioned.context, `${logicalId}.Value`),
          Type: 'String',
          Overwrite: true,
        }),
      );
      provisioned.parameters.push(name);
    });
  }
}

/** What a resource resolves to before (or without) being created locally. */
function placeholder(logicalId: string, resource: CfnResource, options: ProvisionOptions): ResolvedResource {
  switch (resource.Type) {
    case 'AWS::DynamoDB::Table': {
      const name =
        explicitName(resource, 'TableName', options) ?? physicalName(options.stackName, logicalId, 255);
      const tableArn = arn(options, 'dynamodb', `table/${name}`);
      return { ref: name, attributes: { Arn: tableArn, StreamArn: `${tableArn}/stream/local` } };
    }
    case 'AWS::Kinesis::Stream': {
      const name = explicitName(resource, 'Name', options) ?? physicalName(options.stackName, logicalId, 128);
      return { ref: name, attributes: { Arn: arn(options, 'kinesis', `stream/${name}`) } };
    }
    case 'AWS::Lambda::Function': {
      const name = physicalName(options.stackName, logicalId, 64);
      return { ref: name, attributes: { Arn: arn(options, 'lambda', `function:${name}`) } };
    }
    case 'AWS::ApiGatewayV2::Api':
      return { ref: logicalId, attributes: { ApiEndpoint: options.apiUrl, ApiId: logicalId } };
    case 'AWS::ApiGatewayV2::Stage':
      return { ref: '$default', attributes: {} };
    case 'AWS::SNS::Topic': {
      // Topics need no creating: the local sinks take any topic ARN (a FIFO one keeps its ".fifo" name).
      const name =
        explicitName(resource, 'TopicName', options) ?? physicalName(options.stackName, logicalId, 256);
      const topicArn = arn(options, 'sns', name);
      return { ref: topicArn, attributes: { TopicArn: topicArn, TopicName: name } };
    }
    case 'AWS::Events::Rule': {
      const name = explicitName(resource, 'Name', options) ?? physicalName(options.stackName, logicalId, 64);
      return { ref: name, attributes: { Arn: arn(options, 'events', `rule/${name}`) } };
    }
    case 'AWS::Events::EventBus': {
      // Likewise for buses: the sinks take any bus, named by ARN.
      const name = explicitName(resource, 'Name', options) ?? physicalName(options.stackName, logicalId, 256);
      return { ref: name, attributes: { Arn: arn(options, 'events', `event-bus/${name}`), Name: name } };
    }
    default: {
      // IAM, KMS, logs and the like do not exist locally; their ARNs only need to be well formed.
      const resourceArn = arn(options, 'local', logicalId);
      return { ref: logicalId, attributes: new Proxy({}, { get: () => resourceArn }) };
    }
  }
}

/** A physical name the template sets itself (a plain string or `Fn::Join` of the stack name). */
function explicitName(
  resource: CfnResource,
  property: string,
  options: ProvisionOptions,
): string | undefined {
  const value = resource.Properties?.[property];
  if (value === undefined) return undefined;
  const context: ResolveContext = {
    resources: new Map(),
    region: options.region,
    accountId: options.accountId,
    stackName: options.stackName,
  };
  return resolveString(value, context, property);
}

async function guard(logicalId: string, resource: CfnResource, create: () => Promise<void>): Promise<void> {
  try {
    await create();
  } catch (error) {
    throw new ProvisionError(logicalId, resource.Type, { cause: error });
  }
}

async function createTable(
  dynamodb: DynamoDBClient,
  resources: Map<string, ResolvedResource>,
  logicalId: string,
  resource: CfnResource,
  context: ResolveContext,
): Promise<void> {
  const properties = resolveValue(resource.Properties ?? {}, context, logicalId) as Record<string, unknown>;
  type Input = ConstructorParameters<typeof CreateTableCommand>[0];
  const indexes = properties.GlobalSecondaryIndexes as Input['GlobalSecondaryIndexes'];
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: resources.get(logicalId)?.ref,
        KeySchema: properties.KeySchema as Input['KeySchema'],
        AttributeDefinitions: properties.AttributeDefinitions as Input['AttributeDefinitions'],
        BillingMode: 'PAY_PER_REQUEST',
        ...(indexes
          ? {
              GlobalSecondaryIndexes: indexes.map((index) => ({
                IndexName: index.IndexName,
                KeySchema: index.KeySchema,
                Projection: index.Projection,
              })),
            }
          : {}),
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}

// The queue attributes SQS takes from a template; encryption and policies do not apply locally.
const QUEUE_ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  'ContentBasedDeduplication',
] as const;

async function setQueueAttributes(
  sqs: SQSClient,
  logicalId: string,
  resource: CfnResource,
  context: ResolveContext,
): Promise<void> {
  const properties = resolveValue(resource.Properties ?? {}, context, logicalId) as Record<string, unknown>;
  const attributes: Record<string, string> = {};
  for (const name of QUEUE_ATTRIBUTES) {
    const value = properties[name];
    if (value === undefined) continue;
    attributes[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  if (Object.keys(attributes).length === 0) return;
  await sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: context.resources.get(logicalId)?.ref,
      Attributes: attributes,
    }),
  );
}

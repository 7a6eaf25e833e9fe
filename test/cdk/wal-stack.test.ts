import { type NestedStack, Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { ENV } from '#lambdas/shared/environment';
import { ROUTES, routeKey } from '#lambdas/shared/http/routes';
import { LEDGER_PARTITION_KEY, LEDGER_TTL_ATTRIBUTE } from '#lambdas/shared/ledger-schema';
import { parseNamespaceConfig } from '#lambdas/shared/namespace-config';
import type { WalFunction } from '#lib/wal-function';
import type { WalStack } from '#lib/wal-stack';
import { arnOf, asList, flatten, type Json, logicalIdOf, policyStatements, synthesizeOnce } from './fixtures';

// GIVEN a stage with one provisioned target table (with a sort key) and one existing table.
const NAMESPACES = {
  'orders.json': {
    name: 'orders',
    targets: [
      { name: 'orders', type: 'dynamodb', provision: true, key: { partitionKey: 'id', sortKey: 'sk' } },
    ],
  },
  'profiles.json': {
    name: 'profiles',
    targets: [
      { name: 'profiles', type: 'dynamodb', tableName: 'existing-profiles', key: { partitionKey: 'userId' } },
    ],
    retry: { maxAttempts: 3 },
  },
};

type TemplateJson = { [key: string]: Json };
type Resources = {
  [id: string]: { Type: string; Properties?: { [key: string]: Json }; [key: string]: Json | undefined };
};

let stack: WalStack;
let template: Template;
let json: TemplateJson;
let resources: Resources;

// WHEN the stack is synthesized (once for the whole file).
synthesizeOnce(NAMESPACES, (synthesized) => {
  ({ stack, template } = synthesized);
  json = template.toJSON() as TemplateJson;
  resources = json.Resources as unknown as Resources;
});

function keyArn() {
  return arnOf(stack.storage.key);
}

function propertiesOf(construct: Parameters<typeof logicalIdOf>[0]): { [key: string]: Json } {
  const resource = resources[logicalIdOf(construct)];
  if (!resource?.Properties) throw new Error(`No resource for ${construct.node.path}`);
  return resource.Properties;
}

describe('KMS key', () => {
  // THEN (each test) what the template holds for the key
  test('is a customer-managed key with yearly rotation', () => {
    // THEN
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, KeySpec: Match.absent() });
  });

  test('has no alias or other physical name', () => {
    // THEN no alias is created
    template.resourceCountIs('AWS::KMS::Alias', 0);
  });
});

describe('Kinesis stream', () => {
  // THEN (each test) what the template holds for the stream
  test('is on-demand and encrypted with the WAL key', () => {
    // THEN one stream, on demand, encrypted with the WAL key and unnamed
    template.resourceCountIs('AWS::Kinesis::Stream', 1);
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      StreamEncryption: { EncryptionType: 'KMS', KeyId: keyArn() },
      RetentionPeriodHours: 24,
      Name: Match.absent(),
      ShardCount: Match.absent(),
    });
  });
});

describe('ledger table', () => {
  // THEN (each test) what the template holds for the ledger
  test('is keyed by pk only, with no index (no second write per commit), TTL, PITR and SSE-KMS', () => {
    // THEN its properties are exactly these, with the schema constants it is built from: no GlobalSecondaryIndexes
    expect(propertiesOf(stack.storage.ledger)).toEqual({
      KeySchema: [{ AttributeName: LEDGER_PARTITION_KEY, KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      TimeToLiveSpecification: { AttributeName: LEDGER_TTL_ATTRIBUTE, Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn() },
      DeletionProtectionEnabled: false,
      Tags: expect.any(Array),
    });
    expect(LEDGER_PARTITION_KEY).toBe('pk');
    expect(LEDGER_TTL_ATTRIBUTE).toBe('expiresAt');
  });

  test('is deleted with a non-prod stack', () => {
    // THEN it is deleted, not retained, on removal and replacement
    const ledger = resources[logicalIdOf(stack.storage.ledger)];
    expect(ledger).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });
});

describe('SQS queues', () => {
  // THEN (each test) what the template holds for the queues
  const queues = () => ({
    delay: stack.queues.delayQueue,
    retry: stack.queues.retryQueue,
    streamFailure: stack.queues.streamFailureQueue,
    deadLetter: stack.queues.deadLetterQueue,
  });

  test('there are exactly four', () => {
    // THEN four queues are created
    template.resourceCountIs('AWS::SQS::Queue', 4);
  });

  test.each(
    // GIVEN each of the four queues
    ['delay', 'retry', 'streamFailure', 'deadLetter'] as const,
  )('%s queue is SSE-KMS with the WAL key and keeps messages 14 days', (name) => {
    // THEN it is encrypted with the WAL key and keeps messages 14 days
    expect(propertiesOf(queues()[name])).toMatchObject({
      KmsMasterKeyId: keyArn(),
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
  });

  test.each(
    // GIVEN each of the four queues
    ['delay', 'retry', 'streamFailure', 'deadLetter'] as const,
  )('%s queue has a policy that denies every non-TLS request', (name) => {
    // THEN its queue policy denies any request made without TLS
    const queue: sqs.Queue = queues()[name];
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: logicalIdOf(queue) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: arnOf(queue),
          },
        ]),
      },
    });
  });

  test.each(
    // GIVEN each queue that redrives to the DLQ
    ['delay', 'retry', 'streamFailure'] as const,
  )('%s queue redrives to the DLQ after 5 receives, with a visibility of 6x the consumer timeout', (name) => {
    // THEN it redrives to the DLQ after 5 receives and hides messages for 6 minutes
    expect(propertiesOf(queues()[name])).toMatchObject({
      RedrivePolicy: { deadLetterTargetArn: arnOf(stack.queues.deadLetterQueue), maxReceiveCount: 5 },
      VisibilityTimeout: 6 * 60,
    });
  });

  test('the DLQ allows exactly the WAL queues as its sources (byQueue)', () => {
    // GIVEN the names of the source queues: the stack name, the role and the stack instance id
    const names = (['delay', 'retry', 'streamFailure'] as const).map((name) => {
      const queueName = flatten(propertiesOf(queues()[name]).QueueName);
      expect(queueName).toMatch(/^ServerlessWal-test-(delay|retry|stream-failures)-<Fn::Select>$/);
      return queueName;
    });
    // THEN the redrive allow policy lists their ARNs (built from names: no circular reference)
    const properties = propertiesOf(stack.queues.deadLetterQueue);
    expect(properties.RedrivePolicy).toBeUndefined();
    const policy = properties.RedriveAllowPolicy as { redrivePermission: string; sourceQueueArns: Json[] };
    expect(policy.redrivePermission).toBe('byQueue');
    expect(policy.sourceQueueArns.map(flatten).sort()).toEqual(
      names.map((name) => `arn:<Ref:AWS::Partition>:sqs:eu-west-1:111111111111:${name}`).sort(),
    );
  });

  test('the DLQ is not named (the name is generated)', () => {
    // THEN the DLQ has no QueueName
    expect(propertiesOf(stack.queues.deadLetterQueue).QueueName).toBeUndefined();
  });
});

describe('Lambda functions', () => {
  // THEN (each test) what the template holds for the functions
  const functions = (): Record<string, WalFunction> => ({
    ingest: stack.ingestApi.ingest,
    streamConsumer: stack.consumers.streamConsumer,
    queueConsumer: stack.consumers.queueConsumer,
  });

  test('there are exactly four, none of them named', () => {
    // THEN ingest, the two consumers and the waiting-room poller, none with a FunctionName
    template.resourceCountIs('AWS::Lambda::Function', 4);
    template.allResourcesProperties('AWS::Lambda::Function', { FunctionName: Match.absent() });
  });

  test.each([
    // GIVEN each function with its timeout and memory
    ['ingest', 15, 512],
    ['streamConsumer', 60, 512],
    ['queueConsumer', 60, 512],
  ])('%s runs Node.js 22 on arm64 with timeout %i s and %i MB', (name, timeout, memory) => {
    // THEN its runtime, architecture, handler, timeout, memory and log group are as configured
    const fn = functions()[name] as WalFunction;
    expect(propertiesOf(fn.handler)).toMatchObject({
      Architectures: ['arm64'],
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Timeout: timeout,
      MemorySize: memory,
      LoggingConfig: { LogGroup: { Ref: logicalIdOf(fn.logGroup) } },
    });
  });

  test.each(
    // GIVEN each function
    ['ingest', 'streamConsumer', 'queueConsumer'],
  )('%s logs to its own log group with a retention', (name) => {
    // THEN its log group keeps logs 7 days
    const fn = functions()[name] as WalFunction;
    expect(propertiesOf(fn.logGroup)).toEqual({ RetentionInDays: 7, Tags: expect.any(Array) });
  });

  test('ingest gets the stage, ledger, stream, parameter prefix, config max age and FAIL fence', () => {
    // THEN its environment holds exactly these variables
    expect(propertiesOf(stack.ingestApi.ingest.handler).Environment).toEqual({
      Variables: {
        POWERTOOLS_SERVICE_NAME: 'wal-ingest',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        [ENV.stage]: 'test',
        [ENV.ledgerTableName]: { Ref: logicalIdOf(stack.storage.ledger) },
        [ENV.streamName]: { Ref: logicalIdOf(stack.storage.stream) },
        [ENV.namespaceParameterPrefix]: '/wal/test/namespaces/',
        [ENV.configMaxAgeSeconds]: '60',
        // A FAIL fences its key for API Gateway's 30 s + 2 x the 15 s ingest timeout + 1 s of clock margin.
        [ENV.failFenceSeconds]: '61',
        WAL_SDK_MAX_ATTEMPTS: '2',
        WAL_SDK_CONNECTION_TIMEOUT_MS: '300',
        WAL_SDK_REQUEST_TIMEOUT_MS: '900',
      },
    });
  });

  test.each([
    // GIVEN each consumer with its service name
    ['streamConsumer', 'wal-stream-consumer'],
    ['queueConsumer', 'wal-queue-consumer'],
  ])('%s gets the ledger, queues, waiting room, commit timeout and config max age', (name, service) => {
    // THEN its environment holds exactly these variables
    const fn = functions()[name] as WalFunction;
    expect(propertiesOf(fn.handler).Environment).toEqual({
      Variables: {
        POWERTOOLS_SERVICE_NAME: service,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        [ENV.stage]: 'test',
        [ENV.ledgerTableName]: { Ref: logicalIdOf(stack.storage.ledger) },
        [ENV.streamName]: { Ref: logicalIdOf(stack.storage.stream) },
        [ENV.namespaceParameterPrefix]: '/wal/test/namespaces/',
        [ENV.delayQueueUrl]: { Ref: logicalIdOf(stack.queues.delayQueue) },
        [ENV.retryQueueUrl]: { Ref: logicalIdOf(stack.queues.retryQueue) },
        [ENV.deadLetterQueueUrl]: { Ref: logicalIdOf(stack.queues.deadLetterQueue) },
        [ENV.waitingRoomTableName]: { Ref: logicalIdOf(stack.waitingRoom.table) },
        [ENV.commitTimeoutSeconds]: '45',
        [ENV.configMaxAgeSeconds]: '60',
        WAL_SDK_MAX_ATTEMPTS: '3',
        WAL_SDK_CONNECTION_TIMEOUT_MS: '1000',
        WAL_SDK_REQUEST_TIMEOUT_MS: '3000',
      },
    });
  });

  test('the commit timeout is longer than the ingest timeout', () => {
    // THEN the stream consumer's commit timeout exceeds the ingest timeout
    const ingestTimeout = propertiesOf(stack.ingestApi.ingest.handler).Timeout as number;
    const variables = (
      propertiesOf(stack.consumers.streamConsumer.handler).Environment as { Variables: Json }
    ).Variables as { [key: string]: Json };
    expect(Number(variables[ENV.commitTimeoutSeconds])).toBeGreaterThan(ingestTimeout);
  });
});

describe('event source mappings', () => {
  // THEN (each test) what the template holds for the mappings
  test('there are four: the stream and three queues', () => {
    // THEN four mappings are created
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 4);
  });

  test('the stream consumer reads the stream in order, bisects, bounds retries and age, and keeps failures', () => {
    // THEN the stream mapping has exactly these settings
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalIdOf(stack.consumers.streamConsumer.handler) },
      EventSourceArn: arnOf(stack.storage.stream),
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 6 * 3600,
      ParallelizationFactor: 1,
      DestinationConfig: { OnFailure: { Destination: arnOf(stack.queues.streamFailureQueue) } },
    });
  });

  test.each(
    // GIVEN each queue the queue consumer reads
    ['delayQueue', 'retryQueue', 'streamFailureQueue'] as const,
  )('the queue consumer reads the %s with partial batch responses', (name) => {
    // THEN its mapping takes batches of 10 and reports partial batch failures
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalIdOf(stack.consumers.queueConsumer.handler) },
      EventSourceArn: arnOf(stack.queues[name]),
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });
});

describe('HTTP API', () => {
  // THEN (each test) what the template holds for the API
  test('has exactly the mutation, batch, get-mutation and health routes, all IAM-authorised', () => {
    // THEN the four routes exist, each with AWS_IAM authorization
    const routes = template.findResources('AWS::ApiGatewayV2::Route');
    const keys = Object.values(routes).map((route) => ({
      RouteKey: route.Properties.RouteKey,
      AuthorizationType: route.Properties.AuthorizationType,
    }));
    expect(keys).toEqual(
      expect.arrayContaining([
        { RouteKey: 'POST /v1/namespaces/{namespace}/mutations', AuthorizationType: 'AWS_IAM' },
        { RouteKey: 'POST /v1/namespaces/{namespace}/mutations:batch', AuthorizationType: 'AWS_IAM' },
        { RouteKey: 'GET /v1/namespaces/{namespace}/mutations/{id}', AuthorizationType: 'AWS_IAM' },
        { RouteKey: 'GET /v1/health', AuthorizationType: 'AWS_IAM' },
      ]),
    );
    expect(keys).toHaveLength(4);
  });

  test('the batch route goes to the ingest integration with IAM authorization', () => {
    // THEN the batch route is a route of the API, with the same integration as the single route
    const single = template.findResources('AWS::ApiGatewayV2::Route', {
      Properties: { RouteKey: 'POST /v1/namespaces/{namespace}/mutations' },
    });
    const target = Object.values(single)[0]?.Properties.Target;
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'POST /v1/namespaces/{namespace}/mutations:batch',
      AuthorizationType: 'AWS_IAM',
      Target: Match.objectEquals(target),
    });
  });

  test('the route keys are the ones the ingest Lambda switches on', () => {
    // THEN the route keys are those of ROUTES
    const routes = template.findResources('AWS::ApiGatewayV2::Route');
    const keys = Object.values(routes).map((route) => route.Properties.RouteKey);
    expect(keys.sort()).toEqual(Object.values(ROUTES).map(routeKey).sort());
  });

  test('every route goes to the one ingest Lambda integration (payload format 2.0)', () => {
    // THEN one AWS_PROXY integration to ingest is the target of every route
    template.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
    const [integrationId] = Object.keys(
      template.findResources('AWS::ApiGatewayV2::Integration', {
        Properties: {
          IntegrationType: 'AWS_PROXY',
          IntegrationUri: arnOf(stack.ingestApi.ingest.handler),
          PayloadFormatVersion: '2.0',
        },
      }),
    );
    expect(integrationId).toBeDefined();
    const targets = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((route) =>
      flatten(route.Properties.Target),
    );
    expect(targets).toEqual(Array(Object.keys(ROUTES).length).fill(`integrations/<Ref:${integrationId}>`));
  });

  test('the default stage auto-deploys, is throttled and writes JSON access logs', () => {
    // THEN one $default stage auto-deploys, is throttled and logs JSON access lines
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: {
        DestinationArn: arnOf(stack.ingestApi.accessLogGroup),
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
    });
  });
});

describe('namespace parameters', () => {
  // THEN (each test) what the template holds for the SSM parameters
  const parameterValues = () =>
    Object.values(template.findResources('AWS::SSM::Parameter')).map((parameter) => ({
      name: parameter.Properties.Name as string,
      value: parseNamespaceConfig(JSON.parse(flatten(parameter.Properties.Value)), parameter.Properties.Name),
      type: parameter.Properties.Type as string,
    }));

  test('there is one per namespace, named by the contract', () => {
    // THEN there is one parameter per namespace, under /wal/test/namespaces/
    expect(
      parameterValues()
        .map((parameter) => parameter.name)
        .sort(),
    ).toEqual(['/wal/test/namespaces/orders', '/wal/test/namespaces/profiles']);
  });

  test('each value parses with the runtime schema and keeps the configured settings', () => {
    // THEN the profiles value parses and keeps its retry and target settings
    const profiles = parameterValues().find((parameter) => parameter.name.endsWith('/profiles'));
    expect(profiles?.value.retry.maxAttempts).toBe(3);
    expect(profiles?.value.targets).toEqual([
      { name: 'profiles', type: 'dynamodb', tableName: 'existing-profiles', key: { partitionKey: 'userId' } },
    ]);
  });

  test('a provisioned target gets the generated name of its table', () => {
    // THEN the orders target names the table provisioned for it
    const table = stack.namespaces.provisionedTables.get('orders/orders');
    if (!table) throw new Error('orders/orders was not provisioned');
    const orders = parameterValues().find((parameter) => parameter.name.endsWith('/orders'));
    expect(orders?.value.targets[0]).toEqual({
      name: 'orders',
      type: 'dynamodb',
      provision: true,
      tableName: `<Ref:${logicalIdOf(table)}>`,
      key: { partitionKey: 'id', sortKey: 'sk' },
    });
  });
});

describe('provisioned target table', () => {
  // THEN (each test) what the template holds for the provisioned table
  test('is keyed as configured, on demand, with PITR and SSE-KMS with the WAL key', () => {
    // THEN its properties are exactly these, and it is deleted with the stack
    const table = stack.namespaces.provisionedTables.get('orders/orders');
    if (!table) throw new Error('orders/orders was not provisioned');
    expect(propertiesOf(table)).toEqual({
      KeySchema: [
        { AttributeName: 'id', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'id', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn() },
      DeletionProtectionEnabled: false,
      TimeToLiveSpecification: { AttributeName: '_walExpiresAt', Enabled: true },
      Tags: expect.any(Array),
    });
    expect(resources[logicalIdOf(table)]).toMatchObject({ DeletionPolicy: 'Delete' });
  });

  test('only the ledger, the waiting room and the provisioned target are created (the existing one is imported)', () => {
    // THEN three tables are created, none with a fixed name
    template.resourceCountIs('AWS::DynamoDB::Table', 3);
    template.allResourcesProperties('AWS::DynamoDB::Table', { TableName: Match.absent() });
  });
});

describe('IAM', () => {
  // THEN (each test) what the policies allow, and nothing more
  const statements = () => policyStatements(json);
  const statementsOf = (fn: WalFunction) => {
    const roleRef = { Ref: logicalIdOf(fn.handler.role ?? fn.handler) };
    const policies = Object.entries(resources)
      .filter(([, resource]) => resource.Type === 'AWS::IAM::Policy')
      .filter(([, resource]) => JSON.stringify(resource.Properties?.Roles) === JSON.stringify([roleRef]))
      .map(([id]) => id);
    return statements().filter(({ logicalId }) => policies.includes(logicalId));
  };
  const dynamoDbResources = (fn: WalFunction) =>
    statementsOf(fn)
      .filter(({ statement }) => asList(statement.Action).some((action) => action.startsWith('dynamodb:')))
      .flatMap(({ statement }) => asList(statement.Resource).map((resource) => flatten(resource)));

  test('no policy statement has Resource "*" (KMS key policies aside)', () => {
    // GIVEN every statement of every policy in the template
    const all = statements();
    expect(all.length).toBeGreaterThan(20);
    // THEN none of them names every resource
    const wildcards = all.filter(({ statement }) =>
      asList(statement.Resource).some((resource) => resource === '*'),
    );
    expect(wildcards).toEqual([]);
  });

  test.each(
    // GIVEN each consumer
    ['streamConsumer', 'queueConsumer'] as const,
  )('the %s may write exactly the configured target tables, the ledger and the waiting room', (name) => {
    // THEN its DynamoDB permissions cover exactly the ledger (no index), the waiting room (long waits), the
    // existing target and the tables the namespace stacks provision (by their name prefix: one ARN however many)
    const ledger = logicalIdOf(stack.storage.ledger);
    const waitingRoom = logicalIdOf(stack.waitingRoom.table);
    expect([...new Set(dynamoDbResources(stack.consumers[name]))].sort()).toEqual(
      [
        `<GetAtt:${ledger}.Arn>`,
        `<GetAtt:${waitingRoom}.Arn>`,
        'arn:<Ref:AWS::Partition>:dynamodb:eu-west-1:111111111111:table/ServerlessWal-test-Namespaces*',
        'arn:<Ref:AWS::Partition>:dynamodb:eu-west-1:111111111111:table/existing-profiles',
      ].sort(),
    );
  });

  test('the provisioned table pattern matches the names CloudFormation gives tables in the namespace stacks', () => {
    // GIVEN the nested stack of the orders namespace, and its table
    const table = stack.namespaces.provisionedTables.get('orders/orders');
    if (!table) throw new Error('orders/orders was not provisioned');
    const nested = Stack.of(table);
    // WHEN its nested stack is named as CloudFormation names one: <parent>-<logical id>-<random suffix>
    const logicalId = stack.resolve((nested as NestedStack).nestedStackResource?.logicalId) as string;
    const tableName = `ServerlessWal-test-${logicalId}-1A2B3C4D5E6F-${logicalIdOf(table)}-ABCDEF123456`;
    // THEN the pattern in the grant matches it, and not the tables of a stage whose name starts the same
    const pattern = flatten(stack.namespaces.provisionedTableArnPattern as Json).split(':table/')[1] ?? '';
    const matches = (name: string) => new RegExp(`^${pattern.replace('*', '.*')}$`).test(name);
    expect(matches(tableName)).toBe(true);
    expect(matches(tableName.replace('ServerlessWal-test-', 'ServerlessWal-test-2-'))).toBe(false);
  });

  test.each(
    // GIVEN each consumer, which records delivery states, and ingest, which reads them (GET .../mutations/{id})
    [
      ['streamConsumer', 'dynamodb:UpdateItem'],
      ['queueConsumer', 'dynamodb:UpdateItem'],
      ['ingest', 'dynamodb:GetItem'],
    ] as const,
  )('the %s may %s on the ledger table, where the status items live', (name, action) => {
    // THEN a statement allows the action on the ledger's ARN
    const fn = name === 'ingest' ? stack.ingestApi.ingest : stack.consumers[name];
    const ledger = `<GetAtt:${logicalIdOf(stack.storage.ledger)}.Arn>`;
    const allowing = statementsOf(fn)
      .map(({ statement }) => statement)
      .filter(
        (statement) =>
          statement.Effect === 'Allow' &&
          asList(statement.Action).includes(action) &&
          asList(statement.Resource).some((resource) => flatten(resource) === ledger),
      );
    expect(allowing).toHaveLength(1);
  });

  test('the ingest Lambda may use the ledger but no target table', () => {
    // THEN its DynamoDB permissions cover the ledger only (it has no index)
    const ledger = logicalIdOf(stack.storage.ledger);
    expect([...new Set(dynamoDbResources(stack.ingestApi.ingest))]).toEqual([`<GetAtt:${ledger}.Arn>`]);
  });

  test('the ingest Lambda may read one record back from the stream (GET ...?view=full)', () => {
    // THEN it may position an iterator and get records on the stream, and nothing else
    const reads = statementsOf(stack.ingestApi.ingest)
      .map(({ statement }) => statement)
      .filter(
        (statement) =>
          statement.Effect === 'Allow' && asList(statement.Action).includes('kinesis:GetRecords'),
      );
    expect(reads).toEqual([
      expect.objectContaining({
        Action: expect.arrayContaining(['kinesis:GetShardIterator', 'kinesis:GetRecords']),
        Resource: arnOf(stack.storage.stream),
      }),
    ]);
  });

  test('the ingest Lambda may put records on the stream and read the namespace parameters', () => {
    // THEN it may put records with the WAL key, and read exactly the namespace parameters and their prefix
    const ingest = statementsOf(stack.ingestApi.ingest).map(({ statement }) => statement);
    expect(ingest).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: expect.arrayContaining(['kinesis:PutRecord', 'kinesis:PutRecords']),
          Resource: arnOf(stack.storage.stream),
        }),
        expect.objectContaining({
          Action: expect.arrayContaining(['kms:GenerateDataKey*']),
          Resource: keyArn(),
        }),
      ]),
    );
    const ssmResources = ingest
      .filter((statement) => asList(statement.Action).some((action) => action.startsWith('ssm:')))
      .flatMap((statement) => asList(statement.Resource).map((resource) => flatten(resource)));
    // By the prefix, not one ARN per parameter (which would not fit the policy at hundreds of namespaces); an
    // unknown namespace is then ParameterNotFound (404).
    expect([...new Set(ssmResources)]).toEqual([
      'arn:<Ref:AWS::Partition>:ssm:eu-west-1:111111111111:parameter/wal/test/namespaces/*',
    ]);
  });

  test.each(
    // GIVEN each consumer
    ['streamConsumer', 'queueConsumer'] as const,
  )('the %s may look up any namespace parameter, so a removed namespace reads as not found', (name) => {
    // THEN it may call GetParameter on any name under the namespace prefix
    const ssmResources = statementsOf(stack.consumers[name])
      .filter(({ statement }) => asList(statement.Action).includes('ssm:GetParameter'))
      .flatMap(({ statement }) => asList(statement.Resource).map((resource) => flatten(resource)));
    expect(ssmResources).toContain(
      'arn:<Ref:AWS::Partition>:ssm:eu-west-1:111111111111:parameter/wal/test/namespaces/*',
    );
  });

  test.each(
    // GIVEN each consumer
    ['streamConsumer', 'queueConsumer'] as const,
  )('the %s may send to the delay, retry and dead-letter queues', (name) => {
    // THEN it may send to the delay, retry and dead-letter queues
    const sendTargets = statementsOf(stack.consumers[name])
      .filter(({ statement }) => asList(statement.Action).includes('sqs:SendMessage'))
      .flatMap(({ statement }) => asList(statement.Resource).map((resource) => flatten(resource)));
    const arn = (queue: sqs.Queue) => `<GetAtt:${logicalIdOf(queue)}.Arn>`;
    expect(sendTargets).toEqual(
      expect.arrayContaining([
        arn(stack.queues.delayQueue),
        arn(stack.queues.retryQueue),
        arn(stack.queues.deadLetterQueue),
      ]),
    );
  });

  test('the stream consumer may send failed batches to the stream-failure queue (its on-failure destination)', () => {
    // THEN one of its SendMessage statements names the stream-failure queue
    const sends = statementsOf(stack.consumers.streamConsumer).filter(({ statement }) =>
      asList(statement.Action).includes('sqs:SendMessage'),
    );
    expect(sends.map(({ statement }) => statement.Resource)).toContainEqual(
      arnOf(stack.queues.streamFailureQueue),
    );
  });

  test('the queue consumer may re-read the stream', () => {
    // THEN its GetRecords statement names only the stream
    const reads = statementsOf(stack.consumers.queueConsumer).filter(({ statement }) =>
      asList(statement.Action).includes('kinesis:GetRecords'),
    );
    expect(reads.map(({ statement }) => statement.Resource)).toEqual([arnOf(stack.storage.stream)]);
  });
});

describe('outputs', () => {
  // THEN (each test) the outputs tools find resources by
  test.each([
    // GIVEN each output with the resource it references
    ['LedgerTableName', () => ({ Ref: logicalIdOf(stack.storage.ledger) })],
    ['StreamName', () => ({ Ref: logicalIdOf(stack.storage.stream) })],
    ['DelayQueueUrl', () => ({ Ref: logicalIdOf(stack.queues.delayQueue) })],
    ['RetryQueueUrl', () => ({ Ref: logicalIdOf(stack.queues.retryQueue) })],
    ['DeadLetterQueueUrl', () => ({ Ref: logicalIdOf(stack.queues.deadLetterQueue) })],
  ])('%s', (name, value) => {
    // THEN the output references that resource
    template.hasOutput(name, { Value: value() });
  });

  test('ApiUrl is the default stage URL', () => {
    // THEN ApiUrl is the API's default endpoint
    const output = (json.Outputs as { [key: string]: { Value: Json } }).ApiUrl;
    expect(flatten(output?.Value)).toBe(
      `https://<Ref:${logicalIdOf(stack.ingestApi.api)}>.execute-api.eu-west-1.<Ref:AWS::URLSuffix>/`,
    );
  });
});

describe('prod stage', () => {
  let prod: Template;

  // WHEN the same namespaces are synthesized as prod; THEN (each test) what prod keeps
  synthesizeOnce(
    NAMESPACES,
    ({ template: synthesized }) => {
      prod = synthesized;
    },
    'prod',
  );

  test('retains the key, stream, tables, queues and log groups', () => {
    // THEN every resource of these types is retained
    for (const type of [
      'AWS::KMS::Key',
      'AWS::Kinesis::Stream',
      'AWS::DynamoDB::Table',
      'AWS::SQS::Queue',
      'AWS::Logs::LogGroup',
    ]) {
      const all = Object.values(prod.findResources(type));
      expect(all.length).toBeGreaterThan(0);
      for (const resource of all) {
        expect({ type, policy: resource.DeletionPolicy }).toEqual({ type, policy: 'Retain' });
      }
    }
  });

  test('protects its tables from deletion and keeps the stream and logs longer', () => {
    // THEN tables are protected from deletion, the stream and logs are kept longer, throttling is higher
    prod.allResourcesProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
    prod.hasResourceProperties('AWS::Kinesis::Stream', { RetentionPeriodHours: 7 * 24 });
    prod.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    prod.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 },
    });
  });
});

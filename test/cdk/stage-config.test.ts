import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { type CfnElement, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { InvalidNamespaceConfigError } from '#lambdas/shared/namespace-config';
import { NamespaceParameters } from '#lib/namespace-parameters';
import {
  DEFAULT_CONFIG_DIR,
  EmptyStageError,
  InvalidStageNameError,
  listStages,
  loadStageConfig,
  MissingStageError,
  NamespaceConfigSyntaxError,
  NamespaceFileNameMismatchError,
  resolveStage,
  stageSettings,
  UnknownStageError,
} from '#lib/stage-config';
import { CommitTimeoutTooShortError, VisibilityTimeoutTooShortError, WalConsumers } from '#lib/wal-consumers';
import { InvalidNamespaceNameError, WalIngestApi } from '#lib/wal-ingest-api';
import { InvalidQueueSettingError, WalQueues } from '#lib/wal-queues';
import { WalStorage } from '#lib/wal-storage';
import { WalWaitingRoom } from '#lib/wal-waiting-room';
import {
  appWithoutBundling,
  type ConfigFile,
  flatten,
  newTestStack,
  removeDir,
  writeConfigDir,
} from './fixtures';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

function namespace(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    targets: [{ name: 'main', type: 'dynamodb', provision: true, key: { partitionKey: 'id' } }],
    ...overrides,
  };
}

/** Runs `body` with a temporary config dir holding `files` as the stage `dev`. */
function withStage<T>(files: Record<string, ConfigFile>, body: (configDir: string) => T): T {
  const configDir = writeConfigDir({ dev: files, other: { 'x.json': namespace('x') } });
  try {
    return body(configDir);
  } finally {
    removeDir(configDir);
  }
}

describe('loadStageConfig', () => {
  test('reads, validates and sorts the namespaces of a stage', () => {
    // GIVEN two namespace files, in reverse order
    const config = withStage({ 'b.json': namespace('b'), 'a.json': namespace('a') }, (dir) =>
      // WHEN
      loadStageConfig('dev', dir),
    );
    // THEN defaults are applied and the order is by name
    expect(config.namespaces.map((loaded) => loaded.config.name)).toEqual(['a', 'b']);
    expect(config.namespaces[0]?.config.retry.maxAttempts).toBe(8);
    expect(config.namespaces[0]?.source).toMatch(/dev[/\\]a\.json$/);
  });

  test('ignores files that are not JSON', () => {
    // WHEN a stage holding a README next to its namespace loads; THEN only the namespace is read
    const config = withStage({ 'a.json': namespace('a'), 'README.md': 'notes' }, (dir) =>
      loadStageConfig('dev', dir),
    );
    expect(config.namespaces).toHaveLength(1);
  });

  test('every stage in the repository config/ folder loads', () => {
    // WHEN/THEN each stage of config/ loads with at least one namespace
    const stages = listStages(DEFAULT_CONFIG_DIR);
    expect(stages).toEqual(expect.arrayContaining(['dev', 'local']));
    for (const stage of stages) expect(loadStageConfig(stage).namespaces.length).toBeGreaterThan(0);
  });

  test('config/local/demo.json is the demo namespace with one provisioned target "main"', () => {
    // WHEN the local stage loads; THEN its namespace is the README's demo
    const [demo] = loadStageConfig('local').namespaces;
    expect(demo?.config.name).toBe('demo');
    expect(demo?.config.targets).toEqual([
      { name: 'main', type: 'dynamodb', provision: true, key: { partitionKey: 'id' } },
    ]);
  });

  test('fails if a file is not valid JSON, naming the file', () => {
    // GIVEN a cut-off JSON file; WHEN/THEN the stage loads
    withStage({ 'orders.json': '{ "name": "orders", ' }, (dir) => {
      expect(() => loadStageConfig('dev', dir)).toThrow(NamespaceConfigSyntaxError);
      expect(() => loadStageConfig('dev', dir)).toThrow(/Invalid JSON in .*dev[/\\]orders\.json/);
    });
  });

  test('fails if a namespace violates the schema (maxAttempts 0), naming the field', () => {
    // GIVEN a namespace with maxAttempts 0; WHEN/THEN the stage loads
    withStage({ 'orders.json': namespace('orders', { retry: { maxAttempts: 0 } }) }, (dir) => {
      expect(() => loadStageConfig('dev', dir)).toThrow(InvalidNamespaceConfigError);
      expect(() => loadStageConfig('dev', dir)).toThrow(/orders\.json: retry\.maxAttempts:/);
    });
  });

  test('fails if the ledger retention is shorter than the stream retention, the DLQ and the longest delay', () => {
    // GIVEN a 7-day stream (as prod keeps) and a namespace whose ledger keeps 20 days, with 1-day delays
    const files = { 'orders.json': namespace('orders', { retentionDays: 20 }) };
    withStage(files, (dir) => {
      const sevenDays = { streamRetention: Duration.days(7) };
      // WHEN / THEN 15 + 7 + 1 = 23 days are needed
      expect(() => loadStageConfig('dev', dir, sevenDays)).toThrow(InvalidNamespaceConfigError);
      expect(() => loadStageConfig('dev', dir, sevenDays)).toThrow(
        /retentionDays: must be at least 23 in this stage/,
      );
      // AND a 24-hour stream needs 17 days
      expect(loadStageConfig('dev', dir).namespaces[0]?.config.retentionDays).toBe(20);
    });
  });

  test('fails if the file name does not match the namespace name', () => {
    // GIVEN orders.json defining namespace invoices; WHEN/THEN the stage loads
    withStage({ 'orders.json': namespace('invoices') }, (dir) => {
      expect(() => loadStageConfig('dev', dir)).toThrow(NamespaceFileNameMismatchError);
      expect(() => loadStageConfig('dev', dir)).toThrow(
        /defines namespace "invoices" but is named "orders\.json"/,
      );
    });
  });

  test('fails if two targets share a name', () => {
    // GIVEN a namespace with the same target twice; WHEN/THEN the stage loads
    const target = { name: 'main', type: 'dynamodb', provision: true, key: { partitionKey: 'id' } };
    withStage({ 'orders.json': namespace('orders', { targets: [target, target] }) }, (dir) => {
      expect(() => loadStageConfig('dev', dir)).toThrow(InvalidNamespaceConfigError);
      expect(() => loadStageConfig('dev', dir)).toThrow(/targets\.1\.name: target name "main" is used twice/);
    });
  });

  test('fails if a target both names a table and asks for one to be provisioned', () => {
    // GIVEN a target with both tableName and provision; WHEN/THEN the stage loads
    const target = {
      name: 'main',
      type: 'dynamodb',
      provision: true,
      tableName: 'x-table',
      key: { partitionKey: 'id' },
    };
    withStage({ 'orders.json': namespace('orders', { targets: [target] }) }, (dir) => {
      expect(() => loadStageConfig('dev', dir)).toThrow(InvalidNamespaceConfigError);
      expect(() => loadStageConfig('dev', dir)).toThrow(/targets\.0: target "main" sets both "tableName"/);
    });
  });

  test('fails if the stage folder has no namespace', () => {
    // GIVEN an empty stage folder; WHEN/THEN the stage loads
    withStage({}, (dir) => {
      expect(() => loadStageConfig('dev', dir)).toThrow(EmptyStageError);
      expect(() => loadStageConfig('dev', dir)).toThrow(/Stage "dev" has no namespace/);
    });
  });

  test('fails if the stage is unknown, listing the stages found', () => {
    // GIVEN stages dev and other; WHEN/THEN staging is loaded
    withStage({ 'a.json': namespace('a') }, (dir) => {
      expect(() => loadStageConfig('staging', dir)).toThrow(UnknownStageError);
      expect(() => loadStageConfig('staging', dir)).toThrow(
        /Unknown stage "staging".*found under config\/: dev, other\./,
      );
    });
  });
});

describe('resolveStage', () => {
  test('returns a known stage', () => {
    // WHEN/THEN dev is resolved where it exists
    expect(withStage({ 'a.json': namespace('a') }, (dir) => resolveStage('dev', dir))).toBe('dev');
  });

  test.each(
    // GIVEN a missing or empty stage name
    [undefined, null, ''],
  )('fails if no stage is given (%p), listing the stages found', (value) => {
    // WHEN/THEN no stage name is resolved
    withStage({ 'a.json': namespace('a') }, (dir) => {
      expect(() => resolveStage(value, dir)).toThrow(MissingStageError);
      expect(() => resolveStage(value, dir)).toThrow(/pass -c stage=<name>.*dev, other/);
    });
  });

  test('fails if a stage folder has a name that cannot be a stack or SSM path part', () => {
    // GIVEN a stage folder named Bad_Stage; WHEN/THEN it is resolved
    const dir = writeConfigDir({ Bad_Stage: { 'a.json': namespace('a') } });
    try {
      expect(() => resolveStage('Bad_Stage', dir)).toThrow(InvalidStageNameError);
    } finally {
      removeDir(dir);
    }
  });
});

describe('stageSettings', () => {
  test('prod retains data and keeps the stream 7 days; other stages destroy and keep 24 h', () => {
    // WHEN/THEN prod's settings, then those of every other stage
    expect(stageSettings('prod')).toMatchObject({
      removalPolicy: RemovalPolicy.RETAIN,
      streamRetention: Duration.days(7),
    });
    for (const stage of ['dev', 'local', 'anything']) {
      expect(stageSettings(stage).removalPolicy).toBe(RemovalPolicy.DESTROY);
      expect(stageSettings(stage).streamRetention.toHours()).toBe(24);
    }
  });

  test('every stage redrives after 5 receives and reads the stream in batches of 100, 10 retries, 6 h', () => {
    // WHEN/THEN each stage's queue and stream settings
    for (const stage of ['dev', 'local', 'prod', 'anything']) {
      expect(stageSettings(stage)).toMatchObject({
        queueMaxReceiveCount: 5,
        streamBatchSize: 100,
        streamRetryAttempts: 10,
        streamMaxRecordAge: Duration.hours(6),
      });
    }
  });

  test('overrides of the queue and stream settings win', () => {
    // WHEN/THEN local's settings are overridden: the overrides win, the rest stays
    expect(
      stageSettings('local', { queueMaxReceiveCount: 2, streamBatchSize: 7, streamRetryAttempts: 1 }),
    ).toMatchObject({
      queueMaxReceiveCount: 2,
      streamBatchSize: 7,
      streamRetryAttempts: 1,
      logLevel: 'DEBUG',
    });
  });

  test('explicit overrides win', () => {
    // WHEN/THEN prod's removal policy is overridden
    expect(stageSettings('prod', { removalPolicy: RemovalPolicy.DESTROY }).removalPolicy).toBe(
      RemovalPolicy.DESTROY,
    );
  });
});

describe('WalStack at synth', () => {
  test.each<[string, Record<string, ConfigFile>, new (...args: never[]) => Error]>([
    // GIVEN each broken stage, with the error it must raise
    ['a file is not valid JSON', { 'orders.json': '{' }, NamespaceConfigSyntaxError],
    [
      'a namespace violates the schema',
      { 'orders.json': namespace('orders', { retry: { maxAttempts: 0 } }) },
      InvalidNamespaceConfigError,
    ],
    [
      'a file name does not match its namespace',
      { 'orders.json': namespace('other') },
      NamespaceFileNameMismatchError,
    ],
    ['the stage has no namespace', {}, EmptyStageError],
  ])('fails if %s', (_, files, errorClass) => {
    // GIVEN the broken stage; WHEN/THEN the stack is synthesized
    withStage(files, (configDir) => {
      expect(() => newTestStack({ stage: 'dev', configDir })).toThrow(errorClass);
    });
  });

  test('fails if the stage is unknown', () => {
    // WHEN/THEN a stack is synthesized for a stage with no folder
    withStage({ 'a.json': namespace('a') }, (configDir) => {
      expect(() => newTestStack({ stage: 'nope', configDir })).toThrow(UnknownStageError);
    });
  });
});

describe('bin/app.ts', () => {
  // One real run of the CDK app entry: the CLI passes context through CDK_CONTEXT_JSON.
  test('fails if no stage is given, with a one-line message listing the stages', () => {
    // WHEN the app runs without a stage in its context
    const result = spawnSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['bin/app.ts'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, CDK_CONTEXT_JSON: '{}' },
    });
    // THEN it exits 1 with one line naming the stages
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/MissingStageError: No stage given: pass -c stage=<name>\. .*dev, local/);
  });
});

describe('construct validation', () => {
  function scaffold() {
    const stack = new Stack(appWithoutBundling(), 'Scaffold');
    const storage = new WalStorage(stack, 'Storage');
    const namespaces = new NamespaceParameters(stack, 'Namespaces', {
      stage: 'dev',
      namespaces: loadStageConfig('dev').namespaces.map((loaded) => loaded.config),
      encryptionKey: storage.key,
    });
    return { stack, storage, namespaces };
  }

  test('fails if the commit timeout is not longer than the ingest timeout', () => {
    // GIVEN queues for a 60 s consumer
    const { stack, storage, namespaces } = scaffold();
    const queues = new WalQueues(stack, 'Queues', {
      encryptionKey: storage.key,
      consumerTimeout: Duration.seconds(60),
    });
    // WHEN/THEN the consumers get a commit timeout equal to the ingest timeout
    expect(
      () =>
        new WalConsumers(stack, 'Consumers', {
          storage,
          queues,
          namespaces,
          waitingRoom: new WalWaitingRoom(stack, 'WaitingRoom', { encryptionKey: storage.key, queues }),
          ingestTimeout: Duration.seconds(10),
          commitTimeout: Duration.seconds(10),
        }),
    ).toThrow(CommitTimeoutTooShortError);
  });

  test('fails if the queues are not visible long enough for the consumer timeout', () => {
    // GIVEN queues visible for 30 s
    const { stack, storage, namespaces } = scaffold();
    const queues = new WalQueues(stack, 'Queues', {
      encryptionKey: storage.key,
      consumerTimeout: Duration.seconds(30),
    });
    // WHEN/THEN the consumers get a 60 s timeout
    expect(
      () =>
        new WalConsumers(stack, 'Consumers', {
          storage,
          queues,
          namespaces,
          waitingRoom: new WalWaitingRoom(stack, 'WaitingRoom', { encryptionKey: storage.key, queues }),
          ingestTimeout: Duration.seconds(10),
          timeout: Duration.seconds(60),
        }),
    ).toThrow(VisibilityTimeoutTooShortError);
  });

  test.each(
    // GIVEN a count that is not an integer from 1 to 1000
    [0, 1.5, 1001],
  )('fails if maxReceiveCount is %p', (maxReceiveCount) => {
    // GIVEN the scaffold; WHEN/THEN queues are built with the invalid count
    const { stack, storage } = scaffold();
    expect(
      () =>
        new WalQueues(stack, 'Queues', {
          encryptionKey: storage.key,
          consumerTimeout: Duration.seconds(60),
          maxReceiveCount,
        }),
    ).toThrow(InvalidQueueSettingError);
  });

  test('fails if the queue name prefix makes an invalid queue name', () => {
    // GIVEN the scaffold; WHEN/THEN queues are built with a 70-character prefix
    const { stack, storage } = scaffold();
    expect(
      () =>
        new WalQueues(stack, 'Queues', {
          encryptionKey: storage.key,
          consumerTimeout: Duration.seconds(60),
          queueNamePrefix: 'x'.repeat(70),
        }),
    ).toThrow(/Invalid queueNamePrefix/);
  });

  test('grantMutate lets a role invoke the mutation and batch routes of one namespace only', () => {
    // GIVEN
    const { stack, storage, namespaces } = scaffold();
    const ingestApi = new WalIngestApi(stack, 'IngestApi', { storage, namespaces });
    const role = new iam.Role(stack, 'Client', { assumedBy: new iam.AccountRootPrincipal() });
    // WHEN
    ingestApi.grantMutate(role, 'orders');
    // THEN
    const policies = Template.fromStack(stack).findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: stack.getLogicalId(role.node.defaultChild as iam.CfnRole) }] },
    });
    const [policy] = Object.values(policies);
    const statements = JSON.stringify(policy?.Properties.PolicyDocument.Statement);
    expect(statements).toContain('/$default/POST/v1/namespaces/orders/mutations"');
    expect(statements).toContain('/$default/POST/v1/namespaces/orders/mutations:batch"');
    expect(() => ingestApi.grantMutate(role, 'Not A Namespace')).toThrow(InvalidNamespaceNameError);
  });

  test('grantRead lets a role get the mutations (any id) of one namespace only', () => {
    // GIVEN
    const { stack, storage, namespaces } = scaffold();
    const ingestApi = new WalIngestApi(stack, 'IngestApi', { storage, namespaces });
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    // WHEN
    ingestApi.grantRead(role, 'orders');
    // THEN the only statement allows execute-api:Invoke on GET .../orders/mutations/*
    const policies = Template.fromStack(stack).findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: stack.getLogicalId(role.node.defaultChild as iam.CfnRole) }] },
    });
    const statements = Object.values(policies).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement,
    );
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ Effect: 'Allow', Action: 'execute-api:Invoke' });
    expect(flatten(statements[0].Resource)).toBe(
      'arn:<Ref:AWS::Partition>:execute-api:<Ref:AWS::Region>:<Ref:AWS::AccountId>:' +
        `<Ref:${stack.getLogicalId(ingestApi.api.node.defaultChild as CfnElement)}>` +
        '/$default/GET/v1/namespaces/orders/mutations/*',
    );
    expect(() => ingestApi.grantRead(role, 'Not A Namespace')).toThrow(InvalidNamespaceNameError);
  });
});

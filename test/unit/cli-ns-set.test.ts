import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetParameterCommand,
  GetParametersByPathCommand,
  ParameterNotFound,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { type NamespaceConfig, parseNamespaceConfig } from '#lambdas/shared/namespace-config';
import {
  connectNamespaceParameters,
  InvalidCurrentConfigError,
  lineDiff,
  NamespaceFileMismatchError,
  NamespaceNotFoundError,
  type NamespaceParameter,
  ProvisionedResourceChangeError,
  planSet,
  planToggle,
  runNsCommand,
} from '#src/cli/commands/ns';
import { UsageError } from '#src/cli/usage-error';
import { writeStackOutputs } from '#src/outputs/outputs-file';

const TABLE = 'ServerlessWal-it-ordersMainTable-ABC123';
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/audit';

/** The orders namespace as config/ holds it: a provisioned table, an existing queue. */
const SOURCE = {
  name: 'orders',
  targets: [
    { name: 'main', type: 'dynamodb', provision: true, key: { partitionKey: 'id' } },
    { name: 'audit', type: 'sqs', queueUrl: QUEUE_URL },
  ],
};

/** The parameter the stack wrote from SOURCE: defaults filled, the table's name written in, version 3. */
function stackParameter(overrides: Record<string, unknown> = {}): NamespaceParameter {
  const config = parseNamespaceConfig(
    {
      ...SOURCE,
      version: 3,
      targets: [{ ...SOURCE.targets[0], tableName: TABLE }, SOURCE.targets[1]],
      ...overrides,
    },
    'test',
  );
  return rawParameter(JSON.stringify(config));
}

function rawParameter(value: string): NamespaceParameter {
  return { namespace: 'orders', parameterName: '/wal/it/namespaces/orders', value };
}

function fileConfig(overrides: Record<string, unknown> = {}): NamespaceConfig {
  return parseNamespaceConfig({ ...SOURCE, ...overrides }, 'orders.json');
}

describe('wal ns set: an isolated namespace', () => {
  const OWN = {
    delay: 'https://sqs.eu-west-1.amazonaws.com/123456789012/own-delay',
    retry: 'https://sqs.eu-west-1.amazonaws.com/123456789012/own-retry',
  };

  it('keeps the queue URLs the stack wrote', () => {
    // GIVEN an isolated namespace's parameter with its own queues, and its source file (no queues)
    const current = stackParameter({ delivery: { isolated: true, queues: OWN } });
    const file = fileConfig({ delivery: { isolated: true }, retry: { maxAttempts: 4 } });
    // WHEN the change is planned THEN its delays and retries still go to its own queues
    expect(planSet(current, file, 'orders.json').config.delivery).toEqual({ isolated: true, queues: OWN });
  });

  it.each([
    // GIVEN isolation turned on, or off, in the file only
    ['turns isolation on', {}, { isolated: true }],
    ['turns isolation off', { delivery: { isolated: true, queues: OWN } }, { isolated: false }],
  ])('fails if the file %s (its queues come and go with a deploy)', (_name, currentOverrides, delivery) => {
    // WHEN the change is planned THEN it is refused, naming delivery.isolated
    expect(() => planSet(stackParameter(currentOverrides), fileConfig({ delivery }), 'orders.json')).toThrow(
      /delivery\.isolated is (true|false) in the parameter/,
    );
  });
});

describe('wal ns set: the planned change', () => {
  it('keeps the provisioned table name, raises the version and diffs the change', () => {
    // GIVEN the stack's parameter (version 3) and the source file with one change: maxAttempts 4
    const file = fileConfig({ retry: { maxAttempts: 4 } });
    // WHEN the change is planned
    const plan = planSet(stackParameter(), file, 'orders.json');
    // THEN the table name stays, the version is 4, and the diff shows only maxAttempts
    expect(plan.config.targets[0]).toMatchObject({ name: 'main', provision: true, tableName: TABLE });
    expect(plan.config.version).toBe(4);
    expect(plan.fromVersion).toBe(3);
    expect(plan.diff.filter((line) => /^[-+]/.test(line))).toEqual([
      '-   "version": 3,',
      '+   "version": 4,',
      '-     "maxAttempts": 8,',
      '+     "maxAttempts": 4,',
    ]);
  });

  it('takes the file version when it is higher than the current one + 1', () => {
    // GIVEN a file that sets version 10 (and one that sets 2, below the current 3)
    const higher = fileConfig({ version: 10, enabled: false });
    const lower = fileConfig({ version: 2, enabled: false });
    // WHEN each is planned / THEN 10 is kept, 2 becomes 4
    expect(planSet(stackParameter(), higher, 'orders.json').config.version).toBe(10);
    expect(planSet(stackParameter(), lower, 'orders.json').config.version).toBe(4);
  });

  it('plans no write when only the version would change (a file as `wal ns get` printed it)', () => {
    // GIVEN the parameter's own JSON as the file, table name included
    const current = stackParameter();
    const file = parseNamespaceConfig(JSON.parse(current.value), 'orders.json');
    // WHEN it is planned / THEN there is nothing to write
    expect(planSet(current, file, 'orders.json').diff).toEqual([]);
  });

  it('fails if the file names another table for the provisioned target', () => {
    // GIVEN a file that gives the provisioned target a table name of its own
    const file = parseNamespaceConfig(
      { ...SOURCE, targets: [{ ...SOURCE.targets[0], tableName: 'other-table' }, SOURCE.targets[1]] },
      'orders.json',
    );
    // WHEN it is planned / THEN it is refused, naming the field and both values
    expect(() => planSet(stackParameter(), file, 'orders.json')).toThrow(ProvisionedResourceChangeError);
    expect(() => planSet(stackParameter(), file, 'orders.json')).toThrow(
      `target "main": "tableName" is ${TABLE}, provisioned by the stack; the file sets other-table`,
    );
  });

  it('fails if the provisioned target would become an existing resource or another type', () => {
    // GIVEN the provisioned "main" as an existing table, and as a provisioned queue
    const existing = fileConfig({
      targets: [{ name: 'main', type: 'dynamodb', tableName: TABLE, key: { partitionKey: 'id' } }],
    });
    const queue = fileConfig({ targets: [{ name: 'main', type: 'sqs', provision: true }] });
    // WHEN each is planned / THEN both are refused: the stack's table stays a provisioned dynamodb target
    for (const file of [existing, queue]) {
      expect(() => planSet(stackParameter(), file, 'orders.json')).toThrow(
        /target "main" is the dynamodb the stack provisioned \(tableName .*\): it must stay "type": "dynamodb" with "provision": true/,
      );
    }
  });

  it('fails if a target asks for provision: true that the stack has not provisioned', () => {
    // GIVEN a new provisioned queue target
    const file = fileConfig({
      targets: [...SOURCE.targets, { name: 'fresh', type: 'sqs', provision: true }],
    });
    // WHEN it is planned / THEN it is refused: nothing would create the queue
    expect(() => planSet(stackParameter(), file, 'orders.json')).toThrow(
      'target "fresh" asks for "provision": true, but the stack has provisioned no sqs for it',
    );
  });

  it('replaces an invalid current value, keeping its version and provisioned table', () => {
    // GIVEN a parameter someone broke (maxAttempts 0) at version 7
    const broken = JSON.parse(stackParameter({ version: 7 }).value);
    broken.retry.maxAttempts = 0;
    // WHEN the source file is planned over it
    const plan = planSet(rawParameter(JSON.stringify(broken)), fileConfig(), 'orders.json');
    // THEN version 8 with the table kept, the diff showing the repair
    expect(plan.config).toMatchObject({ version: 8, targets: [{ tableName: TABLE }, { name: 'audit' }] });
    expect(plan.diff).toContain('-     "maxAttempts": 0,');
    expect(plan.diff).toContain('+     "maxAttempts": 8,');
  });

  it('replaces a value that is not JSON, diffing against its text', () => {
    // GIVEN a parameter holding text; the file without provisioned targets
    const file = fileConfig({ targets: [SOURCE.targets[1]] });
    // WHEN planned / THEN version 2 (the text had none), the text shown as removed
    const plan = planSet(rawParameter('oops'), file, 'orders.json');
    expect(plan.config.version).toBe(2);
    expect(plan.diff[0]).toBe('- oops');
  });
});

describe('wal ns enable|disable: the planned change', () => {
  it('disables with the version raised, and plans nothing when already disabled', () => {
    // WHEN the enabled namespace is disabled
    const plan = planToggle(stackParameter(), false);
    // THEN enabled is false at version 4, the diff shows both
    expect(plan.config).toMatchObject({ enabled: false, version: 4, targets: [{ tableName: TABLE }, {}] });
    expect(plan.diff).toEqual(expect.arrayContaining(['-   "enabled": true,', '+   "enabled": false,']));
    // and a disabled one stays as it is
    expect(planToggle(stackParameter({ enabled: false }), false).diff).toEqual([]);
  });

  it('fails if the current value is not a valid config', () => {
    // GIVEN a parameter holding text / WHEN it is toggled / THEN the operator is sent to `wal ns set`
    expect(() => planToggle(rawParameter('oops'), true)).toThrow(InvalidCurrentConfigError);
    expect(() => planToggle(rawParameter('oops'), true)).toThrow(/wal ns set/);
  });
});

describe('lineDiff', () => {
  it('shows changes with two lines of context and elides the rest', () => {
    // GIVEN ten lines with the 8th changed
    const before = Array.from({ length: 10 }, (_, index) => `line ${index}`);
    const after = before.map((line) => (line === 'line 7' ? 'line seven' : line));
    // WHEN diffed / THEN the change, two lines around it, "..." for the rest
    expect(lineDiff(before.join('\n'), after.join('\n'))).toEqual([
      '  ...',
      '  line 5',
      '  line 6',
      '- line 7',
      '+ line seven',
      '  line 8',
      '  line 9',
    ]);
    expect(lineDiff('same', 'same')).toEqual([]);
  });
});

describe('wal ns commands against Parameter Store (SDK mocked)', () => {
  const ssm = mockClient(SSMClient);
  const scratch = mkdtempSync(join(tmpdir(), 'wal-ns-set-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  beforeEach(() => ssm.reset());

  async function run(subcommand: string, args: string[], options: Record<string, unknown> = {}) {
    const lines: string[] = [];
    const code = await runNsCommand(
      subcommand,
      args,
      { ssmEndpoint: 'http://127.0.0.1:1', ...options },
      (line) => lines.push(line),
    );
    return { code, lines };
  }

  function writeFile(name: string, value: unknown): string {
    const file = join(scratch, `${name}.json`);
    writeFileSync(file, JSON.stringify(value));
    return file;
  }

  it('sets a deployed stage\'s parameter with Overwrite, warning that "cdk deploy" overwrites it', async () => {
    // GIVEN the deployed stage dev's parameter, and the source file with the namespace disabled
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: stackParameter().value } });
    ssm.on(PutParameterCommand).resolves({ Version: 9 });
    const file = writeFile('orders', { ...SOURCE, enabled: false });
    // WHEN `wal ns set orders --file orders.json --stage dev` runs
    const { code, lines } = await run('set', ['orders'], { file, stage: 'dev', ssmEndpoint: undefined });
    // THEN the dev parameter is overwritten with version 4 and the table kept, and the warning is printed
    expect(code).toBe(0);
    const put = ssm.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(put).toMatchObject({ Name: '/wal/dev/namespaces/orders', Overwrite: true, Type: 'String' });
    expect(JSON.parse(put?.Value ?? '')).toMatchObject({
      enabled: false,
      version: 4,
      targets: [{ tableName: TABLE }, {}],
    });
    expect(lines[0]).toBe('namespace "orders" (/wal/dev/namespaces/orders, AWS): version 3 -> 4');
    expect(lines.join('\n')).toMatch(/warning: CloudFormation owns .*next "cdk deploy" of stage dev writes/);
    expect(lines.at(-1)).toMatch(/^written: version 4 of namespace "orders" \(parameter version 9\)/);
  });

  it('fails if a deployed stage would get a plain http:// webhook (its consumers refuse it)', async () => {
    // GIVEN the deployed stage dev's parameter, and a file adding an http:// webhook
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: stackParameter().value } });
    const hook = {
      name: 'hook',
      type: 'http',
      url: 'http://hooks.example.com/wal',
      secret: { ssmParameter: '/s' },
    };
    const file = writeFile('orders', { ...SOURCE, targets: [...SOURCE.targets, hook] });
    // WHEN `wal ns set` runs against dev THEN it refuses, as "cdk synth" would, and writes nothing
    await expect(run('set', ['orders'], { file, stage: 'dev', ssmEndpoint: undefined })).rejects.toThrow(
      /url http:\/\/hooks\.example\.com\/wal is plain http:\/\//,
    );
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('shows the diff and writes nothing with --dry-run', async () => {
    // GIVEN the local parameter and a changed file
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: stackParameter().value } });
    const file = writeFile('orders', { ...SOURCE, payload: { maxBytes: 1024 } });
    // WHEN set runs with --dry-run
    const { code, lines } = await run('set', ['orders'], { file, dryRun: true });
    // THEN the diff is shown, nothing is written
    expect(code).toBe(0);
    expect(lines).toContain('+     "maxBytes": 1024');
    expect(lines.at(-1)).toBe('dry run: nothing written.');
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('fails if the file defines another namespace, or its name is not the namespace name', async () => {
    // GIVEN the file of "audit" given for "orders", and orders' config in other.json
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: stackParameter().value } });
    const audit = writeFile('audit', { ...SOURCE, name: 'audit' });
    const other = writeFile('other', SOURCE);
    // WHEN/THEN each is refused before anything is written
    await expect(run('set', ['orders'], { file: audit })).rejects.toThrow(NamespaceFileMismatchError);
    await expect(run('set', ['orders'], { file: other })).rejects.toThrow(/named "other.json"/);
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('fails if the namespace has no parameter', async () => {
    // GIVEN no parameter / WHEN it is disabled / THEN the error says how namespaces are added
    ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'nope', $metadata: {} }));
    await expect(run('disable', ['nobody'])).rejects.toThrow(NamespaceNotFoundError);
  });

  it('lists every namespace across pages, invalid ones flagged', async () => {
    // GIVEN two pages: orders, then a broken one
    ssm
      .on(GetParametersByPathCommand, { NextToken: undefined })
      .resolves({
        Parameters: [{ Name: '/wal/local/namespaces/orders', Value: stackParameter().value }],
        NextToken: 'page-2',
      })
      .on(GetParametersByPathCommand, { NextToken: 'page-2' })
      .resolves({ Parameters: [{ Name: '/wal/local/namespaces/broken', Value: 'oops' }] });
    // WHEN listed
    const { code, lines } = await run('list', []);
    // THEN one line each, by name, with targets' types and resources
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^broken {2}INVALID: /);
    expect(lines[1]).toBe(`orders  enabled  version 3  main (dynamodb ${TABLE}), audit (sqs ${QUEUE_URL})`);
  });
});

describe('wal ns: where the parameters are', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'wal-ns-where-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("finds the local SSM endpoint in the data dir's outputs.json, and AWS for --stage S alone", () => {
    // GIVEN a data dir whose outputs.json (as the local runtime writes it) names the SSM endpoint of stage it
    writeStackOutputs(join(scratch, 'outputs.json'), 'ServerlessWal-it', {
      LocalSsmEndpoint: 'http://127.0.0.1:4999',
    });
    // WHEN the parameters are located
    const local = connectNamespaceParameters({ stage: 'it', dataDir: scratch });
    const deployed = connectNamespaceParameters({ stage: 'dev' });
    // THEN the local one is that endpoint, --stage dev alone is the deployed stage
    expect([local.where, local.deployed, local.stage]).toEqual(['http://127.0.0.1:4999', false, 'it']);
    expect([deployed.deployed, deployed.stage]).toEqual([true, 'dev']);
    local.destroy();
    deployed.destroy();
  });

  it('fails if both --outputs-file and --data-dir are given, or the endpoint is not a URL', () => {
    // WHEN/THEN each is a usage error
    expect(() =>
      connectNamespaceParameters({ dataDir: scratch, outputsFile: join(scratch, 'x.json') }),
    ).toThrow(UsageError);
    expect(() => connectNamespaceParameters({ ssmEndpoint: 'not a url' })).toThrow(
      /not a valid SSM endpoint URL/,
    );
  });
});

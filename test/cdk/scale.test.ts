import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { NAMESPACE_STACK_COUNT } from '#lib/namespace-parameters';
import { WalStack } from '#lib/wal-stack';
import {
  asList,
  flatten,
  type Json,
  policyStatements,
  removeDir,
  TEST_ENV,
  writeConfigDir,
} from './fixtures';

/**
 * A stage of 300 namespaces synthesized as it deploys, held to the quotas CloudFormation and IAM enforce at
 * deploy time (docs/research/issue-9-aws-facts.md, "Control-plane quotas"). The CDK throws above 500 resources
 * but only warns about the template size, and knows nothing of IAM's policy sizes: measured here.
 */
const NAMESPACE_COUNT = 300;
const QUOTAS = {
  resourcesPerStack: 500,
  templateBytes: 1_000_000,
  outputsPerStack: 200,
  parametersPerStack: 200,
  inlinePolicyChars: 10_240,
  managedPolicyChars: 6_144,
  managedPoliciesPerRole: 10,
  synthMs: 60_000,
} as const;

/** What a token is taken to be once deployed: pseudo parameters as in eu-west-1, anything else a long ARN. */
const DEPLOYED_LENGTH: Record<string, number> = {
  'AWS::Partition': 'aws'.length,
  'AWS::Region': 'eu-west-1'.length,
  'AWS::AccountId': 12,
  'AWS::URLSuffix': 'amazonaws.com'.length,
};
const UNKNOWN_TOKEN_LENGTH = 140;

/** Most namespaces provision one table; every 10th names an existing table, some have 2 or 3 targets. */
function namespaceFile(index: number, allExisting = false): Record<string, unknown> {
  const name = `ns-${String(index).padStart(3, '0')}`;
  const provisioned = { name: 'main', type: 'dynamodb', provision: true, key: { partitionKey: 'id' } };
  const existing = {
    name: 'existing',
    type: 'dynamodb',
    tableName: `team-${index}-table`,
    key: { partitionKey: 'id' },
  };
  const history = {
    name: 'history',
    type: 'dynamodb',
    provision: true,
    key: { partitionKey: 'id', sortKey: 'at' },
  };
  if (allExisting) return { name, targets: [existing] };
  const targets = [[existing], [provisioned, history, existing], [provisioned, history]][index % 10] ?? [
    provisioned,
  ];
  return { name, targets };
}

type Resources = Record<string, { Type: string; Properties?: { [key: string]: Json } }>;
interface StackTemplate {
  readonly file: string;
  readonly bytes: number;
  readonly json: {
    Resources: Resources;
    Outputs?: object;
    Parameters?: object;
    [key: string]: Json | object | undefined;
  };
}

/** A document as IAM counts it: tokens replaced by their deployed length, whitespace left out. */
function deployedPolicyLength(document: Json): number {
  const replace = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(replace);
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value['Fn::Join'])) {
      const [separator, parts] = value['Fn::Join'] as [string, Json[]];
      return parts.map((part) => String(replace(part))).join(separator);
    }
    const token =
      typeof value.Ref === 'string' ? value.Ref : Object.keys(value).find((key) => key.startsWith('Fn::'));
    if (token !== undefined) return 'x'.repeat(DEPLOYED_LENGTH[token] ?? UNKNOWN_TOKEN_LENGTH);
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, replace(field)]));
  };
  return JSON.stringify(replace(document)).replace(/\s/g, '').length;
}

/** Inline characters, managed policies and their largest size, per role of the template. */
function policiesByRole(resources: Resources): Map<string, { inline: number; managed: number[] }> {
  const roles = new Map<string, { inline: number; managed: number[] }>();
  for (const [id, role] of Object.entries(resources).filter(
    ([, resource]) => resource.Type === 'AWS::IAM::Role',
  )) {
    const inline = asList(role.Properties?.Policies as Json[] | undefined).map((policy) =>
      deployedPolicyLength((policy as { PolicyDocument: Json }).PolicyDocument),
    );
    const managedArns = asList(role.Properties?.ManagedPolicyArns as Json[] | undefined);
    roles.set(id, { inline: inline.reduce((a, b) => a + b, 0), managed: managedArns.map(() => 0) });
  }
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const length = deployedPolicyLength(resource.Properties?.PolicyDocument ?? null);
    for (const role of asList(resource.Properties?.Roles as Json[] | undefined)) {
      const entry = roles.get((role as { Ref: string }).Ref);
      if (!entry) continue;
      if (resource.Type === 'AWS::IAM::Policy') entry.inline += length;
      else entry.managed.push(length);
    }
  }
  return roles;
}

interface SynthesizedStage {
  readonly configDir: string;
  readonly stack: WalStack;
  readonly templates: StackTemplate[];
  readonly synthMs: number;
}

/** Writes the stage's 300 namespaces to a throw-away config dir and synthesizes it as it deploys. */
function synthesizeStage(stage: string, allExisting: boolean): SynthesizedStage {
  const configDir = writeConfigDir({
    [stage]: Object.fromEntries(
      Array.from({ length: NAMESPACE_COUNT }, (_, index) => [
        `ns-${String(index).padStart(3, '0')}.json`,
        namespaceFile(index, allExisting),
      ]),
    ),
  });
  // The CDK's own template validation is off: it checks no quota, and takes 10 s more.
  const started = Date.now();
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new WalStack(app, `ServerlessWal-${stage}`, { stage, configDir, env: TEST_ENV });
  const assembly = app.synth();
  const synthMs = Date.now() - started;
  const files = [
    assembly.getStackByName(stack.stackName).templateFile,
    ...fs.readdirSync(assembly.directory).filter((file) => file.endsWith('.nested.template.json')),
  ];
  const templates = files.map((file) => {
    const text = fs.readFileSync(path.join(assembly.directory, file), 'utf8');
    return { file, bytes: Buffer.byteLength(text), json: JSON.parse(text) };
  });
  return { configDir, stack, templates, synthMs };
}

/** Quota violations of IAM: each role's inline characters, managed policy count and sizes. */
function iamViolations(templates: readonly StackTemplate[]): string[] {
  const roles = templates.flatMap(({ json }) => [...policiesByRole(json.Resources)]);
  return roles.flatMap(([role, { inline, managed }]) => [
    ...(inline > QUOTAS.inlinePolicyChars ? [`${role}: ${inline} inline characters`] : []),
    ...(managed.length > QUOTAS.managedPoliciesPerRole
      ? [`${role}: ${managed.length} managed policies`]
      : []),
    ...managed
      .filter((size) => size > QUOTAS.managedPolicyChars)
      .map((size) => `${role}: a managed policy of ${size}`),
  ]);
}

let configDir: string;
let stack: WalStack;
let templates: StackTemplate[];
let synthMs: number;

beforeAll(() => {
  // GIVEN a stage of 300 namespaces (mostly one provisioned table; every 10th an existing table; some with 2 or
  // 3 targets) WHEN it is synthesized
  ({ configDir, stack, templates, synthMs } = synthesizeStage('scale', false));
}, 180_000);

afterAll(() => {
  if (configDir) removeDir(configDir);
});

describe(`a stage of ${NAMESPACE_COUNT} namespaces`, () => {
  test('synthesizes within a minute, into the parent and at most 32 namespace stacks', () => {
    // THEN the synth was quick enough for a test, and every namespace has its stack
    expect(synthMs).toBeLessThan(QUOTAS.synthMs);
    expect(templates.length).toBeGreaterThan(1);
    expect(templates.length).toBeLessThanOrEqual(1 + NAMESPACE_STACK_COUNT);
    expect(stack.namespaces.parameters.size).toBe(NAMESPACE_COUNT);
  });

  test('fits CloudFormation: <= 500 resources, <= 1 MB, <= 200 outputs and parameters per stack', () => {
    // THEN each template (parent and nested) is within every per-stack quota
    const over = templates.flatMap(({ file, bytes, json }) => {
      const counts = {
        resources: [Object.keys(json.Resources).length, QUOTAS.resourcesPerStack],
        bytes: [bytes, QUOTAS.templateBytes],
        outputs: [Object.keys(json.Outputs ?? {}).length, QUOTAS.outputsPerStack],
        parameters: [Object.keys(json.Parameters ?? {}).length, QUOTAS.parametersPerStack],
      };
      return Object.entries(counts)
        .filter(([, [count, quota]]) => (count ?? 0) > (quota ?? 0))
        .map(([what, [count]]) => `${file}: ${count} ${what}`);
    });
    expect(over).toEqual([]);
    // The parent holds the namespace stacks, not the namespaces: far from the limit.
    expect(Object.keys(templates[0]?.json.Resources ?? {}).length).toBeLessThan(150);
  });

  test("fits IAM: each role's inline policies <= 10,240 characters, <= 10 managed policies of <= 6,144", () => {
    // THEN every role of every template is within IAM's quotas, tokens counted at their deployed length
    expect(
      templates.flatMap(({ json }) => [...policiesByRole(json.Resources)]).length,
    ).toBeGreaterThanOrEqual(3);
    expect(iamViolations(templates)).toEqual([]);
  });

  test.each(
    // GIVEN each consumer
    ['streamConsumer', 'queueConsumer'] as const,
  )("the %s's policy names only the stage's targets and the WAL's own resources", (name) => {
    // WHEN the resources of the statements attached to its role are listed
    const parent: StackTemplate['json'] = templates[0]?.json ?? { Resources: {} };
    const role = stack.resolve(stack.consumers[name].handler.role?.roleArn) as {
      'Fn::GetAtt': [string, string];
    };
    const roleId = role['Fn::GetAtt'][0];
    const named = policyStatements(parent as unknown as { [key: string]: Json })
      .filter(({ logicalId }) =>
        asList(parent.Resources[logicalId]?.Properties?.Roles as Json[] | undefined).some(
          (ref) => (ref as { Ref?: string }).Ref === roleId,
        ),
      )
      .flatMap(({ statement }) => asList(statement.Resource).map((resource) => flatten(resource)));
    // THEN each is one of the WAL's own resources (a reference into the parent), a namespace parameter, a
    // provisioned table (by the stack's prefix) or an existing table of the config; and every existing one is there
    const partition = 'arn:<Ref:AWS::Partition>';
    const existing = Array.from({ length: NAMESPACE_COUNT }, (_, index) => index)
      .filter((index) => index % 10 <= 1)
      .map((index) => `${partition}:dynamodb:eu-west-1:111111111111:table/team-${index}-table`);
    const allowed = new Set([
      ...existing,
      `${partition}:dynamodb:eu-west-1:111111111111:table/ServerlessWal-scale-Namespaces*`,
      `${partition}:ssm:eu-west-1:111111111111:parameter/wal/scale/namespaces/*`,
    ]);
    const own = (resource: string) =>
      [...resource.matchAll(/<(?:GetAtt|Ref):([A-Za-z0-9]+)/g)].some(
        ([, id]) => id !== undefined && id in parent.Resources,
      );
    expect(named.filter((resource) => !allowed.has(resource) && !own(resource))).toEqual([]);
    expect(named).toEqual(expect.arrayContaining(existing));
    expect(
      named.some(
        (resource) => resource.includes('*') && !allowed.has(resource) && !resource.includes('/index/*'),
      ),
    ).toBe(false);
  });
});

describe(`a stage of ${NAMESPACE_COUNT} namespaces, each with an existing table (an ARN each in the grants)`, () => {
  test("fits IAM: the consumers' long lists of tables spill into managed policies that each fit", () => {
    // GIVEN 300 namespaces that each name an existing table; WHEN synthesized
    const synthesized = synthesizeStage('existing', true);
    try {
      // THEN the consumers' roles are within IAM's quotas, the tables spread over overflow managed policies
      expect(iamViolations(synthesized.templates)).toEqual([]);
      const roles = synthesized.templates.flatMap(({ json }) => [...policiesByRole(json.Resources)]);
      expect(Math.max(...roles.map(([, { managed }]) => managed.length))).toBeGreaterThan(3);
    } finally {
      removeDir(synthesized.configDir);
    }
  }, 180_000);
});

describe('deployedPolicyLength', () => {
  test('counts pseudo parameters at their deployed length, other tokens as long ARNs, no whitespace', () => {
    // GIVEN a statement with a joined ARN (partition token) and a GetAtt
    const document: Json = {
      Statement: [
        {
          Resource: [
            { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':t']] },
            { 'Fn::GetAtt': ['X', 'Arn'] },
          ],
        },
      ],
    };
    // WHEN measured
    const length = deployedPolicyLength(document);
    // THEN "arn:aws:t" is 9 characters and the GetAtt 140
    expect(length).toBe(JSON.stringify({ Statement: [{ Resource: ['arn:aws:t', 'x'.repeat(140)] }] }).length);
  });
});

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, type CfnElement, NestedStack, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { parseNamespaceConfig } from '#lambdas/shared/namespace-config';
import { PROVISIONED_LOCK_FILE, provisionedEntries } from '#lib/provisioned-lock';
import { WalStack, type WalStackProps } from '#lib/wal-stack';
import type { CfnTemplate } from '#src/local/runtime/cfn-template';
import { flattenNestedStacks } from '#src/local/runtime/nested-stacks';

/** A file's content: an object is written as JSON, a string as is (to write broken JSON). */
export type ConfigFile = Record<string, unknown> | string;

/**
 * Creates a throw-away config dir: `{ stage: { 'name.json': content } }`. The real config/ stays untouched. Each
 * stage gets the lock file of what its valid namespace files provision (as if deployed), unless it has one or
 * `lock` is false.
 */
export function writeConfigDir(
  stages: Record<string, Record<string, ConfigFile>>,
  { lock = true }: { lock?: boolean } = {},
): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wal-config-'));
  for (const [stage, files] of Object.entries(stages)) {
    fs.mkdirSync(path.join(dir, stage));
    for (const [name, content] of Object.entries(files)) {
      const text = typeof content === 'string' ? content : JSON.stringify(content, null, 2);
      fs.writeFileSync(path.join(dir, stage, name), text);
    }
    if (lock && !(PROVISIONED_LOCK_FILE in files)) writeLock(path.join(dir, stage), files);
  }
  return dir;
}

function writeLock(directory: string, files: Record<string, ConfigFile>): void {
  const namespaces = Object.entries(files).flatMap(([name, content]) => {
    if (typeof content === 'string') return [];
    try {
      return [parseNamespaceConfig(content, name)];
    } catch {
      return [];
    }
  });
  const provisioned = provisionedEntries(namespaces);
  if (Object.keys(provisioned).length === 0) return;
  fs.writeFileSync(path.join(directory, PROVISIONED_LOCK_FILE), JSON.stringify({ version: 1, provisioned }));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * An App that skips asset bundling (the assertion tests need the template, not the zip) and the CDK's built-in
 * template validation: without `@aws-cdk/core:validateAgainstDefaultRules` it only warns, so it cannot fail a test,
 * and its WebAssembly engine costs 5 to 15 s per test file. cfn-validation.test.ts runs it, with errors failing.
 */
export function appWithoutBundling(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
}

export const TEST_ENV = { account: '111111111111', region: 'eu-west-1' } as const;

export function newTestStack(
  props: Omit<WalStackProps, 'env'> & { readonly app?: App },
  id = `ServerlessWal-${props.stage}`,
): WalStack {
  const { app = appWithoutBundling(), ...stackProps } = props;
  return new WalStack(app, id, { ...stackProps, env: TEST_ENV });
}

/** The namespace most stack tests need: `orders`, one provisioned table keyed by `id`. */
export const ORDERS_NAMESPACE = {
  name: 'orders',
  targets: [{ name: 'main', type: 'dynamodb', provision: true, key: { partitionKey: 'id' } }],
};

export interface SynthesizedStack {
  readonly configDir: string;
  readonly stack: WalStack;
  readonly template: Template;
}

/**
 * Synthesizes a stage from throw-away config files once for the test file or describe block (beforeAll)
 * and removes them after it; `onSynth` keeps what the tests assert on.
 */
export function synthesizeOnce(
  files: Record<string, ConfigFile>,
  onSynth: (synthesized: SynthesizedStack) => void,
  stage = 'test',
): void {
  let configDir: string | undefined;
  beforeAll(() => {
    configDir = writeConfigDir({ [stage]: files });
    const stack = newTestStack({ stage, configDir });
    onSynth({ configDir, stack, template: stageTemplate(stack) });
  });
  afterAll(() => {
    if (configDir) removeDir(configDir);
  });
}

/**
 * The stack's template with its nested stacks' resources in it (the namespaces live in nested stacks), wired as
 * CloudFormation wires them: what the local runtime runs (src/local/runtime/nested-stacks.ts). Logical ids are the
 * ones each resource has in its own stack.
 */
export function stageTemplate(stack: Stack): Template {
  const nested = new Map(
    stack.node
      .findAll()
      .filter((construct): construct is NestedStack => NestedStack.isNestedStack(construct))
      .map((child) => [
        stack.resolve(child.nestedStackResource?.logicalId) as string,
        Template.fromStack(child).toJSON() as CfnTemplate,
      ]),
  );
  return Template.fromJSON(flattenNestedStacks(Template.fromStack(stack).toJSON() as CfnTemplate, nested));
}

/** The logical id of an L2's CloudFormation resource. */
export function logicalIdOf(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

/** `{ "Fn::GetAtt": [<logical id>, "Arn"] }` of an L2. */
export function arnOf(construct: IConstruct): { 'Fn::GetAtt': [string, string] } {
  return { 'Fn::GetAtt': [logicalIdOf(construct), 'Arn'] };
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Turns a template value into a string: `Fn::Join` is joined, `Ref` becomes `<Ref:id>`,
 * `Fn::GetAtt` becomes `<GetAtt:id.attr>` and `Fn::Select` `<Fn::Select>`, so a test can compare ARNs
 * and parse JSON values.
 */
export function flatten(value: Json | undefined): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const join = value['Fn::Join'];
    if (Array.isArray(join)) {
      const [separator, parts] = join;
      if (typeof separator === 'string' && Array.isArray(parts)) {
        return parts.map((part) => flatten(part)).join(separator);
      }
    }
    const ref = value.Ref;
    if (typeof ref === 'string') return `<Ref:${ref}>`;
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<GetAtt:${getAtt.join('.')}>`;
    // A part computed at deploy time (e.g. from AWS::StackId); stackInstanceIdOf() checks its shape.
    if (value['Fn::Select'] !== undefined) return '<Fn::Select>';
  }
  throw new Error(`Cannot flatten ${JSON.stringify(value)}`);
}

export interface PolicyStatement {
  readonly Effect: string;
  readonly Action?: string | string[];
  readonly Resource?: Json;
  readonly [key: string]: Json | undefined;
}

/** Resource types whose properties hold policy documents, and where the documents are. */
const POLICY_DOCUMENTS: Record<string, (properties: { [key: string]: Json }) => Json[]> = {
  'AWS::IAM::Policy': (properties) => [properties.PolicyDocument ?? null],
  'AWS::IAM::ManagedPolicy': (properties) => [properties.PolicyDocument ?? null],
  'AWS::IAM::Role': (properties) =>
    Array.isArray(properties.Policies)
      ? properties.Policies.map((policy) =>
          policy !== null && typeof policy === 'object' && !Array.isArray(policy)
            ? (policy.PolicyDocument ?? null)
            : null,
        )
      : [],
  'AWS::SQS::QueuePolicy': (properties) => [properties.PolicyDocument ?? null],
  'AWS::SNS::TopicPolicy': (properties) => [properties.PolicyDocument ?? null],
};

/**
 * Every statement of every identity and resource policy in the template, except KMS key
 * policies: those are resource policies on the key itself, where `Resource: "*"` means "this key".
 */
export function policyStatements(template: {
  [key: string]: Json;
}): Array<{ logicalId: string; type: string; statement: PolicyStatement }> {
  const resources = template.Resources as {
    [id: string]: { Type: string; Properties?: { [k: string]: Json } };
  };
  return Object.entries(resources).flatMap(([logicalId, resource]) => {
    const documents = POLICY_DOCUMENTS[resource.Type]?.(resource.Properties ?? {}) ?? [];
    return documents.flatMap((document) => {
      if (document === null || typeof document !== 'object' || Array.isArray(document)) return [];
      const statements = Array.isArray(document.Statement) ? document.Statement : [document.Statement];
      return statements.map((statement) => ({
        logicalId,
        type: resource.Type,
        statement: statement as unknown as PolicyStatement,
      }));
    });
  });
}

export function asList<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * The resources (flattened) of the Allow statements that grant `action` to a role, in every identity policy
 * attached to it. `roleLogicalId` as the template names the role.
 */
export function allowedResources(template: Template, roleLogicalId: string, action: string): string[] {
  const json = template.toJSON() as { [key: string]: Json };
  const resources = json.Resources as { [id: string]: { Properties?: { [key: string]: Json } } };
  const roleRef = JSON.stringify([{ Ref: roleLogicalId }]);
  return policyStatements(json)
    .filter(({ logicalId }) => JSON.stringify(resources[logicalId]?.Properties?.Roles) === roleRef)
    .map(({ statement }) => statement)
    .filter((statement) => statement.Effect === 'Allow' && asList(statement.Action).includes(action))
    .flatMap((statement) => asList(statement.Resource).map((resource) => flatten(resource)));
}

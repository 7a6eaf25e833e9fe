import type { CfnResource, CfnTemplate } from './cfn-template';

const NESTED_STACK_TYPE = 'AWS::CloudFormation::Stack';

/** A template with its nested stacks' parameters (what a nested template's `Ref`s of parameters stand for). */
interface NestedTemplate extends CfnTemplate {
  readonly Parameters?: Record<string, unknown>;
}

/** A nested stack of the template has no template to flatten, or its resources clash with the parent's. */
export class NestedStackFlattenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(
      `${message}. The local runtime flattens nested stacks one level deep from the cloud assembly ` +
        '(src/local/runtime/nested-stacks.ts): check how the stack creates them.',
      options,
    );
    this.name = 'NestedStackFlattenError';
  }
}

/**
 * One template with the resources of every nested stack in it, as CloudFormation would wire them: a nested
 * template's `Ref` to one of its parameters becomes the value the parent passes, and the parent's
 * `Fn::GetAtt [<nested stack>, Outputs.<name>]` becomes the value of that output. The `AWS::CloudFormation::Stack`
 * resources themselves are gone; logical ids stay as they are (the local names are made from them).
 */
export function flattenNestedStacks(
  parent: CfnTemplate,
  nestedTemplates: ReadonlyMap<string, NestedTemplate>,
): CfnTemplate {
  const resources: Record<string, CfnResource> = {};
  const outputs = new Map<string, Record<string, unknown>>();
  for (const [logicalId, resource] of Object.entries(parent.Resources)) {
    if (resource.Type !== NESTED_STACK_TYPE) continue;
    const nested = nestedTemplates.get(logicalId);
    if (!nested) throw new NestedStackFlattenError(`Nested stack ${logicalId} has no template`);
    outputs.set(logicalId, inlineNestedStack(logicalId, resource, nested, parent, resources));
  }
  for (const [logicalId, resource] of Object.entries(parent.Resources)) {
    if (outputs.has(logicalId)) continue;
    const rewritten = replaceOutputRefs(resource, outputs) as CfnResource;
    resources[logicalId] = withoutDependencies(rewritten, new Set(outputs.keys()));
  }
  const flat: CfnTemplate = { ...parent, Resources: resources };
  if (parent.Outputs === undefined) return flat;
  return { ...flat, Outputs: replaceOutputRefs(parent.Outputs, outputs) as CfnTemplate['Outputs'] };
}

/** Adds a nested stack's resources to `resources`, parameters replaced; returns its outputs' values. */
function inlineNestedStack(
  logicalId: string,
  resource: CfnResource,
  nested: NestedTemplate,
  parent: CfnTemplate,
  resources: Record<string, CfnResource>,
): Record<string, unknown> {
  const passed = (resource.Properties?.Parameters ?? {}) as Record<string, unknown>;
  const parameters = new Set(Object.keys(nested.Parameters ?? {}));
  const rewrite = (value: unknown) => replaceParameterRefs(value, parameters, passed);
  for (const [id, inner] of Object.entries(nested.Resources)) {
    if (id in parent.Resources || id in resources) {
      throw new NestedStackFlattenError(`Logical id ${id} of nested stack ${logicalId} is used twice`);
    }
    resources[id] = rewrite(inner) as CfnResource;
  }
  return Object.fromEntries(
    Object.entries(nested.Outputs ?? {}).map(([name, output]) => [name, rewrite(output.Value)]),
  );
}

/** Maps every object and array in a value, bottom-up stopping where `replace` answers. */
function mapValue(value: unknown, replace: (record: Record<string, unknown>) => unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => mapValue(item, replace));
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  const replaced = replace(record);
  if (replaced !== undefined) return replaced;
  return Object.fromEntries(Object.entries(record).map(([key, field]) => [key, mapValue(field, replace)]));
}

function replaceParameterRefs(
  value: unknown,
  parameters: ReadonlySet<string>,
  passed: Record<string, unknown>,
): unknown {
  return mapValue(value, (record) => {
    const ref = record.Ref;
    if (Object.keys(record).length !== 1 || typeof ref !== 'string' || !parameters.has(ref)) return undefined;
    if (!(ref in passed)) throw new NestedStackFlattenError(`Nested stack parameter ${ref} is not passed`);
    return passed[ref];
  });
}

function replaceOutputRefs(value: unknown, outputs: ReadonlyMap<string, Record<string, unknown>>): unknown {
  return mapValue(value, (record) => {
    const getAtt = record['Fn::GetAtt'];
    if (Object.keys(record).length !== 1 || getAtt === undefined) return undefined;
    const [logicalId, attribute] = Array.isArray(getAtt)
      ? [String(getAtt[0]), String(getAtt[1])]
      : [String(getAtt).split('.')[0] ?? '', String(getAtt).split('.').slice(1).join('.')];
    const values = outputs.get(logicalId);
    if (!values) return undefined;
    const name = attribute.replace(/^Outputs\./, '');
    if (!(name in values))
      throw new NestedStackFlattenError(`Nested stack ${logicalId} has no output ${name}`);
    return values[name];
  });
}

/** The nested stacks are gone: a `DependsOn` on one is met once its resources exist (they are created first). */
function withoutDependencies(resource: CfnResource, removed: ReadonlySet<string>): CfnResource {
  if (resource.DependsOn === undefined) return resource;
  const dependsOn = (Array.isArray(resource.DependsOn) ? resource.DependsOn : [resource.DependsOn]).filter(
    (id) => !removed.has(id),
  );
  return { ...resource, DependsOn: dependsOn };
}

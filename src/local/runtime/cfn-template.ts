/** The parts of a synthesized CloudFormation template that the local runtime reads. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly DependsOn?: string | string[];
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { Value: unknown }>;
}

/** What a resource's `Ref` and `Fn::GetAtt` resolve to once it exists locally. */
export interface ResolvedResource {
  readonly ref: string;
  readonly attributes: Readonly<Record<string, string>>;
}

class UnresolvableValueError extends Error {
  constructor(
    readonly where: string,
    readonly value: unknown,
  ) {
    super(
      `Cannot resolve ${JSON.stringify(value)} at ${where}: the local runtime knows Ref, Fn::GetAtt, Fn::Join, ` +
        'Fn::Select, Fn::Split and Fn::Sub of the resources it creates. Use one of those in the stack, or teach ' +
        'src/local/runtime/cfn-template.ts the new one.',
    );
    this.name = 'UnresolvableValueError';
  }
}

export interface ResolveContext {
  readonly resources: ReadonlyMap<string, ResolvedResource>;
  readonly region: string;
  readonly accountId: string;
  readonly stackName: string;
}

function pseudoParameter(name: string, context: ResolveContext): string | undefined {
  const values: Record<string, string> = {
    'AWS::Region': context.region,
    'AWS::AccountId': context.accountId,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': context.stackName,
    'AWS::StackId': `arn:aws:cloudformation:${context.region}:${context.accountId}:stack/${context.stackName}/local`,
  };
  return values[name];
}

/** Resolves the intrinsic functions in a template value against the local resources. */
export function resolveValue(value: unknown, context: ResolveContext, where = '(value)'): unknown {
  if (Array.isArray(value))
    return value.map((item, index) => resolveValue(item, context, `${where}[${index}]`));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const [first] = entries;
  if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
    return resolveIntrinsic(first[0], first[1], context, where);
  }
  return Object.fromEntries(
    entries.map(([key, field]) => [key, resolveValue(field, context, `${where}.${key}`)]),
  );
}

export function resolveString(value: unknown, context: ResolveContext, where: string): string {
  const resolved = resolveValue(value, context, where);
  if (typeof resolved === 'string') return resolved;
  if (typeof resolved === 'number' || typeof resolved === 'boolean') return String(resolved);
  throw new UnresolvableValueError(where, value);
}

function resolveIntrinsic(name: string, argument: unknown, context: ResolveContext, where: string): unknown {
  switch (name) {
    case 'Ref': {
      const target = String(argument);
      const pseudo = pseudoParameter(target, context);
      if (pseudo !== undefined) return pseudo;
      const resource = context.resources.get(target);
      if (!resource) throw new UnresolvableValueError(where, { Ref: argument });
      return resource.ref;
    }
    case 'Fn::GetAtt': {
      const [logicalId, attribute] = Array.isArray(argument) ? argument : String(argument).split('.');
      const value = context.resources.get(String(logicalId))?.attributes[String(attribute)];
      if (value === undefined) throw new UnresolvableValueError(where, { 'Fn::GetAtt': argument });
      return value;
    }
    case 'Fn::Join': {
      const [separator, parts] = argument as [string, unknown[]];
      return parts
        .map((part, index) => resolveString(part, context, `${where}.Fn::Join[${index}]`))
        .join(separator);
    }
    case 'Fn::Select': {
      const [index, list] = argument as [number | string, unknown];
      const resolved = resolveValue(list, context, where);
      if (!Array.isArray(resolved)) throw new UnresolvableValueError(where, { 'Fn::Select': argument });
      return resolved[Number(index)];
    }
    case 'Fn::Split': {
      const [separator, source] = argument as [string, unknown];
      return resolveString(source, context, where).split(separator);
    }
    case 'Fn::Sub': {
      const [text, variables] = Array.isArray(argument) ? argument : [argument, {}];
      return String(text).replace(/\$\{([^}]+)\}/g, (_match, expression: string) => {
        const local = (variables as Record<string, unknown>)[expression];
        if (local !== undefined) return resolveString(local, context, where);
        if (expression.includes('.'))
          return resolveString({ 'Fn::GetAtt': expression.split('.') }, context, where);
        return resolveString({ Ref: expression }, context, where);
      });
    }
    default:
      throw new UnresolvableValueError(where, { [name]: argument });
  }
}

/** The logical id a `{ Ref }` or `{ Fn::GetAtt }` points at, without resolving it. */
export function referencedLogicalId(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.Ref === 'string') return record.Ref;
  const getAtt = record['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return undefined;
}

export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

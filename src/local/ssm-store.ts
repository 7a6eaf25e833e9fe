import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import {
  ParameterAlreadyExistsError,
  ParameterNotFoundError,
  ParameterPatternMismatchError,
  ParameterVersionNotFoundError,
  SsmStateLoadError,
  SsmValidationError,
} from './ssm-errors';

export const PARAMETER_TYPES = ['String', 'StringList', 'SecureString'] as const;
export const PARAMETER_TIERS = ['Standard', 'Advanced', 'Intelligent-Tiering'] as const;
export type ParameterType = (typeof PARAMETER_TYPES)[number];

const storedParameterSchema = z.object({
  Name: z.string(),
  Type: z.enum(PARAMETER_TYPES),
  Value: z.string(),
  Version: z.number().int().positive(),
  LastModifiedDate: z.number(),
  DataType: z.string(),
  Tier: z.enum(['Standard', 'Advanced']),
  Description: z.string().optional(),
  AllowedPattern: z.string().optional(),
  KeyId: z.string().optional(),
});
const stateSchema = z.object({ parameters: z.array(storedParameterSchema) });

export type StoredParameter = z.infer<typeof storedParameterSchema>;

/** A parameter as GetParameter returns it. */
export interface ParameterView {
  Name: string;
  Type: ParameterType;
  Value: string;
  Version: number;
  LastModifiedDate: number;
  ARN: string;
  DataType: string;
  Selector?: string;
}

export interface PutParameterInput {
  Name: string;
  Value: string;
  Type?: ParameterType;
  Overwrite?: boolean;
  Description?: string;
  AllowedPattern?: string;
  Tier?: (typeof PARAMETER_TIERS)[number];
  DataType?: string;
  KeyId?: string;
  Tags?: unknown[];
}

export interface SsmStoreOptions {
  region: string;
  accountId: string;
  persistPath?: string;
}

const NAME_PATTERN = /^[a-zA-Z0-9_.\-/]+$/;
const MAX_NAME_LENGTH = 2048;
const MAX_HIERARCHY_DEPTH = 15;
const MAX_VALUE_LENGTH = { Standard: 4096, Advanced: 8192 } as const;
const DEFAULT_KMS_KEY = 'alias/aws/ssm';

/** Parameter Store state: the rules of the real service, kept in memory, optionally saved to JSON. */
export class SsmStore {
  private readonly parameters = new Map<string, StoredParameter>();

  constructor(private readonly options: SsmStoreOptions) {
    if (options.persistPath) this.load(options.persistPath);
  }

  get(reference: string, decrypt: boolean): ParameterView {
    const { name, selector } = this.parseReference(reference);
    const parameter = this.parameters.get(name);
    if (!parameter) throw new ParameterNotFoundError(name);
    if (selector !== undefined && selector !== String(parameter.Version)) {
      throw new ParameterVersionNotFoundError(name, selector);
    }
    return {
      ...this.view(parameter, decrypt),
      ...(selector === undefined ? {} : { Selector: `:${selector}` }),
    };
  }

  put(input: PutParameterInput): { version: number; tier: string } {
    validateName(input.Name);
    const existing = this.parameters.get(input.Name);
    if (existing && input.Overwrite !== true) throw new ParameterAlreadyExistsError(input.Name);
    if (input.Overwrite === true && input.Tags && input.Tags.length > 0) {
      throw new SsmValidationError(
        "Invalid request: tags and overwrite can't be used together. " +
          'To create a parameter with tags, please remove overwrite flag.',
      );
    }
    const type = input.Type ?? existing?.Type;
    if (!type)
      throw new SsmValidationError(`Parameter Type is required when creating parameter ${input.Name}.`);
    const tier = resolveTier(input.Tier, existing?.Tier, input.Value);
    if (input.Value.length > MAX_VALUE_LENGTH[tier]) {
      throw new SsmValidationError(
        `${tier} tier parameters support a maximum parameter value of ${MAX_VALUE_LENGTH[tier]} characters.`,
      );
    }
    const allowedPattern = input.AllowedPattern ?? existing?.AllowedPattern;
    if (allowedPattern !== undefined && !new RegExp(allowedPattern).test(input.Value)) {
      throw new ParameterPatternMismatchError(input.Name, allowedPattern);
    }
    const parameter: StoredParameter = {
      Name: input.Name,
      Type: type,
      Value: input.Value,
      Version: (existing?.Version ?? 0) + 1,
      LastModifiedDate: Date.now() / 1000,
      DataType: input.DataType ?? existing?.DataType ?? 'text',
      Tier: tier,
      Description: input.Description ?? existing?.Description,
      AllowedPattern: allowedPattern,
      KeyId: type === 'SecureString' ? (input.KeyId ?? existing?.KeyId ?? DEFAULT_KMS_KEY) : undefined,
    };
    this.parameters.set(input.Name, parameter);
    this.save();
    return { version: parameter.Version, tier };
  }

  /**
   * GetParametersByPath: the parameters right under `path` (and deeper when `recursive`), by name, `maxResults`
   * a page; `nextToken` is the last name of the previous page.
   */
  byPath(
    path: string,
    options: { recursive: boolean; decrypt: boolean; maxResults: number; nextToken?: string },
  ): { parameters: ParameterView[]; nextToken?: string } {
    if (!path.startsWith('/'))
      throw new SsmValidationError(`The parameter path ${path} must start with "/".`);
    const prefix = path.endsWith('/') ? path : `${path}/`;
    const after = options.nextToken === undefined ? undefined : decodeToken(options.nextToken);
    const matching = this.sorted().filter((parameter) => {
      const rest = parameter.Name.startsWith(prefix) ? parameter.Name.slice(prefix.length) : undefined;
      if (!rest || (!options.recursive && rest.includes('/'))) return false;
      return after === undefined || parameter.Name > after;
    });
    const page = matching.slice(0, options.maxResults);
    const last = page.at(-1);
    return {
      parameters: page.map((parameter) => this.view(parameter, options.decrypt)),
      ...(matching.length > page.length && last ? { nextToken: encodeToken(last.Name) } : {}),
    };
  }

  arn(name: string): string {
    const { region, accountId } = this.options;
    return `arn:aws:ssm:${region}:${accountId}:parameter${name.startsWith('/') ? name : `/${name}`}`;
  }

  private view(parameter: StoredParameter, decrypt: boolean): ParameterView {
    return {
      Name: parameter.Name,
      Type: parameter.Type,
      // Without WithDecryption the real service returns KMS ciphertext, never the secret.
      Value:
        parameter.Type === 'SecureString' && !decrypt ? fakeCiphertext(parameter.Value) : parameter.Value,
      Version: parameter.Version,
      LastModifiedDate: parameter.LastModifiedDate,
      ARN: this.arn(parameter.Name),
      DataType: parameter.DataType,
    };
  }

  private sorted(): StoredParameter[] {
    return [...this.parameters.values()].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  }

  /** Accepts a name, an ARN, and an optional `:version` selector, as GetParameter does. */
  private parseReference(reference: string): { name: string; selector?: string } {
    const arn = /^arn:[^:]+:ssm:[^:]*:[^:]*:parameter(\/[^:]*)(?::(.*))?$/.exec(reference);
    if (arn?.[1]) {
      const tail = arn[1];
      // `foo` and `/foo` share one ARN: prefer whichever exists.
      const name = this.parameters.has(tail) || !this.parameters.has(tail.slice(1)) ? tail : tail.slice(1);
      return arn[2] === undefined ? { name } : { name, selector: arn[2] };
    }
    const colon = reference.lastIndexOf(':');
    return colon < 0
      ? { name: reference }
      : { name: reference.slice(0, colon), selector: reference.slice(colon + 1) };
  }

  private load(path: string): void {
    if (!existsSync(path)) return;
    try {
      const state = stateSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
      for (const parameter of state.parameters) this.parameters.set(parameter.Name, parameter);
    } catch (err) {
      throw new SsmStateLoadError(path, err);
    }
  }

  /** Writes the whole state to a temporary file and renames it, so a crash never leaves half a file. */
  private save(): void {
    const path = this.options.persistPath;
    if (!path) return;
    mkdirSync(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify({ parameters: this.sorted() }, null, 2));
    renameSync(temporary, path);
  }
}

function validateName(name: string): void {
  if (name.length > MAX_NAME_LENGTH) {
    throw new SsmValidationError(`Parameter name must be at most ${MAX_NAME_LENGTH} characters.`);
  }
  if (!NAME_PATTERN.test(name)) {
    throw new SsmValidationError(
      `Parameter name ${name} is not valid: use only a-zA-Z0-9_.- and / (for hierarchies).`,
    );
  }
  if (name.includes('/') && !name.startsWith('/')) {
    throw new SsmValidationError(`Parameter name ${name} must be a fully qualified name (start with /).`);
  }
  if (name.split('/').length - 1 > MAX_HIERARCHY_DEPTH) {
    throw new SsmValidationError(`Parameter name ${name} has more than ${MAX_HIERARCHY_DEPTH} levels.`);
  }
  if (/^\/?(aws|ssm)/i.test(name)) {
    throw new SsmValidationError(
      'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).',
    );
  }
}

function resolveTier(
  requested: PutParameterInput['Tier'],
  existing: StoredParameter['Tier'] | undefined,
  value: string,
): StoredParameter['Tier'] {
  if (requested === 'Intelligent-Tiering')
    return value.length > MAX_VALUE_LENGTH.Standard ? 'Advanced' : 'Standard';
  return requested ?? existing ?? 'Standard';
}

function encodeToken(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  const name = Buffer.from(token, 'base64url').toString('utf8');
  if (!name.startsWith('/')) throw new SsmValidationError('The NextToken is not valid.');
  return name;
}

function fakeCiphertext(value: string): string {
  return Buffer.from(`local-kms:${value}`).toString('base64');
}

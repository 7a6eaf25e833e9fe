import type { MutationOp } from '#lambdas/shared/envelope';
import type { DynamoDbTargetConfig } from '#lambdas/shared/namespace-config';
import type { Item } from './item-history';
import type { Target, UpdateSpec } from './target';
import { RESERVED_ATTRIBUTE_PREFIX } from './wal-attributes';

/** What ingest asks of a target before it logs a mutation: is the payload fine, and what key orders it. */
export type TargetValidator = Pick<Target, 'name' | 'type' | 'validate' | 'partitionKeyOf'>;

/**
 * The ingest half of a DynamoDB target: payload and key checks, and the partition key. Apart from the apply half
 * (dynamodb-target.ts), so the ingest bundle holds no read-modify-write code and no item history.
 */
export function isItem(value: unknown): value is Item {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isKeyValue(value: unknown): value is string | number {
  return (
    (typeof value === 'string' && value.length > 0) || (typeof value === 'number' && Number.isFinite(value))
  );
}

interface KeyAttribute {
  readonly name: string;
  readonly type: 'string' | 'number';
  /** DynamoDB's limit: 2048 bytes for a partition key, 1024 for a sort key. */
  readonly maxBytes: number;
}

/** Why a key value does not fit its attribute, or undefined when it does. */
function keyValueProblem(key: KeyAttribute, value: unknown): string | undefined {
  if (key.type === 'number')
    return typeof value === 'number' && Number.isFinite(value) ? undefined : 'a number';
  if (typeof value !== 'string' || value.length === 0) return 'a non-empty string';
  return Buffer.byteLength(value, 'utf8') > key.maxBytes
    ? `a string of at most ${key.maxBytes} bytes`
    : undefined;
}

function reservedNameProblems(payload: Item): string[] {
  return Object.keys(payload)
    .filter((attribute) => attribute.startsWith(RESERVED_ATTRIBUTE_PREFIX))
    .map(
      (attribute) =>
        `payload.${attribute}: attribute names starting with "${RESERVED_ATTRIBUTE_PREFIX}" are reserved for the WAL`,
    );
}

export class DynamoDbValidator implements TargetValidator {
  readonly type = 'dynamodb';
  readonly name: string;
  protected readonly keyAttributes: string[];
  private readonly keys: KeyAttribute[];

  constructor(protected readonly config: DynamoDbTargetConfig) {
    this.name = config.name;
    const { key } = config;
    this.keys = [
      { name: key.partitionKey, type: key.partitionKeyType ?? 'string', maxBytes: 2048 },
      ...(key.sortKey ? [{ name: key.sortKey, type: key.sortKeyType ?? 'string', maxBytes: 1024 }] : []),
    ];
    this.keyAttributes = this.keys.map((attribute) => attribute.name);
  }

  validate(payload: unknown, op: MutationOp, update?: UpdateSpec): string[] {
    if (!isItem(payload)) {
      return [
        `target "${this.name}" (dynamodb) needs payload to be a JSON object (the item${op === 'put' ? '' : "'s key"})`,
      ];
    }
    return [...this.keyProblems(payload), ...reservedNameProblems(payload), ...this.updateProblems(update)];
  }

  private keyProblems(payload: Item): string[] {
    return this.keys.flatMap((key) => {
      const expected = keyValueProblem(key, payload[key.name]);
      return expected
        ? [`target "${this.name}" needs payload.${key.name}, its key attribute, as ${expected}`]
        : [];
    });
  }

  private updateProblems(update: UpdateSpec | undefined): string[] {
    const set = Object.keys(update?.set ?? {});
    const added = new Set(Object.keys(update?.add ?? {}));
    const problems = set
      .filter((attribute) => added.has(attribute))
      .map((attribute) => `update: "${attribute}" is in both "set" and "add"; use one`);
    for (const attribute of [...set, ...added]) {
      const problem = this.updatedAttributeProblem(attribute);
      if (problem) problems.push(problem);
    }
    return problems;
  }

  /** Why an attribute may not be set or added to, or undefined when it may. */
  private updatedAttributeProblem(attribute: string): string | undefined {
    if (attribute === '') return 'update: an attribute name is empty';
    if (this.keyAttributes.includes(attribute)) {
      return `update: "${attribute}" is a key attribute of target "${this.name}" and cannot be updated`;
    }
    if (attribute.startsWith(RESERVED_ATTRIBUTE_PREFIX)) {
      return `update: attribute names starting with "${RESERVED_ATTRIBUTE_PREFIX}" are reserved for the WAL`;
    }
    return undefined;
  }

  partitionKeyOf(payload: unknown): string | undefined {
    if (!isItem(payload)) return undefined;
    const values = this.keyAttributes.map((attribute) => payload[attribute]);
    if (!values.every(isKeyValue)) return undefined;
    return values.map(String).join('#');
  }
}

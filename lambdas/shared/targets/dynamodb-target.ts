import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type LoggedMutation, type MutationOp, walOrder } from '../envelope';
import { type DynamoDbTargetConfig, RESERVED_ATTRIBUTE_PREFIX } from '../namespace-config';
import type { ApplyOutcome, Target, UpdateSpec } from './target';

/** Attributes the WAL adds to every item it writes: its order, and the id of the mutation. */
export const ORDER_ATTRIBUTE = `${RESERVED_ATTRIBUTE_PREFIX}Order`;
export const MUTATION_ID_ATTRIBUTE = `${RESERVED_ATTRIBUTE_PREFIX}Id`;

// Written only if the item holds no mutation at all or an older one: redeliveries and stale retries are no-ops.
const NEWER_THAN_STORED = 'attribute_not_exists(#order) OR #order < :order';

type Item = Record<string, unknown>;

function isItem(value: unknown): value is Item {
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

export class DynamoDbTarget implements Target {
  readonly type = 'dynamodb';
  readonly name: string;
  private readonly keyAttributes: string[];
  private readonly keys: KeyAttribute[];

  constructor(
    private readonly config: DynamoDbTargetConfig,
    private readonly documentClient: DynamoDBDocumentClient,
  ) {
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
    const problems: string[] = [];
    for (const key of this.keys) {
      const expected = keyValueProblem(key, payload[key.name]);
      if (expected)
        problems.push(`target "${this.name}" needs payload.${key.name}, its key attribute, as ${expected}`);
    }
    for (const attribute of Object.keys(payload)) {
      if (attribute.startsWith(RESERVED_ATTRIBUTE_PREFIX)) {
        problems.push(
          `payload.${attribute}: attribute names starting with "${RESERVED_ATTRIBUTE_PREFIX}" are reserved for the WAL`,
        );
      }
    }
    const added = new Set(Object.keys(update?.add ?? {}));
    for (const attribute of Object.keys(update?.set ?? {})) {
      if (added.has(attribute)) problems.push(`update: "${attribute}" is in both "set" and "add"; use one`);
    }
    const updated = [...Object.keys(update?.set ?? {}), ...added];
    for (const attribute of updated) {
      if (attribute === '') {
        problems.push('update: an attribute name is empty');
        continue;
      }
      if (this.keyAttributes.includes(attribute)) {
        problems.push(
          `update: "${attribute}" is a key attribute of target "${this.name}" and cannot be updated`,
        );
      } else if (attribute.startsWith(RESERVED_ATTRIBUTE_PREFIX)) {
        problems.push(
          `update: attribute names starting with "${RESERVED_ATTRIBUTE_PREFIX}" are reserved for the WAL`,
        );
      }
    }
    return problems;
  }

  partitionKeyOf(payload: unknown): string | undefined {
    if (!isItem(payload)) return undefined;
    const values = this.keyAttributes.map((attribute) => payload[attribute]);
    if (!values.every(isKeyValue)) return undefined;
    return values.map(String).join('#');
  }

  async apply(mutation: LoggedMutation): Promise<ApplyOutcome> {
    const { envelope } = mutation;
    if (!isItem(envelope.payload)) {
      throw new Error(`mutation ${envelope.id}: payload is not an object`);
    }
    const condition = {
      TableName: this.tableName(),
      ConditionExpression: NEWER_THAN_STORED,
      ExpressionAttributeNames: { '#order': ORDER_ATTRIBUTE },
      ExpressionAttributeValues: { ':order': walOrder(mutation) } as Record<string, unknown>,
    };
    try {
      if (envelope.op === 'delete') {
        await this.documentClient.send(
          new DeleteCommand({ ...condition, Key: this.keyOf(envelope.payload) }),
        );
      } else if (envelope.op === 'update') {
        await this.documentClient.send(
          new UpdateCommand({
            ...updateExpression(envelope.update ?? {}, envelope.id, condition),
            Key: this.keyOf(envelope.payload),
          }),
        );
      } else {
        const item = {
          ...envelope.payload,
          [ORDER_ATTRIBUTE]: walOrder(mutation),
          [MUTATION_ID_ATTRIBUTE]: envelope.id,
        };
        await this.documentClient.send(new PutCommand({ ...condition, Item: item }));
      }
      return 'applied';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'superseded';
      throw error;
    }
  }

  private keyOf(payload: Item): Item {
    return Object.fromEntries(this.keyAttributes.map((attribute) => [attribute, payload[attribute]]));
  }

  private tableName(): string {
    if (!this.config.tableName) {
      throw new Error(`target "${this.name}" has no tableName: the stack fills it in for provisioned tables`);
    }
    return this.config.tableName;
  }
}

interface ConditionalWrite {
  readonly TableName: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
}

/** SET the `set` attributes and the WAL's order and id, ADD the `add` numbers; guarded by the order. */
function updateExpression(update: UpdateSpec, mutationId: string, condition: ConditionalWrite) {
  const names: Record<string, string> = {
    ...condition.ExpressionAttributeNames,
    '#walId': MUTATION_ID_ATTRIBUTE,
  };
  const values: Record<string, unknown> = { ...condition.ExpressionAttributeValues, ':id': mutationId };
  const sets = ['#order = :order', '#walId = :id'];
  const adds: string[] = [];
  for (const [index, [attribute, value]] of Object.entries(update.set ?? {}).entries()) {
    names[`#s${index}`] = attribute;
    values[`:s${index}`] = value;
    sets.push(`#s${index} = :s${index}`);
  }
  for (const [index, [attribute, value]] of Object.entries(update.add ?? {}).entries()) {
    names[`#a${index}`] = attribute;
    values[`:a${index}`] = value;
    adds.push(`#a${index} :a${index}`);
  }
  return {
    ...condition,
    UpdateExpression: `SET ${sets.join(', ')}${adds.length > 0 ? ` ADD ${adds.join(', ')}` : ''}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  convertToAttr,
  convertToNative,
  type marshallOptions,
  type unmarshallOptions,
} from '@aws-sdk/util-dynamodb';
import { isPlainObject } from './storable-json';

/**
 * Marshalling that stores every field name as sent. @aws-sdk/util-dynamodb (under lib-dynamodb) tells a
 * map from a string, number or set by reading `value.constructor.name`, so an item with its own field
 * `constructor` fails ("Unsupported type passed") or is written as something else (`{constructor:
 * {name: "String"}}` becomes the string "[object Object]"); and it builds maps with `map[key] = ...`,
 * which drops `__proto__`. Here maps and lists are told apart by their prototype and built with
 * Object.fromEntries (define, not assign); scalars, sets and binaries still go through util-dynamodb.
 */

export function toAttributeValue(value: unknown, options: marshallOptions = {}): AttributeValue {
  if (Array.isArray(value)) {
    return { L: value.filter((item) => keep(item, options)).map((item) => toAttributeValue(item, options)) };
  }
  if (isPlainObject(value)) {
    return {
      M: Object.fromEntries(
        Object.entries(value)
          .filter(([, field]) => keep(field, options))
          .map(([name, field]) => [name, toAttributeValue(field, options)]),
      ),
    };
  }
  return convertToAttr(value, options);
}

export function fromAttributeValue(value: AttributeValue, options: unmarshallOptions = {}): unknown {
  if (value.M !== undefined) {
    return Object.fromEntries(
      Object.entries(value.M).map(([name, field]) => [name, fromAttributeValue(field, options)]),
    );
  }
  if (value.L !== undefined) return value.L.map((item) => fromAttributeValue(item, options));
  return convertToNative(value, options);
}

function keep(value: unknown, options: marshallOptions): boolean {
  return typeof value !== 'function' && (value !== undefined || !options.removeUndefinedValues);
}

/*
 * lib-dynamodb names, per command, where native values sit in the input and output ("key nodes"):
 * null = this value itself, {} = every value of this map, [] = every member of this list,
 * {"*": nodes} = every entry, then `nodes` inside it, {name: nodes} = only these fields.
 */
type KeyNodes = null | readonly unknown[] | { readonly [name: string]: unknown };

function isKeyNodes(nodes: unknown): nodes is KeyNodes {
  return nodes === null || typeof nodes === 'object';
}

function transform(value: unknown, nodes: unknown, convert: (value: unknown) => unknown): unknown {
  if (value === undefined || !isKeyNodes(nodes)) return value;
  if (nodes === null) return convert(value);
  const names = Object.keys(nodes);
  if (names.length === 0) return transformEvery(value, (member) => convert(member));
  if (names.length === 1 && names[0] === '*') {
    const inner = (nodes as Record<string, unknown>)['*'];
    return transformEvery(value, (member) => transform(member, inner, convert));
  }
  return transformFields(value, nodes as Record<string, unknown>, convert);
}

function transformEvery(value: unknown, convert: (member: unknown) => unknown): unknown {
  if (Array.isArray(value)) return value.filter((member) => typeof member !== 'function').map(convert);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, member]) => typeof member !== 'function')
      .map(([name, member]) => [name, convert(member)])
      .filter(([, converted]) => converted !== undefined),
  );
}

function transformFields(
  value: unknown,
  nodes: Record<string, unknown>,
  convert: (value: unknown) => unknown,
): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, field]) => typeof field !== 'function')
      .map(([name, field]) => [
        name,
        Object.hasOwn(nodes, name) ? transform(field, nodes[name], convert) : field,
      ])
      .filter(([, converted]) => converted !== undefined),
  );
}

/** What a lib-dynamodb command carries besides its input: the key nodes and the low-level command. */
interface DocumentCommandParts {
  readonly input: unknown;
  readonly inputKeyNodes: unknown;
  readonly outputKeyNodes: unknown;
  readonly clientCommand: object;
}

function isDocumentCommand(command: unknown): command is DocumentCommandParts {
  return (
    typeof command === 'object' &&
    command !== null &&
    'inputKeyNodes' in command &&
    'outputKeyNodes' in command &&
    'clientCommand' in command &&
    typeof command.clientCommand === 'object' &&
    command.clientCommand !== null
  );
}

type LowLevelCommandClass = new (input: unknown) => object;
type Send = (command: unknown, options?: unknown) => Promise<unknown>;

/**
 * Makes `documentClient.send` marshal with the functions above: each lib-dynamodb command is sent as its
 * low-level command (same class, e.g. PutItemCommand) through `client`, so middleware (retries, the fault
 * injector) is the same; other commands pass through unchanged.
 */
export function withExactMarshalling(
  documentClient: DynamoDBDocumentClient,
  client: DynamoDBClient,
  options: { marshall: marshallOptions; unmarshall: unmarshallOptions },
): DynamoDBDocumentClient {
  const documentSend = documentClient.send.bind(documentClient) as Send;
  const send: Send = async (command, sendOptions) => {
    if (!isDocumentCommand(command)) return documentSend(command, sendOptions);
    const LowLevelCommand = command.clientCommand.constructor as LowLevelCommandClass;
    const input = transform(command.input, command.inputKeyNodes, (value) =>
      toAttributeValue(value, options.marshall),
    );
    // Looked up per call, so a test's mock of `client.send` is used.
    const output = await (client.send as Send).call(client, new LowLevelCommand(input), sendOptions);
    return transform(output, command.outputKeyNodes, (value) =>
      fromAttributeValue(value as AttributeValue, options.unmarshall),
    );
  };
  documentClient.send = send as DynamoDBDocumentClient['send'];
  return documentClient;
}

/**
 * The size DynamoDB bills an item by: the sum of its attribute names' and values' lengths, per
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 * (strings: UTF-8 bytes; numbers: 1 byte per two significant digits + 1; binary: raw bytes; null and
 * booleans: 1; lists and maps: 3 bytes + 1 per element; sets: their elements). One write unit is 1 KB.
 */
export function dynamoDbItemSize(item: object): number {
  return Object.entries(item).reduce(
    (total, [name, value]) => (value === undefined ? total : total + utf8Bytes(name) + valueSize(value)),
    0,
  );
}

function valueSize(value: unknown): number {
  if (typeof value === 'string') return utf8Bytes(value);
  if (typeof value === 'number') return numberSize(value);
  if (typeof value === 'boolean' || value === null) return 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set)
    return [...value].reduce((total: number, element) => total + valueSize(element), 0);
  if (Array.isArray(value))
    return 3 + value.reduce((total: number, element) => total + 1 + valueSize(element), 0);
  if (typeof value === 'object') {
    const fields = Object.entries(value as Record<string, unknown>);
    return 3 + fields.reduce((total, [name, field]) => total + 1 + utf8Bytes(name) + valueSize(field), 0);
  }
  throw new TypeError(`DynamoDB stores no ${typeof value}`);
}

function numberSize(value: number): number {
  // Leading and trailing zeros are trimmed: only the significant digits count.
  const [mantissa = ''] = Math.abs(value).toString().split('e');
  const digits = mantissa.replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(digits.length / 2) + 1;
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

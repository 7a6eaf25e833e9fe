import type { AttributeValue, WireItem } from './wire';

/**
 * An item's size as DynamoDB counts it (names + values; numbers about 1 byte per 2 digits), in bytes.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 */
export function itemSize(item: WireItem): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + utf8(name) + valueSize(value), 0);
}

function valueSize(value: AttributeValue): number {
  const [type, content] = Object.entries(value)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return utf8(String(content));
    case 'N':
      return numberSize(String(content));
    case 'B':
      return Buffer.from(String(content), 'base64').length;
    case 'SS':
      return (content as string[]).reduce((sum, s) => sum + utf8(s), 0);
    case 'NS':
      return (content as string[]).reduce((sum, n) => sum + numberSize(n), 0);
    case 'BS':
      return (content as string[]).reduce((sum, b) => sum + Buffer.from(b, 'base64').length, 0);
    case 'L':
      return 3 + (content as AttributeValue[]).reduce((sum, v) => sum + 1 + valueSize(v), 0);
    case 'M':
      return 3 + Object.keys(content as WireItem).length + itemSize(content as WireItem);
    default:
      return 1;
  }
}

function numberSize(n: string): number {
  return Math.ceil(n.replace(/^[-+]|\.|e.*$/gi, '').replace(/^0+/, '').length / 2) + 1;
}

function utf8(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

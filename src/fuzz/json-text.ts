/**
 * JSON built as text from entries, so a generated object can hold any field name — `__proto__` too —
 * and repeated names, exactly as a client could send them. (An object literal or `obj[name] = v` in
 * the generator would already lose `__proto__`.)
 */
export type JsonTree =
  | { readonly kind: 'scalar'; readonly value: string | number | boolean | null }
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'array'; readonly items: readonly JsonTree[] }
  | { readonly kind: 'object'; readonly fields: readonly (readonly [string, JsonTree])[] };

export function jsonText(tree: JsonTree): string {
  switch (tree.kind) {
    case 'scalar':
      return JSON.stringify(tree.value);
    case 'raw':
      return tree.text;
    case 'array':
      return `[${tree.items.map(jsonText).join(',')}]`;
    case 'object':
      return `{${tree.fields.map(([name, field]) => `${JSON.stringify(name)}:${jsonText(field)}`).join(',')}}`;
  }
}

export function scalar(value: string | number | boolean | null): JsonTree {
  return { kind: 'scalar', value };
}

export function object(fields: readonly (readonly [string, JsonTree])[]): JsonTree {
  return { kind: 'object', fields };
}

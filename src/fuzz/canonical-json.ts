/**
 * JSON with object fields sorted, for comparing what was sent with what was stored: field order is not
 * data, and objects parsed in another realm (fetch, worker threads) compare equal to local ones.
 * Fields are read with Object.entries, so `__proto__` and `constructor` count like any other name.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const fields = Object.entries(value)
      .filter(([, field]) => field !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${fields.map(([name, field]) => `${JSON.stringify(name)}:${canonicalJson(field)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

/** The item minus the attributes the WAL adds (all start with `_wal`). */
export function withoutWalAttributes(item: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(item).filter(([name]) => !name.startsWith('_wal')));
}

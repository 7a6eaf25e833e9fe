/**
 * The HTTP API's routes, defined once: the stack declares them (lib/wal-ingest-api.ts) and the ingest
 * Lambda switches on the route keys API Gateway puts in its events.
 */
export const ROUTES = {
  mutate: { method: 'POST', path: '/v1/namespaces/{namespace}/mutations' },
  /** Up to 100 mutations, one answer each (docs/decisions.md, "Batch endpoint"). */
  mutateBatch: { method: 'POST', path: '/v1/namespaces/{namespace}/mutations:batch' },
  getMutation: { method: 'GET', path: '/v1/namespaces/{namespace}/mutations/{id}' },
  health: { method: 'GET', path: '/v1/health' },
} as const;

export type Route = (typeof ROUTES)[keyof typeof ROUTES];

/** API Gateway's route key (`METHOD /path`): what an HTTP API event carries as `routeKey`. */
export function routeKey(route: Route): string {
  return `${route.method} ${route.path}`;
}

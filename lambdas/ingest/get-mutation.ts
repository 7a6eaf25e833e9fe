import { ProblemError } from '#lambdas/shared/http/problem';
import { findLedgerEntryById } from '#lambdas/shared/ledger';
import type { IngestDependencies } from './ingest-mutation';

/** What `GET /v1/namespaces/{ns}/mutations/{id}` answers: the mutation as the ledger holds it. */
export interface MutationView {
  readonly id: string;
  readonly namespace: string;
  readonly state: string;
  readonly idempotencyKey: string;
  readonly sequence?: string;
  readonly op?: string;
  readonly partitionKey?: string;
  readonly payload?: unknown;
  readonly targets?: string[];
  readonly loggedAt?: string;
  readonly deliverAt?: string;
}

const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/i;

export async function getMutation(
  deps: IngestDependencies,
  namespace: string,
  id: string,
): Promise<MutationView> {
  // An unknown namespace is a 404 of its own, before the id is looked up.
  await deps.namespaces.get(namespace);
  const notFound = new ProblemError(
    404,
    'mutation-not-found',
    'Mutation not found',
    `Namespace "${namespace}" has no committed mutation "${id}". Check the id; a mutation committed a moment ago ` +
      'may take a second to appear, and one older than the namespace retention is gone.',
  );
  if (!ULID_PATTERN.test(id)) throw notFound;
  const entry = await findLedgerEntryById(deps.ledger, namespace, id);
  if (!entry?.id) throw notFound;
  const envelope = entry.envelope;
  return {
    id: entry.id,
    namespace: entry.namespace,
    state: entry.state,
    idempotencyKey: entry.idempotencyKey,
    ...(entry.sequence ? { sequence: entry.sequence } : {}),
    ...(envelope
      ? {
          op: envelope.op,
          partitionKey: envelope.partitionKey,
          payload: envelope.payload,
          ...(envelope.targets ? { targets: envelope.targets } : {}),
          loggedAt: new Date(envelope.loggedAt).toISOString(),
          ...(envelope.deliverAt !== undefined
            ? { deliverAt: new Date(envelope.deliverAt).toISOString() }
            : {}),
        }
      : {}),
  };
}

import { readMutationStatus } from '#lambdas/shared/delivery-status';
import { ITEMS_DELIVERY_TARGET, ULID_PATTERN } from '#lambdas/shared/envelope';
import { badRequest, ProblemError } from '#lambdas/shared/http/problem';
import { getLedgerEntry, type LedgerEntry } from '#lambdas/shared/ledger';
import { IDEMPOTENCY_KEY_PATTERN } from '#lambdas/shared/mutation-request';
import type { IngestDependencies } from './ingest-mutation';
import { type EnvelopeView, readEnvelopeView } from './read-envelope';
import { type StatusView, statusView, unavailableStatusView } from './target-states';

/**
 * What `GET /v1/namespaces/{ns}/mutations/{id}` answers: what the lean ledger knows of a committed mutation, each
 * target's state (target-states.ts), and with `?view=full` its envelope (op, payload, ...) read back from the stream.
 */
export interface MutationView extends Partial<EnvelopeView> {
  readonly id: string;
  readonly namespace: string;
  readonly state: string;
  readonly idempotencyKey: string;
  readonly sequence?: string;
  readonly shardId?: string;
  readonly loggedAt: string;
  readonly effectiveAt?: string;
  /** Where the mutation is, per target. */
  readonly status: StatusView;
}

/** What the client may add to the path: the mutation's idempotency key (query or header) and the view. */
export interface MutationQuery {
  readonly idempotencyKey?: string | undefined;
  readonly view?: string | undefined;
}

const VIEWS = ['ledger', 'full'];

/**
 * Two strongly consistent GetItems at once (the ledger entry, the status item), no index: a keyless request's idempotency key is its id, so
 * `namespace#id` finds it; a keyed one is found by `namespace#key` when the client passes its key.
 */
export async function getMutation(
  deps: IngestDependencies,
  namespace: string,
  id: string,
  query: MutationQuery = {},
): Promise<MutationView> {
  // An unknown namespace is a 404 of its own, before the id is looked up.
  const config = await deps.namespaces.get(namespace);
  checkQuery(query);
  const key = query.idempotencyKey ?? id;
  if (!ULID_PATTERN.test(id)) throw notFound(namespace, id, query.idempotencyKey);
  // The status item is keyed by id, so both reads go out at once: one round trip. Only the ledger read is
  // essential: when the status read fails the answer is the ledger's view, its status marked unavailable.
  const [entry, status] = await Promise.all([
    getLedgerEntry(deps.ledger, namespace, key),
    readMutationStatus(deps, namespace, id).then(
      (read) => ({ read }),
      (error: unknown) => ({ error }),
    ),
  ]);
  if (entry?.state !== 'COMMITTED' || entry.id !== id) throw notFound(namespace, id, query.idempotencyKey);
  if ('error' in status) deps.logger.warn('Status read failed', { namespace, id, error: status.error });
  const view = ledgerView(entry, namespace, id, key);
  const statusOf = (targets?: readonly string[]) =>
    'error' in status
      ? unavailableStatusView(config, status.error)
      : statusView(config, entry, status.read, deps.now(), targets);
  if (query.view !== 'full') return { ...view, status: statusOf() };
  const envelope = await readEnvelopeView(deps, entry, id);
  // A multi-item mutation is one delivery; an envelope without its own targets goes to the namespace's. Known
  // here, so no note about them.
  const targets = envelope.items
    ? [ITEMS_DELIVERY_TARGET]
    : (envelope.targets ?? config.targets.map((target) => target.name));
  return { ...view, ...envelope, status: statusOf(targets) };
}

function checkQuery(query: MutationQuery): void {
  if (query.idempotencyKey !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(query.idempotencyKey)) {
    throw badRequest(
      'invalid-idempotency-key',
      'The idempotency key (query "idempotencyKey" or header "Idempotency-Key") must be the one the mutation ' +
        'was sent with: printable ASCII without spaces, as long as ingest allows.',
    );
  }
  if (query.view !== undefined && !VIEWS.includes(query.view)) {
    throw badRequest(
      'invalid-view',
      `Query "view" must be one of ${VIEWS.join(', ')} ("full" also reads the payload back from the stream).`,
    );
  }
}

function ledgerView(
  entry: LedgerEntry,
  namespace: string,
  id: string,
  key: string,
): Omit<MutationView, 'status'> {
  return {
    id,
    namespace,
    state: entry.state,
    idempotencyKey: key,
    ...(entry.sequence ? { sequence: entry.sequence } : {}),
    ...(entry.shardId ? { shardId: entry.shardId } : {}),
    loggedAt: new Date(entry.updatedAt).toISOString(),
    ...(entry.effectiveAt !== undefined ? { effectiveAt: new Date(entry.effectiveAt).toISOString() } : {}),
  };
}

function notFound(namespace: string, id: string, idempotencyKey: string | undefined): ProblemError {
  const where =
    idempotencyKey === undefined
      ? `Namespace "${namespace}" has no committed mutation "${id}" sent without an idempotency key. If it was ` +
        'sent with one, pass it: "?idempotencyKey=<key>" or the header "Idempotency-Key" (the ledger is keyed ' +
        'by idempotency key and has no index by id).'
      : `Namespace "${namespace}" has no committed mutation "${id}" with idempotency key "${idempotencyKey}". ` +
        'Check the id and the key the mutation was sent with.';
  return new ProblemError(
    404,
    'mutation-not-found',
    'Mutation not found',
    `${where} A mutation older than the namespace's retention is gone.`,
  );
}

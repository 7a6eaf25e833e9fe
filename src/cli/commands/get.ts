import { callWal, type WalHttpAnswer } from '#src/cli/http-client';

export interface GetOptions {
  /** The mutation's idempotency key: a mutation sent with one is found by it (the ledger has no index by id). */
  readonly key?: string;
  /** Also read the envelope (op, payload, ...) back from the stream, within its retention. */
  readonly full?: boolean;
}

/** `wal get <namespace> <id> [--key K] [--full]`: the mutation as the ledger knows it. */
export function getMutation(
  endpoint: string,
  namespace: string,
  id: string,
  options: GetOptions = {},
): Promise<WalHttpAnswer> {
  const query = new URLSearchParams({
    ...(options.key !== undefined ? { idempotencyKey: options.key } : {}),
    ...(options.full ? { view: 'full' } : {}),
  }).toString();
  return callWal(
    endpoint,
    'GET',
    `v1/namespaces/${encodeURIComponent(namespace)}/mutations/${encodeURIComponent(id)}${query ? `?${query}` : ''}`,
  );
}

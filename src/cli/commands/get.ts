import { callWal, type WalHttpAnswer } from '#src/cli/http-client';

/** `wal get <namespace> <id>`: the mutation as the ledger holds it. */
export function getMutation(endpoint: string, namespace: string, id: string): Promise<WalHttpAnswer> {
  return callWal(
    endpoint,
    'GET',
    `v1/namespaces/${encodeURIComponent(namespace)}/mutations/${encodeURIComponent(id)}`,
  );
}

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

/** One target's state as GET answers it (lambdas/ingest/target-states.ts). */
interface TargetAnswer {
  readonly state?: string;
  readonly since?: string;
  readonly until?: string;
  readonly outcome?: string;
  readonly attempts?: number;
  readonly lastError?: string;
  readonly nextAttemptAt?: string;
  readonly reason?: string;
  readonly note?: string;
  readonly items?: readonly { index: number; target: string; done: boolean; error?: string }[];
}

interface MutationAnswer {
  readonly id?: string;
  readonly namespace?: string;
  readonly state?: string;
  readonly idempotencyKey?: string;
  readonly loggedAt?: string;
  readonly effectiveAt?: string;
  readonly status?: {
    readonly tracking?: string;
    readonly heldBack?: { kind: string; reason: string; since: string };
    readonly targets?: Record<string, TargetAnswer>;
    readonly unavailable?: string;
    readonly note?: string;
  };
}

/**
 * The answer as lines a person reads: the ledger's view, then one line per target with its state and what
 * goes with it (attempts, last error, next attempt, reason, until when), and each item of a multi-item mutation.
 */
export function formatMutation(body: unknown): string[] {
  const mutation = body as MutationAnswer;
  const lines = [
    `${mutation.namespace}/${mutation.id}  ${mutation.state}  key ${mutation.idempotencyKey}`,
    `  logged ${mutation.loggedAt}${mutation.effectiveAt && mutation.effectiveAt !== mutation.loggedAt ? `, effective ${mutation.effectiveAt}` : ''}`,
  ];
  const status = mutation.status;
  if (!status) return lines;
  lines.push(`  status tracking: ${status.tracking}`);
  if (status.unavailable) lines.push(`  status unavailable: ${status.unavailable}`);
  if (status.note) lines.push(`  (${status.note})`);
  if (status.heldBack) {
    lines.push(
      `  held back since ${status.heldBack.since} (${status.heldBack.kind}): ${status.heldBack.reason}`,
    );
  }
  for (const [name, target] of Object.entries(status.targets ?? {})) {
    lines.push(`  ${name.padEnd(16)} ${describeTarget(target)}`);
    lines.push(...(target.items ?? []).map(describeItem));
  }
  return lines;
}

function describeItem(item: NonNullable<TargetAnswer['items']>[number]): string {
  const state = item.done ? 'done' : `not done${item.error ? `: ${item.error}` : ''}`;
  return `    item ${item.index} -> ${item.target}: ${state}`;
}

function describeTarget(target: TargetAnswer): string {
  const details = [
    target.outcome && target.outcome !== target.state ? `outcome ${target.outcome}` : undefined,
    target.until ? `until ${target.until}` : undefined,
    target.attempts !== undefined ? `attempts ${target.attempts}` : undefined,
    target.nextAttemptAt ? `next attempt ${target.nextAttemptAt}` : undefined,
    target.since ? `since ${target.since}` : undefined,
    target.reason ? `reason: ${target.reason}` : undefined,
    target.lastError ? `last error: ${target.lastError}` : undefined,
    target.note,
  ].filter((detail) => detail !== undefined);
  return [target.state ?? '?', ...details].join('  ');
}

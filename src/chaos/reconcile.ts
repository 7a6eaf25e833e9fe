import { walOrder } from '../../lambdas/shared/envelope';
import type { LedgerEntry } from '../../lambdas/shared/ledger';
import type { MutationResult } from './workload';

/** What the WAL holds once the run has settled. */
export interface SettledState {
  /** Target items by key. */
  readonly items: ReadonlyMap<string, Record<string, unknown>>;
  /** COMMITTED ledger entries by idempotency key. */
  readonly committed: ReadonlyMap<string, LedgerEntry>;
  /** Mutation ids found in DLQ messages. */
  readonly deadLettered: ReadonlySet<string>;
}

export interface ChaosReport {
  readonly acked: number;
  readonly failed: number;
  /** Mutations that got at least one answer that did not settle them (all must resolve). */
  readonly unknown: number;
  readonly unresolved: number;
  readonly rejected: number;
  readonly applied: number;
  readonly lost: number;
  readonly doubleApplied: number;
  readonly failedButApplied: number;
  readonly dlq: number;
  /** Shared keys whose final state is not the last committed mutation in the WAL's order. */
  readonly orderViolations: number;
  /** Examples of each problem, for the one who has to debug it. */
  readonly problems: string[];
}

const ORDER = '_walOrder';
const ID = '_walId';

function orderOf(entry: LedgerEntry): string | undefined {
  return entry.envelope && entry.sequence
    ? walOrder({ envelope: entry.envelope, sequence: entry.sequence })
    : undefined;
}

/** Reconciles every answer the clients got against the targets, the ledger and the DLQ. */
export function reconcile(results: readonly MutationResult[], state: SettledState): ChaosReport {
  const problems: string[] = [];
  const note = (problem: string) => {
    if (problems.length < 20) problems.push(problem);
  };
  let applied = 0;
  let lost = 0;
  let doubleApplied = 0;
  let failedButApplied = 0;
  let dlq = 0;

  for (const result of results) {
    const { mutation } = result;
    const entry = state.committed.get(mutation.idempotencyKey);
    const item = state.items.get(mutation.key);
    if (result.outcome === 'failed') {
      const present = mutation.kind === 'counter' ? item !== undefined : entry !== undefined;
      if (present || entry) {
        failedButApplied++;
        note(`FAIL answered but committed/applied: ${mutation.idempotencyKey} (${result.id})`);
      }
      continue;
    }
    if (result.outcome !== 'acked') continue;
    if (!entry || entry.id !== result.id) {
      lost++;
      note(
        `acked ${result.id} but the ledger holds ${entry?.id ?? 'nothing'} for ${mutation.idempotencyKey}`,
      );
      continue;
    }
    let isApplied: boolean;
    if (mutation.kind === 'counter') {
      const count = Number(item?.count ?? 0);
      isApplied = count >= 1;
      if (count > 1) {
        doubleApplied++;
        note(`counter ${mutation.key} is ${count} after one mutation (${result.id})`);
      }
    } else {
      const order = orderOf(entry);
      isApplied = item !== undefined && order !== undefined && String(item[ORDER]) >= order;
    }
    if (isApplied) applied++;
    else if (result.id && state.deadLettered.has(result.id)) dlq++;
    else {
      lost++;
      note(`acked ${result.id} (${mutation.kind} ${mutation.key}) is neither applied nor in the DLQ`);
    }
  }

  // Per shared key, the item must hold the committed put that is last in the WAL's order.
  let orderViolations = 0;
  const lastByKey = new Map<string, { id: string; order: string }>();
  for (const result of results) {
    if (result.mutation.kind !== 'put') continue;
    const entry = state.committed.get(result.mutation.idempotencyKey);
    const order = entry ? orderOf(entry) : undefined;
    if (!entry?.id || !order) continue;
    const current = lastByKey.get(result.mutation.key);
    if (!current || order > current.order) lastByKey.set(result.mutation.key, { id: entry.id, order });
  }
  for (const [key, last] of lastByKey) {
    // If the last one is on the DLQ, an earlier state is right until it is redriven.
    if (state.deadLettered.has(last.id)) continue;
    const holds = state.items.get(key)?.[ID];
    if (holds !== last.id) {
      orderViolations++;
      note(`key ${key} holds ${String(holds)} but the last committed mutation is ${last.id}`);
    }
  }

  const count = (outcome: MutationResult['outcome']) =>
    results.filter((result) => result.outcome === outcome).length;
  return {
    acked: count('acked'),
    failed: count('failed'),
    unknown: results.filter((result) => result.unknownAnswers > 0).length,
    unresolved: count('unresolved'),
    rejected: count('rejected'),
    applied,
    lost,
    doubleApplied,
    failedButApplied,
    dlq,
    orderViolations,
    problems,
  };
}

/** The one line the issue asks for. */
export function formatReport(report: ChaosReport): string {
  return [
    `acked=${report.acked}`,
    `failed=${report.failed}`,
    `unknown=${report.unknown}`,
    `applied=${report.applied}`,
    `lost=${report.lost}`,
    `double-applied=${report.doubleApplied}`,
    `failed-but-applied=${report.failedButApplied}`,
    `dlq=${report.dlq}`,
    `unresolved=${report.unresolved}`,
    `rejected=${report.rejected}`,
    `order-violations=${report.orderViolations}`,
  ].join(' ');
}

/** Whether the run kept every guarantee. */
export function isClean(report: ChaosReport): boolean {
  return (
    report.lost === 0 &&
    report.doubleApplied === 0 &&
    report.failedButApplied === 0 &&
    report.unresolved === 0 &&
    report.rejected === 0 &&
    report.orderViolations === 0
  );
}

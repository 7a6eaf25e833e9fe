import type { HoldStatus, ItemStatus, MutationStatus, TargetStatus } from '#lambdas/shared/delivery-status';
import { ITEMS_DELIVERY_TARGET } from '#lambdas/shared/envelope';
import type { LedgerEntry } from '#lambdas/shared/ledger';
import type { NamespaceConfig } from '#lambdas/shared/namespace-config';

/**
 * Where a mutation is, per target, as GET .../mutations/{id} answers it. `not-tracked`: nothing went wrong that
 * the WAL recorded, and the namespace does not record the happy path (`status.track: failures`), so the
 * mutation was delivered or is on its way.
 */
export type TargetState =
  | 'pending'
  | 'delayed'
  | 'held-back'
  | 'applied'
  | 'superseded'
  | 'retrying'
  | 'dead-lettered'
  | 'not-tracked';

/** One target's state; times are ISO 8601. */
export interface TargetView {
  readonly state: TargetState;
  /** When the WAL recorded this state. */
  readonly since?: string;
  readonly until?: string;
  readonly outcome?: string;
  readonly attempts?: number;
  readonly lastError?: string;
  readonly firstFailedAt?: string;
  readonly nextAttemptAt?: string;
  readonly reason?: string;
  readonly items?: readonly ItemStatus[];
  readonly note?: string;
}

export interface HoldView {
  readonly kind: HoldStatus['kind'];
  readonly reason: string;
  readonly since: string;
}

/** The status part of GET's answer. */
export interface StatusView {
  readonly tracking: NamespaceConfig['status']['track'];
  readonly heldBack?: HoldView;
  readonly targets: Record<string, TargetView>;
  /** Why the targets' states are missing: the status item could not be read (the ledger's view still answers). */
  readonly unavailable?: string;
  /** Where the target names come from, when not from the mutation itself. */
  readonly note?: string;
}

/** Without `?view=full` the mutation's own targets are unknown (the ledger keeps no envelope). */
export const CONFIG_TARGETS_NOTE =
  'targets of the namespace\'s current config: a mutation sent with its own "targets" may not go to all of ' +
  "them; `?view=full` gives the mutation's own targets";

/** The status part when the status item could not be read: no target states, and why. */
export function unavailableStatusView(config: NamespaceConfig, error: unknown): StatusView {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return {
    tracking: config.status.track,
    targets: {},
    unavailable:
      `the targets' states could not be read (${reason}); the ledger's view above is current: GET again for ` +
      'the states',
  };
}

const NOT_TRACKED_NOTE =
  'delivered or in flight: this namespace records failures only (status.track "failures"), no delivery failed';

/**
 * Each target's state from the recorded status (if any) and what the ledger knows (committed, effective time).
 * The targets are the mutation's own (`envelopeTargets`, known with `?view=full`) or the namespace's current
 * ones, plus any the status names (a target removed since, or a multi-item mutation's one delivery).
 */
export function statusView(
  config: NamespaceConfig,
  entry: LedgerEntry,
  status: MutationStatus | undefined,
  now: number,
  envelopeTargets?: readonly string[],
): StatusView {
  const tracking = config.status.track;
  const recorded = status?.targets ?? new Map<string, TargetStatus>();
  const names = recorded.has(ITEMS_DELIVERY_TARGET)
    ? [...recorded.keys()]
    : [...new Set([...(envelopeTargets ?? config.targets.map((target) => target.name)), ...recorded.keys()])];
  const fromConfig = envelopeTargets === undefined && !recorded.has(ITEMS_DELIVERY_TARGET);
  const hold = status?.hold;
  const targets: Record<string, TargetView> = {};
  for (const name of names) {
    const state = recorded.get(name);
    targets[name] = state ? recordedView(state, now) : unrecordedView(tracking, entry, hold, now);
  }
  return {
    tracking,
    ...(hold ? { heldBack: { kind: hold.kind, reason: hold.reason, since: iso(hold.at) } } : {}),
    targets,
    ...(fromConfig ? { note: CONFIG_TARGETS_NOTE } : {}),
  };
}

/** A target with no recorded state: held back, delayed (the ledger knows until when), pending or not tracked. */
function unrecordedView(
  tracking: StatusView['tracking'],
  entry: LedgerEntry,
  hold: HoldStatus | undefined,
  now: number,
): TargetView {
  // A commit hold is cleared when the record is routed; the others only show while nothing later is recorded.
  if (hold && (hold.kind === 'commit' || tracking === 'all')) {
    return { state: 'held-back', since: iso(hold.at), reason: hold.reason };
  }
  if (entry.effectiveAt !== undefined && entry.effectiveAt > now) {
    return { state: 'delayed', until: iso(entry.effectiveAt) };
  }
  if (tracking === 'all') return { state: 'pending' };
  return { state: 'not-tracked', note: NOT_TRACKED_NOTE };
}

function recordedView(status: TargetStatus, now: number): TargetView {
  // A delay that has run out: the delivery is due, and nothing has been recorded since.
  const state = status.state === 'delayed' && (status.until ?? 0) <= now ? 'pending' : status.state;
  return {
    state,
    since: iso(status.at),
    ...(status.until !== undefined ? { until: iso(status.until) } : {}),
    ...(status.outcome !== undefined ? { outcome: status.outcome } : {}),
    ...(status.attempts !== undefined ? { attempts: status.attempts } : {}),
    ...(status.lastError !== undefined ? { lastError: status.lastError } : {}),
    ...(status.firstFailedAt !== undefined ? { firstFailedAt: iso(status.firstFailedAt) } : {}),
    ...(status.nextAttemptAt !== undefined ? { nextAttemptAt: iso(status.nextAttemptAt) } : {}),
    ...(status.reason !== undefined ? { reason: status.reason } : {}),
    ...(status.items !== undefined ? { items: status.items } : {}),
  };
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

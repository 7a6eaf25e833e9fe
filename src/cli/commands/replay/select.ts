import type { _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import { type Envelope, effectiveTime, type LoggedMutation, parseEnvelope } from '#lambdas/shared/envelope';
import { commitStateOf, getLedgerEntries, type Ledger, ledgerKey } from '#lambdas/shared/ledger';
import type { NamespaceConfig } from '#lambdas/shared/namespace-config';
import { type DeliverMessage, ITEMS_DELIVERY_TARGET } from '#lambdas/shared/queue-message';
import type { ReplayPlan } from './options';

/** Why a record of the window is not replayed, counted for the summary. */
export type LeftOut = 'skipped' | 'notCommitted' | 'notForTarget' | 'unreadable' | 'unknownNamespace';

/** A committed mutation of the window, with the deliver messages that re-deliver it. */
export interface ReplayMutation {
  readonly mutation: LoggedMutation;
  readonly messages: readonly DeliverMessage[];
  /** The namespace's retry queue (its own when isolated). */
  readonly queueUrl: string;
}

/** One record of a page, in stream order: replayed, or left out and why (undefined: not this replay's). */
export interface RecordDecision {
  readonly sequence: string;
  readonly replay?: ReplayMutation;
  readonly leftOut?: LeftOut;
  /** The mutation id, when left out as skipped: the replay reports --skip ids it never met. */
  readonly skippedId?: string;
}

/** What selecting needs: the ledger, the namespace configs, the queues. */
export interface SelectDependencies {
  readonly ledger: Ledger;
  /** The namespace's config (its targets and queues). */
  readonly namespaceConfig: (namespace: string) => Promise<NamespaceConfig>;
  /** The WAL's shared retry queue (stack output RetryQueueUrl). */
  readonly sharedRetryQueueUrl: string;
  readonly now: () => number;
}

/**
 * Decides each record of a page: the plan's namespace and window, not skipped, and COMMITTED in the ledger
 * with this id at this sequence (so a prepare never committed, a duplicate PutRecord, a fenced or aborted
 * attempt is never replayed). The ledger is read once for the page.
 */
export async function selectPage(
  deps: SelectDependencies,
  plan: ReplayPlan,
  records: readonly KinesisRecord[],
): Promise<RecordDecision[]> {
  const read = records.map((record) => ({ sequence: record.SequenceNumber ?? '', ...decode(record) }));
  const candidates = read.filter(
    (entry): entry is { sequence: string; envelope: Envelope } =>
      entry.envelope !== undefined && inPlan(plan, entry.envelope),
  );
  const ledger = await getLedgerEntries(
    deps.ledger,
    candidates
      .filter((entry) => !plan.skip.has(entry.envelope.id))
      .map(({ envelope }) => ledgerKey(envelope.namespace, envelope.idempotencyKey)),
  );
  const decisions: RecordDecision[] = [];
  for (const { sequence, envelope } of read) {
    if (!envelope) {
      decisions.push({ sequence, leftOut: 'unreadable' });
    } else if (!inPlan(plan, envelope)) {
      decisions.push({ sequence });
    } else if (plan.skip.has(envelope.id)) {
      decisions.push({ sequence, leftOut: 'skipped', skippedId: envelope.id });
    } else {
      const entry = ledger.get(ledgerKey(envelope.namespace, envelope.idempotencyKey));
      if (commitStateOf(entry, envelope.id, sequence) !== 'committed') {
        decisions.push({ sequence, leftOut: 'notCommitted' });
        continue;
      }
      const replay = await replayOf(deps, plan, { envelope, sequence });
      decisions.push(typeof replay === 'string' ? { sequence, leftOut: replay } : { sequence, replay });
    }
  }
  return decisions;
}

/** What the namespace config sources throw for a namespace that does not exist (the CLI's, the functions'). */
const UNKNOWN_NAMESPACE_ERRORS = ['NamespaceNotFoundError', 'UnknownNamespaceError'];

function decode(record: KinesisRecord): { envelope?: Envelope } {
  try {
    return { envelope: parseEnvelope(Buffer.from(record.Data ?? []).toString('utf8')) };
  } catch {
    // Not an envelope: the stream consumer dead-lettered it as poison when it first read it.
    return {};
  }
}

function inPlan(plan: ReplayPlan, envelope: Envelope): boolean {
  if (plan.namespace !== undefined && envelope.namespace !== plan.namespace) return false;
  const { window } = plan;
  return window.kind === 'shard' || (envelope.loggedAt >= window.from && envelope.loggedAt <= window.to);
}

async function replayOf(
  deps: SelectDependencies,
  plan: ReplayPlan,
  mutation: LoggedMutation,
): Promise<ReplayMutation | LeftOut> {
  let config: NamespaceConfig;
  try {
    config = await deps.namespaceConfig(mutation.envelope.namespace);
  } catch (error) {
    // A namespace deleted since (met with --all-namespaces) has no targets left to deliver to.
    if (UNKNOWN_NAMESPACE_ERRORS.includes((error as { name?: string }).name ?? '')) return 'unknownNamespace';
    throw error;
  }
  const messages = deliverMessagesOf(mutation, config, { now: deps.now(), target: plan.target });
  if (messages.length === 0) return 'notForTarget';
  return { mutation, messages, queueUrl: config.delivery.queues?.retry ?? deps.sharedRetryQueueUrl };
}

/**
 * The deliver messages that re-deliver a mutation, as the stream consumer routes it: one per target (the
 * envelope's, else every target of the namespace; `target` keeps that one), or for a multi-item mutation ONE
 * message to ITEMS_DELIVERY_TARGET, whose `itemsDone` marks the other targets' items when `target` is given.
 * `notBefore` is the mutation's effective time while it is still ahead (the consumer waits for it).
 */
export function deliverMessagesOf(
  mutation: LoggedMutation,
  config: NamespaceConfig,
  options: { now: number; target?: string | undefined },
): DeliverMessage[] {
  const { envelope } = mutation;
  const notBefore = Math.max(effectiveTime(envelope), options.now);
  if (envelope.items) {
    const { target } = options;
    const others = envelope.items.flatMap((item, index) => (target && item.target !== target ? [index] : []));
    if (others.length === envelope.items.length) return [];
    return [
      {
        kind: 'deliver',
        mutation,
        target: ITEMS_DELIVERY_TARGET,
        notBefore,
        ...(others.length > 0 ? { itemsDone: others } : {}),
      },
    ];
  }
  const names = envelope.targets ?? config.targets.map((candidate) => candidate.name);
  return names
    .filter((name) => options.target === undefined || name === options.target)
    .map((target) => ({ kind: 'deliver', mutation, target, notBefore }));
}

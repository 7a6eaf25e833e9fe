import type { MutationResult } from './client';

/**
 * The chaos check of a FIFO queue target, from the outside: what a receiver of the queue saw, against what
 * the clients were answered. It knows the envelope only as a receiver would (its `id` and `partitionKey`),
 * not the WAL's code.
 */

/** One message as the receiver got it. */
export interface ReceivedFifoMessage {
  readonly deduplicationId: string | undefined;
  readonly groupId: string | undefined;
  /** The envelope's `id`: the mutation id. */
  readonly id: string | undefined;
}

export interface FifoReport {
  /** Acked mutations whose id the receiver saw. */
  readonly delivered: number;
  /** Acked mutations neither received nor dead-lettered for this target. */
  readonly lost: number;
  readonly failedButDelivered: number;
  /** Deduplication ids the receiver saw more than once: what a FIFO queue must never hand out twice. */
  readonly duplicates: number;
  /** Messages whose deduplication id is not their mutation id (a receiver could not dedup by it). */
  readonly wrongDeduplicationIds: number;
  /** Keys whose mutations arrived in more than one message group (per-key order lost). */
  readonly splitGroups: number;
  /** Acked mutations dead-lettered for this target (waiting for a redrive). */
  readonly dlq: number;
  /** Received ids no client was answered with (keyless resends, abandoned attempts): allowed. */
  readonly unattributed: number;
  readonly problems: string[];
}

const MAX_PROBLEMS = 20;

/** Reconciles the receiver's messages with the answers; `deadLettered` holds ids dead-lettered for this target. */
export function reconcileFifo(
  results: readonly MutationResult[],
  messages: readonly ReceivedFifoMessage[],
  deadLettered: ReadonlySet<string>,
): FifoReport {
  const problems: string[] = [];
  const note = (problem: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(problem);
  };
  const seen = countBy(messages, (message) => message.deduplicationId ?? '(none)');
  const received = new Map(
    messages.filter((message) => message.id).map((message) => [message.id as string, message]),
  );
  const duplicates = [...seen].filter(([, count]) => count > 1);
  for (const [dedupId, count] of duplicates) note(`deduplication id ${dedupId} received ${count} times`);
  const wrong = messages.filter((message) => message.deduplicationId !== message.id);
  for (const message of wrong.slice(0, 3)) {
    note(`message of ${message.id} has deduplication id ${message.deduplicationId ?? '(none)'}`);
  }
  const tally = tallyAnswers(results, received, deadLettered, note);
  const answered = new Set(results.map((result) => result.id));
  return {
    ...tally,
    duplicates: duplicates.length,
    wrongDeduplicationIds: wrong.length,
    splitGroups: splitGroups(results, received, note),
    unattributed: [...received.keys()].filter((id) => !answered.has(id)).length,
    problems,
  };
}

/** Each answered mutation against what arrived: acked ones delivered (or dead-lettered), FAILed ones never. */
function tallyAnswers(
  results: readonly MutationResult[],
  received: ReadonlyMap<string, ReceivedFifoMessage>,
  deadLettered: ReadonlySet<string>,
  note: (problem: string) => void,
): { delivered: number; lost: number; failedButDelivered: number; dlq: number } {
  const tally = { delivered: 0, lost: 0, failedButDelivered: 0, dlq: 0 };
  for (const result of results) {
    if (!result.id) continue;
    if (result.outcome === 'failed' && received.has(result.id)) {
      tally.failedButDelivered++;
      note(`FAIL answered but delivered to the queue: ${result.id}`);
    }
    if (result.outcome !== 'acked') continue;
    if (received.has(result.id)) tally.delivered++;
    else if (deadLettered.has(result.id)) tally.dlq++;
    else {
      tally.lost++;
      note(`acked ${result.id} (key ${result.mutation.key}) never reached the queue nor its DLQ`);
    }
  }
  return tally;
}

/** Keys whose received mutations came in more than one message group. */
function splitGroups(
  results: readonly MutationResult[],
  received: ReadonlyMap<string, ReceivedFifoMessage>,
  note: (problem: string) => void,
): number {
  const groupsByKey = new Map<string, Set<string>>();
  for (const result of results) {
    const message = result.id ? received.get(result.id) : undefined;
    if (!message) continue;
    const groups = groupsByKey.get(result.mutation.key) ?? new Set<string>();
    groups.add(message.groupId ?? '(none)');
    groupsByKey.set(result.mutation.key, groups);
  }
  const split = [...groupsByKey].filter(([, groups]) => groups.size > 1);
  for (const [key, groups] of split.slice(0, 3))
    note(`key ${key} arrived in groups ${[...groups].join(', ')}`);
  return split.length;
}

function countBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
  return counts;
}

export function formatFifoReport(report: FifoReport): string {
  return [
    `fifo: delivered=${report.delivered}`,
    `lost=${report.lost}`,
    `failed-but-delivered=${report.failedButDelivered}`,
    `duplicate-dedup-ids=${report.duplicates}`,
    `wrong-dedup-ids=${report.wrongDeduplicationIds}`,
    `split-groups=${report.splitGroups}`,
    `dlq=${report.dlq}`,
    `unattributed=${report.unattributed}`,
  ].join(' ');
}

export function isFifoClean(report: FifoReport): boolean {
  return (
    report.lost === 0 &&
    report.failedButDelivered === 0 &&
    report.duplicates === 0 &&
    report.wrongDeduplicationIds === 0 &&
    report.splitGroups === 0
  );
}

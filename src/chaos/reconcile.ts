import type { MutationResult } from './client';
import { type AckedMutation, expectedItems, type Item, sameValue, visibleItem } from './oracle';
import { isShared, KEY_ATTRIBUTES, markerOf, type PlannedMutation } from './workload';

/** What the WAL holds once the run has settled. */
export interface SettledState {
  /** Target items by key, as stored (WAL attributes and tombstones included). */
  readonly items: ReadonlyMap<string, Item>;
  /** Mutation ids found in DLQ messages, with the reason the message gives. */
  readonly deadLettered: ReadonlyMap<string, string>;
}

export interface DeadLetter {
  readonly id: string;
  /** The workload's mutation, when the id is one the clients were answered. */
  readonly mutation?: string;
  readonly reason: string;
}

export interface ChaosReport {
  readonly acked: number;
  readonly failed: number;
  /** Mutations that got at least one answer that did not settle them (all must resolve). */
  readonly unknown: number;
  readonly unresolved: number;
  readonly rejected: number;
  readonly applied: number;
  /** Acked mutations whose effect is missing where the oracle expects it (a counter short, a marker gone). */
  readonly lost: number;
  readonly doubleApplied: number;
  readonly failedButApplied: number;
  /** Acked mutations on the DLQ (not applied, waiting for a redrive). */
  readonly dlq: number;
  /** Shared keys whose final item is not the oracle's. */
  readonly orderViolations: number;
  /** Keyless counters applied more than once: allowed (at-least-once), counted to show it happens. */
  readonly keylessDuplicates: number;
  /** How many of each op (and of each client kind) the workload sent. */
  readonly sent: Readonly<Record<string, number>>;
  readonly deadLetters: readonly DeadLetter[];
  /** Examples of each problem, for the one who has to debug it. */
  readonly problems: string[];
}

const MAX_PROBLEMS = 20;

function describe(mutation: PlannedMutation): string {
  return `#${mutation.index} ${mutation.op} ${mutation.key} (${mutation.client})`;
}

/** The history entry the oracle folds, or undefined if the answer lacked what the order needs. */
function toAcked(result: MutationResult): AckedMutation | undefined {
  const { mutation } = result;
  if (!result.id || !result.sequence || result.effectiveAt === undefined) return undefined;
  return {
    id: result.id,
    key: mutation.key,
    op: mutation.body.op,
    payload: mutation.body.payload,
    ...(mutation.body.set ? { set: mutation.body.set } : {}),
    ...(mutation.body.add ? { add: mutation.body.add } : {}),
    effectiveAt: result.effectiveAt,
    sequence: result.sequence,
  };
}

/** Whether the item shows the mutation's own marker (its tag, or its own counter). */
function showsMarker(mutation: PlannedMutation, item: Item | undefined): boolean {
  const marker = markerOf(mutation);
  if (!marker || !item) return false;
  return marker.value === undefined
    ? item[marker.attribute] !== undefined
    : item[marker.attribute] === marker.value;
}

function short(item: Item | undefined): string {
  const text = item === undefined ? 'absent' : JSON.stringify(item);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

type Tally = {
  -readonly [name in
    | 'applied'
    | 'lost'
    | 'doubleApplied'
    | 'failedButApplied'
    | 'dlq'
    | 'orderViolations'
    | 'keylessDuplicates']: number;
};

/** The counts and the examples of problems, as the checks find them. */
class Findings {
  readonly tally: Tally = {
    applied: 0,
    lost: 0,
    doubleApplied: 0,
    failedButApplied: 0,
    dlq: 0,
    orderViolations: 0,
    keylessDuplicates: 0,
  };
  readonly problems: string[] = [];

  constructor(readonly state: SettledState) {}

  note(problem: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(problem);
  }

  isDeadLettered(result: MutationResult): boolean {
    return result.id !== undefined && this.state.deadLettered.has(result.id);
  }
}

/** A counter on a key of its own: exactly 1 if acked (keyless: 1 up to the sends), 0 if FAILed. */
function checkOwnKey(result: MutationResult, findings: Findings): void {
  const { mutation } = result;
  const { tally } = findings;
  const count = Number(visibleItem(findings.state.items.get(mutation.key))?.count ?? 0);
  // A keyless client's unanswered sends may each have been applied; a FAILed send never.
  const failed = result.outcome === 'failed' ? 1 : 0;
  const mayApply = (mutation.client === 'keyless' ? result.keylessSends : 1) - failed;
  if (result.outcome === 'failed') {
    if (count > mayApply) {
      tally.failedButApplied++;
      findings.note(`FAIL answered but applied: ${describe(mutation)} count=${count} (${result.id})`);
    }
    return;
  }
  if (count > mayApply) {
    tally.doubleApplied++;
    findings.note(
      `${describe(mutation)} count=${count} after ${mayApply} send(s) that could apply (${result.id})`,
    );
  } else if (mutation.client === 'keyless' && count > 1) {
    tally.keylessDuplicates++;
  }
  if (result.outcome !== 'acked') return;
  if (count >= 1) tally.applied++;
  else if (findings.isDeadLettered(result)) tally.dlq++;
  else {
    tally.lost++;
    findings.note(`acked ${result.id} (${describe(mutation)}) is neither applied nor on the DLQ`);
  }
}

/** The oracle's item for a shared key; without the dead-lettered mutations when that is what the table shows. */
function expectedSharedItem(
  key: string,
  acked: readonly MutationResult[],
  actual: Item | undefined,
  findings: Findings,
): Item | undefined {
  const history: AckedMutation[] = [];
  for (const result of acked) {
    const entry = toAcked(result);
    if (entry) history.push(entry);
    else
      findings.note(
        `acked ${describe(result.mutation)} without id, sequence or effectiveAt: cannot be ordered`,
      );
  }
  const expected = expectedItems(history, KEY_ATTRIBUTES).get(key);
  if (!acked.some((result) => findings.isDeadLettered(result)) || sameValue(actual, expected))
    return expected;
  // Until they are redriven, dead-lettered mutations are not applied: the rest must be, in order.
  const rest = history.filter((entry) => !findings.state.deadLettered.has(entry.id));
  const withoutParked = expectedItems(rest, KEY_ATTRIBUTES).get(key);
  return sameValue(actual, withoutParked) ? withoutParked : expected;
}

/** An acked mutation on a shared key: its effect where the oracle expects it, its own counter at most 1. */
function checkSharedAcked(
  result: MutationResult,
  expected: Item | undefined,
  actual: Item | undefined,
  findings: Findings,
): void {
  const { mutation } = result;
  const { tally } = findings;
  if (showsMarker(mutation, expected) && !showsMarker(mutation, actual)) {
    tally.lost++;
    findings.note(
      `acked ${result.id} (${describe(mutation)}): the oracle expects its effect, the item lacks it`,
    );
  } else tally.applied++;
  const marker = markerOf(mutation);
  if (marker?.value === undefined && marker && Number(actual?.[marker.attribute] ?? 0) > 1) {
    tally.doubleApplied++;
    findings.note(
      `${describe(mutation)}: its own counter ${marker.attribute} is ${String(actual?.[marker.attribute])}`,
    );
  }
}

/** A shared key: the final item must be the oracle's fold of the acked history in WAL order. */
function checkSharedKey(key: string, keyResults: readonly MutationResult[], findings: Findings): void {
  const { tally } = findings;
  const acked = keyResults.filter((result) => result.outcome === 'acked');
  const actual = visibleItem(findings.state.items.get(key));
  const expected = expectedSharedItem(key, acked, actual, findings);
  for (const result of acked) {
    if (findings.isDeadLettered(result)) tally.dlq++;
    else checkSharedAcked(result, expected, actual, findings);
  }
  for (const result of keyResults) {
    if (result.outcome === 'failed' && showsMarker(result.mutation, actual)) {
      tally.failedButApplied++;
      findings.note(`FAIL answered but applied: ${describe(result.mutation)} (${result.id})`);
    }
  }
  if (!sameValue(actual, expected)) {
    tally.orderViolations++;
    findings.note(`key ${key}: expected ${short(expected)}, holds ${short(actual)}`);
  }
}

/** Reconciles every answer the clients got against the target table and the DLQ, with the oracle for shared keys. */
export function reconcile(
  results: readonly MutationResult[],
  state: SettledState,
  sent: Readonly<Record<string, number>> = {},
): ChaosReport {
  const findings = new Findings(state);
  const byKey = new Map<string, MutationResult[]>();
  for (const result of results) {
    if (!isShared(result.mutation.op)) checkOwnKey(result, findings);
    else byKey.set(result.mutation.key, [...(byKey.get(result.mutation.key) ?? []), result]);
  }
  for (const [key, keyResults] of byKey) checkSharedKey(key, keyResults, findings);

  const mutationOf = new Map(results.filter((r) => r.id).map((r) => [r.id as string, r.mutation]));
  const deadLetters = [...state.deadLettered].map(([id, reason]): DeadLetter => {
    const mutation = mutationOf.get(id);
    return { id, reason, ...(mutation ? { mutation: describe(mutation) } : {}) };
  });
  const count = (outcome: MutationResult['outcome']) =>
    results.filter((result) => result.outcome === outcome).length;
  return {
    acked: count('acked'),
    failed: count('failed'),
    unknown: results.filter((result) => result.unknownAnswers > 0).length,
    unresolved: count('unresolved'),
    rejected: count('rejected'),
    ...findings.tally,
    sent,
    deadLetters,
    problems: findings.problems,
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

/** What was sent, per op and client kind, and how often keyless clients' at-least-once showed. */
export function formatSent(report: ChaosReport): string {
  const parts = Object.entries(report.sent).map(([op, n]) => `${op}=${n}`);
  return `sent: ${parts.join(' ')} keyless-duplicates=${report.keylessDuplicates}`;
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

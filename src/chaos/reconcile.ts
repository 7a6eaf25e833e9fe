import type { MutationResult } from './client';
import {
  type AckedMutation,
  expectedItems,
  expectedTables,
  type Item,
  isPartial,
  sameValue,
  visibleItem,
} from './oracle';
import {
  isMultiItem,
  isShared,
  KEY_ATTRIBUTES,
  MAIN_TARGET,
  type Marker,
  type PlannedMutation,
  type Touch,
  touchesOf,
} from './workload';

/** What the WAL holds once the run has settled. */
export interface SettledState {
  /** The main target's items by key, as stored (WAL attributes and tombstones included). */
  readonly items: ReadonlyMap<string, Item>;
  /** The other DynamoDB targets' items (the side table), by target name, then key. */
  readonly tables?: ReadonlyMap<string, ReadonlyMap<string, Item>>;
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
  /** Shared keys (of any target) whose final item is not the oracle's. */
  readonly orderViolations: number;
  /** Multi-item mutations that one item shows applied and another shows not applied (must be 0). */
  readonly itemsPartial: number;
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
  const where = isMultiItem(mutation)
    ? touchesOf(mutation)
        .map((touch) => `${touch.target}:${touch.key}`)
        .join('+')
    : mutation.key;
  return `#${mutation.index} ${mutation.op} ${where} (${mutation.client})`;
}

/** The stored item of a target's key. */
function storedItem(state: SettledState, target: string, key: string): Item | undefined {
  return target === MAIN_TARGET ? state.items.get(key) : state.tables?.get(target)?.get(key);
}

/** The history entry the oracle folds for one item, or undefined if the answer lacked what the order needs. */
function toAcked(result: MutationResult, touch: Touch): AckedMutation | undefined {
  if (!result.id || !result.sequence || result.effectiveAt === undefined) return undefined;
  return {
    id: result.id,
    target: touch.target,
    key: touch.key,
    op: touch.op,
    payload: touch.payload,
    ...(touch.set ? { set: touch.set } : {}),
    ...(touch.add ? { add: touch.add } : {}),
    effectiveAt: result.effectiveAt,
    sequence: result.sequence,
  };
}

/** Whether the item shows the marker (a tag of its own value, or an own counter). */
function showsMarker(marker: Marker | undefined, item: Item | undefined): boolean {
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
    | 'itemsPartial'
    | 'keylessDuplicates']: number;
};

/** What one item of a mutation shows at the end, against the oracle. */
interface TouchCheck {
  readonly touch: Touch;
  /** The item holds the mutation's marker. */
  readonly shows: boolean;
  /** The oracle's item (without the parked mutations, if that is what the table shows) holds it. */
  readonly expected: boolean;
  /** The fold of the whole acked history holds it: its absence means the item was not applied. */
  readonly expectedInFull: boolean;
  /** The mutation's own counter on the item (0 if it has none). */
  readonly ownCounter: number;
}

/** The counts and the examples of problems, as the checks find them. */
class Findings {
  readonly tally: Tally = {
    applied: 0,
    lost: 0,
    doubleApplied: 0,
    failedButApplied: 0,
    dlq: 0,
    orderViolations: 0,
    itemsPartial: 0,
    keylessDuplicates: 0,
  };
  readonly problems: string[] = [];
  /** Per mutation on shared keys, what each of its items shows. */
  readonly checks = new Map<MutationResult, TouchCheck[]>();

  constructor(readonly state: SettledState) {}

  note(problem: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(problem);
  }

  isDeadLettered(result: MutationResult): boolean {
    return result.id !== undefined && this.state.deadLettered.has(result.id);
  }

  record(result: MutationResult, check: TouchCheck): void {
    this.checks.set(result, [...(this.checks.get(result) ?? []), check]);
  }
}

/** A counter on a key of its own: exactly 1 if acked (keyless: 1 up to the sends), 0 if FAILed. */
function checkOwnKey(result: MutationResult, count: number, findings: Findings): void {
  const { mutation } = result;
  const { tally } = findings;
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

/**
 * A keyless multi-item mutation: a counter of its own in each table. Every send applies both items or
 * neither, so the two counts are equal whatever the outcome; then it is checked as a keyless counter.
 */
function checkKeylessItems(result: MutationResult, findings: Findings): void {
  const counts = touchesOf(result.mutation).map((touch) =>
    Number(visibleItem(storedItem(findings.state, touch.target, touch.key))?.count ?? 0),
  );
  if (new Set(counts).size > 1) {
    findings.tally.itemsPartial++;
    findings.note(
      `${describe(result.mutation)}: counts ${counts.join(' and ')}, not all or nothing (${result.id})`,
    );
  }
  checkOwnKey(result, Math.max(0, ...counts), findings);
}

/** One shared key of one target, with what each mutation does to it. */
interface SharedKey {
  readonly target: string;
  readonly key: string;
  readonly touches: { readonly result: MutationResult; readonly touch: Touch }[];
}

/** The oracle's item for a shared key; without the dead-lettered mutations when that is what the table shows. */
function expectedSharedItem(
  key: string,
  history: readonly AckedMutation[],
  full: Item | undefined,
  actual: Item | undefined,
  findings: Findings,
): Item | undefined {
  if (!history.some((entry) => findings.state.deadLettered.has(entry.id)) || sameValue(actual, full))
    return full;
  // Until they are redriven, dead-lettered mutations are not applied: the rest must be, in order.
  const rest = history.filter((entry) => !findings.state.deadLettered.has(entry.id));
  const withoutParked = expectedItems(rest, KEY_ATTRIBUTES).get(key);
  return sameValue(actual, withoutParked) ? withoutParked : full;
}

/** The acked history of a shared key, as the oracle folds it; answers that cannot be ordered are noted. */
function historyOf({ touches }: SharedKey, findings: Findings): AckedMutation[] {
  const history: AckedMutation[] = [];
  for (const { result, touch } of touches) {
    if (result.outcome !== 'acked') continue;
    const entry = toAcked(result, touch);
    if (entry) history.push(entry);
    else
      findings.note(
        `acked ${describe(result.mutation)} without id, sequence or effectiveAt: cannot be ordered`,
      );
  }
  return history;
}

/** A shared key: the final item must be the oracle's fold of the acked history in WAL order. */
function checkSharedKey(
  shared: SharedKey,
  history: readonly AckedMutation[],
  full: Item | undefined,
  findings: Findings,
): void {
  const { target, key } = shared;
  const actual = visibleItem(storedItem(findings.state, target, key));
  const expected = expectedSharedItem(key, history, full, actual, findings);
  for (const { result, touch } of shared.touches) {
    const { marker } = touch;
    findings.record(result, {
      touch,
      shows: showsMarker(marker, actual),
      expected: showsMarker(marker, expected),
      expectedInFull: showsMarker(marker, full),
      ownCounter: marker && marker.value === undefined ? Number(actual?.[marker.attribute] ?? 0) : 0,
    });
  }
  if (!sameValue(actual, expected)) {
    findings.tally.orderViolations++;
    const where = target === MAIN_TARGET ? `key ${key}` : `${target} key ${key}`;
    findings.note(`${where}: expected ${short(expected)}, holds ${short(actual)}`);
  }
}

/**
 * A mutation on shared keys, from what its items show: FAILed, none may show it; acked, each shows it
 * where the oracle expects it, its own counters at most 1, and a multi-item one all or nothing.
 */
function checkSharedMutation(result: MutationResult, findings: Findings): void {
  const { mutation } = result;
  const { tally } = findings;
  const checks = findings.checks.get(result) ?? [];
  if (result.outcome === 'failed') {
    if (checks.some((check) => check.shows)) {
      tally.failedButApplied++;
      findings.note(`FAIL answered but applied: ${describe(mutation)} (${result.id})`);
    }
    return;
  }
  if (result.outcome !== 'acked') return;
  if (isPartial(checks.map((check) => ({ shows: check.shows, expected: check.expectedInFull })))) {
    tally.itemsPartial++;
    const shown = checks.map((check) => `${check.touch.target}:${check.shows ? 'applied' : 'not applied'}`);
    findings.note(`acked ${result.id} (${describe(mutation)}) is partial: ${shown.join(', ')}`);
  }
  if (findings.isDeadLettered(result)) {
    tally.dlq++;
    return;
  }
  const missing = checks.find((check) => check.expected && !check.shows);
  if (missing) {
    tally.lost++;
    findings.note(
      `acked ${result.id} (${describe(mutation)}): the oracle expects its effect on ${missing.touch.target}, the item lacks it`,
    );
  } else tally.applied++;
  const twice = checks.find((check) => check.ownCounter > 1);
  if (twice?.touch.marker) {
    tally.doubleApplied++;
    findings.note(
      `${describe(mutation)}: its own counter ${twice.touch.marker.attribute} is ${twice.ownCounter}`,
    );
  }
}

/** Shared keys per (target, key), with every touch of every mutation on them. */
function sharedKeysOf(results: readonly MutationResult[]): Map<string, SharedKey> {
  const shared = new Map<string, SharedKey>();
  for (const result of results) {
    for (const touch of touchesOf(result.mutation)) {
      const id = `${touch.target}\u0000${touch.key}`;
      const entry = shared.get(id) ?? { target: touch.target, key: touch.key, touches: [] };
      entry.touches.push({ result, touch });
      shared.set(id, entry);
    }
  }
  return shared;
}

/** Reconciles every answer the clients got against the target table and the DLQ, with the oracle for shared keys. */
export function reconcile(
  results: readonly MutationResult[],
  state: SettledState,
  sent: Readonly<Record<string, number>> = {},
): ChaosReport {
  const findings = new Findings(state);
  const sharedResults: MutationResult[] = [];
  for (const result of results) {
    const { mutation } = result;
    if (mutation.op === 'keyless-items') checkKeylessItems(result, findings);
    else if (isShared(mutation.op) || mutation.op === 'items') sharedResults.push(result);
    else checkOwnKey(result, Number(visibleItem(state.items.get(mutation.key))?.count ?? 0), findings);
  }
  const sharedKeys = [...sharedKeysOf(sharedResults).values()];
  const histories = sharedKeys.map((shared) => historyOf(shared, findings));
  // One fold of the whole acked history, every target: the oracle's final state of each (target, key).
  const full = expectedTables(histories.flat(), KEY_ATTRIBUTES);
  sharedKeys.forEach((shared, position) => {
    const expected = full.get(shared.target)?.get(shared.key);
    checkSharedKey(shared, histories[position] ?? [], expected, findings);
  });
  for (const result of sharedResults) checkSharedMutation(result, findings);

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
    `items-partial=${report.itemsPartial}`,
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
    report.orderViolations === 0 &&
    report.itemsPartial === 0
  );
}

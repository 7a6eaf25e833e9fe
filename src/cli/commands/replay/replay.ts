import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  identityOf,
  type ReplayCheckpoint,
  readCheckpoint,
  type ShardProgress,
  writeCheckpoint,
} from './checkpoint';
import { ReplayBeyondRetentionError } from './errors';
import type { ReplayPlan } from './options';
import { listShardIds, readShard, type StreamReader, streamRetentionHours } from './read-stream';
import {
  type LeftOut,
  type RecordDecision,
  type ReplayMutation,
  type SelectDependencies,
  selectPage,
} from './select';
import { Pacer, sendGroup, sendGroups } from './send';

/** The clients and resources a replay works with: plain SDK clients, so tests run it against the emulators. */
export interface ReplayDependencies extends SelectDependencies, StreamReader {
  readonly sqs: SQSClient;
}

export interface ReplayProgress {
  /** How far through the window, all shards together, 0 to 1. */
  readonly fraction: number;
  readonly delivered: number;
  readonly leftOut: Readonly<Record<LeftOut, number>>;
  readonly shard: { readonly index: number; readonly count: number; readonly id: string };
}

export interface ReplayHooks {
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** --dry-run: each mutation the replay would deliver, with its messages. */
  readonly onDryRun?: (mutation: ReplayMutation) => void;
  /** Something the operator should know on the way (a trimmed start). */
  readonly onNotice?: (line: string) => void;
  /** Stops the replay after the messages in flight; the checkpoint then resumes it. */
  readonly signal?: AbortSignal;
}

export interface ReplayResult {
  readonly status: 'complete' | 'interrupted';
  /** Mutations delivered (or, with --dry-run, that would be), all runs of this checkpoint together. */
  readonly delivered: number;
  /** Of those, delivered by this run. */
  readonly deliveredNow: number;
  /** Deliver messages sent by this run (one per mutation and target). */
  readonly messages: number;
  /** Records of this replay left out by this run, by why. */
  readonly leftOut: Readonly<Record<LeftOut, number>>;
  readonly shards: number;
  /** The run resumed a checkpoint. */
  readonly resumed: boolean;
  /** --skip ids not met in the window (a typo, or another window's): only known once the replay is complete. */
  readonly skipsNotMet: readonly string[];
  /**
   * Multi-item mutations this run delivered (or would) to --target only: their other targets' items are
   * marked done, so the replay applies part of the mutation (partialItemsWarning).
   */
  readonly partialItems: number;
}

/** Where a run is: the checkpoint it writes, and its counts. */
interface RunState {
  readonly file: string | undefined;
  readonly shards: Record<string, ShardProgress>;
  readonly identity: ReplayCheckpoint['replay'];
  deliveredBefore: number;
  deliveredNow: number;
  messages: number;
  partialItems: number;
  readonly leftOut: Record<LeftOut, number>;
  readonly skipsMet: Set<string>;
  /** How far through the window, for the progress bar. */
  fraction: number;
}

/**
 * Re-delivers the committed mutations of a window (docs/runbook.md, Replay): reads each shard's part of
 * it, keeps what the ledger shows COMMITTED (and the plan wants), and sends `deliver` messages to the
 * namespace's retry queue at the plan's rate. After each send the checkpoint file records, per shard, the
 * last record handled: a run stopped at any point and run again resumes there, so every mutation is
 * delivered at least once, and the consumers' idempotent, WAL-ordered apply makes it once in effect.
 */
export async function replayWindow(
  deps: ReplayDependencies,
  plan: ReplayPlan,
  checkpointFile: string | undefined,
  hooks: ReplayHooks = {},
): Promise<ReplayResult> {
  const identity = identityOf(plan, deps.streamName);
  const file = plan.dryRun ? undefined : checkpointFile;
  const checkpoint = file === undefined ? undefined : readCheckpoint(file, identity);
  if (plan.window.kind === 'time') await checkRetention(deps, plan.window.from);
  const shardIds = plan.window.kind === 'shard' ? [plan.window.shardId] : await listShardIds(deps);
  const state: RunState = {
    file,
    identity,
    shards: { ...checkpoint?.shards },
    deliveredBefore: checkpoint?.delivered ?? 0,
    deliveredNow: 0,
    messages: 0,
    partialItems: 0,
    leftOut: { skipped: 0, notCommitted: 0, notForTarget: 0, unreadable: 0, unknownNamespace: 0 },
    skipsMet: new Set(checkpoint?.skipsMet ?? []),
    fraction: 0,
  };
  const pacer = new Pacer(plan.rate, deps.now, deps.sleep);
  let status: ReplayResult['status'] = 'complete';
  for (const [index, shardId] of shardIds.entries()) {
    const shard = { index, count: shardIds.length, id: shardId };
    const finished = await replayShard(deps, plan, { state, pacer, hooks, shard });
    if (!finished) {
      status = 'interrupted';
      break;
    }
  }
  return {
    status,
    delivered: state.deliveredBefore + state.deliveredNow,
    deliveredNow: state.deliveredNow,
    messages: state.messages,
    leftOut: state.leftOut,
    shards: shardIds.length,
    resumed: checkpoint !== undefined,
    skipsNotMet: status === 'complete' ? [...plan.skip].filter((id) => !state.skipsMet.has(id)) : [],
    partialItems: state.partialItems,
  };
}

async function checkRetention(deps: ReplayDependencies, from: number): Promise<void> {
  const hours = await streamRetentionHours(deps);
  const oldest = deps.now() - hours * 3_600_000;
  if (from < oldest) throw new ReplayBeyondRetentionError(from, oldest, hours);
}

interface ShardRun {
  readonly state: RunState;
  readonly pacer: Pacer;
  readonly hooks: ReplayHooks;
  readonly shard: ReplayProgress['shard'];
}

/** One shard's part of the window; false when the signal stopped it. */
async function replayShard(deps: ReplayDependencies, plan: ReplayPlan, run: ShardRun): Promise<boolean> {
  const { state, hooks, shard } = run;
  const progress = state.shards[shard.id] ?? {};
  if (progress.done) return true;
  const pages = readShard(deps, plan.window, {
    shardId: shard.id,
    ...(progress.after !== undefined ? { after: progress.after } : {}),
    onTrimmedStart: () =>
      hooks.onNotice?.(
        `The start of ${shard.id}'s range is past the stream's retention: replaying what is left of it.`,
      ),
  });
  for await (const page of pages) {
    if (hooks.signal?.aborted) return false;
    const decisions = await selectPage(deps, plan, page.records);
    if (!(await deliverDecisions(deps, plan, run, decisions))) return false;
    const last = page.records[page.records.length - 1]?.SequenceNumber;
    state.shards[shard.id] = {
      ...state.shards[shard.id],
      ...(last !== undefined ? { after: last } : {}),
      ...(page.done ? { done: true } : {}),
    };
    save(state);
    report(run, (shard.index + page.fraction) / shard.count);
  }
  return true;
}

/** Sends the page's replayed mutations group by group, the checkpoint after each; false when stopped. */
async function deliverDecisions(
  deps: ReplayDependencies,
  plan: ReplayPlan,
  run: ShardRun,
  decisions: readonly RecordDecision[],
): Promise<boolean> {
  const { state, hooks, shard } = run;
  for (const decision of decisions) {
    if (decision.leftOut) state.leftOut[decision.leftOut]++;
    if (decision.skippedId) state.skipsMet.add(decision.skippedId);
  }
  const mutations = decisions.flatMap((decision) => (decision.replay ? [decision.replay] : []));
  if (plan.dryRun) {
    for (const mutation of mutations) hooks.onDryRun?.(mutation);
    state.deliveredNow += mutations.length;
    state.partialItems += mutations.filter(replaysPartOfItems).length;
    state.messages += mutations.reduce((sum, mutation) => sum + mutation.messages.length, 0);
    return true;
  }
  for (const group of sendGroups(mutations, Math.min(10, plan.rate ?? 10))) {
    if (hooks.signal?.aborted) return false;
    await run.pacer.take(group.length);
    state.messages += await sendGroup(deps, group);
    state.deliveredNow += group.length;
    state.partialItems += group.filter(replaysPartOfItems).length;
    const last = group[group.length - 1];
    if (last) state.shards[shard.id] = { ...state.shards[shard.id], after: last.mutation.sequence };
    save(state);
    report(run, undefined);
  }
  return true;
}

/** A multi-item mutation whose delivery has items marked done by --target: the others are not replayed. */
function replaysPartOfItems(mutation: ReplayMutation): boolean {
  return mutation.messages.some((message) => (message.itemsDone?.length ?? 0) > 0);
}

/**
 * The replay summary's warning when --target split multi-item mutations: the target's items are applied now;
 * for a mutation still retrying or dead-lettered, the others only by its retry or a DLQ redrive (a temporary
 * split of its transaction).
 */
export function partialItemsWarning(result: Pick<ReplayResult, 'partialItems'>): string | undefined {
  if (result.partialItems === 0) return undefined;
  return (
    `Warning: ${result.partialItems} multi-item mutations were replayed to --target only; their other items are ` +
    'not replayed (one still retrying or dead-lettered gets them from its retry or "wal dlq redrive": until ' +
    'then it is applied in part).'
  );
}

function save(state: RunState): void {
  if (state.file === undefined) return;
  writeCheckpoint(state.file, {
    v: 1,
    replay: state.identity,
    shards: state.shards,
    delivered: state.deliveredBefore + state.deliveredNow,
    skipsMet: [...state.skipsMet].sort(),
    updatedAt: new Date().toISOString(),
  });
}

function report(run: ShardRun, fraction: number | undefined): void {
  if (fraction !== undefined) run.state.fraction = fraction;
  run.hooks.onProgress?.({
    fraction: run.state.fraction,
    delivered: run.state.deliveredBefore + run.state.deliveredNow,
    leftOut: run.state.leftOut,
    shard: run.shard,
  });
}

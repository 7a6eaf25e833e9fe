import { resolve } from 'node:path';
import { ProgressBar, type ProgressOutput } from './dlq/progress-bar';
import { defaultCheckpointFile, identityOf } from './replay/checkpoint';
import { ReplayUnknownTargetError } from './replay/errors';
import { parseReplayArgs, type ReplayPlan, type ReplayWindow } from './replay/options';
import {
  partialItemsWarning,
  type ReplayDependencies,
  type ReplayProgress,
  type ReplayResult,
  replayWindow,
} from './replay/replay';
import { connectReplay } from './replay/resources';
import type { ReplayMutation } from './replay/select';

export * from './replay/checkpoint';
export * from './replay/errors';
export * from './replay/options';
export * from './replay/replay';
export * from './replay/select';

/** The exit code of a replay stopped by a signal (128 + SIGINT), so a script does not take it for done. */
export const REPLAY_INTERRUPTED_EXIT_CODE = 130;

export interface ReplayIo {
  print(line: string): void;
  /** Where the progress bar goes (stderr: stdout keeps the --dry-run list). */
  readonly progress: ProgressOutput;
  readonly signal?: AbortSignal;
  now(): number;
}

/** `wal replay ...`: parses, connects to the stage's stack, replays, prints; returns the exit code. */
export async function runReplayCommand(args: readonly string[], io: ReplayIo): Promise<number> {
  const options = parseReplayArgs(args, io.now());
  const connection = connectReplay(options);
  try {
    const { deps } = connection;
    const { plan } = options;
    const checkpointFile = plan.dryRun
      ? undefined
      : resolve(options.checkpointFile ?? defaultCheckpointFile(identityOf(plan, deps.streamName)));
    await checkTarget(deps, plan);
    io.print(describePlan(plan, checkpointFile));
    const bar = new ProgressBar(io.progress);
    let result: ReplayResult;
    try {
      result = await replayWindow(deps, plan, checkpointFile, {
        ...(io.signal ? { signal: io.signal } : {}),
        onProgress: (progress) => {
          if (!plan.dryRun) bar.update(barOf(progress));
        },
        onDryRun: (mutation) => io.print(describeMutation(mutation)),
        onNotice: (line) => io.print(line),
      });
    } finally {
      bar.finish();
    }
    io.print(describeResult(result, plan, checkpointFile));
    const warning = partialItemsWarning(result);
    if (warning) io.print(warning);
    if (result.status === 'interrupted') return REPLAY_INTERRUPTED_EXIT_CODE;
    if (result.skipsNotMet.length > 0) {
      io.print(
        `--skip id(s) never met in the window: ${result.skipsNotMet.join(', ')}. Check them (wal get <ns> <id>): ` +
          'a mistyped id skipped nothing, and the mutation meant to be left out was replayed.',
      );
      return 1;
    }
    return 0;
  } finally {
    connection.destroy();
  }
}

/** --target must name a target of the namespace: a typo would otherwise replay nothing, silently. */
async function checkTarget(deps: ReplayDependencies, plan: ReplayPlan): Promise<void> {
  if (plan.namespace === undefined) return;
  const config = await deps.namespaceConfig(plan.namespace);
  const names = config.targets.map((target) => target.name);
  if (plan.target !== undefined && !names.includes(plan.target)) {
    throw new ReplayUnknownTargetError(plan.namespace, plan.target, names);
  }
}

function describeWindow(window: ReplayWindow): string {
  return window.kind === 'time'
    ? `${new Date(window.from).toISOString()} .. ${new Date(window.to).toISOString()}`
    : `${window.shardId} ${window.fromSequence}..${window.toSequence}`;
}

function describePlan(plan: ReplayPlan, checkpointFile: string | undefined): string {
  const parts = [
    `${plan.dryRun ? 'Dry run of the replay' : 'Replaying'} ${plan.namespace ? `namespace "${plan.namespace}"` : 'every namespace'}, ${describeWindow(plan.window)}`,
    plan.target ? `target ${plan.target} only` : 'every target',
    plan.skip.size > 0 ? `skipping ${[...plan.skip].join(', ')}` : undefined,
    plan.rate ? `at most ${plan.rate} mutation(s)/s` : undefined,
    checkpointFile ? `checkpoint ${checkpointFile}` : undefined,
  ];
  return parts.filter((part) => part !== undefined).join('; ');
}

/** One --dry-run line: what would be delivered, where. */
function describeMutation({ mutation, messages, queueUrl }: ReplayMutation): string {
  const { envelope } = mutation;
  const targets = messages.map((message) =>
    message.itemsDone ? `${message.target} (items done: ${message.itemsDone.join(',')})` : message.target,
  );
  return (
    `would deliver ${envelope.id} ${envelope.op} logged ${new Date(envelope.loggedAt).toISOString()} ` +
    `sequence ${mutation.sequence} -> ${targets.join(', ')} via ${queueUrl}`
  );
}

function barOf(progress: ReplayProgress) {
  const percent = Math.floor(progress.fraction * 100);
  const { skipped, notCommitted } = progress.leftOut;
  return {
    status: `shard ${progress.shard.index + 1}/${progress.shard.count}`,
    moved: percent,
    toMove: 100,
    label: `${percent}% read, ${progress.delivered} delivered, ${skipped} skipped, ${notCommitted} not committed`,
  };
}

function describeResult(result: ReplayResult, plan: ReplayPlan, checkpointFile: string | undefined): string {
  const { skipped, notCommitted, notForTarget, unreadable, unknownNamespace } = result.leftOut;
  const leftOut =
    `left out: ${skipped} skipped, ${notCommitted} never committed (prepares not committed, fenced or aborted, ` +
    `duplicate records), ${notForTarget} not for the target, ${unreadable} unreadable records` +
    (unknownNamespace > 0 ? `, ${unknownNamespace} of namespaces that no longer exist` : '');
  if (plan.dryRun) {
    return `Dry run: ${result.delivered} mutation(s) (${result.messages} message(s)) would be delivered; ${leftOut}. Nothing was sent.`;
  }
  if (result.status === 'interrupted') {
    return (
      `Interrupted after ${result.delivered} mutation(s) delivered (${result.deliveredNow} by this run); ` +
      `checkpoint ${checkpointFile}: run the same command again to resume.`
    );
  }
  return (
    `Done: ${result.delivered} mutation(s) delivered (${result.deliveredNow} by this run, ${result.messages} ` +
    `message(s)) from ${result.shards} shard(s); ${leftOut}. The consumers apply them in the WAL's order; ` +
    '"wal dlq list" shows any that fail. The checkpoint stays: running the same command again delivers ' +
    `nothing more; delete ${checkpointFile} to replay the window again.`
  );
}

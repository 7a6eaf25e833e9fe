import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ReplayCheckpointMismatchError, ReplayCheckpointUnreadableError } from './errors';
import type { ReplayPlan, ReplayWindow } from './options';

/** What makes two replays the same one: a checkpoint resumes only the replay it was written for. */
export interface ReplayIdentity {
  readonly stream: string;
  readonly namespace: string | null;
  readonly window: ReplayWindow;
  readonly skip: readonly string[];
  readonly target: string | null;
}

/** Per shard: the last record handled (delivered, or left out), and whether the shard is read to its end. */
export interface ShardProgress {
  readonly after?: string;
  readonly done?: boolean;
}

/** The checkpoint file's content. */
export interface ReplayCheckpoint {
  readonly v: 1;
  readonly replay: ReplayIdentity;
  readonly shards: Readonly<Record<string, ShardProgress>>;
  /** Mutations delivered so far, all runs together. */
  readonly delivered: number;
  /** The --skip ids met so far, all runs together (a resumed run does not read them again). */
  readonly skipsMet?: readonly string[];
  readonly updatedAt: string;
}

export function identityOf(plan: ReplayPlan, stream: string): ReplayIdentity {
  return {
    stream,
    namespace: plan.namespace ?? null,
    window: plan.window,
    skip: [...plan.skip].sort(),
    target: plan.target ?? null,
  };
}

/**
 * The default checkpoint file, in the current directory, named from the namespace and the window, with a hash
 * of the whole identity so two replays of one window (other skips or target) do not share a file.
 */
export function defaultCheckpointFile(identity: ReplayIdentity): string {
  const hash = createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 10);
  const compact = (time: number) => new Date(time).toISOString().replace(/[-:]|\.\d+/g, '');
  const window =
    identity.window.kind === 'time'
      ? `${compact(identity.window.from)}-${compact(identity.window.to)}`
      : identity.window.shardId;
  return `wal-replay-${identity.namespace ?? 'all'}-${window}-${hash}.json`;
}

/** The checkpoint of this replay in `file`, or undefined when there is none yet (a first run). */
export function readCheckpoint(file: string, identity: ReplayIdentity): ReplayCheckpoint | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw new ReplayCheckpointUnreadableError(file, `it cannot be read (${String(error)})`, { cause: error });
  }
  let checkpoint: ReplayCheckpoint;
  try {
    checkpoint = JSON.parse(text) as ReplayCheckpoint;
  } catch (error) {
    throw new ReplayCheckpointUnreadableError(file, 'it is not JSON', { cause: error });
  }
  if (checkpoint?.v !== 1 || typeof checkpoint.shards !== 'object' || checkpoint.shards === null) {
    throw new ReplayCheckpointUnreadableError(file, 'it is not a wal replay checkpoint');
  }
  const difference = differenceOf(checkpoint.replay, identity);
  if (difference) throw new ReplayCheckpointMismatchError(file, difference);
  return checkpoint;
}

function differenceOf(written: ReplayIdentity | undefined, wanted: ReplayIdentity): string | undefined {
  if (!written) return 'it names no replay';
  for (const field of ['stream', 'namespace', 'window', 'skip', 'target'] as const) {
    const [was, is] = [JSON.stringify(written[field]), JSON.stringify(wanted[field])];
    if (was !== is) return `its ${field} is ${was}, this replay's ${is}`;
  }
  return undefined;
}

/** Writes the checkpoint whole, through a temporary file: an interruption leaves the old or the new one. */
export function writeCheckpoint(file: string, checkpoint: ReplayCheckpoint): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(checkpoint, null, 2)}\n`);
  renameSync(temporary, file);
}

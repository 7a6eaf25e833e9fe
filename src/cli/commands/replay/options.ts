import { parseArgs } from 'node:util';
import { ULID_PATTERN } from '#lambdas/shared/envelope';
import { UsageError } from '#src/cli/usage-error';

/** A window of the WAL stream: mutations logged in a time range, or one shard's sequence range. */
export type ReplayWindow =
  | { readonly kind: 'time'; readonly from: number; readonly to: number }
  | {
      readonly kind: 'shard';
      readonly shardId: string;
      readonly fromSequence: string;
      readonly toSequence: string;
    };

/** What to replay and how: the part of `wal replay`'s flags the replay itself needs. */
export interface ReplayPlan {
  /** Undefined with --all-namespaces (a failed stream range holds every namespace's records). */
  readonly namespace?: string;
  readonly window: ReplayWindow;
  /** Mutation ids left out (--skip). */
  readonly skip: ReadonlySet<string>;
  /** Deliver to this target only (--target). */
  readonly target?: string;
  readonly dryRun: boolean;
  /** Mutations per second (--rate); undefined: as fast as SQS takes them. */
  readonly rate?: number;
}

/** `wal replay` as parsed: the plan, and where the stack and the checkpoint are. */
export interface ReplayCommandOptions {
  readonly plan: ReplayPlan;
  readonly stage: string;
  readonly outputsFile?: string;
  readonly dataDir?: string;
  /** --checkpoint; undefined: the default name under the current directory. */
  readonly checkpointFile?: string;
}

const REPLAY_RATE_RANGE = { min: 1, max: 10_000 } as const;

const REPLAY_USAGE =
  'usage: wal replay <namespace> --from <time> --to <time> [--skip id,...] [--target name] [--dry-run] ' +
  '[--rate N] [--checkpoint FILE] [--stage S] [--data-dir DIR | --outputs-file FILE]; or, for a failed stream ' +
  'range: wal replay <namespace> | --all-namespaces --shard S --from-sequence A --to-sequence B ...';

const SEQUENCE_PATTERN = /^\d{1,128}$/;

/** Parses `wal replay`'s arguments; throws UsageError with what is wrong and what to pass instead. */
export function parseReplayArgs(args: readonly string[], now: number): ReplayCommandOptions {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      shard: { type: 'string' },
      'from-sequence': { type: 'string' },
      'to-sequence': { type: 'string' },
      'all-namespaces': { type: 'boolean', default: false },
      skip: { type: 'string', multiple: true },
      target: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      rate: { type: 'string' },
      checkpoint: { type: 'string' },
      stage: { type: 'string', default: 'local' },
      'data-dir': { type: 'string' },
      'outputs-file': { type: 'string' },
    },
  });
  const namespace = namespaceOf(positionals, values['all-namespaces']);
  if (values.target !== undefined && namespace === undefined) {
    throw new UsageError('--target needs a namespace: the target names are per namespace.');
  }
  if (values['outputs-file'] !== undefined && values['data-dir'] !== undefined) {
    throw new UsageError('--outputs-file and --data-dir both name the outputs file: pass one.');
  }
  if (values.checkpoint !== undefined && values['dry-run']) {
    throw new UsageError('--dry-run delivers nothing and writes no checkpoint: drop --checkpoint.');
  }
  const rate = rateOf(values.rate);
  const plan: ReplayPlan = {
    ...(namespace !== undefined ? { namespace } : {}),
    window: windowOf(values, now),
    skip: skipOf(values.skip ?? []),
    ...(values.target !== undefined ? { target: nonEmpty('--target', values.target) } : {}),
    dryRun: values['dry-run'],
    ...(rate !== undefined ? { rate } : {}),
  };
  return {
    plan,
    stage: values.stage,
    ...(values['outputs-file'] !== undefined ? { outputsFile: values['outputs-file'] } : {}),
    ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
    ...(values.checkpoint !== undefined ? { checkpointFile: values.checkpoint } : {}),
  };
}

function namespaceOf(positionals: readonly string[], all: boolean): string | undefined {
  if (positionals.length > 1) {
    throw new UsageError(
      `wal replay takes one namespace, not ${positionals.length} (${positionals.join(' ')}).`,
    );
  }
  const [namespace] = positionals;
  if (namespace !== undefined && all) throw new UsageError('Pass a namespace or --all-namespaces, not both.');
  if (namespace === undefined && !all) throw new UsageError(REPLAY_USAGE);
  return namespace;
}

interface WindowFlags {
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly shard?: string | undefined;
  readonly 'from-sequence'?: string | undefined;
  readonly 'to-sequence'?: string | undefined;
}

function windowOf(flags: WindowFlags, now: number): ReplayWindow {
  const timeFlags = flags.from !== undefined || flags.to !== undefined;
  const shardFlags =
    flags.shard !== undefined || flags['from-sequence'] !== undefined || flags['to-sequence'] !== undefined;
  if (timeFlags && shardFlags) {
    throw new UsageError(
      'Pass a time window (--from, --to) or a shard range (--shard, --from-sequence, --to-sequence), not both.',
    );
  }
  if (shardFlags) return shardWindowOf(flags);
  if (flags.from === undefined || flags.to === undefined) {
    throw new UsageError(
      'A replay needs its window: --from and --to (ISO 8601 times with a zone, e.g. 2026-11-27T01:00:00Z, or epoch ms).',
    );
  }
  const from = timeOf('--from', flags.from);
  const to = timeOf('--to', flags.to);
  if (from >= to) throw new UsageError(`--from (${flags.from}) must be before --to (${flags.to}).`);
  if (from > now) {
    throw new UsageError(`--from (${flags.from}) is in the future: nothing was logged there yet.`);
  }
  return { kind: 'time', from, to };
}

function shardWindowOf(flags: WindowFlags): ReplayWindow {
  const shardId = flags.shard;
  const fromSequence = flags['from-sequence'];
  const toSequence = flags['to-sequence'];
  if (shardId === undefined || fromSequence === undefined || toSequence === undefined) {
    throw new UsageError('A shard range needs all three: --shard, --from-sequence and --to-sequence.');
  }
  for (const [flag, value] of [
    ['--from-sequence', fromSequence],
    ['--to-sequence', toSequence],
  ] as const) {
    if (!SEQUENCE_PATTERN.test(value)) {
      throw new UsageError(`${flag} must be a Kinesis sequence number (decimal digits), not "${value}".`);
    }
  }
  if (BigInt(fromSequence) > BigInt(toSequence)) {
    throw new UsageError('--from-sequence must not be greater than --to-sequence.');
  }
  return { kind: 'shard', shardId: nonEmpty('--shard', shardId), fromSequence, toSequence };
}

/** An ISO 8601 time with its zone (a zoneless one would depend on this machine's), or epoch milliseconds. */
function timeOf(flag: string, text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const zoned = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text);
  const time = Date.parse(text);
  if (!zoned || Number.isNaN(time)) {
    throw new UsageError(
      `${flag} must be an ISO 8601 time with its zone (e.g. 2026-11-27T01:00:00Z) or epoch milliseconds, not "${text}".`,
    );
  }
  return time;
}

function skipOf(values: readonly string[]): ReadonlySet<string> {
  const ids = values.flatMap((value) => value.split(',')).map((id) => id.trim());
  if (ids.some((id) => id === '')) {
    throw new UsageError(
      '--skip takes mutation ids separated by commas, with none empty (e.g. --skip 01J...,01J...).',
    );
  }
  // A typo would skip nothing and replay the very mutation meant to be left out.
  const invalid = ids.filter((id) => !ULID_PATTERN.test(id));
  if (invalid.length > 0) {
    throw new UsageError(
      `--skip takes mutation ids (ULIDs of 26 characters, as "wal get" and the POST answer show them), not ` +
        `${invalid.map((id) => `"${id}"`).join(', ')}.`,
    );
  }
  return new Set(ids.map((id) => id.toUpperCase()));
}

function rateOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const rate = Number(text);
  if (!Number.isInteger(rate) || rate < REPLAY_RATE_RANGE.min || rate > REPLAY_RATE_RANGE.max) {
    throw new UsageError(
      `--rate must be a whole number of mutations per second from ${REPLAY_RATE_RANGE.min} to ${REPLAY_RATE_RANGE.max}, not "${text}".`,
    );
  }
  return rate;
}

function nonEmpty(flag: string, value: string): string {
  if (value.trim() === '') throw new UsageError(`${flag} must not be empty.`);
  return value;
}

/** --from is older than the stream keeps records: those mutations exist nowhere the replay can read. */
export class ReplayBeyondRetentionError extends Error {
  constructor(
    readonly from: number,
    readonly oldest: number,
    readonly retentionHours: number,
    options?: { cause?: unknown },
  ) {
    super(
      `--from ${new Date(from).toISOString()} is older than the WAL stream's retention (${retentionHours} h): the ` +
        `oldest time a replay can start from is now ${new Date(oldest).toISOString()}. The ledger keeps no ` +
        'payloads (lean ledger), so older mutations cannot be re-delivered: restore the target from a backup ' +
        '(DynamoDB PITR), or replay from the oldest time still retained. To replay further back in future, raise ' +
        "the stage's streamRetention (docs/runbook.md, Replay).",
      options,
    );
    this.name = 'ReplayBeyondRetentionError';
  }
}

/** The checkpoint file belongs to another replay (other namespace, window, skips or target). */
export class ReplayCheckpointMismatchError extends Error {
  constructor(
    readonly file: string,
    readonly difference: string,
    options?: { cause?: unknown },
  ) {
    super(
      `The checkpoint ${file} belongs to another replay (${difference}). Run the replay it was written for to ` +
        'resume it, or pass another --checkpoint (or delete the file) to start this one.',
      options,
    );
    this.name = 'ReplayCheckpointMismatchError';
  }
}

/** The checkpoint file cannot be read or is not one. */
export class ReplayCheckpointUnreadableError extends Error {
  constructor(
    readonly file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(
      `The checkpoint ${file} cannot be used: ${problem}. Delete it to start the replay from its beginning ` +
        '(a mutation delivered twice is applied once in effect).',
      options,
    );
    this.name = 'ReplayCheckpointUnreadableError';
  }
}

/** The stream has no such shard (the --shard of a shard range). */
export class ReplayShardNotFoundError extends Error {
  constructor(
    readonly shardId: string,
    readonly streamName: string,
    options?: { cause?: unknown },
  ) {
    super(
      `The stream ${streamName} has no shard "${shardId}" (or it is past the stream's retention). Check the shard ` +
        'id in the DLQ message ("wal dlq peek").',
      options,
    );
    this.name = 'ReplayShardNotFoundError';
  }
}

/** --target names no target of the namespace. */
export class ReplayUnknownTargetError extends Error {
  constructor(
    readonly namespace: string,
    readonly target: string,
    readonly targets: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(
      `Namespace "${namespace}" has no target "${target}"; its targets are ${targets.join(', ')}.`,
      options,
    );
    this.name = 'ReplayUnknownTargetError';
  }
}

/** SQS did not take some deliver messages after retries: the replay stops; its checkpoint is before them. */
export class ReplaySendError extends Error {
  constructor(
    readonly queueUrl: string,
    readonly failed: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `SQS did not take ${failed} deliver message(s) on ${queueUrl} (${detail}). The checkpoint stops before ` +
        'them: fix the cause and run the same command again to resume.',
      options,
    );
    this.name = 'ReplaySendError';
  }
}

/** A Kinesis call of the replay failed (endpoint down, no access, throttled past the SDK's retries). */
export class ReplayStreamReadError extends Error {
  constructor(
    readonly action: string,
    readonly streamName: string,
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(
      `Kinesis ${action} on ${streamName} failed: ${reason}. Check that the local WAL runs ("npm start") or, ` +
        `for a deployed stack, that your AWS credentials may call kinesis:${action}; then run the same command ` +
        'again (it resumes from its checkpoint).',
      options,
    );
    this.name = 'ReplayStreamReadError';
  }
}

/** Kinesis refused the start sequence of a shard range for another reason than a trimmed start (a typo, another shard). */
export class ReplayInvalidStartError extends Error {
  constructor(
    readonly shardId: string,
    readonly sequence: string,
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(
      `Kinesis refused sequence ${sequence} as a start on ${shardId}: ${reason}. Copy --shard, --from-sequence ` +
        'and --to-sequence from the DLQ message that names them ("wal dlq peek"): a sequence of another shard or ' +
        'stream is not valid here.',
      options,
    );
    this.name = 'ReplayInvalidStartError';
  }
}

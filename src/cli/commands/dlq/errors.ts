/** An SQS call failed before the command could do its work (endpoint down, no access, wrong URL). */
export class SqsCallError extends Error {
  constructor(
    readonly action: string,
    readonly target: string,
    options: { cause: unknown },
  ) {
    const reason = messageOf(options.cause);
    super(
      `SQS ${action} on ${target} failed: ${reason || describeCause(options.cause)}. Check that the local WAL runs ` +
        `("npm start") or, for a deployed stack, the queue URL and that your AWS credentials may call sqs:${action}.`,
      options,
    );
    this.name = 'SqsCallError';
  }
}

/** The AWS CLI command that cancels a move task; `endpoint` for the local emulator. */
export function cancelCommand(taskHandle: string, endpoint?: string): string {
  const endpointFlag = endpoint ? ` --endpoint-url ${endpoint}` : '';
  return `aws${endpointFlag} sqs cancel-message-move-task --task-handle ${taskHandle}`;
}

/** A move task of the DLQ is running already: SQS allows one per source queue. */
export class RedriveAlreadyRunningError extends Error {
  constructor(
    readonly sourceArn: string,
    readonly task: { handle?: string; moved?: number; toMove?: number },
    /** The SQS endpoint when it is not AWS's, for the cancel command. */
    readonly endpoint?: string,
    options?: { cause?: unknown },
  ) {
    const { moved, toMove } = task;
    const progress =
      moved === undefined ? '' : ` (${moved}${toMove === undefined ? '' : `/${toMove}`} moved)`;
    const handle = task.handle ?? '<TaskHandle from aws sqs list-message-move-tasks>';
    super(
      `A redrive of ${sourceArn} is already running${progress}; SQS runs one per queue. Wait for it to end, ` +
        `or cancel it: console "Cancel DLQ redrive" on the DLQ's page, or ${cancelCommand(handle, endpoint)}`,
      options,
    );
    this.name = 'RedriveAlreadyRunningError';
  }
}

/** SQS refused to start the move task. */
export class RedriveStartError extends Error {
  constructor(
    readonly sourceArn: string,
    readonly destinationArn: string,
    options: { cause: unknown },
  ) {
    const reason = messageOf(options.cause);
    super(
      `SQS would not start moving ${sourceArn} to ${destinationArn}: ${reason}. Check both ARNs (the source ` +
        'must be a DLQ named in a redrive policy) and that your credentials may call sqs:StartMessageMoveTask.',
      options,
    );
    this.name = 'RedriveStartError';
  }
}

/** The move task ended FAILED; what it moved is on the retry queue, the rest still on the DLQ. */
export class RedriveFailedError extends Error {
  constructor(
    readonly failureReason: string | undefined,
    readonly moved: number,
    options?: { cause?: unknown },
  ) {
    super(
      `The redrive failed (${failureReason ?? 'no reason given'}) after moving ${moved} message(s); those are ` +
        'on the retry queue, the rest are still on the DLQ. Fix the cause and run the redrive again.',
      options,
    );
    this.name = 'RedriveFailedError';
  }
}

/** Someone cancelled the move task while it ran. */
export class RedriveCancelledError extends Error {
  constructor(
    readonly moved: number,
    options?: { cause?: unknown },
  ) {
    super(
      `The redrive was cancelled after moving ${moved} message(s); the rest are still on the DLQ. ` +
        'Run it again to move them.',
      options,
    );
    this.name = 'RedriveCancelledError';
  }
}

/** The move task we started is not in ListMessageMoveTasks: its progress cannot be followed. */
export class RedriveTaskNotFoundError extends Error {
  constructor(
    readonly sourceArn: string,
    readonly taskHandle: string,
    options?: { cause?: unknown },
  ) {
    super(
      `The redrive task started on ${sourceArn} is not listed by ListMessageMoveTasks, so its progress is ` +
        `unknown. Check with "aws sqs list-message-move-tasks --source-arn ${sourceArn}" and "wal dlq list".`,
      options,
    );
    this.name = 'RedriveTaskNotFoundError';
  }
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

function describeCause(cause: unknown): string {
  if (cause && typeof cause === 'object' && 'code' in cause) return String(cause.code);
  return 'unknown error';
}

import {
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import {
  RedriveAlreadyRunningError,
  RedriveCancelledError,
  RedriveFailedError,
  RedriveStartError,
  RedriveTaskNotFoundError,
  SqsCallError,
} from './errors';
import type { DeadLetterQueues } from './queues';
import { queueDepth } from './sample';

/** SQS's bounds for MaxNumberOfMessagesPerSecond. */
export const REDRIVE_RATE_RANGE = { min: 1, max: 500 } as const;

export type MoveTaskStatus = 'RUNNING' | 'COMPLETED' | 'CANCELLING' | 'CANCELLED' | 'FAILED';

export interface RedriveProgress {
  readonly status: MoveTaskStatus;
  readonly moved: number;
  /** Fixed when the task starts; SQS may not report it at first. */
  readonly toMove?: number;
}

export interface RedriveOptions {
  /** MaxNumberOfMessagesPerSecond; SQS's own pace (up to 500/s) when absent. */
  readonly rate?: number;
  /** The SQS endpoint when it is not AWS's (the emulator), for the cancel command in errors. */
  readonly localEndpoint?: string;
  readonly onStarted?: (taskHandle: string) => void;
  readonly onProgress?: (progress: RedriveProgress) => void;
  /** @default 1000 (SQS and the emulator update the counts about once a second) */
  readonly pollIntervalMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface RedriveResult {
  /** EMPTY: the DLQ held nothing to move, no task was started. */
  readonly status: 'COMPLETED' | 'EMPTY';
  readonly moved: number;
  readonly toMove?: number;
  readonly taskHandle?: string;
}

// Polls without the task in the list before giving up: SQS lists a new task right away.
const MAX_UNLISTED_POLLS = 5;

/**
 * Moves the DLQ's messages to the retry queue with StartMessageMoveTask and follows the task until it
 * ends. The destination is set explicitly: the WAL's consumers write DLQ messages with SendMessage, so
 * SQS does not know a source queue to move them back to ("redrive to source" fails for them).
 */
export async function redriveDeadLetters(
  sqs: SQSClient,
  queues: DeadLetterQueues,
  options: RedriveOptions = {},
): Promise<RedriveResult> {
  const sourceArn = queues.deadLetter.arn;
  const destinationArn = queues.retry.arn;
  await refuseIfRunning(sqs, sourceArn, options.localEndpoint);
  const depth = await queueDepth(sqs, queues.deadLetter.url);
  if (depth.visible === 0) return { status: 'EMPTY', moved: 0 };

  const taskHandle = await startMoveTask(sqs, sourceArn, destinationArn, options);
  options.onStarted?.(taskHandle);
  return followTask(sqs, { sourceArn, destinationArn, taskHandle }, options);
}

/** SQS runs one move task per DLQ: a running one (someone else's) is an error that says how to cancel it. */
async function refuseIfRunning(sqs: SQSClient, sourceArn: string, localEndpoint?: string): Promise<void> {
  const running = (await listMoveTasks(sqs, sourceArn)).find((task) => task.Status === 'RUNNING');
  if (!running) return;
  const progress = progressOf(running);
  throw new RedriveAlreadyRunningError(
    sourceArn,
    {
      ...(running.TaskHandle !== undefined ? { handle: running.TaskHandle } : {}),
      ...(running.ApproximateNumberOfMessagesMoved !== undefined ? { moved: progress.moved } : {}),
      ...(progress.toMove !== undefined ? { toMove: progress.toMove } : {}),
    },
    localEndpoint,
  );
}

/** Polls the started task until it ends: its result when COMPLETED, an error when FAILED or CANCELLED. */
async function followTask(
  sqs: SQSClient,
  task: { sourceArn: string; destinationArn: string; taskHandle: string },
  options: RedriveOptions,
): Promise<RedriveResult> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((done) => setTimeout(done, ms)));
  let unlisted = 0;
  for (;;) {
    await sleep(options.pollIntervalMs ?? 1_000);
    const listed = ourTask(await listMoveTasks(sqs, task.sourceArn), task.taskHandle, task.destinationArn);
    if (!listed) {
      if (++unlisted >= MAX_UNLISTED_POLLS)
        throw new RedriveTaskNotFoundError(task.sourceArn, task.taskHandle);
      continue;
    }
    const progress = progressOf(listed);
    options.onProgress?.(progress);
    const result = resultOf(listed, progress, task.taskHandle);
    if (result) return result;
  }
}

/** The redrive's result once its task has COMPLETED, its error if it FAILED or was CANCELLED; else undefined. */
function resultOf(
  listed: ListMessageMoveTasksResultEntry,
  progress: RedriveProgress,
  taskHandle: string,
): RedriveResult | undefined {
  switch (progress.status) {
    case 'COMPLETED': {
      const { toMove } = progress;
      return {
        status: 'COMPLETED',
        moved: progress.moved,
        ...(toMove !== undefined ? { toMove } : {}),
        taskHandle,
      };
    }
    case 'FAILED':
      throw new RedriveFailedError(listed.FailureReason, progress.moved);
    case 'CANCELLED':
      throw new RedriveCancelledError(progress.moved);
    default:
      // RUNNING or CANCELLING: look again.
      return undefined;
  }
}

async function startMoveTask(
  sqs: SQSClient,
  sourceArn: string,
  destinationArn: string,
  { rate, localEndpoint }: RedriveOptions,
): Promise<string> {
  try {
    const answer = await sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: sourceArn,
        DestinationArn: destinationArn,
        ...(rate !== undefined ? { MaxNumberOfMessagesPerSecond: rate } : {}),
      }),
    );
    if (!answer.TaskHandle) throw new Error('the answer has no TaskHandle');
    return answer.TaskHandle;
  } catch (error) {
    // Someone started one between our check and our start.
    if (error instanceof Error && /already .*running|one active/i.test(error.message)) {
      throw new RedriveAlreadyRunningError(sourceArn, {}, localEndpoint, { cause: error });
    }
    throw new RedriveStartError(sourceArn, destinationArn, { cause: error });
  }
}

async function listMoveTasks(sqs: SQSClient, sourceArn: string): Promise<ListMessageMoveTasksResultEntry[]> {
  try {
    const answer = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }));
    return answer.Results ?? [];
  } catch (error) {
    throw new SqsCallError('ListMessageMoveTasks', sourceArn, { cause: error });
  }
}

/**
 * Our task in the list (newest first). Only a running task carries its handle; one queue runs one
 * task at a time, so once ours has ended it is the newest one to our destination.
 */
function ourTask(
  tasks: readonly ListMessageMoveTasksResultEntry[],
  taskHandle: string,
  destinationArn: string,
): ListMessageMoveTasksResultEntry | undefined {
  const byHandle = tasks.find((task) => task.TaskHandle === taskHandle);
  if (byHandle) return byHandle;
  const [newest] = tasks;
  return newest && !newest.TaskHandle && newest.DestinationArn === destinationArn ? newest : undefined;
}

function progressOf(task: ListMessageMoveTasksResultEntry): RedriveProgress {
  return {
    status: (task.Status ?? 'RUNNING') as MoveTaskStatus,
    moved: task.ApproximateNumberOfMessagesMoved ?? 0,
    ...(task.ApproximateNumberOfMessagesToMove !== undefined
      ? { toMove: task.ApproximateNumberOfMessagesToMove }
      : {}),
  };
}

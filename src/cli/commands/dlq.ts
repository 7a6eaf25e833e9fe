import type { SQSClient } from '@aws-sdk/client-sqs';
import { UsageError } from '#src/cli/usage-error';
import { cancelCommand } from './dlq/errors';
import { formatPeek, formatSummary } from './dlq/format';
import { listDeadLetters, peekDeadLetters } from './dlq/inspect';
import { ProgressBar, type ProgressOutput } from './dlq/progress-bar';
import {
  createSqsClient,
  type DeadLetterQueues,
  type DeadLetterQueueUrls,
  type QueueRef,
  queueRef,
  queueUrlsFromOutputs,
} from './dlq/queues';
import { REDRIVE_RATE_RANGE, type RedriveResult, redriveDeadLetters } from './dlq/redrive';

export * from './dlq/describe';
export * from './dlq/errors';
export * from './dlq/inspect';
export * from './dlq/progress-bar';
export * from './dlq/queues';
export * from './dlq/redrive';
export { queueDepth } from './dlq/sample';

const DLQ_SUBCOMMANDS = ['list', 'peek', 'redrive'] as const;
type DlqSubcommand = (typeof DLQ_SUBCOMMANDS)[number];
const DEFAULT_PEEK_COUNT = 10;
const MAX_PEEK_COUNT = 1000;

/** `wal dlq ...` flags, as parsed (numbers still text). */
export interface DlqCommandOptions {
  readonly stage: string;
  /** The stack outputs file the queues are read from (the local runtime's, or `cdk deploy --outputs-file`). */
  readonly outputsFile: string;
  readonly sqsEndpoint?: string;
  readonly dlqUrl?: string;
  readonly retryQueueUrl?: string;
  /** -n, peek only. */
  readonly count?: string;
  /** --rate, redrive only. */
  readonly rate?: string;
  readonly json?: boolean;
}

export interface DlqIo {
  print(line: string): void;
  /** Where the redrive progress bar goes (stdout). */
  readonly progress: ProgressOutput;
  now(): number;
}

/** A subcommand once the queues are known. */
interface DlqRun {
  readonly sqs: SQSClient;
  readonly endpoint: string;
  readonly queues: { deadLetter: QueueRef; retry?: QueueRef };
  readonly options: DlqCommandOptions;
  readonly io: DlqIo;
}

const RUN: Record<DlqSubcommand, (run: DlqRun) => Promise<number>> = {
  list: async ({ sqs, queues, options, io }) => {
    const summary = await listDeadLetters(sqs, queues.deadLetter.url);
    printAll(io, options.json ? [json(summary)] : formatSummary(queues.deadLetter, summary, io.now()));
    return 0;
  },
  peek: async ({ sqs, queues, options, io }) => {
    const count = integerFlag('-n', options.count, 1, MAX_PEEK_COUNT) ?? DEFAULT_PEEK_COUNT;
    const peek = await peekDeadLetters(sqs, queues.deadLetter.url, count);
    printAll(io, options.json ? [json(peek)] : formatPeek(queues.deadLetter, peek, io.now()));
    return 0;
  },
  redrive: async ({ sqs, endpoint, queues, options, io }) => {
    // Checked by checkFlags: the outputs give both queues, and --dlq-url needs --retry-queue-url.
    const { deadLetter, retry } = queues;
    if (!retry) throw new UsageError('wal dlq redrive needs the retry queue (--retry-queue-url).');
    const rate = integerFlag('--rate', options.rate, REDRIVE_RATE_RANGE.min, REDRIVE_RATE_RANGE.max);
    return redrive(sqs, { deadLetter, retry }, io, {
      ...(rate !== undefined ? { rate } : {}),
      ...(isLocal(endpoint) ? { localEndpoint: endpoint } : {}),
      json: options.json ?? false,
    });
  },
};

/** `wal dlq list|peek|redrive`: resolves the queues, runs the subcommand, prints; returns the exit code. */
export async function runDlqCommand(
  subcommand: string | undefined,
  options: DlqCommandOptions,
  io: DlqIo,
): Promise<number> {
  const command = parseSubcommand(subcommand);
  checkFlags(command, options);
  const urls = queueUrlsOf(options);
  const { sqs, endpoint } = createSqsClient({
    ...(options.sqsEndpoint !== undefined ? { endpoint: options.sqsEndpoint } : {}),
    queueUrl: urls.deadLetter,
  });
  try {
    const queues = {
      deadLetter: await queueRef(sqs, urls.deadLetter),
      ...(urls.retry !== undefined ? { retry: await queueRef(sqs, urls.retry) } : {}),
    };
    return await RUN[command]({ sqs, endpoint, queues, options, io });
  } finally {
    sqs.destroy();
  }
}

/** The flags that apply to one subcommand only, and the queue URLs that come in pairs. */
function checkFlags(command: DlqSubcommand, options: DlqCommandOptions): void {
  if (command === 'peek') integerFlag('-n', options.count, 1, MAX_PEEK_COUNT);
  else if (options.count !== undefined) throw new UsageError('-n applies to "wal dlq peek" only.');
  if (command === 'redrive')
    integerFlag('--rate', options.rate, REDRIVE_RATE_RANGE.min, REDRIVE_RATE_RANGE.max);
  else if (options.rate !== undefined) throw new UsageError('--rate applies to "wal dlq redrive" only.');
  if (options.retryQueueUrl !== undefined && options.dlqUrl === undefined) {
    throw new UsageError(
      '--retry-queue-url needs --dlq-url too (the stack outputs RetryQueueUrl and DeadLetterQueueUrl).',
    );
  }
  if (command === 'redrive' && options.dlqUrl !== undefined && options.retryQueueUrl === undefined) {
    throw new UsageError(
      '"wal dlq redrive --dlq-url" needs --retry-queue-url too (the stack output RetryQueueUrl): the messages go there.',
    );
  }
}

/** The queues the flags name, else the stage's from the stack outputs file. */
function queueUrlsOf(options: DlqCommandOptions): DeadLetterQueueUrls {
  if (options.dlqUrl === undefined) return queueUrlsFromOutputs(options.outputsFile, options.stage);
  return {
    deadLetter: options.dlqUrl,
    ...(options.retryQueueUrl !== undefined ? { retry: options.retryQueueUrl } : {}),
  };
}

async function redrive(
  sqs: SQSClient,
  queues: DeadLetterQueues,
  io: DlqIo,
  { rate, localEndpoint, json: asJson }: { rate?: number; localEndpoint?: string; json: boolean },
): Promise<number> {
  const bar = new ProgressBar(io.progress);
  if (!asJson) {
    io.print(
      `Redriving ${queues.deadLetter.name} -> ${queues.retry.name} ` +
        `(${rate === undefined ? "SQS's own pace" : `at most ${rate} message(s)/s`})`,
    );
  }
  let result: RedriveResult;
  try {
    result = await redriveDeadLetters(sqs, queues, {
      ...(rate !== undefined ? { rate } : {}),
      ...(localEndpoint !== undefined ? { localEndpoint } : {}),
      onStarted: (taskHandle) => {
        if (asJson) return;
        io.print(
          `Move task started. Ctrl-C stops watching, not the task; to cancel it: ${cancelCommand(taskHandle, localEndpoint)}`,
        );
      },
      onProgress: (progress) => {
        if (!asJson) bar.update(progress);
      },
    });
  } finally {
    bar.finish();
  }
  io.print(asJson ? json(result) : redriveOutcome(result, queues));
  return 0;
}

function redriveOutcome(result: RedriveResult, queues: DeadLetterQueues): string {
  if (result.status === 'EMPTY') return 'The DLQ has no visible messages: nothing to redrive.';
  return (
    `Done: ${result.moved} message(s) moved to ${queues.retry.name}. Its consumer applies each once more; one ` +
    'that fails again returns to the DLQ with a new reason ("wal dlq list" shows it).'
  );
}

/** Not AWS: the cancel hint needs the emulator's --endpoint-url. */
function isLocal(endpoint: string): boolean {
  return !new URL(endpoint).hostname.endsWith('amazonaws.com');
}

function parseSubcommand(subcommand: string | undefined): DlqSubcommand {
  const found = DLQ_SUBCOMMANDS.find((name) => name === subcommand);
  if (!found) {
    throw new UsageError(
      `usage: wal dlq ${DLQ_SUBCOMMANDS.join('|')} [--stage S] [--data-dir DIR | --outputs-file FILE | ` +
        `--dlq-url URL --retry-queue-url URL]${subcommand === undefined ? '' : ` (not "${subcommand}")`}`,
    );
  }
  return found;
}

function integerFlag(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, not "${value}".`);
  }
  return parsed;
}

function printAll(io: DlqIo, lines: readonly string[]): void {
  for (const line of lines) io.print(line);
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FunctionWiring } from './wiring';

const WORKER_SCRIPT = join(__dirname, 'function-worker.cjs');

/**
 * Execution environments one function may have at once. Lambda would scale further (up to the
 * account's concurrency); locally each one is a worker thread with its own module graph, so more
 * invocations than this wait for a free one (the wait does not count toward the timeout).
 */
const DEFAULT_MAX_ENVIRONMENTS = 8;

/** A function's handler threw, or its runtime exited: Lambda's "function error". */
export class FunctionInvocationError extends Error {
  constructor(
    readonly functionName: string,
    readonly errorName: string,
    message: string,
    readonly remoteStack?: string,
  ) {
    super(`${functionName} failed: ${errorName}: ${message}`);
    this.name = 'FunctionInvocationError';
  }
}

/**
 * The invocation ran past the function's timeout. As on Lambda, its code was stopped (the worker
 * terminated) and the next invocation starts cold. A function error for every caller.
 */
export class FunctionTimeoutError extends FunctionInvocationError {
  constructor(
    functionName: string,
    readonly timeoutSeconds: number,
  ) {
    // Lambda's own words for it (errorType Sandbox.Timedout in the Invoke answer).
    super(functionName, 'Sandbox.Timedout', `Task timed out after ${timeoutSeconds.toFixed(2)} seconds`);
    this.name = 'FunctionTimeoutError';
  }
}

/**
 * The invocation could not start before its caller's deadline (API Gateway gives a Lambda integration
 * 30 s from the request's arrival): it never runs, as an attempt API Gateway gave up on never starts late.
 */
export class FunctionStartDeadlineError extends FunctionInvocationError {
  constructor(functionName: string) {
    super(
      functionName,
      'Local.StartDeadlineExceeded',
      'no execution environment was free before the caller gave up',
    );
    this.name = 'FunctionStartDeadlineError';
  }
}

class FunctionInitError extends Error {
  constructor(
    functionName: string,
    message: string,
    readonly remoteStack?: string,
  ) {
    super(`${functionName} could not start: ${message}`);
    this.name = 'FunctionInitError';
  }
}

/** The runtime was stopped while the invocation ran or waited. */
class FunctionHostStoppedError extends Error {
  constructor(functionName: string) {
    super(`${functionName}: the local runtime is stopping`);
    this.name = 'FunctionHostStoppedError';
  }
}

type WorkerMessage =
  | { type: 'ready' }
  | { type: 'init-error'; error: SerializedError }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: SerializedError };

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export interface FunctionHostOptions {
  /** @default DEFAULT_MAX_ENVIRONMENTS */
  readonly maxEnvironments?: number;
  /** Where the functions' stdout and stderr (their logs) go. @default this process's stdout and stderr */
  readonly output?: (chunk: string) => void;
}

/**
 * One Lambda function, run locally in worker threads with its own environment variables (as the
 * template sets them), so functions in one process cannot see each other's configuration.
 * Each worker is one execution environment: it runs one invocation at a time, as on Lambda, so a
 * timeout can stop exactly the code that overran (the worker is terminated) without touching the
 * other invocations. A worker whose runtime exits or is stopped is replaced by a cold start.
 */
export class FunctionHost {
  private readonly idle: Worker[] = [];
  /** The running invocations, by worker: how to end each when the host stops. */
  private readonly busy = new Map<Worker, () => void>();
  private readonly waiting: (() => void)[] = [];
  private starting = 0;
  private nextId = 0;
  private stopped = false;
  private readonly maxEnvironments: number;
  private readonly output: ((chunk: string) => void) | undefined;

  private constructor(
    readonly wiring: FunctionWiring,
    private readonly env: Record<string, string | undefined>,
    first: Worker,
    options: FunctionHostOptions,
  ) {
    this.maxEnvironments = Math.max(1, options.maxEnvironments ?? DEFAULT_MAX_ENVIRONMENTS);
    this.output = options.output;
    this.park(first);
  }

  /** Starts the first execution environment, so a handler that cannot load fails the start. */
  static async start(
    wiring: FunctionWiring,
    baseEnv: Record<string, string | undefined>,
    overrideEnv: Record<string, string> = {},
    options: FunctionHostOptions = {},
  ): Promise<FunctionHost> {
    const env = { ...baseEnv, ...wiring.environment, AWS_LAMBDA_FUNCTION_NAME: wiring.name, ...overrideEnv };
    return new FunctionHost(wiring, env, await spawn(wiring, env, options.output), options);
  }

  /**
   * Invokes the handler with an event. Rejects with FunctionInvocationError when it throws or its
   * runtime exits, with FunctionTimeoutError (after stopping it) when it overruns its timeout, and with
   * FunctionStartDeadlineError, without running it, when it could not start by `startBy` (epoch ms).
   */
  async invoke<Result>(event: unknown, options: { readonly startBy?: number } = {}): Promise<Result> {
    const worker = await this.acquire();
    const { name, timeoutSeconds } = this.wiring;
    if (options.startBy !== undefined && Date.now() > options.startBy) {
      this.park(worker);
      this.wakeOne();
      throw new FunctionStartDeadlineError(name);
    }
    const id = this.nextId++;
    return new Promise<Result>((resolve, reject) => {
      const done = (reuse: boolean) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        this.busy.delete(worker);
        if (reuse) this.park(worker);
        else void worker.terminate();
        this.wakeOne();
      };
      const onMessage = (message: WorkerMessage) => {
        if ((message.type !== 'result' && message.type !== 'error') || message.id !== id) return;
        done(true);
        if (message.type === 'result') resolve(message.result as Result);
        else
          reject(
            new FunctionInvocationError(name, message.error.name, message.error.message, message.error.stack),
          );
      };
      const onExit = (code: number) => {
        done(false);
        const cause = lastErrors.get(worker);
        reject(
          new FunctionInvocationError(
            name,
            'Runtime.ExitError',
            cause ? `runtime exited: ${cause.message}` : `runtime exited with ${code}`,
            cause?.stack,
          ),
        );
      };
      // The deadline: the code is stopped where it is, its later side effects never happen.
      const timer = setTimeout(() => {
        done(false);
        reject(new FunctionTimeoutError(name, timeoutSeconds));
      }, timeoutSeconds * 1000);
      this.busy.set(worker, () => {
        done(false);
        reject(new FunctionHostStoppedError(name));
      });
      worker.on('message', onMessage);
      worker.once('exit', onExit);
      // Both sides use this deadline: the handler's getRemainingTimeInMillis() and the timer above.
      worker.postMessage({ id, event, deadline: Date.now() + timeoutSeconds * 1000 });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const end of [...this.busy.values()]) end();
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all(this.idle.splice(0).map((worker) => worker.terminate()));
  }

  /** An idle execution environment, a new one (cold start), or the next to be free. */
  private async acquire(): Promise<Worker> {
    for (;;) {
      if (this.stopped) throw new FunctionHostStoppedError(this.wiring.name);
      const warm = this.idle.pop();
      if (warm) return warm;
      if (this.busy.size + this.starting < this.maxEnvironments) {
        this.starting += 1;
        try {
          const worker = await spawn(this.wiring, this.env, this.output);
          if (this.stopped) {
            await worker.terminate();
            continue;
          }
          this.watch(worker);
          return worker;
        } finally {
          this.starting -= 1;
        }
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private park(worker: Worker): void {
    if (this.stopped) {
      void worker.terminate();
      return;
    }
    this.watch(worker);
    this.idle.push(worker);
  }

  /**
   * Once per worker: an uncaught error ends it ('exit' follows; without an 'error' listener it
   * would end this process), and one that dies while idle is not handed out again.
   */
  private watch(worker: Worker): void {
    if (watched.has(worker)) return;
    watched.add(worker);
    worker.on('error', (error) => lastErrors.set(worker, error));
    worker.once('exit', () => {
      const index = this.idle.indexOf(worker);
      if (index >= 0) this.idle.splice(index, 1);
    });
  }

  private wakeOne(): void {
    this.waiting.shift()?.();
  }
}

const watched = new WeakSet<Worker>();
const lastErrors = new WeakMap<Worker, Error>();

/** Starts a worker and waits until the handler module has loaded (the function's init phase). */
async function spawn(
  wiring: FunctionWiring,
  env: Record<string, string | undefined>,
  output: ((chunk: string) => void) | undefined,
): Promise<Worker> {
  const worker = new Worker(WORKER_SCRIPT, {
    env,
    stdout: output !== undefined,
    stderr: output !== undefined,
    workerData: {
      entry: wiring.entry,
      handlerExport: wiring.handlerExport,
      functionName: wiring.name,
      functionArn: wiring.arn,
    },
  });
  if (output) {
    for (const stream of [worker.stdout, worker.stderr]) {
      stream.on('data', (chunk: Buffer) => output(chunk.toString('utf8')));
    }
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) =>
        reject(new FunctionInitError(wiring.name, error.message, error.stack));
      worker.once('message', (message: WorkerMessage) => {
        worker.off('error', onError);
        if (message.type === 'ready') resolve();
        else if (message.type === 'init-error') {
          reject(new FunctionInitError(wiring.name, message.error.message, message.error.stack));
        }
      });
      worker.once('error', onError);
    });
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  return worker;
}

import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FunctionWiring } from './wiring';

const WORKER_SCRIPT = join(__dirname, 'function-worker.cjs');

/** A function's handler threw, timed out or its runtime exited: Lambda's "function error". */
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

export class FunctionInitError extends Error {
  constructor(
    functionName: string,
    message: string,
    readonly remoteStack?: string,
  ) {
    super(`${functionName} could not start: ${message}`);
    this.name = 'FunctionInitError';
  }
}

type WorkerMessage =
  | { type: 'ready' }
  | { type: 'init-error'; error: { name: string; message: string; stack?: string } }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: { name: string; message: string; stack?: string } };

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * One Lambda function, run locally in a worker thread with its own environment variables (as the
 * template sets them), so functions in one process cannot see each other's configuration. When the
 * runtime exits (a crash), its invocations fail and the next one starts a fresh worker: a cold start.
 */
export class FunctionHost {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private worker: Promise<Worker>;
  private stopped = false;

  private constructor(
    readonly wiring: FunctionWiring,
    private readonly env: Record<string, string | undefined>,
    first: Worker,
  ) {
    this.worker = Promise.resolve(this.watch(first));
  }

  static async start(
    wiring: FunctionWiring,
    baseEnv: Record<string, string | undefined>,
    overrideEnv: Record<string, string> = {},
  ): Promise<FunctionHost> {
    const env = { ...baseEnv, ...wiring.environment, AWS_LAMBDA_FUNCTION_NAME: wiring.name, ...overrideEnv };
    return new FunctionHost(wiring, env, await spawn(wiring, env));
  }

  /** Invokes the handler with an event; rejects with FunctionInvocationError when it throws or times out. */
  async invoke<Result>(event: unknown): Promise<Result> {
    const worker = await this.worker;
    const id = this.nextId++;
    return new Promise<Result>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new FunctionInvocationError(
            this.wiring.name,
            'TimeoutError',
            `timed out after ${this.wiring.timeoutSeconds} s`,
          ),
        );
      }, this.wiring.timeoutSeconds * 1000);
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject, timer });
      worker.postMessage({ id, event });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.failAll(new Error('the local runtime is stopping'));
    await (await this.worker.catch(() => undefined))?.terminate();
  }

  private watch(worker: Worker): Worker {
    worker.on('message', (message: WorkerMessage) => this.settle(message));
    worker.on('error', (error) => this.failAll(error));
    worker.once('exit', (code) => {
      if (this.stopped) return;
      this.failAll(
        new FunctionInvocationError(this.wiring.name, 'Runtime.ExitError', `runtime exited with ${code}`),
      );
      this.worker = spawn(this.wiring, this.env).then((next) => this.watch(next));
    });
    return worker;
  }

  private settle(message: WorkerMessage): void {
    if (message.type !== 'result' && message.type !== 'error') return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.type === 'result') pending.resolve(message.result);
    else {
      pending.reject(
        new FunctionInvocationError(
          this.wiring.name,
          message.error.name,
          message.error.message,
          message.error.stack,
        ),
      );
    }
  }

  private failAll(error: Error): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
      this.pending.delete(id);
    }
  }
}

/** Starts a worker and waits until the handler module has loaded (the function's init phase). */
async function spawn(wiring: FunctionWiring, env: Record<string, string | undefined>): Promise<Worker> {
  const worker = new Worker(WORKER_SCRIPT, {
    env,
    workerData: {
      entry: wiring.entry,
      handlerExport: wiring.handlerExport,
      functionName: wiring.name,
      functionArn: wiring.arn,
      timeoutSeconds: wiring.timeoutSeconds,
    },
  });
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

import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FunctionWiring } from './wiring';

const WORKER_SCRIPT = join(__dirname, 'function-worker.cjs');

/** A function's handler threw (or timed out): Lambda's "function error". */
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
 * template sets them), so functions in one process cannot see each other's configuration.
 */
export class FunctionHost {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  private constructor(
    readonly wiring: FunctionWiring,
    private readonly worker: Worker,
  ) {
    worker.on('message', (message: WorkerMessage) => this.settle(message));
    worker.on('error', (error) => this.failAll(error));
  }

  static async start(
    wiring: FunctionWiring,
    baseEnv: Record<string, string | undefined>,
    overrideEnv: Record<string, string> = {},
  ): Promise<FunctionHost> {
    const worker = new Worker(WORKER_SCRIPT, {
      env: { ...baseEnv, ...wiring.environment, AWS_LAMBDA_FUNCTION_NAME: wiring.name, ...overrideEnv },
      workerData: {
        entry: wiring.entry,
        handlerExport: wiring.handlerExport,
        functionName: wiring.name,
        functionArn: wiring.arn,
        timeoutSeconds: wiring.timeoutSeconds,
      },
    });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: WorkerMessage) => {
        worker.off('error', onError);
        if (message.type === 'ready') resolve();
        else if (message.type === 'init-error') {
          reject(new FunctionInitError(wiring.name, message.error.message, message.error.stack));
        }
      };
      const onError = (error: Error) =>
        reject(new FunctionInitError(wiring.name, error.message, error.stack));
      worker.once('message', onMessage);
      worker.once('error', onError);
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    return new FunctionHost(wiring, worker);
  }

  /** Invokes the handler with an event; rejects with FunctionInvocationError when it throws or times out. */
  invoke<Result>(event: unknown): Promise<Result> {
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
      this.worker.postMessage({ id, event });
    });
  }

  async stop(): Promise<void> {
    this.failAll(new Error('the local runtime is stopping'));
    await this.worker.terminate();
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

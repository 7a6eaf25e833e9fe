import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { close, listen } from '#src/local/http-server';
import { createApiServer } from '#src/local/runtime/api-server';
import {
  FunctionHost,
  FunctionInvocationError,
  FunctionStartDeadlineError,
  FunctionTimeoutError,
} from '#src/local/runtime/function-host';
import type { FunctionWiring } from '#src/local/runtime/wiring';

// Lambda stops a function at its timeout; the local runtime must too, or timeout races never show.

const TIMEOUT_SECONDS = 1;

const wiring: FunctionWiring = {
  logicalId: 'Slow',
  name: 'slow-function',
  arn: 'arn:aws:lambda:us-east-1:000000000000:function:slow-function',
  entry: join(__dirname, '..', 'fixtures', 'handlers', 'slow-handler.ts'),
  handlerExport: 'handler',
  environment: {},
  timeoutSeconds: TIMEOUT_SECONDS,
};

interface SlowResult {
  invocations: number;
  remainingAtStart: number;
  remainingAtEnd: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('local functions and their timeout', () => {
  let host: FunctionHost;
  let dir: string;

  beforeAll(async () => {
    host = await FunctionHost.start(wiring, process.env);
  });

  afterAll(async () => {
    await host.stop();
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wal-timeout-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('fails the invocation at the deadline and stops its code: its later side effect never happens', async () => {
    // GIVEN a handler that works 2.5 s, then writes a file, in a function with a 1 s timeout
    const marker = join(dir, 'awaited');
    const started = Date.now();

    // WHEN it is invoked
    const outcome = host.invoke({ workMs: 2_500, marker });

    // THEN the caller sees the timeout at the deadline, not when the code would have finished
    await expect(outcome).rejects.toThrow(FunctionTimeoutError);
    await expect(outcome).rejects.toMatchObject({
      errorName: 'Sandbox.Timedout',
      message: expect.stringContaining('Task timed out after 1.00 seconds'),
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    // and the file is never written, well after the code would have written it
    await sleep(2_500);
    expect(existsSync(marker)).toBe(false);
  }, 15_000);

  it('stops code that never yields, and the next invocation starts cold', async () => {
    // GIVEN a handler stuck in a busy loop past the timeout
    const marker = join(dir, 'spun');
    await expect(host.invoke({ workMs: 2_500, spin: true, marker })).rejects.toThrow(FunctionTimeoutError);

    // WHEN the function is invoked again, twice
    const first = await host.invoke<SlowResult>({ workMs: 0 });
    const second = await host.invoke<SlowResult>({ workMs: 0 });

    // THEN the first ran in a fresh environment (module state reset), the second reused it warm
    expect(first.invocations).toBe(1);
    expect(second.invocations).toBe(2);
    await sleep(1_700);
    expect(existsSync(marker)).toBe(false);
  }, 15_000);

  it("gives the handler the time left before the host's deadline (getRemainingTimeInMillis)", async () => {
    // WHEN a handler works 300 ms of its 1 s
    const result = await host.invoke<SlowResult>({ workMs: 300 });

    // THEN it saw nearly the whole timeout at the start and about 300 ms less at the end
    expect(result.remainingAtStart).toBeLessThanOrEqual(TIMEOUT_SECONDS * 1000);
    expect(result.remainingAtStart).toBeGreaterThan(TIMEOUT_SECONDS * 1000 - 250);
    expect(result.remainingAtStart - result.remainingAtEnd).toBeGreaterThanOrEqual(290);
  });

  it('does not stop other invocations that run at the same time', async () => {
    // WHEN one invocation overruns while another, shorter one runs alongside it
    const [slow, quick] = await Promise.allSettled([
      host.invoke({ workMs: 2_000 }),
      sleep(100).then(() => host.invoke<SlowResult>({ workMs: 600 })),
    ]);

    // THEN only the overrunning one fails
    expect(slow.status).toBe('rejected');
    expect(quick).toMatchObject({
      status: 'fulfilled',
      value: expect.objectContaining({ remainingAtEnd: expect.any(Number) }),
    });
  }, 15_000);

  it('answers a timed-out API request as an HTTP API does: 500 {"message":"Internal Server Error"}', async () => {
    // GIVEN the local API with a route to the slow function
    const api = createApiServer();
    const port = await listen(api.server, 0, '127.0.0.1');
    api.serve(
      [{ routeKey: 'POST /slow', functionLogicalId: 'Slow', authorizationType: 'NONE' }],
      (_route, event) => host.invoke<APIGatewayProxyStructuredResultV2>(JSON.parse(event.body ?? '{}')),
    );
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      // WHEN a request makes the function overrun its timeout
      const response = await fetch(`http://127.0.0.1:${port}/slow`, {
        method: 'POST',
        body: JSON.stringify({ workMs: 2_000 }),
      });

      // THEN the client gets API Gateway's answer to a failed integration, and the cause is logged
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ message: 'Internal Server Error' });
      expect(errors).toHaveBeenCalledWith(expect.stringContaining('Task timed out after 1.00 seconds'));
    } finally {
      errors.mockRestore();
      await close(api.server);
    }
  }, 15_000);

  it('fails if the handler throws: a function error, and the environment stays warm', async () => {
    // WHEN the handler fails (its marker is a directory: writing it throws EISDIR)
    const outcome = host.invoke({ workMs: 0, marker: dir });

    // THEN the caller gets the handler's error as a function error, not a timeout
    await expect(outcome).rejects.toThrow(FunctionInvocationError);
    await expect(outcome).rejects.not.toThrow(FunctionTimeoutError);
    const next = await host.invoke<SlowResult>({ workMs: 0 });
    expect(next.invocations).toBeGreaterThan(1);
  });

  it("never starts an invocation that waited past its caller's start deadline (API Gateway gave up)", async () => {
    // GIVEN a function with one execution environment, busy for 600 ms
    const single = await FunctionHost.start(wiring, process.env, {}, { maxEnvironments: 1 });
    try {
      const busy = single.invoke({ workMs: 600 });
      await sleep(50);
      const marker = join(dir, 'late-start');
      // WHEN another invocation must start within 100 ms
      const late = single.invoke({ workMs: 0, marker }, { startBy: Date.now() + 100 });
      // THEN it is refused without running, and the busy one ends normally
      await expect(late).rejects.toBeInstanceOf(FunctionStartDeadlineError);
      await busy;
      await sleep(100);
      expect(existsSync(marker)).toBe(false);
    } finally {
      await single.stop();
    }
  });
});

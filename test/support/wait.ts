export interface WaitOptions {
  /** Pause between probes. */
  readonly intervalMs?: number;
  /** What is awaited, for the timeout's message. */
  readonly what?: string;
}

/**
 * Calls `probe` until it answers something other than undefined, or fails once the timeout has passed
 * (after one last probe). The one polling loop of the tests: processes, emulators and the WAL harness
 * wait through it.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  { intervalMs = 200, what = 'condition' }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

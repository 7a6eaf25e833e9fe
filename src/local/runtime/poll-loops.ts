/** An emulated event source as the poll loop sees it. */
export interface PolledSource {
  /** What the logs call it: the stream or queue it reads. */
  readonly name: string;
  /** One round; returns how many records or messages were handed over. */
  pollOnce(): Promise<number>;
}

/** A structured log line of the local runtime. */
export interface RuntimeLogEntry {
  readonly level: 'ERROR';
  readonly message: string;
  readonly source: string;
  readonly error: string;
}

export type RuntimeLog = (entry: RuntimeLogEntry) => void;

/** One JSON line on stderr, as the functions' own logs are. */
export const stderrLog: RuntimeLog = (entry) => console.error(JSON.stringify(entry));

export interface PollLoopsOptions {
  /** Idle wait after a round that handed nothing over (or failed), in ms. */
  readonly intervalMs: number;
  readonly log: RuntimeLog;
}

/**
 * Polls each source continuously until stopped. A failed round is logged (a broken source must not
 * look like an idle one) and the loop goes on after the idle wait, as Lambda's pollers retry.
 */
export function startPollLoops(
  sources: readonly PolledSource[],
  options: PollLoopsOptions,
): () => Promise<void> {
  let running = true;
  const pause = () => new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  const loop = async (source: PolledSource) => {
    while (running) {
      const count = await source.pollOnce().catch((error: unknown) => {
        options.log({
          level: 'ERROR',
          message: 'event source poll failed',
          source: source.name,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        });
        return 0;
      });
      if (count === 0 && running) await pause();
    }
  };
  const loops = sources.map(loop);
  return async () => {
    running = false;
    await Promise.all(loops);
  };
}

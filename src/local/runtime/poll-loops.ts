/** An emulated event source as the poll loop sees it. */
export interface PolledSource {
  /** What the logs call it: the stream or queue it reads. */
  readonly name: string;
  /** One round; returns how many records or messages were handed over. */
  pollOnce(): Promise<number>;
}

/** A structured log line of the local runtime. */
export interface RuntimeLogEntry {
  readonly level: 'ERROR' | 'INFO';
  readonly message: string;
  readonly source: string;
  readonly error?: string;
  /** Failed rounds in a row so far (or, on recovery, before it). */
  readonly failures?: number;
}

export type RuntimeLog = (entry: RuntimeLogEntry) => void;

/** One JSON line on stderr, as the functions' own logs are. */
export const stderrLog: RuntimeLog = (entry) => console.error(JSON.stringify(entry));

export interface PollLoopsOptions {
  /** Idle wait after a round that handed nothing over (or failed), in ms. */
  readonly intervalMs: number;
  readonly log: RuntimeLog;
  /**
   * While a source keeps failing with the same error, it is logged again at most this often.
   * @default 30_000
   */
  readonly repeatLogMs?: number;
}

/**
 * Polls each source continuously until stopped. A failed round is logged (a broken source must not
 * look like an idle one) and the loop goes on after the idle wait, as Lambda's pollers retry. A source
 * that keeps failing is logged when it starts, when its error changes, every `repeatLogMs`, and when
 * it recovers, so a dead emulator is visible without a line every round.
 */
export function startPollLoops(
  sources: readonly PolledSource[],
  options: PollLoopsOptions,
): () => Promise<void> {
  let running = true;
  const pause = () => new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  const loop = async (source: PolledSource) => {
    const failures = new FailureLog(source.name, options.log, options.repeatLogMs ?? 30_000);
    while (running) {
      const count = await source.pollOnce().then(
        (handed) => {
          failures.recovered();
          return handed;
        },
        (error: unknown) => {
          failures.failed(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
          return 0;
        },
      );
      if (count === 0 && running) await pause();
    }
  };
  const loops = sources.map(loop);
  return async () => {
    running = false;
    await Promise.all(loops);
  };
}

/** The failures of one source in a row, logged without flooding. */
class FailureLog {
  private count = 0;
  private lastError?: string;
  private lastLoggedAt = 0;

  constructor(
    private readonly source: string,
    private readonly log: RuntimeLog,
    private readonly repeatLogMs: number,
  ) {}

  failed(error: string): void {
    this.count++;
    const now = Date.now();
    if (this.count > 1 && error === this.lastError && now - this.lastLoggedAt < this.repeatLogMs) return;
    this.lastError = error;
    this.lastLoggedAt = now;
    this.log({
      level: 'ERROR',
      message: 'event source poll failed',
      source: this.source,
      error,
      failures: this.count,
    });
  }

  recovered(): void {
    if (this.count === 0) return;
    this.log({
      level: 'INFO',
      message: 'event source poll recovered',
      source: this.source,
      failures: this.count,
    });
    this.count = 0;
    this.lastError = undefined;
  }
}

/**
 * What the functions of the local runtime log about each mutation, read from their output as it comes: when
 * it was committed (ingest's "Mutation committed"), when it was applied to a target (the consumers'
 * "Mutation applied") and when it was due (the stream consumer's "Mutation delayed"). The times are the
 * functions' own log timestamps, so nothing polls the emulators to see an apply.
 */
export interface MutationTimes {
  committedAt?: number;
  appliedAt?: number;
  deliverAt?: number;
}

interface LogLine {
  readonly message?: unknown;
  readonly id?: unknown;
  readonly timestamp?: unknown;
  readonly deliverAt?: unknown;
}

/** Reads JSON log lines from chunks that may split or join lines. */
export class FunctionLog {
  private readonly times = new Map<string, MutationTimes>();
  private partial = '';

  /** Takes a chunk of the functions' stdout/stderr (the local runtime's `functionOutput`). */
  readonly feed = (chunk: string): void => {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.read(line);
  };

  /** What is known of mutation `id` so far. */
  of(id: string): MutationTimes {
    return this.times.get(id) ?? {};
  }

  /** Waits (checking this log only, not the emulators) until every id is applied or `timeoutMs` passed. */
  async waitForApplied(ids: readonly string[], timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let missing = ids.filter((id) => this.of(id).appliedAt === undefined);
    while (missing.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      missing = missing.filter((id) => this.of(id).appliedAt === undefined);
    }
    return missing.length;
  }

  private read(line: string): void {
    if (!line.startsWith('{')) return;
    let entry: LogLine;
    try {
      entry = JSON.parse(line) as LogLine;
    } catch {
      return;
    }
    if (typeof entry.id !== 'string' || typeof entry.timestamp !== 'string') return;
    const at = Date.parse(entry.timestamp);
    const times = this.times.get(entry.id) ?? {};
    if (entry.message === 'Mutation committed') times.committedAt = at;
    // The first apply counts (a fan-out namespace would log one per target).
    else if (entry.message === 'Mutation applied') times.appliedAt ??= at;
    else if (entry.message === 'Mutation delayed' && typeof entry.deliverAt === 'number') {
      times.deliverAt = entry.deliverAt;
    } else return;
    this.times.set(entry.id, times);
  }
}

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A handler bundle run in a fresh Node process against the emulators, as a Lambda execution environment
 * runs it: load, then each event in turn. Gives peak memory (bench/memory.ts) and the time to load and to
 * serve the first event (a cold start's "serve its first event").
 */

const CHILD_SCRIPT = path.join(__dirname, 'fresh-process-child.cjs');

export interface FreshProcessFigures {
  /** `require` of the bundle: module initialisation. */
  readonly loadMs: number;
  /** The first invocation, from its start to its answer; null without events. */
  readonly firstEventMs: number | null;
  /** Load plus every invocation. */
  readonly totalMs: number;
  readonly rssAfterLoadMb: number;
  /** The process's peak resident set (sampled every 5 ms): what Lambda's memory limit is held against. */
  readonly peakRssMb: number;
  /** The largest V8 heap in use, sampled every 5 ms and after each invocation. */
  readonly peakHeapUsedMb: number;
  /** What the handler returned, per event. */
  readonly results: readonly unknown[];
}

export interface FreshProcessRun {
  /** The bundle (CommonJS, exporting `handler` when there are events). */
  readonly bundle: string;
  readonly events: readonly unknown[];
  /** The whole environment of the process (the function's variables and the emulators' endpoints). */
  readonly env: NodeJS.ProcessEnv;
  /** `context.memoryLimitInMB`: the function's configured memory. */
  readonly memoryLimitInMB: number;
}

/** The fresh process failed (the handler threw, or the bundle could not load). */
class FreshProcessError extends Error {
  constructor(bundle: string, detail: string, cause?: unknown) {
    super(
      `Running ${path.basename(bundle)} in a fresh process failed: ${detail}. Run it by hand to see more.`,
      {
        cause,
      },
    );
    this.name = 'FreshProcessError';
  }
}

/** Runs `run.bundle` in a new Node process and gives back what it measured. */
export async function runInFreshProcess(run: FreshProcessRun): Promise<FreshProcessFigures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wal-bench-fresh-'));
  const eventsFile = path.join(dir, 'events.json');
  const resultFile = path.join(dir, 'result.json');
  try {
    fs.writeFileSync(eventsFile, JSON.stringify(run.events));
    const args = [CHILD_SCRIPT, run.bundle, eventsFile, resultFile, String(run.memoryLimitInMB)];
    // The function's logs are not read: stdout and stderr are dropped, so piping them costs nothing.
    const child = spawn(process.execPath, args, { env: run.env, stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (!fs.existsSync(resultFile)) throw new FreshProcessError(run.bundle, `it exited with ${code}`);
    const result = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as FreshProcessFigures & {
      error?: string;
    };
    if (result.error !== undefined) throw new FreshProcessError(run.bundle, result.error);
    return result;
  } catch (error) {
    if (error instanceof FreshProcessError) throw error;
    throw new FreshProcessError(run.bundle, String(error), error);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** What the bar shows: a redrive's progress, or another command's (replay) with its own words. */
export interface BarProgress {
  readonly status: string;
  readonly moved: number;
  readonly toMove?: number;
  /** Words instead of "8/14 moved", after the bar. */
  readonly label?: string;
}

/** Where the bar goes: a TTY gets one line rewritten in place, anything else one line per change. */
export interface ProgressOutput {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

const WIDTH = 24;

/** `[##########--------------] 8/14 moved (RUNNING)` */
function renderProgress(progress: BarProgress, width = WIDTH): string {
  const { moved, toMove, status, label } = progress;
  if (toMove === undefined || toMove <= 0) {
    return `[${'?'.repeat(width)}] ${label ?? `${moved} moved`} (${status})`;
  }
  const filled = Math.min(width, Math.round((moved / toMove) * width));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${label ?? `${moved}/${toMove} moved`} (${status})`;
}

export class ProgressBar {
  private last: string | undefined;

  constructor(private readonly out: ProgressOutput) {}

  update(progress: BarProgress): void {
    const line = renderProgress(progress);
    if (this.out.isTTY) {
      // \r and "erase line": the bar stays on one line however often it changes.
      this.out.write(`\r\x1b[2K${line}`);
    } else if (line !== this.last) {
      this.out.write(`${line}\n`);
    }
    this.last = line;
  }

  /** Ends the in-place line so what follows starts on a new one. */
  finish(): void {
    if (this.out.isTTY && this.last !== undefined) this.out.write('\n');
  }
}
